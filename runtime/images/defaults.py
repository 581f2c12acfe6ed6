"""The default images, built from Debian's busybox-static into an OCI layout: ``busybox`` and ``pause``.

Both share one layer (busybox and its applet symlinks, a minimal /etc), so the pause image costs
one config blob. Every entry has a fixed owner and mtime and the gzip stream no timestamp, so the
same busybox binary always gives the same digests.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

from runtime.images.archive import LAYOUT_MARKER, layout_index
from runtime.images.compose import write_image
from runtime.images.content import ContentStore
from runtime.images.errors import ImageError
from runtime.images.layer import BuiltLayer, LayerBuilder
from runtime.images.oci import OCI_MANIFEST, Descriptor, ImageConfig
from runtime.images.reference import Reference, parse

BUSYBOX = Path("/bin/busybox")
BUSYBOX_REF = "busybox:latest"
PAUSE_REF = "pause:latest"
CREATED = "1970-01-01T00:00:00Z"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# PID 1 ignores signals it has no handler for, hence the trap; `sleep & wait` lets the trap run at once.
# ash starts background jobs on /dev/null: without it they fail, and `|| sleep 1` keeps that from spinning.
PAUSE_SCRIPT = "trap 'kill $! 2>&-; exit 0' TERM INT; while :; do sleep 3600 & wait $! || sleep 1; done"

_DIRS = {"bin": 0o755, "dev": 0o755, "etc": 0o755, "home": 0o755, "proc": 0o755, "root": 0o700, "run": 0o755,
         "sbin": 0o755, "sys": 0o755, "tmp": 0o1777, "usr": 0o755, "usr/bin": 0o755, "usr/sbin": 0o755,
         "var": 0o755, "var/log": 0o755, "var/run": 0o755, "var/www": 0o755}
_FILES = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    "etc/group": "root:x:0:\nnobody:x:65534:\n",
    "etc/nsswitch.conf": "hosts: files dns\n",
}


def _applets(busybox: Path) -> list[str]:
    try:
        listed = subprocess.run([str(busybox), "--list-full"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        raise ImageError(f"cannot list the applets of {busybox} (install busybox-static): {err}") from None
    return sorted({line.strip() for line in listed.splitlines() if line.strip()} - {"bin/busybox"})


def busybox_layer(content: ContentStore, busybox: Path = BUSYBOX) -> BuiltLayer:
    """busybox with a symlink per applet (sh, httpd, nc, wget, ps, ...) and a minimal /etc."""
    binary = busybox.read_bytes()
    entries: dict[str, Callable[[LayerBuilder, str], None]] = {}
    for applet in _applets(busybox):
        entries[applet] = lambda layer, path: layer.add_symlink(path, "/bin/busybox")
    for directory, mode in _DIRS.items():
        entries[directory] = partial(LayerBuilder.add_dir, mode=mode)
    for name, text in _FILES.items():
        entries[name] = partial(LayerBuilder.add_file, data=text.encode())
    entries["bin/busybox"] = lambda layer, path: layer.add_file(path, binary, 0o755)
    with LayerBuilder() as layer:
        for path, add in sorted(entries.items()):
            add(layer, path)
        return layer.commit(content)


def build_defaults(out: Path, busybox: Path = BUSYBOX) -> dict[str, str]:
    """Write the OCI layout ``out`` (replacing it) with busybox:latest and pause:latest; returns name → digest."""
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-"))
    try:
        content = ContentStore(work)
        layer = busybox_layer(content, busybox)
        images: dict[str, ImageConfig] = {
            BUSYBOX_REF: ImageConfig(cmd=["sh"], env=[PATH_ENV], created=CREATED),
            PAUSE_REF: ImageConfig(entrypoint=["/bin/sh", "-c", PAUSE_SCRIPT], env=[PATH_ENV], created=CREATED,
                                   stop_signal="SIGTERM", labels={"io.tinykube.image.role": "pause"}),
        }
        entries: list[tuple[Descriptor, Reference | None]] = []
        digests: dict[str, str] = {}
        for name, config in images.items():
            digest = write_image(content, config, [layer])
            digests[name] = digest
            entries.append((Descriptor(OCI_MANIFEST, digest, content.size(digest)), parse(name)))
        shutil.rmtree(content.ingest_dir)
        (work / "oci-layout").write_bytes(LAYOUT_MARKER)
        work.chmod(0o755)
        (work / "index.json").write_bytes(layout_index(entries))
        if out.exists():
            shutil.rmtree(out)
        work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return digests
