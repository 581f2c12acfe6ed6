"""The host-gw backend: one plain route per peer (its pod subnet via its underlay address).

No encapsulation, so no MTU cost, but every node must share one L2 segment, as all of tinykube's
netns nodes do on their bridge.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyroute2 import IPRoute, NetlinkError

from cni.vxlan import Peer

PROTO_HOSTGW = 253  # our routes carry their own protocol number, so sync never touches anyone else's


def read(ipr: IPRoute) -> dict[str, str]:
    """Our routes: pod cidr -> gateway."""
    out: dict[str, str] = {}
    for route in ipr.get_routes(family=2, table=254):
        if route["proto"] == PROTO_HOSTGW and route.get_attr("RTA_GATEWAY"):
            out[f"{route.get_attr('RTA_DST')}/{route['dst_len']}"] = route.get_attr("RTA_GATEWAY")
    return out


def sync(ipr: IPRoute, device: str, peers: Iterable[Peer]) -> tuple[int, int]:
    """Make our routes match ``peers``; returns (added or replaced, removed)."""
    index = ipr.link_lookup(ifname=device)
    if not index:
        raise RuntimeError(f"underlay device {device} not found")
    want = {p.pod_cidr: p.public_ip for p in peers}
    have = read(ipr)
    removed = 0
    for cidr in sorted(set(have) - set(want)):
        try:
            ipr.route("del", dst=cidr, proto=PROTO_HOSTGW)
            removed += 1
        except NetlinkError as exc:
            if exc.code != 3:  # ESRCH: already gone
                raise
    added = 0
    for cidr, gateway in sorted(want.items()):
        if have.get(cidr) != gateway:
            ipr.route("replace", dst=cidr, gateway=gateway, oif=index[0], proto=PROTO_HOSTGW)
            added += 1
    return added, removed
