"""The host-gw backend: one plain route per peer (its pod subnet via its underlay address).

No encapsulation, so no MTU cost, but every node must share one L2 segment, as all of tinykube's
netns nodes do on their bridge.
"""

from __future__ import annotations

from collections.abc import Iterable

from cni import iproute2
from cni.vxlan import Peer

PROTO_HOSTGW = 253  # our routes carry their own protocol number, so sync never touches anyone else's


def read(netns: str | None = None) -> dict[str, str]:
    """Our routes: pod cidr -> gateway."""
    out: dict[str, str] = {}
    for route in iproute2.show("ip", netns, "-4", "route", "show", "table", "main", "proto", str(PROTO_HOSTGW)):
        dst, gateway = route.get("dst", "default"), route.get("gateway")
        if gateway and dst != "default":
            out[dst if "/" in dst else f"{dst}/32"] = gateway
    return out


def sync(device: str, peers: Iterable[Peer], netns: str | None = None) -> tuple[int, int]:
    """Make our routes match ``peers`` (in network namespace ``netns`` when given); returns (added or
    replaced, removed)."""
    if iproute2.link(netns, device) is None:
        raise RuntimeError(f"underlay device {device} not found")
    want = {p.pod_cidr: p.public_ip for p in peers}
    have = read(netns)
    removed = 0
    for cidr in sorted(set(have) - set(want)):
        removed += iproute2.delete("ip", netns, "route", "del", cidr, "proto", str(PROTO_HOSTGW))
    added = 0
    for cidr, gateway in sorted(want.items()):
        if have.get(cidr) != gateway:
            iproute2.run("ip", netns, "route", "replace", cidr, "via", gateway, "dev", device,
                         "proto", str(PROTO_HOSTGW))
            added += 1
    return added, removed
