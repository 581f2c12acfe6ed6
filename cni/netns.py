"""Moving the calling thread into a network namespace and back, for sockets that must be opened there.

A netlink socket keeps talking to the namespace it was created in, so a thread steps in, opens it and steps
straight back; other threads never move. Python 3.11 has no ``os.setns``, hence libc through ctypes.
"""

from __future__ import annotations

import ctypes
import os
from contextlib import contextmanager

TYPE_CHECKING = False  # typing's costs every plugin call an import
if TYPE_CHECKING:
    from collections.abc import Iterator

CLONE_NEWNET = 0x40000000
NETNS_DIR = "/run/netns"
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


@contextmanager
def inside(path: str) -> Iterator[None]:
    """The calling thread in the network namespace at ``path``, and back in its own afterwards; a missing
    ``path`` raises ``FileNotFoundError``."""
    target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(target)
            try:
                yield
            finally:
                _setns(home)
        finally:
            os.close(home)
    finally:
        os.close(target)


def path_of(name: str) -> str:
    """Where ``ip netns`` keeps the namespace called ``name``."""
    return f"{NETNS_DIR}/{name}"
