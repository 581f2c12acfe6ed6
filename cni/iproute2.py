"""The overlay daemon's way to the kernel: iproute2's ``ip`` and ``bridge``, JSON out, in a namespace if asked.

flanneld reads its routes, neighbours and FDB entries on every node change and writes only what differs.
Importing pyroute2 for that kept ~11 MiB in every flanneld for its whole life (its package imports all of
its families: NDB with sqlite3, IPVS, nl80211, ...); a read through short-lived ``ip``/``bridge`` processes
costs about the CPU that pyroute2's dumps did (~5 ms per sync here).
"""

from __future__ import annotations

import json
import subprocess
from typing import Any, Final

TIMEOUT: Final = 30.0
# What the kernel says when a delete finds nothing to delete (ESRCH, ENOENT, ENODEV).
GONE: Final = ("No such process", "No such file or directory", "No such device", "Cannot find device")


class CommandError(RuntimeError):
    """An ``ip``/``bridge`` command failed; the message has the command and the kernel's words."""

    def __init__(self, argv: list[str], stderr: str) -> None:
        super().__init__(f"{' '.join(argv)}: {stderr.strip()}")
        self.stderr = stderr


def run(tool: str, netns: str | None, *argv: str) -> str:
    """``tool`` (``ip`` or ``bridge``) with ``argv``, in network namespace ``netns`` when given; its stdout."""
    command = [tool, *(("-n", netns) if netns else ()), *argv]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
    if done.returncode != 0:
        raise CommandError(command, done.stderr)
    return done.stdout


def show(tool: str, netns: str | None, *argv: str) -> list[dict[str, Any]]:
    """A ``show`` command's objects (``-json``)."""
    out = run(tool, netns, "-json", *argv).strip()
    found: list[dict[str, Any]] = json.loads(out) if out else []
    return found


def delete(tool: str, netns: str | None, *argv: str) -> bool:
    """A ``del`` command; False when there was nothing to delete (someone else, or the kernel, was first)."""
    try:
        run(tool, netns, *argv)
    except CommandError as err:
        if any(words in err.stderr for words in GONE):
            return False
        raise
    return True


def link(netns: str | None, name: str) -> dict[str, Any] | None:
    """The link as ``ip -json link show`` gives it; None when there is no such device."""
    try:
        links = show("ip", netns, "link", "show", "dev", name)
    except CommandError as err:
        if "does not exist" in err.stderr:
            return None
        raise
    return links[0] if links else None
