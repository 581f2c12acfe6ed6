"""The host-gw backend: one plain route per peer (its pod subnet via its underlay address).

No encapsulation, so no MTU cost, but every node must share one L2 segment, as all of tinykube's
netns nodes do on their bridge.
"""

from __future__ import annotations

from collections.abc import Iterable

from cni.netlink import Netlink
from cni.netlink_messages import RT_TABLE_MAIN
from cni.vxlan import Peer

PROTO_HOSTGW = 253  # our routes carry their own protocol number, so sync never touches anyone else's


def _ours(nl: Netlink) -> dict[str, str]:
    """Our routes: pod cidr -> gateway."""
    return {r.cidr: r.gateway for r in nl.routes()
            if r.protocol == PROTO_HOSTGW and r.table == RT_TABLE_MAIN and r.gateway and r.prefixlen}


def sync(device: str, peers: Iterable[Peer], netns: str | None = None) -> tuple[int, int]:
    """Make our routes match ``peers`` (in network namespace ``netns`` when given); returns (added or
    replaced, removed)."""
    with Netlink(netns) as nl:
        link = nl.link(device)
        if link is None:
            raise RuntimeError(f"underlay device {device} not found")
        want = {p.pod_cidr: p.public_ip for p in peers}
        have = _ours(nl)
        removed = 0
        for cidr in sorted(set(have) - set(want)):
            removed += nl.delete_route(cidr, protocol=PROTO_HOSTGW)
        added = 0
        for cidr, gateway in sorted(want.items()):
            if have.get(cidr) != gateway:
                nl.replace_route(cidr, gateway, oif=link.index, protocol=PROTO_HOSTGW)
                added += 1
        return added, removed
