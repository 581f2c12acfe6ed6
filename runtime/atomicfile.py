"""Crash-safe small files: the runtime's state survives a SIGKILL at any instant."""

from __future__ import annotations

import os


def write_atomic(path: str, data: str | bytes) -> None:
    """Write-then-rename, fsynced: a reader (or a restarted daemon) sees the old file or the new one, never half."""
    raw = data.encode() if isinstance(data, str) else data
    tmp = f"{path}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, raw)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
