"""A route for the Service CIDR on nodes without a default route (tinykube's nodes never have one).

Traffic to a virtual IP is DNATed in PREROUTING/OUTPUT before routing when the Service has endpoints;
without endpoints it must still be routable so that the REJECT rule answers it, instead of the kernel
replying "network unreachable". Nothing leaves through this route: every service IP is rewritten or
rejected on the node.
"""

from __future__ import annotations

from pyroute2 import IPRoute


def ensure(ipr: IPRoute, service_cidr: str, device: str) -> bool:
    """Add the route if missing; True when it was added."""
    index = ipr.link_lookup(ifname=device)
    if not index:
        raise RuntimeError(f"device {device} not found for the service route {service_cidr}")
    net, _, length = service_cidr.partition("/")
    for route in ipr.get_routes(family=2, table=254):  # a dump: with dst= it would be a lookup
        if route.get_attr("RTA_DST") == net and route["dst_len"] == int(length):
            return False
    ipr.route("add", dst=service_cidr, oif=index[0], scope=253)  # link scope: no gateway
    return True
