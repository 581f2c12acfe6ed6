"""The rtnetlink requests ``cni.netlink_messages`` builds for the overlay, and its reading of what the kernel
answers (replies below were captured from a 6.x kernel after ``ip route/neigh add`` and ``bridge fdb append``)."""

from __future__ import annotations

import socket
import struct

from cni import netlink_messages as m

# RTM_NEWROUTE for `10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink proto static` (flannel.1 = index 4).
ROUTE = bytes.fromhex("02180000fe0400010400000008000f00fe000000080001000af40200080005000af402000800040004000000")
# RTM_NEWNEIGH for `10.244.2.0 lladdr 0a:58:0a:f4:02:00 dev flannel.1 nud permanent`.
NEIGH = bytes.fromhex("020000000400000080000001080001000af402000a0002000a580af40200000008000400000000001400030012"
                      "000000120000001200000000000000")
# RTM_NEWNEIGH (AF_BRIDGE) for `bridge fdb append 0a:58:0a:f4:02:00 dev flannel.1 dst 172.28.9.12 self permanent`.
FDB = bytes.fromhex("0700000004000000c00002010a0002000a580af40200000008000100ac1c090c14000300000000001200000012"
                    "00000000000000")


def test_a_kernel_route_reads_as_ip_shows_it() -> None:
    route = m.parse_route(ROUTE)
    assert (route.cidr, route.gateway, route.oif) == ("10.244.2.0/24", "10.244.2.0", 4)
    assert (route.protocol, route.table, route.flags) == (m.RTPROT_STATIC, m.RT_TABLE_MAIN, m.RTNH_F_ONLINK)


def test_a_kernel_neighbour_and_fdb_entry_read_as_ip_and_bridge_show_them() -> None:
    neigh = m.parse_neighbour(NEIGH)
    assert (neigh.family, neigh.ifindex, neigh.dst, neigh.lladdr) == (socket.AF_INET, 4, "10.244.2.0",
                                                                      "0a:58:0a:f4:02:00")
    assert neigh.state == m.NUD_PERMANENT
    fdb = m.parse_neighbour(FDB)
    assert (fdb.family, fdb.ifindex, fdb.lladdr, fdb.dst) == (m.AF_BRIDGE, 4, "0a:58:0a:f4:02:00", "172.28.9.12")
    assert fdb.state & m.NUD_PERMANENT
    assert fdb.flags & m.NTF_SELF


def _ndmsg_without_type(body: bytes) -> tuple[int, ...]:
    return tuple(m.NDMSG.unpack_from(body)[:4])  # the kernel fills in ndm_type (RTN_UNICAST) itself


def test_our_requests_carry_what_the_kernel_reports_for_the_same_entries() -> None:
    sent = m.route("10.244.2.0", 24, gateway="10.244.2.0", oif=4, protocol=m.RTPROT_STATIC, onlink=True)
    assert sent[:m.RTMSG.size] == ROUTE[:m.RTMSG.size]
    replied = m.parse_attrs(ROUTE[m.RTMSG.size:])
    assert m.parse_attrs(sent[m.RTMSG.size:]) == {k: replied[k] for k in (m.RTA_DST, m.RTA_GATEWAY, m.RTA_OIF)}
    for sent, reply in ((m.neighbour(4, "10.244.2.0", "0a:58:0a:f4:02:00"), NEIGH),
                        (m.fdb_entry(4, "0a:58:0a:f4:02:00", "172.28.9.12"), FDB)):
        family, ifindex, _, flags = _ndmsg_without_type(reply)
        assert _ndmsg_without_type(sent) == (family, ifindex, m.NUD_PERMANENT, flags)  # the kernel adds NUD_NOARP
        replied = m.parse_attrs(reply[m.NDMSG.size:])
        assert m.parse_attrs(sent[m.NDMSG.size:]) == {k: replied[k] for k in (m.NDA_DST, m.NDA_LLADDR)}


def test_a_delete_leaves_out_what_it_does_not_match_on() -> None:
    assert m.NDA_LLADDR not in m.parse_attrs(m.neighbour(4, "10.244.2.0")[m.NDMSG.size:])
    selector = m.route_selector("10.244.2.0", 24, oif=4)
    _, prefixlen, _, _, table, protocol, scope, kind, _ = m.RTMSG.unpack_from(selector)
    assert (prefixlen, table, protocol, scope, kind) == (24, m.RT_TABLE_MAIN, 0, m.RT_SCOPE_NOWHERE, 0)
    assert set(m.parse_attrs(selector[m.RTMSG.size:])) == {m.RTA_DST, m.RTA_OIF}


def test_a_vxlan_link_request_carries_vni_underlay_local_port_and_no_learning() -> None:
    body = m.new_vxlan("flannel.1", 1, 3, "172.28.9.11", 8472)
    attrs = m.parse_attrs(body[m.IFINFO.size:])
    assert attrs[m.IFLA_IFNAME] == b"flannel.1\0"
    info = m.parse_attrs(attrs[m.IFLA_LINKINFO])
    assert info[m.IFLA_INFO_KIND] == b"vxlan"
    data = m.parse_attrs(info[m.IFLA_INFO_DATA])
    assert data == {m.IFLA_VXLAN_ID: struct.pack("=I", 1), m.IFLA_VXLAN_LINK: struct.pack("=I", 3),
                    m.IFLA_VXLAN_LOCAL: socket.inet_aton("172.28.9.11"), m.IFLA_VXLAN_PORT: b"\x21\x18",  # big-endian
                    m.IFLA_VXLAN_LEARNING: b"\0"}


def test_a_link_reply_reads_back_with_its_vxlan_settings() -> None:
    data = (m.u32(m.IFLA_VXLAN_ID, 1) + m.u32(m.IFLA_VXLAN_LINK, 3)
            + m.attr(m.IFLA_VXLAN_LOCAL, bytes([172, 28, 9, 11])) + m.attr(m.IFLA_VXLAN_PORT, b"\x21\x18")
            + m.attr(m.IFLA_VXLAN_LEARNING, b"\0"))
    body = (m.ifinfo(4, m.IFF_UP) + m.name_attr("flannel.1") + m.u32(m.IFLA_MTU, 1450)
            + m.attr(m.IFLA_ADDRESS, bytes.fromhex("226e5183ca3d"))
            + m.nested(m.IFLA_LINKINFO, m.attr(m.IFLA_INFO_KIND, b"vxlan\0"), m.nested(m.IFLA_INFO_DATA, data)))
    link = m.parse_link(body)
    assert (link.index, link.name, link.mtu, link.mac, link.kind, link.flags & m.IFF_UP) == (
        4, "flannel.1", 1450, "22:6e:51:83:ca:3d", "vxlan", m.IFF_UP)
    assert link.vxlan is not None
    assert (link.vxlan.vni, link.vxlan.link, link.vxlan.local, link.vxlan.port, link.vxlan.learning) == (
        1, 3, "172.28.9.11", 8472, False)
