"""CRI container log files: ``<RFC3339Nano> <stream> <F|P> <content>`` lines, rotated by size.

Written by the shim (so it imports nothing heavy). A line longer than the read buffer is split into
``P`` (partial) records ending with an ``F`` record, the format kubelet's log reader reassembles.
"""

from __future__ import annotations

import os
import time

MAX_LINE = 16 * 1024


def timestamp(ns: int | None = None) -> str:
    """RFC 3339 in UTC with nanoseconds, e.g. ``2026-11-26T08:39:14.123456789Z``."""
    ns = time.time_ns() if ns is None else ns
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def format_record(stream: str, tag: str, content: bytes, ns: int | None = None) -> bytes:
    """One CRI log record, newline-terminated."""
    return f"{timestamp(ns)} {stream} {tag} ".encode() + content + b"\n"


def parse_record(line: bytes) -> tuple[str, str, str, bytes]:
    """(timestamp, stream, tag, content) of one record; the inverse of ``format_record``."""
    ts, stream, tag, content = line.rstrip(b"\n").split(b" ", 3)
    return ts.decode(), stream.decode(), tag.decode(), content


class LogWriter:
    """Appends CRI records to ``path``; rotates to ``path.1`` … when it would exceed ``max_size`` bytes."""

    def __init__(self, path: str, max_size: int = 10 * 1024 * 1024, max_files: int = 5) -> None:
        self.path = path
        self.max_size = max_size
        self.max_files = max(1, max_files)
        self._pending: dict[str, bytes] = {}
        self._fd = -1
        self._size = 0
        self.reopen()

    def reopen(self) -> None:
        """Open the path afresh: after someone renamed the file away (kubelet rotation, ReopenContainerLog)."""
        if self._fd >= 0:
            os.close(self._fd)
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        self._size = os.fstat(self._fd).st_size

    def _rotate(self) -> None:
        """Keep ``max_files`` files in all: the live one plus ``path.1`` (newest) … ``path.<max_files-1>``."""
        if self.max_files == 1:
            os.ftruncate(self._fd, 0)
            self._size = 0
            return
        for i in range(self.max_files - 1, 1, -1):
            if os.path.exists(f"{self.path}.{i - 1}"):
                os.replace(f"{self.path}.{i - 1}", f"{self.path}.{i}")
        os.replace(self.path, f"{self.path}.1")
        self.reopen()

    def _emit(self, record: bytes) -> None:
        if self.max_size and self._size + len(record) > self.max_size and self._size > 0:
            self._rotate()
        os.write(self._fd, record)
        self._size += len(record)

    def write(self, stream: str, data: bytes) -> None:
        """Feed raw bytes read from a stream; complete lines become F records, overlong ones P records."""
        buf = self._pending.get(stream, b"") + data
        while True:
            nl = buf.find(b"\n")
            if nl < 0:
                break
            line, buf = buf[:nl], buf[nl + 1:]
            while len(line) > MAX_LINE:
                self._emit(format_record(stream, "P", line[:MAX_LINE]))
                line = line[MAX_LINE:]
            self._emit(format_record(stream, "F", line))
        while len(buf) > MAX_LINE:
            self._emit(format_record(stream, "P", buf[:MAX_LINE]))
            buf = buf[MAX_LINE:]
        self._pending[stream] = buf

    def flush(self, stream: str) -> None:
        """At end of stream a trailing unterminated line is still a whole line."""
        rest = self._pending.pop(stream, b"")
        if rest:
            self._emit(format_record(stream, "F", rest))

    def close(self) -> None:
        """Flush unterminated lines as full records and close the file."""
        for stream in list(self._pending):
            self.flush(stream)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
