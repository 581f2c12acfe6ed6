"""CPU sets in the kernel's list format (``0-3,8,10-11``), as cpuset.cpus and the CPU manager's checkpoint use it."""

from __future__ import annotations

from collections.abc import Iterable


class CpuSetError(ValueError):
    """A CPU list that is not in the kernel's format."""


def parse_cpus(text: str) -> frozenset[int]:
    """``0-2,5`` → {0, 1, 2, 5}; the empty string is the empty set."""
    cpus: set[int] = set()
    for part in filter(None, (p.strip() for p in text.strip().split(","))):
        low, dash, high = part.partition("-")
        try:
            first, last = int(low), int(high) if dash else int(low)
        except ValueError:
            raise CpuSetError(f"invalid CPU list {text!r}: {part!r} is not N or N-M") from None
        if first < 0 or last < first:
            raise CpuSetError(f"invalid CPU list {text!r}: range {part!r} is empty or negative")
        cpus.update(range(first, last + 1))
    return frozenset(cpus)


def format_cpus(cpus: Iterable[int]) -> str:
    """{0, 1, 2, 5} → ``0-2,5`` (sorted, consecutive CPUs as ranges)."""
    ranges: list[list[int]] = []
    for cpu in sorted(set(cpus)):
        if ranges and cpu == ranges[-1][1] + 1:
            ranges[-1][1] = cpu
        else:
            ranges.append([cpu, cpu])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)
