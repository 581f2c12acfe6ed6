"""Free loopback ports that never collide between pytest-xdist workers.

Each worker draws from its own slice of 10000-31999 (below Linux's ephemeral range, so the
kernel never hands them out to outgoing connections) and checks that a port binds before use.
Two test runs on one machine share worker names, so a port is also claimed machine-wide by
binding an abstract Unix socket named after it: the kernel drops the claim when the process
exits, whatever way it exits, and leaves nothing on disk.
"""

from __future__ import annotations

import os
import socket
import threading

_LOW, _HIGH = 10000, 32000
_SLICE = 1000
_lock = threading.Lock()
_next: dict[str, int] = {}
_claims: dict[int, socket.socket] = {}


def _worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0


def _bindable(port: int, host: str) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind((host, port))
            except OSError:
                return False
    return True


def _claim(port: int) -> bool:
    """True when this process holds the machine-wide claim on ``port`` (taking it if free)."""
    if port in _claims:
        return True
    claim = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        claim.bind(f"\0tinykube-test-port-{port}")
    except OSError:
        claim.close()
        return False
    _claims[port] = claim
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP and UDP port on ``host`` that binds now and that no other worker will pick."""
    start = _LOW + (_worker_index() * _SLICE) % (_HIGH - _LOW)
    with _lock:
        cursor = _next.get(host, start)
        for _ in range(_SLICE):
            port = cursor
            cursor = start + (cursor - start + 1) % _SLICE
            if _bindable(port, host) and _claim(port):
                _next[host] = cursor
                return port
    raise RuntimeError(f"no free port left in worker slice starting at {start}")
