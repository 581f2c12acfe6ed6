"""The flannel-style data plane: a VXLAN device per node and, for every other node, a route, a
neighbour and an FDB entry that send its pod subnet through the tunnel to its underlay address.

``plan`` is pure (what to add and remove to get from the kernel's state to the desired peers), so
tests drive it without a kernel; ``VxlanDevice`` applies a plan with iproute2 (``cni.iproute2`` says
why not pyroute2). The host-gw backend replaces all of that with one plain route per peer, for nodes on
one L2 segment.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from cni import iproute2

DEVICE = "flannel.1"
VNI = 1
PORT = 8472
MTU = 1450


@dataclass(frozen=True, order=True)
class Peer:
    """Another node as the overlay sees it: its pod subnet, VTEP MAC and underlay (public) address."""

    pod_cidr: str
    vtep_mac: str
    public_ip: str

    @property
    def vtep_ip(self) -> str:
        """The network address of the peer's pod subnet stands for its VTEP, as flannel does it."""
        return str(ipaddress.IPv4Network(self.pod_cidr).network_address)


@dataclass
class KernelState:
    """What the kernel holds on the VXLAN device: routes by subnet, neighbours by IP, FDB by MAC."""

    routes: dict[str, str] = field(default_factory=dict)  # pod cidr -> gateway (vtep ip)
    neighbours: dict[str, str] = field(default_factory=dict)  # vtep ip -> mac
    fdb: dict[str, str] = field(default_factory=dict)  # mac -> underlay ip


@dataclass
class Plan:
    """Netlink changes, removals first, so a peer that moved never sees a stale and a new entry at once."""

    del_routes: list[str] = field(default_factory=list)
    del_neighbours: list[str] = field(default_factory=list)
    del_fdb: list[tuple[str, str]] = field(default_factory=list)
    add_fdb: list[tuple[str, str]] = field(default_factory=list)
    add_neighbours: list[tuple[str, str]] = field(default_factory=list)
    add_routes: list[tuple[str, str]] = field(default_factory=list)

    def empty(self) -> bool:
        return not any((self.del_routes, self.del_neighbours, self.del_fdb, self.add_fdb, self.add_neighbours,
                        self.add_routes))


def plan(current: KernelState, peers: Iterable[Peer]) -> Plan:
    want_routes = {p.pod_cidr: p.vtep_ip for p in peers}
    want_neigh = {p.vtep_ip: p.vtep_mac.lower() for p in peers}
    want_fdb = {p.vtep_mac.lower(): p.public_ip for p in peers}
    out = Plan()
    for cidr, gw in sorted(current.routes.items()):
        if want_routes.get(cidr) != gw:
            out.del_routes.append(cidr)
    for ip, mac in sorted(current.neighbours.items()):
        if want_neigh.get(ip) != mac:
            out.del_neighbours.append(ip)
    for mac, dst in sorted(current.fdb.items()):
        if want_fdb.get(mac) != dst:
            out.del_fdb.append((mac, dst))
    out.add_fdb = sorted((m, d) for m, d in want_fdb.items() if current.fdb.get(m) != d)
    out.add_neighbours = sorted((i, m) for i, m in want_neigh.items() if current.neighbours.get(i) != m)
    out.add_routes = sorted((c, g) for c, g in want_routes.items() if current.routes.get(c) != g)
    return out


class VxlanDevice:
    """The node's ``flannel.1``: created on the underlay interface, addressed with the node's VTEP IP; in
    network namespace ``netns`` when given, else in the caller's."""

    def __init__(self, underlay_ip: str, underlay_dev: str, pod_cidr: str, name: str = DEVICE,
                 netns: str | None = None) -> None:
        self.netns = netns
        self.name = name
        self.underlay_ip = underlay_ip
        self.underlay_dev = underlay_dev
        self.vtep_ip = str(ipaddress.IPv4Network(pod_cidr).network_address)

    def ensure(self) -> str:
        """Create the device if missing; returns its MAC, which other nodes need (published on the Node)."""
        if iproute2.link(self.netns, self.name) is None:
            if iproute2.link(self.netns, self.underlay_dev) is None:
                raise RuntimeError(f"underlay device {self.underlay_dev} not found")
            iproute2.run("ip", self.netns, "link", "add", self.name, "type", "vxlan", "id", str(VNI),
                         "dev", self.underlay_dev, "local", self.underlay_ip, "dstport", str(PORT), "nolearning")
        [device] = iproute2.show("ip", self.netns, "addr", "show", "dev", self.name)  # -4 omits it without one
        if self.vtep_ip not in {a.get("local") for a in device.get("addr_info", []) if a.get("family") == "inet"}:
            iproute2.run("ip", self.netns, "addr", "add", f"{self.vtep_ip}/32", "dev", self.name)
        iproute2.run("ip", self.netns, "link", "set", "dev", self.name, "mtu", str(MTU), "up")
        link = iproute2.link(self.netns, self.name)
        if link is None:
            raise RuntimeError(f"{self.name} vanished while being set up")
        return str(link["address"])

    def read(self) -> KernelState:
        state = KernelState()
        try:
            routes = iproute2.show("ip", self.netns, "-4", "route", "show", "dev", self.name)
        except iproute2.CommandError as err:
            if "Cannot find device" in err.stderr:
                return state
            raise
        for route in routes:
            dst, gw = route.get("dst", "default"), route.get("gateway")
            if gw and dst != "default":
                state.routes[dst if "/" in dst else f"{dst}/32"] = gw
        for neigh in iproute2.show("ip", self.netns, "-4", "neigh", "show", "dev", self.name):
            if neigh.get("lladdr") and "PERMANENT" in neigh.get("state", []):
                state.neighbours[neigh["dst"]] = neigh["lladdr"].lower()
        for entry in iproute2.show("bridge", self.netns, "fdb", "show", "dev", self.name):
            dst, mac = entry.get("dst"), entry.get("mac")
            if dst and mac and mac != "00:00:00:00:00:00":
                state.fdb[mac.lower()] = dst
        return state

    def apply(self, changes: Plan) -> None:
        if iproute2.link(self.netns, self.name) is None:
            raise RuntimeError(f"{self.name} does not exist")
        dev = ("dev", self.name)
        for cidr in changes.del_routes:
            iproute2.delete("ip", self.netns, "route", "del", cidr, *dev)
        for ip in changes.del_neighbours:
            iproute2.delete("ip", self.netns, "neigh", "del", ip, *dev)
        for mac, dst in changes.del_fdb:
            iproute2.delete("bridge", self.netns, "fdb", "del", mac, *dev, "dst", dst, "self")
        for mac, dst in changes.add_fdb:
            iproute2.run("bridge", self.netns, "fdb", "append", mac, *dev, "dst", dst, "self", "permanent")
        for ip, mac in changes.add_neighbours:
            iproute2.run("ip", self.netns, "neigh", "replace", ip, "lladdr", mac, *dev, "nud", "permanent")
        for cidr, gw in changes.add_routes:
            iproute2.run("ip", self.netns, "route", "replace", cidr, "via", gw, *dev, "onlink", "proto", "static")

    def sync(self, peers: Iterable[Peer]) -> Plan:
        """Make the kernel match ``peers`` exactly; returns what had to change."""
        changes = plan(self.read(), peers)
        if not changes.empty():
            self.apply(changes)
        return changes
