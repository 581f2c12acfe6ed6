"""Installing ``tinykube-cni`` into a CNI bin dir: the Python plugin, fronted by a thin C client when the node
runs a plugin server (``cni.plugin_server``).

The runtime executes ``<bin dir>/tinykube-cni`` per the spec. With a server socket and a C compiler, that
file is the client built for this socket, and the Python plugin sits beside it as its fallback; otherwise
the file is the Python plugin's launcher, as before. Both are written atomically and only when changed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cni
from process.log import get_logger

log = get_logger("cni.plugin_install")

PLUGIN = "tinykube-cni"
PYTHON_PLUGIN = "tinykube-cni-python"  # the client's fallback; not a type any network config names
CLIENT_SOURCE = Path(__file__).with_name("plugin_client.c")
SOCKET_PATH_MAX = 107  # sun_path holds 108 bytes with the terminating NUL


def plugin_launcher() -> str:
    """The Python plugin's executable: this interpreter, isolated and without ``site`` (``-IS``), runs
    ``cni.plugin``.

    The plugin needs only the standard library and this package: the work ``site`` does at start-up (the
    environment's ``.pth`` files; an editable install's finder imports ``pathlib`` and ``re``) cost about a
    third of each call's CPU.
    """
    package_root = Path(cni.__file__).resolve().parent.parent
    return (f"#!{sys.executable} -IS\nimport sys\nsys.path.insert(0, {str(package_root)!r})\n"
            "from cni.plugin import main\nsys.exit(main())\n")


def _replace(target: Path, data: bytes) -> None:
    """Put ``data`` at ``target`` as an executable, atomically, unless it is there already."""
    if not target.is_symlink() and target.exists() and target.read_bytes() == data:
        return
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    tmp.write_bytes(data)
    tmp.chmod(0o755)
    tmp.replace(target)


def _c_string(text: str) -> str | None:
    """``text`` as a C string literal, or None when it holds anything but plain printable ASCII."""
    if not text.isascii() or not text.isprintable() or '"' in text or "\\" in text:
        return None
    return f'"{text}"'


def build_client(socket_path: str, fallback: str, cache_dir: Path) -> bytes | None:
    """The client's binary for this socket and fallback, built once per source and settings; None if it
    cannot be (no compiler, a path C or ``sun_path`` cannot hold)."""
    sock, back = _c_string(socket_path), _c_string(fallback)
    if sock is None or back is None or len(socket_path.encode()) > SOCKET_PATH_MAX:
        log.warning("plugin server socket unusable for the C client; installing the Python plugin alone",
                    socket=socket_path)
        return None
    defines = [f"-DPLUGIN_SOCKET={sock}", f"-DPLUGIN_FALLBACK={back}"]
    digest = hashlib.sha256(CLIENT_SOURCE.read_bytes() + "\0".join(defines).encode()).hexdigest()[:16]
    cached = cache_dir / f".{PLUGIN}-client-{digest}"
    if cached.exists():
        return cached.read_bytes()
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        log.warning("no C compiler: every CNI call starts the Python plugin")
        return None
    tmp = cached.with_name(f"{cached.name}.tmp.{os.getpid()}")
    errors = ""
    for extra in (["-static"], []):  # static: no dynamic loader to run on every call
        proc = subprocess.run([cc, "-O2", "-Wall", "-Wextra", *extra, *defines, "-o", str(tmp), str(CLIENT_SOURCE)],
                              capture_output=True, text=True)
        if proc.returncode == 0:
            tmp.replace(cached)
            return cached.read_bytes()
        errors = proc.stderr
    tmp.unlink(missing_ok=True)
    log.warning("could not build the CNI client; every CNI call starts the Python plugin", err=errors.strip()[-500:])
    return None


def install_plugin(bin_dir: Path, server_socket: str = "") -> None:
    """Install ``tinykube-cni`` into ``bin_dir``: the client for ``server_socket`` in front of the Python plugin
    when it can be built, else the Python plugin itself."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    launcher = plugin_launcher().encode()
    if server_socket:
        fallback = bin_dir.resolve() / PYTHON_PLUGIN
        _replace(fallback, launcher)
        client = build_client(server_socket, str(fallback), bin_dir)
        if client is not None:
            _replace(bin_dir / PLUGIN, client)
            return
    _replace(bin_dir / PLUGIN, launcher)
