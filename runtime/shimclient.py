"""The daemon's side of a shim: start one for a bundle, and tell whether one is still alive."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO_ROOT = str(Path(__file__).resolve().parent.parent)
START_TIMEOUT = 60.0


class LaunchError(RuntimeError):
    """The container could not be started; the message comes from the failing step inside the shim."""


class Zygote:
    """The daemon's link to ``runtime.zygote``: started on first use, restarted if it died."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None

    def _ensure(self) -> socket.socket:
        if self._proc is not None and self._proc.poll() is None and self._sock is not None:
            return self._sock
        self.close()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._proc = subprocess.Popen([sys.executable, "-S", "-B", "-m", "runtime.zygote", str(theirs.fileno())],
                                      pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, cwd="/",
                                      env={"PYTHONPATH": REPO_ROOT, "PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        theirs.close()
        self._sock = ours
        return ours

    def start(self, bundle: str) -> bytes:
        """Ask the zygote for a shim on ``bundle``; returns the shim's ready line (empty if it never wrote one).

        Only handing over the request is serialised; the wait for the ready line is this caller's own.
        """
        read_fd, write_fd = os.pipe()
        try:
            with self._lock:
                sock = self._ensure()
                try:
                    socket.send_fds(sock, [bundle.encode()], [write_fd])
                except OSError:
                    self.close()
                    raise
        finally:
            os.close(write_fd)
        try:
            return _read_line(read_fd, bundle)
        finally:
            os.close(read_fd)

    def close(self) -> None:
        """Kill the zygote and forget it."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            self._proc = None


_zygote = Zygote()


def start_shim(bundle: str) -> int:
    """Start a shim for ``bundle`` and wait until the container has exec'd; return its host PID.

    Shims come from the zygote (no interpreter start-up on the critical path); if it cannot
    serve, from a fresh ``python -S -m runtime.shim``.
    """
    try:
        data = _zygote.start(bundle)
    except (OSError, LaunchError):
        data = _spawn_shim(bundle)
    return _parse_reply(bundle, data)


def close_zygote() -> None:
    """Stop the zygote (daemon shutdown, test teardown); the next start spawns a new one."""
    _zygote.close()


def _parse_reply(bundle: str, data: bytes) -> int:
    if not data:
        tail = Path(bundle, "shim.log").read_text(errors="replace")[-2000:]
        raise LaunchError(f"shim for {bundle} exited without reporting: {tail.strip()}")
    reply = json.loads(data.splitlines()[0])
    if "error" in reply:
        raise LaunchError(str(reply["error"]))
    return int(reply["pid"])


def _spawn_shim(bundle: str) -> bytes:
    """``-S`` keeps site-packages (and their import cost) out of the shim: it needs only the stdlib and us."""
    read_fd, write_fd = os.pipe()
    with open(os.path.join(bundle, "shim.log"), "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-S", "-B", "-m", "runtime.shim", bundle, str(write_fd)],
            pass_fds=(write_fd,), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env={"PYTHONPATH": REPO_ROOT, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}, cwd="/",
        )
    os.close(write_fd)
    try:
        proc.wait()
        return _read_line(read_fd, bundle)
    finally:
        os.close(read_fd)


def _read_line(read_fd: int, bundle: str) -> bytes:
    """What a shim writes on its ready pipe, up to the first newline or the pipe's end."""
    data = b""
    deadline = time.monotonic() + START_TIMEOUT
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([read_fd], [], [], left)[0]:
            raise LaunchError(f"shim for {bundle} did not report within {START_TIMEOUT:.0f}s")
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        data += chunk
    return data


def start_ticks(pid: int | str) -> int:
    """A process's start time in clock ticks since boot (``/proc/PID/stat`` field 22); 0 if it is gone or a zombie.

    PID plus start time names a process uniquely, across PID reuse and across execve.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0
    if fields[0] == b"Z":
        return 0
    return int(fields[19])


def shim_alive(status: dict[str, Any]) -> bool:
    """Whether the shim that wrote ``status`` (a bundle's status.json) still runs."""
    pid = int(status.get("shim_pid", 0))
    return pid > 0 and start_ticks(pid) == int(status.get("shim_start", -1))


def wait_shim_exit(status: dict[str, Any], timeout: float) -> bool:
    """Wait until the shim that wrote ``status`` is gone; False if it still runs after ``timeout`` seconds.

    A pidfd wakes us the moment it exits (it is not our child, so there is no SIGCHLD to wait for), where
    polling every few milliseconds cost CPU and up to a period of latency on each of many stopping pods.
    """
    pid = int(status.get("shim_pid", 0))
    if pid <= 0:
        return True
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        if not shim_alive(status):  # checked after opening: the pidfd cannot name a reused PID
            return True
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(max(0.0, timeout) * 1000))
    finally:
        os.close(fd)
