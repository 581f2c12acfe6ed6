"""The few rtnetlink requests the bridge plugin makes, sent in-process on a ``NETLINK_ROUTE`` socket.

Each pod's ADD and DEL used to start ``ip`` two to three times; a request here costs a syscall pair
instead of a fork and an exec. A socket talks to the network namespace it was opened in, so open one
per namespace (after ``setns``). Requests are acknowledged: a kernel refusal raises ``OSError`` with
its errno. Only IPv4 is spoken, as the plugin's IPAM hands out IPv4 only.
"""

from __future__ import annotations

import _socket as socket  # the C core alone: socket.py's wrappers (enum, selectors) cost each call ~5 ms
import os
import struct

TYPE_CHECKING = False  # typing's costs every plugin call an import
if TYPE_CHECKING:
    from types import TracebackType

NETLINK_ROUTE = 0
NLMSG_ERROR, NLMSG_DONE = 2, 3
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_NEWADDR, RTM_GETADDR, RTM_NEWROUTE = 16, 17, 18, 20, 22, 24
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x100, 0x200, 0x400
NLA_F_NESTED = 0x8000
IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_LINKINFO, IFLA_NET_NS_FD = 3, 4, 10, 18, 28
IFLA_INFO_KIND, IFLA_INFO_DATA, IFLA_INFO_SLAVE_KIND, IFLA_INFO_SLAVE_DATA = 1, 2, 4, 5
VETH_INFO_PEER = 1
IFLA_BRPORT_MODE = 4  # hairpin
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_DST, RTA_GATEWAY = 1, 5
RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST = 254, 3, 0, 1
IFF_UP = 0x1

_HEADER = struct.Struct("=IHHII")  # nlmsghdr
_IFINFO = struct.Struct("=BxHiII")  # ifinfomsg
_IFADDR = struct.Struct("=BBBBI")  # ifaddrmsg
_RTMSG = struct.Struct("=BBBBBBBBI")  # rtmsg
_ATTR = struct.Struct("=HH")  # nlattr


def attr(kind: int, payload: bytes) -> bytes:
    """One attribute, padded to 4 bytes."""
    raw = _ATTR.pack(_ATTR.size + len(payload), kind) + payload
    return raw + b"\0" * (-len(raw) % 4)


def nested(kind: int, *attrs: bytes) -> bytes:
    return attr(kind | NLA_F_NESTED, b"".join(attrs))


def name_attr(name: str) -> bytes:
    return attr(IFLA_IFNAME, name.encode() + b"\0")


def u32(kind: int, value: int) -> bytes:
    return attr(kind, struct.pack("=I", value))


def ifinfo(index: int = 0, flags: int = 0, change: int = 0, family: int = socket.AF_UNSPEC) -> bytes:
    return _IFINFO.pack(family, 0, index, flags, change)


def parse_attrs(data: bytes) -> dict[int, bytes]:
    """Attributes by type (nesting flag stripped); later duplicates win."""
    out: dict[int, bytes] = {}
    pos = 0
    while pos + _ATTR.size <= len(data):
        length, kind = _ATTR.unpack_from(data, pos)
        if length < _ATTR.size:
            break
        out[kind & ~NLA_F_NESTED] = data[pos + _ATTR.size:pos + length]
        pos += (length + 3) & ~3
    return out


class Netlink:
    """A route netlink socket in the calling thread's current network namespace."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
        self.seq = 0
        try:
            self.sock.bind((0, 0))
        except OSError:
            self.sock.close()
            raise

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.sock.close()

    def request(self, msg_type: int, flags: int, body: bytes) -> list[bytes]:
        """Send one request; the bodies of its replies (a dump's entries), once acknowledged or done."""
        self.seq += 1
        flags |= NLM_F_REQUEST | (0 if flags & NLM_F_DUMP == NLM_F_DUMP else NLM_F_ACK)
        self.sock.send(_HEADER.pack(_HEADER.size + len(body), msg_type, flags, self.seq, 0) + body)
        replies: list[bytes] = []
        while True:
            data = self.sock.recv(1 << 16)
            pos = 0
            while pos + _HEADER.size <= len(data):
                length, kind, _, seq, _ = _HEADER.unpack_from(data, pos)
                payload = data[pos + _HEADER.size:pos + length]
                pos += (length + 3) & ~3
                if seq != self.seq:
                    continue
                if kind == NLMSG_DONE:
                    return replies
                if kind == NLMSG_ERROR:
                    error = -struct.unpack_from("=i", payload)[0]
                    if error:
                        raise OSError(error, os.strerror(error))
                    return replies
                replies.append(payload)

    # ---- links ---------------------------------------------------------------------------------

    def add_bridge(self, name: str, mtu: int) -> None:
        self.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL,
                     ifinfo() + name_attr(name) + u32(IFLA_MTU, mtu)
                     + nested(IFLA_LINKINFO, attr(IFLA_INFO_KIND, b"bridge")))

    def add_veth(self, name: str, peer: str, mtu: int, peer_netns_fd: int) -> None:
        """A veth pair: ``name`` here, ``peer`` in the namespace ``peer_netns_fd`` refers to."""
        peer_info = ifinfo() + name_attr(peer) + u32(IFLA_MTU, mtu) + u32(IFLA_NET_NS_FD, peer_netns_fd)
        self.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL,
                     ifinfo() + name_attr(name) + u32(IFLA_MTU, mtu)
                     + nested(IFLA_LINKINFO, attr(IFLA_INFO_KIND, b"veth"),
                              nested(IFLA_INFO_DATA, attr(VETH_INFO_PEER, peer_info))))

    def set_link(self, index: int, *, up: bool = True, master: int = 0) -> None:
        """Bring a link up (and enslave it to ``master``)."""
        self.request(RTM_NEWLINK, 0, ifinfo(index, IFF_UP if up else 0, IFF_UP)
                     + (u32(IFLA_MASTER, master) if master else b""))

    def set_hairpin(self, index: int) -> None:
        """Let a bridge port send frames back out where they came in (a pod reaching itself via a Service)."""
        self.request(RTM_NEWLINK, 0, ifinfo(index)
                     + nested(IFLA_LINKINFO, attr(IFLA_INFO_SLAVE_KIND, b"bridge"),
                              nested(IFLA_INFO_SLAVE_DATA, attr(IFLA_BRPORT_MODE, b"\1"))))

    def delete_link(self, index: int) -> None:
        self.request(RTM_DELLINK, 0, ifinfo(index))

    def master(self, index: int) -> int:
        """The index of the link's master (its bridge), 0 if none."""
        reply = self.request(RTM_GETLINK, 0, ifinfo(index))
        raw = parse_attrs(reply[0][_IFINFO.size:]).get(IFLA_MASTER) if reply else None
        return int(struct.unpack("=I", raw)[0]) if raw else 0

    # ---- addresses and routes ------------------------------------------------------------------

    def add_address(self, index: int, address: str, prefixlen: int, *, replace: bool = False) -> None:
        packed = socket.inet_aton(address)
        self.request(RTM_NEWADDR, NLM_F_CREATE | (NLM_F_REPLACE if replace else NLM_F_EXCL),
                     _IFADDR.pack(socket.AF_INET, prefixlen, 0, RT_SCOPE_UNIVERSE, index)
                     + attr(IFA_LOCAL, packed) + attr(IFA_ADDRESS, packed))

    def addresses(self, index: int) -> set[tuple[str, int]]:
        """The link's IPv4 addresses as (address, prefix length)."""
        out = set()
        for reply in self.request(RTM_GETADDR, NLM_F_DUMP, _IFADDR.pack(socket.AF_INET, 0, 0, 0, 0)):
            _, prefixlen, _, _, link = _IFADDR.unpack_from(reply)
            local = parse_attrs(reply[_IFADDR.size:]).get(IFA_LOCAL)
            if link == index and local:
                out.add((socket.inet_ntoa(local), prefixlen))
        return out

    def add_route(self, dst: str, prefixlen: int, gateway: str) -> None:
        body = _RTMSG.pack(socket.AF_INET, prefixlen, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE,
                           RTN_UNICAST, 0)
        if prefixlen:
            body += attr(RTA_DST, socket.inet_aton(dst))
        self.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, body + attr(RTA_GATEWAY, socket.inet_aton(gateway)))
