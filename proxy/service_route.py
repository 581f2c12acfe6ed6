"""A route for the Service CIDR on nodes without a default route (tinykube's nodes never have one).

Traffic to a virtual IP is DNATed in PREROUTING/OUTPUT before routing when the Service has endpoints;
without endpoints it must still be routable so that the REJECT rule answers it, instead of the kernel
replying "network unreachable". Nothing leaves through this route: every service IP is rewritten or
rejected on the node.

Programmed with iproute2's ``ip`` (milliseconds, once at start): importing pyroute2 for this one route
kept ~10 MiB in every proxy process for its whole life.
"""

from __future__ import annotations

import json
import subprocess

IP_TIMEOUT = 30.0


def _ip(netns: str | None, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *(("-n", netns) if netns else ()), *argv], capture_output=True, text=True,
                          timeout=IP_TIMEOUT)


def ensure(service_cidr: str, device: str, netns: str | None = None) -> bool:
    """Add the route if missing (in network namespace ``netns`` when given, else here); True when it was added."""
    if _ip(netns, "link", "show", "dev", device).returncode != 0:
        raise RuntimeError(f"device {device} not found for the service route {service_cidr}")
    shown = _ip(netns, "-json", "-4", "route", "show", "table", "main", "exact", service_cidr)
    if shown.returncode != 0:
        raise RuntimeError(f"cannot list the routes for {service_cidr}: {shown.stderr.strip()}")
    if json.loads(shown.stdout or "[]"):
        return False
    added = _ip(netns, "route", "add", service_cidr, "dev", device, "scope", "link")  # link scope: no gateway
    if added.returncode != 0:
        raise RuntimeError(f"cannot add the service route {service_cidr} dev {device}: {added.stderr.strip()}")
    return True
