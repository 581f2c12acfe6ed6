"""CPU time of processes from ``/proc/PID/stat``: how the benches charge work to the component that did it."""

from __future__ import annotations

import os
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _fields(pid: int) -> list[str]:
    # The fields after the command name, which may itself hold spaces and parentheses; index 0 is proc(5)'s field 3.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int, *, reaped: bool = False) -> float:
    """User + system CPU of a process so far (all its threads); with ``reaped``, also that of the children it
    has waited for (cutime, cstime), so work done in short-lived children is not lost."""
    fields = _fields(pid)
    return sum(int(f) for f in fields[11:15 if reaped else 13]) / CLOCK_TICKS


def cpu_split_and_parent(pid: int) -> tuple[float, float, int]:
    """From one read: a process's own CPU seconds, those of the children it has reaped, and its parent's pid."""
    fields = _fields(pid)
    return (sum(int(f) for f in fields[11:13]) / CLOCK_TICKS, sum(int(f) for f in fields[13:15]) / CLOCK_TICKS,
            int(fields[1]))
