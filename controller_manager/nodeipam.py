"""Node IPAM (range allocator): each Node gets a unique pod CIDR carved from the cluster CIDR.

Allocations are derived from the Nodes themselves (a deleted Node's CIDR is free again at once),
plus the allocations the driver has sent but not yet seen come back through the informer, so a
lagging cache can never hand one CIDR to two Nodes.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Final

from client.rest import PatchType
from controller_manager.actions import WARNING, Action, Patch, event
from controller_manager.view import NODES, View, meta

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_CLUSTER_CIDR: Final = "10.244.0.0/16"
DEFAULT_MASK: Final = 24


def reconcile(view: View, cluster_cidr: str = DEFAULT_CLUSTER_CIDR, mask_size: int = DEFAULT_MASK,
              in_flight: Mapping[str, str] | None = None) -> list[Action]:
    """Assign the lowest free subnet to every Node without ``spec.podCIDR``; ``in_flight`` holds
    node name → CIDR allocations already sent whose Node update has not been observed yet."""
    cluster = ipaddress.ip_network(cluster_cidr)
    if mask_size < cluster.prefixlen:
        raise ValueError(f"--node-cidr-mask-size {mask_size} is larger than cluster CIDR {cluster_cidr}")
    nodes = view.list(NODES)
    used: set[Network] = set()
    seen_on: dict[Network, str] = {}
    actions: list[Action] = []
    pending = dict(in_flight or {})
    for node in nodes:
        name = meta(node)["name"]
        cidr = (node.get("spec") or {}).get("podCIDR")
        if cidr:
            pending.pop(name, None)
            net = ipaddress.ip_network(cidr, strict=False)
            if net in seen_on:
                actions.append(event(node, WARNING, "CIDRAssignmentFailed",
                                     f"Node {name} has podCIDR {cidr}, already in use by node {seen_on[net]}"))
            seen_on[net] = name
            used.add(net)
    used |= {ipaddress.ip_network(c) for c in pending.values()}
    free = (subnet for subnet in cluster.subnets(new_prefix=mask_size) if subnet not in used)
    for node in nodes:
        name = meta(node)["name"]
        if (node.get("spec") or {}).get("podCIDR") or name in pending or meta(node).get("deletionTimestamp"):
            continue
        subnet = next(free, None)
        if subnet is None:
            actions.append(event(node, "Normal", "CIDRNotAvailable",
                                 f"Node {name} status is now: CIDRNotAvailable"))
            continue
        actions.append(Patch(NODES, None, name, {"spec": {"podCIDR": str(subnet), "podCIDRs": [str(subnet)]}},
                             PatchType.MERGE))
    return actions
