"""Pinned network namespaces (``/run/netns/<name>``) made and removed in-process, as ``ip netns`` does.

Every pod sandbox needs one: starting ``ip`` twice per pod (add, then loopback up) and once more to
delete cost the daemon forks and execs on each pod's critical path. A namespace is created by a
short-lived thread that unshares its own network namespace (namespaces belong to threads, so the
daemon's other threads are untouched), bind-mounts it onto the pin file, brings loopback up and
sets the pod's ``net.*`` sysctls from inside it, then ends.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import struct
import threading
from collections.abc import Mapping

from runtime.linux import syscalls as sc

SIOCGIFFLAGS, SIOCSIFFLAGS = 0x8913, 0x8914
IFF_UP = 0x1


class SysctlError(ValueError):
    """A sysctl the pod asked for that its network namespace cannot take."""


def _share_dir(directory: str) -> None:
    """Make the pin directory a shared mount, so pins reach mount namespaces made later (as ``ip`` does)."""
    os.makedirs(directory, exist_ok=True)
    try:
        sc.mount("", directory, "none", sc.MS_SHARED | sc.MS_REC)
    except OSError as exc:
        if exc.errno != errno.EINVAL:  # EINVAL: not a mount point yet
            raise
        sc.mount(directory, directory, "none", sc.MS_BIND | sc.MS_REC)
        sc.mount("", directory, "none", sc.MS_SHARED | sc.MS_REC)


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack_from("H", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, request), 16)[0]
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | IFF_UP))


def _set_sysctl(key: str, value: str) -> None:
    """``net.*`` sysctls only: files under /proc/sys/net follow the opening thread's network namespace."""
    if not key.startswith("net.") or ".." in key or "/" in key:
        raise SysctlError(f"sysctl {key!r}: only network-namespaced (net.*) sysctls are supported")
    try:
        with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(value)
    except OSError as exc:
        raise SysctlError(f"sysctl {key}={value}: {exc.strerror}") from None


def _populate(path: str, sysctls: Mapping[str, str]) -> None:
    """In a thread of its own: a new network namespace, pinned at ``path``, configured."""
    sc.unshare(sc.CLONE_NEWNET)
    sc.mount("/proc/thread-self/ns/net", path, "none", sc.MS_BIND)
    _loopback_up()
    for key, value in sysctls.items():
        _set_sysctl(key, value)


def create(path: str, sysctls: Mapping[str, str] | None = None) -> None:
    """Pin a new network namespace at ``path`` with loopback up and ``sysctls`` set; on failure none is left."""
    _share_dir(os.path.dirname(path))
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0))
    failure: list[BaseException] = []

    def run() -> None:
        try:
            _populate(path, sysctls or {})
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=run, name="netns-create")
    worker.start()
    worker.join()
    if failure:
        delete(path)
        raise failure[0]


def delete(path: str) -> None:
    """Unpin and remove ``path``; a namespace that is already gone is no error."""
    with contextlib.suppress(FileNotFoundError):
        try:
            sc.umount2(path, sc.MNT_DETACH)
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.ENOENT):  # EINVAL: pinned no more
                raise
        os.unlink(path)
