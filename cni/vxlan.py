"""The flannel-style data plane: a VXLAN device per node and, for every other node, a route, a
neighbour and an FDB entry that send its pod subnet through the tunnel to its underlay address.

``plan`` is pure (what to add and remove to get from the kernel's state to the desired peers), so
tests drive it without a kernel; ``VxlanDevice`` applies a plan through netlink (pyroute2). The
host-gw backend replaces all of that with one plain route per peer, for nodes on one L2 segment.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pyroute2 import IPRoute, NetlinkError

DEVICE = "flannel.1"
VNI = 1
PORT = 8472
MTU = 1450
RTNH_F_ONLINK = 4
NUD_PERMANENT = 0x80
NTF_SELF = 0x02
AF_BRIDGE = 7


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
    """The node's ``flannel.1``: created on the underlay interface, addressed with the node's VTEP IP."""

    def __init__(self, ipr: IPRoute, underlay_ip: str, underlay_dev: str, pod_cidr: str, name: str = DEVICE) -> None:
        self.ipr = ipr
        self.name = name
        self.underlay_ip = underlay_ip
        self.underlay_dev = underlay_dev
        self.vtep_ip = str(ipaddress.IPv4Network(pod_cidr).network_address)

    def _index(self) -> int | None:
        found = self.ipr.link_lookup(ifname=self.name)
        return int(found[0]) if found else None

    def ensure(self) -> str:
        """Create the device if missing; returns its MAC, which other nodes need (published on the Node)."""
        index = self._index()
        if index is None:
            dev = self.ipr.link_lookup(ifname=self.underlay_dev)
            if not dev:
                raise RuntimeError(f"underlay device {self.underlay_dev} not found")
            self.ipr.link("add", ifname=self.name, kind="vxlan", vxlan_id=VNI, vxlan_link=dev[0],
                          vxlan_local=self.underlay_ip, vxlan_port=PORT, vxlan_learning=0)
            index = self._index()
            assert index is not None
        have = {a.get_attr("IFA_ADDRESS") for a in self.ipr.get_addr(index=index, family=2)}
        if self.vtep_ip not in have:
            self.ipr.addr("add", index=index, address=self.vtep_ip, prefixlen=32)
        self.ipr.link("set", index=index, mtu=MTU, state="up")
        return str(self.ipr.get_links(index)[0].get_attr("IFLA_ADDRESS"))

    def read(self) -> KernelState:
        index = self._index()
        state = KernelState()
        if index is None:
            return state
        for route in self.ipr.get_routes(family=2, oif=index):
            gw = route.get_attr("RTA_GATEWAY")
            dst = route.get_attr("RTA_DST")
            if gw and dst:
                state.routes[f"{dst}/{route['dst_len']}"] = gw
        for neigh in self.ipr.get_neighbours(family=2, ifindex=index):
            mac = neigh.get_attr("NDA_LLADDR")
            if mac and neigh["state"] & NUD_PERMANENT:
                state.neighbours[neigh.get_attr("NDA_DST")] = mac.lower()
        for entry in self.ipr.fdb("dump", ifindex=index):
            dst = entry.get_attr("NDA_DST")
            mac = entry.get_attr("NDA_LLADDR")
            if dst and mac and mac != "00:00:00:00:00:00":
                state.fdb[mac.lower()] = dst
        return state

    def apply(self, changes: Plan) -> None:
        index = self._index()
        if index is None:
            raise RuntimeError(f"{self.name} does not exist")
        for cidr in changes.del_routes:
            _ignore_missing(self.ipr.route, "del", dst=cidr, oif=index)
        for ip in changes.del_neighbours:
            _ignore_missing(self.ipr.neigh, "del", dst=ip, ifindex=index)
        for mac, dst in changes.del_fdb:
            _ignore_missing(self.ipr.fdb, "del", ifindex=index, lladdr=mac, dst=dst)
        for mac, dst in changes.add_fdb:
            self.ipr.fdb("append", ifindex=index, lladdr=mac, dst=dst)
        for ip, mac in changes.add_neighbours:
            self.ipr.neigh("replace", dst=ip, lladdr=mac, ifindex=index, state=NUD_PERMANENT)
        for cidr, gw in changes.add_routes:
            self.ipr.route("replace", dst=cidr, gateway=gw, oif=index, flags=RTNH_F_ONLINK)

    def sync(self, peers: Iterable[Peer]) -> Plan:
        """Make the kernel match ``peers`` exactly; returns what had to change."""
        changes = plan(self.read(), peers)
        if not changes.empty():
            self.apply(changes)
        return changes


def _ignore_missing(call: Callable[..., object], *args: object, **kwargs: object) -> None:
    try:
        call(*args, **kwargs)
    except NetlinkError as exc:
        if exc.code not in (2, 3, 19):  # ENOENT, ESRCH, ENODEV: already gone
            raise
