"""The netlink attribute encoding ``cni.netlink_messages`` builds: lengths, 4-byte padding, nesting."""

from __future__ import annotations

import struct

from cni import netlink_messages as netlink


def test_attributes_are_padded_and_parse_back_by_type() -> None:
    raw = (netlink.name_attr("eth0") + netlink.u32(netlink.IFLA_MTU, 1450)
           + netlink.attr(netlink.IFLA_INFO_KIND, b"\1"))
    assert len(raw) % 4 == 0
    assert raw[:4] == struct.pack("=HH", 4 + 5, netlink.IFLA_IFNAME)  # the length counts no padding
    parsed = netlink.parse_attrs(raw)
    assert parsed[netlink.IFLA_IFNAME] == b"eth0\0"
    assert struct.unpack("=I", parsed[netlink.IFLA_MTU]) == (1450,)
    assert parsed[netlink.IFLA_INFO_KIND] == b"\1"


def test_nested_attributes_carry_the_flag_and_their_children() -> None:
    inner = netlink.attr(netlink.IFLA_INFO_KIND, b"veth")
    outer = netlink.nested(netlink.IFLA_LINKINFO, inner)
    kind = struct.unpack_from("=HH", outer)[1]
    assert kind == netlink.IFLA_LINKINFO | netlink.NLA_F_NESTED
    parsed = netlink.parse_attrs(outer)
    assert netlink.parse_attrs(parsed[netlink.IFLA_LINKINFO]) == {netlink.IFLA_INFO_KIND: b"veth"}


def test_a_truncated_attribute_ends_parsing() -> None:
    assert netlink.parse_attrs(struct.pack("=HH", 2, 1) + b"rest") == {}
