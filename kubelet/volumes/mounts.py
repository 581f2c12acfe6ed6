"""tmpfs mounts for memory-backed volumes, through libc (no shell, exact errno)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path
from typing import Final

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
MNT_DETACH: Final = 2
MS_NOSUID: Final = 2
MS_NODEV: Final = 4


def mount_tmpfs(target: Path, size_bytes: int | None = None, mode: int = 0o777) -> None:
    """Mount a fresh tmpfs on ``target`` (nosuid, nodev), limited to ``size_bytes`` when given."""
    options = f"mode={mode:o}" + (f",size={size_bytes}" if size_bytes else "")
    rc = _libc.mount(b"tmpfs", str(target).encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options.encode())
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount tmpfs on {target}: {os.strerror(err)}")


def unmount(target: Path) -> None:
    """Detach whatever is mounted on ``target`` (lazily, so a busy reader cannot block pod cleanup)."""
    if _libc.umount2(str(target).encode(), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unmount {target}: {os.strerror(err)}")
