"""hostPath volumes: the ``type`` checks (and creations) Kubernetes performs before a pod may use the path."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from kubelet.volumes.sources import VolumeSourceError


def check_host_path(path: str, kind: str) -> None:
    """Check (or create, for the ``...OrCreate`` types) ``path`` as hostPath ``type: kind`` demands."""
    p = Path(path)
    if kind == "":
        return
    if kind == "DirectoryOrCreate" and not p.exists():
        p.mkdir(mode=0o755, parents=True)
    if kind == "FileOrCreate" and not p.exists():
        # Like upstream, the parent is not created: a missing parent fails the mount.
        try:
            fd = os.open(p, os.O_CREAT | os.O_WRONLY, 0o644)
        except OSError as err:
            raise VolumeSourceError(f"hostPath type check failed: {path}: {err.strerror}") from err
        os.close(fd)
    checks = {
        "DirectoryOrCreate": (stat.S_ISDIR, "is not a directory"),
        "Directory": (stat.S_ISDIR, "is not a directory"),
        "FileOrCreate": (stat.S_ISREG, "is not a file"),
        "File": (stat.S_ISREG, "is not a file"),
        "Socket": (stat.S_ISSOCK, "is not a socket file"),
        "CharDevice": (stat.S_ISCHR, "is not a character device"),
        "BlockDevice": (stat.S_ISBLK, "is not a block device"),
    }
    if kind not in checks:
        raise VolumeSourceError(f"hostPath type {kind!r} is not supported")
    test, failure = checks[kind]
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        raise VolumeSourceError(f"hostPath type check failed: {path} {failure}") from None
    if not test(mode):
        raise VolumeSourceError(f"hostPath type check failed: {path} {failure}")
