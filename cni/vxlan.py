"""The flannel-style data plane: a VXLAN device per node and, for every other node, a route, a
neighbour and an FDB entry that send its pod subnet through the tunnel to its underlay address.

``plan`` is pure (what to add and remove to get from the kernel's state to the desired peers), so
tests drive it without a kernel; ``VxlanDevice`` reads the kernel and applies a plan over rtnetlink
(``cni.netlink``). The host-gw backend replaces all of that with one plain route per peer, for nodes on
one L2 segment.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from cni import netlink_messages as m
from cni.netlink import Netlink

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
        with Netlink(self.netns) as nl:
            link = nl.link(self.name)
            if link is None:
                underlay = nl.link(self.underlay_dev)
                if underlay is None:
                    raise RuntimeError(f"underlay device {self.underlay_dev} not found")
                nl.add_vxlan(self.name, VNI, underlay.index, self.underlay_ip, PORT)
                link = nl.link(self.name)
                if link is None:
                    raise RuntimeError(f"{self.name} vanished while being set up")
            if self.vtep_ip not in {address for address, _ in nl.addresses(link.index)}:
                nl.add_address(link.index, self.vtep_ip, 32)
            nl.set_link(link.index, mtu=MTU)
            return link.mac

    @staticmethod
    def _read(nl: Netlink, index: int) -> KernelState:
        state = KernelState()
        for route in nl.routes():
            if route.oif == index and route.table == m.RT_TABLE_MAIN and route.gateway and route.prefixlen:
                state.routes[route.cidr] = route.gateway
        for neigh in nl.neighbours():
            if neigh.ifindex == index and neigh.lladdr and neigh.state & m.NUD_PERMANENT:
                state.neighbours[neigh.dst] = neigh.lladdr
        for entry in nl.neighbours(m.AF_BRIDGE):
            if entry.ifindex == index and entry.dst and entry.lladdr != "00:00:00:00:00:00":
                state.fdb[entry.lladdr] = entry.dst
        return state

    @staticmethod
    def _apply(nl: Netlink, index: int, changes: Plan) -> None:
        for cidr in changes.del_routes:
            nl.delete_route(cidr, oif=index)
        for ip in changes.del_neighbours:
            nl.delete_neighbour(index, ip)
        for mac, dst in changes.del_fdb:
            nl.delete_fdb(index, mac, dst)
        for mac, dst in changes.add_fdb:
            nl.append_fdb(index, mac, dst)
        for ip, mac in changes.add_neighbours:
            nl.replace_neighbour(index, ip, mac)
        for cidr, gw in changes.add_routes:
            nl.replace_route(cidr, gw, oif=index, protocol=m.RTPROT_STATIC, onlink=True)

    def sync(self, peers: Iterable[Peer]) -> Plan:
        """Make the kernel match ``peers`` exactly; returns what had to change."""
        with Netlink(self.netns) as nl:
            link = nl.link(self.name)
            changes = plan(KernelState() if link is None else self._read(nl, link.index), peers)
            if not changes.empty():
                if link is None:
                    raise RuntimeError(f"{self.name} does not exist")
                self._apply(nl, link.index, changes)
            return changes
