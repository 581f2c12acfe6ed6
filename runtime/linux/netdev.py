"""Interface counters from ``/proc/<pid>/net/dev``: a process's view is its network namespace's, so the
sandbox holder's file gives the pod's traffic (what cAdvisor reads for pod network stats)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class InterfaceCounters:
    """Cumulative counters of one interface."""

    name: str
    rx_bytes: int
    rx_errors: int
    tx_bytes: int
    tx_errors: int


def parse_net_dev(text: str) -> list[InterfaceCounters]:
    """Every interface but loopback, in file order; malformed lines are skipped."""
    out = []
    for line in text.splitlines()[2:]:  # two header lines
        name, sep, rest = line.partition(":")
        fields = rest.split()
        if not sep or len(fields) < 16 or not all(f.isdigit() for f in fields[:16]) or name.strip() == "lo":
            continue
        out.append(InterfaceCounters(name.strip(), rx_bytes=int(fields[0]), rx_errors=int(fields[2]),
                                     tx_bytes=int(fields[8]), tx_errors=int(fields[10])))
    return out


def read_net_dev(pid: int) -> list[InterfaceCounters]:
    """The interfaces of ``pid``'s network namespace (none if it is gone)."""
    try:
        return parse_net_dev(Path(f"/proc/{pid}/net/dev").read_text())
    except OSError:
        return []
