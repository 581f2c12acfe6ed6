"""The rtnetlink requests the bridge plugin and the overlay daemon make, sent in-process on a
``NETLINK_ROUTE`` socket (the bytes are built and read in ``cni.netlink_messages``).

Each pod's ADD and DEL used to start ``ip`` two to three times; a request here costs a syscall pair
instead of a fork and an exec. flanneld reads its routes, neighbours and FDB entries on every node change
the same way, without pyroute2 (whose package import kept ~11 MiB in every process). A socket talks to the
network namespace it was opened in: pass ``netns`` to open it in a named one, or open it after ``setns``.
Requests are acknowledged: a kernel refusal raises ``OSError`` with its errno. Only IPv4 is spoken.
"""

from __future__ import annotations

import _socket as socket  # the C core alone: socket.py's wrappers (enum, selectors) cost each call ~5 ms
import errno
import os
import struct

from cni import netlink_messages as m
from cni.netns import Inside, path_of

TYPE_CHECKING = False  # typing's costs every plugin call an import
if TYPE_CHECKING:
    from types import TracebackType

NETLINK_ROUTE = 0
# What the kernel answers when a delete finds nothing to delete.
GONE = frozenset({errno.ESRCH, errno.ENOENT, errno.ENODEV})


class Netlink:
    """A route netlink socket in the calling thread's current network namespace, or in ``netns`` (a name
    ``ip netns`` knows) when given."""

    def __init__(self, netns: str | None = None) -> None:
        if netns is None:
            self.sock = self._open()
        else:
            with Inside(path_of(netns)):
                self.sock = self._open()
        self.seq = 0

    @staticmethod
    def _open() -> socket.socket:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
        try:
            sock.bind((0, 0))
        except OSError:
            sock.close()
            raise
        return sock

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.sock.close()

    def request(self, msg_type: int, flags: int, body: bytes) -> list[bytes]:
        """Send one request; the bodies of its replies (a dump's entries), once acknowledged or done."""
        self.seq += 1
        flags |= m.NLM_F_REQUEST | (0 if flags & m.NLM_F_DUMP == m.NLM_F_DUMP else m.NLM_F_ACK)
        self.sock.send(m.HEADER.pack(m.HEADER.size + len(body), msg_type, flags, self.seq, 0) + body)
        replies: list[bytes] = []
        while True:
            data = self.sock.recv(1 << 16)
            pos = 0
            while pos + m.HEADER.size <= len(data):
                length, kind, _, seq, _ = m.HEADER.unpack_from(data, pos)
                payload = data[pos + m.HEADER.size:pos + length]
                pos += (length + 3) & ~3
                if seq != self.seq:
                    continue
                if kind == m.NLMSG_DONE:
                    return replies
                if kind == m.NLMSG_ERROR:
                    error = -struct.unpack_from("=i", payload)[0]
                    if error:
                        raise OSError(error, os.strerror(error))
                    return replies
                replies.append(payload)

    def delete(self, msg_type: int, body: bytes) -> bool:
        """A delete request; False when there was nothing to delete (someone else, or the kernel, was first)."""
        try:
            self.request(msg_type, 0, body)
        except OSError as exc:
            if exc.errno in GONE:
                return False
            raise
        return True

    # ---- links ---------------------------------------------------------------------------------

    def add_bridge(self, name: str, mtu: int) -> None:
        self.request(m.RTM_NEWLINK, m.NLM_F_CREATE | m.NLM_F_EXCL,
                     m.ifinfo() + m.name_attr(name) + m.u32(m.IFLA_MTU, mtu)
                     + m.nested(m.IFLA_LINKINFO, m.attr(m.IFLA_INFO_KIND, b"bridge")))

    def add_veth(self, name: str, peer: str, mtu: int, peer_netns_fd: int) -> None:
        """A veth pair: ``name`` here, ``peer`` in the namespace ``peer_netns_fd`` refers to."""
        peer_info = m.ifinfo() + m.name_attr(peer) + m.u32(m.IFLA_MTU, mtu) + m.u32(m.IFLA_NET_NS_FD, peer_netns_fd)
        self.request(m.RTM_NEWLINK, m.NLM_F_CREATE | m.NLM_F_EXCL,
                     m.ifinfo() + m.name_attr(name) + m.u32(m.IFLA_MTU, mtu)
                     + m.nested(m.IFLA_LINKINFO, m.attr(m.IFLA_INFO_KIND, b"veth"),
                                m.nested(m.IFLA_INFO_DATA, m.attr(m.VETH_INFO_PEER, peer_info))))

    def add_vxlan(self, name: str, vni: int, underlay: int, local: str, port: int) -> None:
        """A VXLAN device on link index ``underlay``, learning off."""
        self.request(m.RTM_NEWLINK, m.NLM_F_CREATE | m.NLM_F_EXCL, m.new_vxlan(name, vni, underlay, local, port))

    def set_link(self, index: int, *, up: bool = True, master: int = 0, mtu: int = 0) -> None:
        """Bring a link up (and enslave it to ``master``, and set its MTU, when given)."""
        self.request(m.RTM_NEWLINK, 0, m.ifinfo(index, m.IFF_UP if up else 0, m.IFF_UP)
                     + (m.u32(m.IFLA_MASTER, master) if master else b"") + (m.u32(m.IFLA_MTU, mtu) if mtu else b""))

    def set_hairpin(self, index: int) -> None:
        """Let a bridge port send frames back out where they came in (a pod reaching itself via a Service)."""
        self.request(m.RTM_NEWLINK, 0, m.ifinfo(index)
                     + m.nested(m.IFLA_LINKINFO, m.attr(m.IFLA_INFO_SLAVE_KIND, b"bridge"),
                                m.nested(m.IFLA_INFO_SLAVE_DATA, m.attr(m.IFLA_BRPORT_MODE, b"\1"))))

    def delete_link(self, index: int) -> None:
        self.request(m.RTM_DELLINK, 0, m.ifinfo(index))

    def master(self, index: int) -> int:
        """The index of the link's master (its bridge), 0 if none."""
        reply = self.request(m.RTM_GETLINK, 0, m.ifinfo(index))
        return m.parse_link(reply[0]).master if reply else 0

    def link(self, name: str) -> m.Link | None:
        """The link called ``name``; None when there is no such device."""
        try:
            reply = self.request(m.RTM_GETLINK, 0, m.get_link_by_name(name))
        except OSError as exc:
            if exc.errno == errno.ENODEV:
                return None
            raise
        return m.parse_link(reply[0]) if reply else None

    # ---- addresses and routes ------------------------------------------------------------------

    def add_address(self, index: int, address: str, prefixlen: int, *, replace: bool = False) -> None:
        packed = socket.inet_aton(address)
        self.request(m.RTM_NEWADDR, m.NLM_F_CREATE | (m.NLM_F_REPLACE if replace else m.NLM_F_EXCL),
                     m.IFADDR.pack(socket.AF_INET, prefixlen, 0, m.RT_SCOPE_UNIVERSE, index)
                     + m.attr(m.IFA_LOCAL, packed) + m.attr(m.IFA_ADDRESS, packed))

    def addresses(self, index: int) -> set[tuple[str, int]]:
        """The link's IPv4 addresses as (address, prefix length)."""
        out = set()
        for reply in self.request(m.RTM_GETADDR, m.NLM_F_DUMP, m.IFADDR.pack(socket.AF_INET, 0, 0, 0, 0)):
            _, prefixlen, _, _, link = m.IFADDR.unpack_from(reply)
            local = m.parse_attrs(reply[m.IFADDR.size:]).get(m.IFA_LOCAL)
            if link == index and local:
                out.add((socket.inet_ntoa(local), prefixlen))
        return out

    def add_route(self, dst: str, prefixlen: int, gateway: str) -> None:
        self.request(m.RTM_NEWROUTE, m.NLM_F_CREATE | m.NLM_F_EXCL, m.route(dst, prefixlen, gateway=gateway))

    def replace_route(self, cidr: str, gateway: str, *, oif: int, protocol: int, onlink: bool = False) -> None:
        """Add the route to ``cidr``, or replace the one there (``ip route replace``)."""
        dst, prefixlen = cidr.split("/")
        self.request(m.RTM_NEWROUTE, m.NLM_F_CREATE | m.NLM_F_REPLACE,
                     m.route(dst, int(prefixlen), gateway=gateway, oif=oif, protocol=protocol, onlink=onlink))

    def delete_route(self, cidr: str, *, oif: int = 0, protocol: int = 0) -> bool:
        """Delete the main-table route to ``cidr`` (through ``oif``, of ``protocol``, when given); False if none."""
        dst, prefixlen = cidr.split("/")
        return self.delete(m.RTM_DELROUTE, m.route_selector(dst, int(prefixlen), oif=oif, protocol=protocol))

    def routes(self) -> list[m.Route]:
        """The IPv4 routes of every table."""
        return [m.parse_route(r) for r in self.request(m.RTM_GETROUTE, m.NLM_F_DUMP, m.dump_routes())]

    # ---- neighbours and bridge FDB entries -----------------------------------------------------

    def replace_neighbour(self, ifindex: int, dst: str, lladdr: str) -> None:
        """A permanent ARP entry ``dst`` -> ``lladdr`` on the link (``ip neigh replace ... nud permanent``)."""
        self.request(m.RTM_NEWNEIGH, m.NLM_F_CREATE | m.NLM_F_REPLACE, m.neighbour(ifindex, dst, lladdr))

    def delete_neighbour(self, ifindex: int, dst: str) -> bool:
        return self.delete(m.RTM_DELNEIGH, m.neighbour(ifindex, dst))

    def neighbours(self, family: int = socket.AF_INET) -> list[m.Neighbour]:
        """The ARP table (``AF_INET``) or every bridge FDB entry (``m.AF_BRIDGE``)."""
        return [m.parse_neighbour(r) for r in self.request(m.RTM_GETNEIGH, m.NLM_F_DUMP, m.dump_neighbours(family))]

    def append_fdb(self, ifindex: int, mac: str, dst: str) -> None:
        """Tunnel frames for ``mac`` to ``dst`` too (``bridge fdb append ... self permanent``)."""
        self.request(m.RTM_NEWNEIGH, m.NLM_F_CREATE | m.NLM_F_APPEND, m.fdb_entry(ifindex, mac, dst))

    def delete_fdb(self, ifindex: int, mac: str, dst: str) -> bool:
        return self.delete(m.RTM_DELNEIGH, m.fdb_entry(ifindex, mac, dst))
