"""Moving the calling thread into a network namespace and back, for sockets that must be opened there.

A netlink socket keeps talking to the namespace it was created in, so a thread steps in, opens it and steps
straight back; other threads never move. Python 3.11 has no ``os.setns``, hence libc through ctypes.
"""

from __future__ import annotations

import ctypes
import os

TYPE_CHECKING = False  # typing's (and contextlib's) imports cost every plugin call
if TYPE_CHECKING:
    from types import TracebackType

CLONE_NEWNET = 0x40000000
NETNS_DIR = "/run/netns"
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


class Inside:
    """While entered, the calling thread is in the network namespace at ``path``; afterwards back in its own.
    Entering with a missing ``path`` raises ``FileNotFoundError``."""

    __slots__ = ("home", "path")

    def __init__(self, path: str) -> None:
        self.path, self.home = path, -1

    def __enter__(self) -> None:
        target = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            self.home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            try:
                _setns(target)
            except BaseException:
                os.close(self.home)
                raise
        finally:
            os.close(target)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            _setns(self.home)
        finally:
            os.close(self.home)


def path_of(name: str) -> str:
    """Where ``ip netns`` keeps the namespace called ``name``."""
    return f"{NETNS_DIR}/{name}"
