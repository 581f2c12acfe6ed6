"""``cni.netlink`` against the kernel, in a throwaway network namespace: what it programs for the overlay is
what ``ip -d link``, ``ip route``, ``ip neigh`` and ``bridge fdb`` then show, and what it reads back agrees
with them."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import Any

from cni import netlink_messages as m
from cni.netlink import Netlink
from tests.support.netns import netns_exec

MAC = "0a:58:0a:f4:02:00"
OTHER_MAC = "0a:58:0a:f4:03:00"


def shown(netns: str, tool: str, *argv: str) -> list[dict[str, Any]]:
    out = netns_exec(netns, tool, "-json", *argv)
    assert out.returncode == 0, out.stderr
    found: list[dict[str, Any]] = json.loads(out.stdout or "[]")
    return found


def overlay_netns(netns: Callable[[str], str]) -> str:
    """A namespace with an addressed, up veth ``eth0`` to stand for the underlay."""
    name = netns("nl")
    for argv in (("link", "add", "eth0", "type", "veth", "peer", "name", "eth1"),
                 ("addr", "add", "172.28.9.11/24", "dev", "eth0"), ("link", "set", "eth0", "up"),
                 ("link", "set", "eth1", "up")):
        assert netns_exec(name, "ip", *argv).returncode == 0
    return name


def vxlan_netns(netns: Callable[[str], str]) -> str:
    """``overlay_netns`` plus a ``flannel.1`` made by ``ip``, as flannel would have it."""
    name = overlay_netns(netns)
    assert netns_exec(name, "ip", "link", "add", "flannel.1", "type", "vxlan", "id", "1", "dev", "eth0", "local",
                      "172.28.9.11", "dstport", "8472", "nolearning").returncode == 0
    assert netns_exec(name, "ip", "link", "set", "flannel.1", "up").returncode == 0
    return name


def index_of(nl: Netlink, name: str) -> int:
    link = nl.link(name)
    assert link is not None, f"{name} is missing"
    return link.index


def program_entries(nl: Netlink) -> int:
    """What flanneld programs for peers (two FDB entries, a neighbour, an onlink route) plus a host-gw style
    route of its own protocol; returns flannel.1's index."""
    index = index_of(nl, "flannel.1")
    nl.append_fdb(index, MAC, "172.28.9.12")
    nl.append_fdb(index, OTHER_MAC, "172.28.9.13")
    nl.replace_neighbour(index, "10.244.2.0", MAC)
    nl.replace_route("10.244.2.0/24", "10.244.2.0", oif=index, protocol=m.RTPROT_STATIC, onlink=True)
    nl.replace_route("10.244.7.0/24", "172.28.9.17", oif=index_of(nl, "eth0"), protocol=253)
    return index


def test_a_vxlan_device_as_ip_shows_it(netns: Callable[[str], str]) -> None:
    ns = overlay_netns(netns)
    with Netlink(ns) as nl:
        eth0 = nl.link("eth0")
        assert eth0 is not None
        nl.add_vxlan("flannel.1", 1, eth0.index, "172.28.9.11", 8472)
        created = nl.link("flannel.1")
        assert created is not None
        nl.add_address(created.index, "10.244.1.0", 32)
        nl.set_link(created.index, mtu=1450)
        link = nl.link("flannel.1")
        assert nl.link("nosuch0") is None
    assert link is not None and link.vxlan is not None
    [ip] = shown(ns, "ip", "-d", "link", "show", "dev", "flannel.1")
    data = ip["linkinfo"]["info_data"]
    assert (ip["linkinfo"]["info_kind"], data["id"], data["local"], data["link"], data["port"], data["learning"]) \
        == ("vxlan", 1, "172.28.9.11", "eth0", 8472, False)
    assert (link.kind, link.vxlan.vni, link.vxlan.local, link.vxlan.link, link.vxlan.port, link.vxlan.learning) \
        == ("vxlan", 1, "172.28.9.11", eth0.index, 8472, False)
    assert (link.index, link.name, link.mtu, link.mac) == (ip["ifindex"], "flannel.1", 1450, ip["address"]) \
        and ip["mtu"] == 1450
    assert "UP" in ip["flags"] and link.flags & m.IFF_UP
    [addr] = shown(ns, "ip", "-4", "addr", "show", "dev", "flannel.1")
    assert [(a["local"], a["prefixlen"]) for a in addr["addr_info"]] == [("10.244.1.0", 32)]


def test_routes_neighbours_and_fdb_entries_as_ip_and_bridge_show_them(netns: Callable[[str], str]) -> None:
    ns = vxlan_netns(netns)
    with Netlink(ns) as nl:
        index = program_entries(nl)
        nl.replace_neighbour(index, "10.244.2.0", MAC)  # replace: idempotent
        routes = [r for r in nl.routes() if r.table == m.RT_TABLE_MAIN and r.gateway]
        neighbours = [n for n in nl.neighbours() if n.ifindex == index]
        fdb = [e for e in nl.neighbours(m.AF_BRIDGE) if e.ifindex == index and e.dst]

    assert shown(ns, "ip", "-4", "route", "show", "dev", "flannel.1") == [
        {"dst": "10.244.2.0/24", "gateway": "10.244.2.0", "protocol": "static", "flags": ["onlink"]}]
    assert shown(ns, "ip", "-4", "route", "show", "proto", "253") == [
        {"dst": "10.244.7.0/24", "gateway": "172.28.9.17", "dev": "eth0", "flags": []}]
    assert sorted((r.cidr, r.gateway, r.protocol, bool(r.flags & m.RTNH_F_ONLINK)) for r in routes) == [
        ("10.244.2.0/24", "10.244.2.0", m.RTPROT_STATIC, True), ("10.244.7.0/24", "172.28.9.17", 253, False)]

    assert [(n["dst"], n["lladdr"], n["state"]) for n in shown(ns, "ip", "-4", "neigh", "show", "dev", "flannel.1")] \
        == [("10.244.2.0", MAC, ["PERMANENT"])]
    assert [(n.family, n.dst, n.lladdr, bool(n.state & m.NUD_PERMANENT)) for n in neighbours] == [
        (socket.AF_INET, "10.244.2.0", MAC, True)]

    bridge = shown(ns, "bridge", "fdb", "show", "dev", "flannel.1")
    assert sorted((e["mac"], e["dst"], e["flags"], e["state"]) for e in bridge if "dst" in e) == [
        (MAC, "172.28.9.12", ["self"], "permanent"), (OTHER_MAC, "172.28.9.13", ["self"], "permanent")]
    assert sorted((e.lladdr, e.dst, bool(e.flags & m.NTF_SELF), bool(e.state & m.NUD_PERMANENT)) for e in fdb) == [
        (MAC, "172.28.9.12", True, True), (OTHER_MAC, "172.28.9.13", True, True)]


def test_deletes_remove_exactly_their_entry_and_report_when_nothing_was_there(netns: Callable[[str], str]) -> None:
    ns = vxlan_netns(netns)
    with Netlink(ns) as nl:
        index = program_entries(nl)
        assert nl.delete_fdb(index, MAC, "172.28.9.12") and not nl.delete_fdb(index, MAC, "172.28.9.12")
        assert nl.delete_neighbour(index, "10.244.2.0") and not nl.delete_neighbour(index, "10.244.2.0")
        assert not nl.delete_route("10.244.7.0/24", protocol=m.RTPROT_STATIC)  # not of that protocol
        assert nl.delete_route("10.244.2.0/24", oif=index) and not nl.delete_route("10.244.2.0/24", oif=index)
        assert nl.delete_route("10.244.7.0/24", protocol=253)
    assert shown(ns, "ip", "-4", "route", "show", "table", "main", "proto", "static") == []
    assert shown(ns, "ip", "-4", "route", "show", "proto", "253") == []
    assert shown(ns, "ip", "-4", "neigh", "show", "dev", "flannel.1") == []
    assert [(e["mac"], e["dst"]) for e in shown(ns, "bridge", "fdb", "show", "dev", "flannel.1") if "dst" in e] == [
        (OTHER_MAC, "172.28.9.13")]
