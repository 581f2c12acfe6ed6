"""rtnetlink messages as bytes: the request bodies ``cni.netlink`` sends and the records it reads back.

Pure (no socket, no namespace), so tests check the encoding byte for byte and decode captured replies.
IPv4 only, as the plugin's IPAM and the overlay speak no IPv6. Kept to the standard library's cheapest
modules: the CNI plugin imports this on every call.
"""

from __future__ import annotations

import _socket as socket  # the C core alone: socket.py's wrappers (enum, selectors) cost each call ~5 ms
import struct

NLMSG_ERROR, NLMSG_DONE = 2, 3
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_NEWADDR, RTM_GETADDR = 16, 17, 18, 20, 22
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE, RTM_NEWNEIGH, RTM_DELNEIGH, RTM_GETNEIGH = 24, 25, 26, 28, 29, 30
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE, NLM_F_APPEND = 0x100, 0x200, 0x400, 0x800
NLA_F_NESTED = 0x8000
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_LINKINFO, IFLA_NET_NS_FD = 1, 3, 4, 10, 18, 28
IFLA_INFO_KIND, IFLA_INFO_DATA, IFLA_INFO_SLAVE_KIND, IFLA_INFO_SLAVE_DATA = 1, 2, 4, 5
IFLA_VXLAN_ID, IFLA_VXLAN_LINK, IFLA_VXLAN_LOCAL, IFLA_VXLAN_LEARNING, IFLA_VXLAN_PORT = 1, 3, 4, 7, 15
VETH_INFO_PEER = 1
IFLA_BRPORT_MODE = 4  # hairpin
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_TABLE = 1, 4, 5, 15
RT_TABLE_MAIN, RT_SCOPE_UNIVERSE, RT_SCOPE_NOWHERE, RTN_UNICAST = 254, 0, 255, 1
RTPROT_BOOT, RTPROT_STATIC = 3, 4
RTNH_F_ONLINK = 4
NDA_DST, NDA_LLADDR = 1, 2
NUD_PERMANENT = 0x80
NTF_SELF = 0x2
IFF_UP = 0x1
AF_BRIDGE = 7

HEADER = struct.Struct("=IHHII")  # nlmsghdr
IFINFO = struct.Struct("=BxHiII")  # ifinfomsg
IFADDR = struct.Struct("=BBBBI")  # ifaddrmsg
RTMSG = struct.Struct("=BBBBBBBBI")  # rtmsg
NDMSG = struct.Struct("=BxxxiHBB")  # ndmsg
_ATTR = struct.Struct("=HH")  # nlattr
_U32 = struct.Struct("=I")


def attr(kind: int, payload: bytes) -> bytes:
    """One attribute, padded to 4 bytes."""
    raw = _ATTR.pack(_ATTR.size + len(payload), kind) + payload
    return raw + b"\0" * (-len(raw) % 4)


def nested(kind: int, *attrs: bytes) -> bytes:
    return attr(kind | NLA_F_NESTED, b"".join(attrs))


def name_attr(name: str) -> bytes:
    return attr(IFLA_IFNAME, name.encode() + b"\0")


def u32(kind: int, value: int) -> bytes:
    return attr(kind, _U32.pack(value))


def ifinfo(index: int = 0, flags: int = 0, change: int = 0, family: int = socket.AF_UNSPEC) -> bytes:
    return IFINFO.pack(family, 0, index, flags, change)


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


def mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def mac_text(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _u32_of(attrs: dict[int, bytes], kind: int) -> int:
    raw = attrs.get(kind)
    return int(_U32.unpack(raw[:4])[0]) if raw else 0


def _ip_of(attrs: dict[int, bytes], kind: int) -> str:
    raw = attrs.get(kind)
    return socket.inet_ntoa(raw) if raw and len(raw) == 4 else ""


# ---- links --------------------------------------------------------------------------------------


class Vxlan:
    """A VXLAN link's settings: VNI, underlay link index, local address, UDP port, learning."""

    __slots__ = ("learning", "link", "local", "port", "vni")

    def __init__(self, vni: int, link: int, local: str, port: int, learning: bool) -> None:
        self.vni, self.link, self.local, self.port, self.learning = vni, link, local, port, learning


class Link:
    """One link as RTM_NEWLINK describes it; ``vxlan`` is set for a VXLAN device."""

    __slots__ = ("flags", "index", "kind", "mac", "master", "mtu", "name", "vxlan")

    def __init__(self, index: int, name: str, *, flags: int, mtu: int, mac: str, master: int, kind: str,
                 vxlan: Vxlan | None) -> None:
        self.index, self.name, self.flags, self.mtu, self.mac = index, name, flags, mtu, mac
        self.master, self.kind, self.vxlan = master, kind, vxlan


def new_vxlan(name: str, vni: int, underlay: int, local: str, port: int) -> bytes:
    """An RTM_NEWLINK body for a VXLAN device on link ``underlay``, with address learning off (the
    daemon programs every forwarding entry itself)."""
    data = (u32(IFLA_VXLAN_ID, vni) + u32(IFLA_VXLAN_LINK, underlay)
            + attr(IFLA_VXLAN_LOCAL, socket.inet_aton(local)) + attr(IFLA_VXLAN_PORT, struct.pack("!H", port))
            + attr(IFLA_VXLAN_LEARNING, b"\0"))
    return ifinfo() + name_attr(name) + nested(IFLA_LINKINFO, attr(IFLA_INFO_KIND, b"vxlan"),
                                               nested(IFLA_INFO_DATA, data))


def get_link_by_name(name: str) -> bytes:
    return ifinfo() + name_attr(name)


def parse_link(body: bytes) -> Link:
    _, _, index, flags, _ = IFINFO.unpack_from(body)
    attrs = parse_attrs(body[IFINFO.size:])
    info = parse_attrs(attrs.get(IFLA_LINKINFO, b""))
    kind = info.get(IFLA_INFO_KIND, b"").rstrip(b"\0").decode()
    vxlan = None
    if kind == "vxlan":
        data = parse_attrs(info.get(IFLA_INFO_DATA, b""))
        port = data.get(IFLA_VXLAN_PORT)
        vxlan = Vxlan(_u32_of(data, IFLA_VXLAN_ID), _u32_of(data, IFLA_VXLAN_LINK), _ip_of(data, IFLA_VXLAN_LOCAL),
                      int(struct.unpack("!H", port)[0]) if port else 0, data.get(IFLA_VXLAN_LEARNING) == b"\1")
    return Link(index, attrs.get(IFLA_IFNAME, b"").rstrip(b"\0").decode(), flags=flags, mtu=_u32_of(attrs, IFLA_MTU),
                mac=mac_text(attrs.get(IFLA_ADDRESS, b"")), master=_u32_of(attrs, IFLA_MASTER), kind=kind, vxlan=vxlan)


# ---- routes -------------------------------------------------------------------------------------


class Route:
    """An IPv4 route: destination, gateway, output link, protocol, table and flags (``RTNH_F_ONLINK``)."""

    __slots__ = ("dst", "flags", "gateway", "oif", "prefixlen", "protocol", "table")

    def __init__(self, dst: str, prefixlen: int, *, gateway: str, oif: int, protocol: int, table: int,
                 flags: int) -> None:
        self.dst, self.prefixlen, self.gateway, self.oif = dst, prefixlen, gateway, oif
        self.protocol, self.table, self.flags = protocol, table, flags

    @property
    def cidr(self) -> str:
        return f"{self.dst}/{self.prefixlen}"


def route(dst: str, prefixlen: int, *, gateway: str = "", oif: int = 0, protocol: int = RTPROT_BOOT,
          onlink: bool = False) -> bytes:
    """An RTM_NEWROUTE body for a main-table unicast route."""
    body = RTMSG.pack(socket.AF_INET, prefixlen, 0, 0, RT_TABLE_MAIN, protocol, RT_SCOPE_UNIVERSE, RTN_UNICAST,
                      RTNH_F_ONLINK if onlink else 0)
    if prefixlen:
        body += attr(RTA_DST, socket.inet_aton(dst))
    if gateway:
        body += attr(RTA_GATEWAY, socket.inet_aton(gateway))
    return body + (u32(RTA_OIF, oif) if oif else b"")


def route_selector(dst: str, prefixlen: int, *, oif: int = 0, protocol: int = 0) -> bytes:
    """An RTM_DELROUTE body: the main-table route to ``dst/prefixlen``, also by output link and protocol when
    given (any scope, any type, any gateway)."""
    body = RTMSG.pack(socket.AF_INET, prefixlen, 0, 0, RT_TABLE_MAIN, protocol, RT_SCOPE_NOWHERE, 0, 0)
    if prefixlen:
        body += attr(RTA_DST, socket.inet_aton(dst))
    return body + (u32(RTA_OIF, oif) if oif else b"")


def dump_routes() -> bytes:
    return RTMSG.pack(socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)


def parse_route(body: bytes) -> Route:
    _, prefixlen, _, _, table, protocol, _, _, flags = RTMSG.unpack_from(body)
    attrs = parse_attrs(body[RTMSG.size:])
    return Route(_ip_of(attrs, RTA_DST) or "0.0.0.0", prefixlen, gateway=_ip_of(attrs, RTA_GATEWAY),
                 oif=_u32_of(attrs, RTA_OIF), protocol=protocol, table=_u32_of(attrs, RTA_TABLE) or table, flags=flags)


# ---- neighbours and bridge FDB entries ----------------------------------------------------------


class Neighbour:
    """A neighbour (``AF_INET``: IP -> MAC) or a bridge FDB entry (``AF_BRIDGE``: MAC -> underlay IP in
    ``dst``), as one RTM_NEWNEIGH describes both."""

    __slots__ = ("dst", "family", "flags", "ifindex", "lladdr", "state")

    def __init__(self, family: int, ifindex: int, *, state: int, flags: int, dst: str, lladdr: str) -> None:
        self.family, self.ifindex, self.state, self.flags, self.dst, self.lladdr = \
            family, ifindex, state, flags, dst, lladdr


def neighbour(ifindex: int, dst: str, lladdr: str = "") -> bytes:
    """An RTM_NEWNEIGH/RTM_DELNEIGH body for a permanent ARP entry (``lladdr`` is left out for a delete)."""
    return (NDMSG.pack(socket.AF_INET, ifindex, NUD_PERMANENT, 0, 0) + attr(NDA_DST, socket.inet_aton(dst))
            + (attr(NDA_LLADDR, mac_bytes(lladdr)) if lladdr else b""))


def fdb_entry(ifindex: int, mac: str, dst: str) -> bytes:
    """An RTM_NEWNEIGH/RTM_DELNEIGH body for a permanent FDB entry of the device itself (``self``): frames for
    ``mac`` are tunnelled to ``dst``."""
    return (NDMSG.pack(AF_BRIDGE, ifindex, NUD_PERMANENT, NTF_SELF, 0) + attr(NDA_LLADDR, mac_bytes(mac))
            + attr(NDA_DST, socket.inet_aton(dst)))


def dump_neighbours(family: int) -> bytes:
    return NDMSG.pack(family, 0, 0, 0, 0)


def parse_neighbour(body: bytes) -> Neighbour:
    family, ifindex, state, flags, _ = NDMSG.unpack_from(body)
    attrs = parse_attrs(body[NDMSG.size:])
    return Neighbour(family, ifindex, state=state, flags=flags, dst=_ip_of(attrs, NDA_DST),
                     lladdr=mac_text(attrs.get(NDA_LLADDR, b"")))
