"""Attach a pod's network namespace to the node bridge through a veth pair (pyroute2 netlink).

The host end's name is derived from the container id and interface, so DEL finds it even when the
pod's namespace is already gone.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pyroute2 import IPRoute, NetlinkError, NetNS

from cni.ipam import Lease
from cni.spec import IO_FAILURE, UNKNOWN_CONTAINER, CniError

BRIDGE_MODE_HAIRPIN = 1


@dataclass(frozen=True)
class BridgeConfig:
    """How pods attach: the bridge's name, the MTU, hairpin, and whether the bridge is the pods' gateway."""

    name: str
    mtu: int
    hairpin: bool
    is_gateway: bool


@dataclass(frozen=True)
class Attachment:
    bridge: str
    bridge_mac: str
    host_veth: str
    host_mac: str
    container_mac: str


def host_veth_name(container_id: str, ifname: str) -> str:
    return "veth" + hashlib.sha256(f"{container_id}/{ifname}".encode()).hexdigest()[:8]


def _lookup(ns: IPRoute | NetNS, ifname: str) -> int | None:
    found = ns.link_lookup(ifname=ifname)
    return int(found[0]) if found else None


def _mac(ns: IPRoute | NetNS, index: int) -> str:
    return str(ns.get_links(index)[0].get_attr("IFLA_ADDRESS"))


@contextmanager
def _pod_netns(path: str) -> Iterator[NetNS]:
    if not os.path.exists(path):
        raise CniError(UNKNOWN_CONTAINER, f"network namespace {path} does not exist")
    ns = NetNS(path, flags=0)  # flags=0: never create a namespace that is not there
    try:
        yield ns
    finally:
        ns.close()


def ensure_bridge(ipr: IPRoute, name: str, gateway: ipaddress.IPv4Interface | None, mtu: int) -> int:
    """The node bridge, created on first use, up, with the pod gateway address when it is the gateway."""
    index = _lookup(ipr, name)
    if index is None:
        try:
            ipr.link("add", ifname=name, kind="bridge", mtu=mtu)
        except NetlinkError as exc:
            if exc.code != 17:  # EEXIST: a concurrent ADD made it first
                raise
        index = _lookup(ipr, name)
        if index is None:
            raise CniError(IO_FAILURE, f"bridge {name} vanished while being created")
    if gateway is not None:
        have = {(a.get_attr("IFA_ADDRESS"), a["prefixlen"]) for a in ipr.get_addr(index=index, family=2)}
        if (str(gateway.ip), gateway.network.prefixlen) not in have:
            try:
                ipr.addr("add", index=index, address=str(gateway.ip), prefixlen=gateway.network.prefixlen)
            except NetlinkError as exc:
                if exc.code != 17:
                    raise
    ipr.link("set", index=index, state="up")
    return index


def attach(netns_path: str, ifname: str, container_id: str, *, config: BridgeConfig, lease: Lease,
           routes: list[ipaddress.IPv4Network]) -> Attachment:
    host = host_veth_name(container_id, ifname)
    address, gateway, mtu = lease.address, lease.gateway, config.mtu
    gateway_address = ipaddress.IPv4Interface(f"{gateway}/{address.network.prefixlen}")
    with IPRoute() as ipr:
        bridge_index = ensure_bridge(ipr, config.name, gateway_address if config.is_gateway else None, mtu)
        with _pod_netns(netns_path) as pod:
            if _lookup(pod, ifname) is not None:
                raise CniError(IO_FAILURE, f"interface {ifname} already exists in {netns_path}")
            stale = _lookup(ipr, host)
            if stale is not None:  # left by an ADD that failed halfway; its pod end is gone
                ipr.link("del", index=stale)
            fd = os.open(netns_path, os.O_RDONLY)
            try:
                ipr.link("add", ifname=host, kind="veth", mtu=mtu, peer={"ifname": ifname, "net_ns_fd": fd})
            finally:
                os.close(fd)
            host_index = _lookup(ipr, host)
            assert host_index is not None
            ipr.link("set", index=host_index, master=bridge_index, state="up")
            if config.hairpin:  # a pod reaching itself through its Service's virtual IP
                ipr.brport("set", index=host_index, mode=BRIDGE_MODE_HAIRPIN)
            pod_index = _lookup(pod, ifname)
            assert pod_index is not None
            pod.link("set", index=pod_index, mtu=mtu)
            pod.addr("add", index=pod_index, address=str(address.ip), prefixlen=address.network.prefixlen)
            pod.link("set", index=pod_index, state="up")
            lo = _lookup(pod, "lo")
            if lo is not None:
                pod.link("set", index=lo, state="up")
            for dst in routes:
                pod.route("add", dst=str(dst), gateway=str(gateway))
            return Attachment(config.name, _mac(ipr, bridge_index), host, _mac(ipr, host_index), _mac(pod, pod_index))


def detach(netns_path: str, ifname: str, container_id: str) -> None:
    """Remove the pod's veth pair; nothing left to remove is success (DEL may be called twice)."""
    with IPRoute() as ipr:
        index = _lookup(ipr, host_veth_name(container_id, ifname))
        if index is not None:
            try:
                ipr.link("del", index=index)
            except NetlinkError as exc:
                if exc.code != 19:  # ENODEV: removed meanwhile
                    raise
            return
    if netns_path and os.path.exists(netns_path):
        with _pod_netns(netns_path) as pod:
            index = _lookup(pod, ifname)
            if index is not None:
                pod.link("del", index=index)


def check(netns_path: str, ifname: str, container_id: str, bridge: str, address: ipaddress.IPv4Interface) -> None:
    """Raise when the attachment ADD made is no longer as it was (CHECK)."""
    with IPRoute() as ipr:
        host = _lookup(ipr, host_veth_name(container_id, ifname))
        bridge_index = _lookup(ipr, bridge)
        if host is None or bridge_index is None:
            raise CniError(IO_FAILURE, f"host end of {container_id}/{ifname} or bridge {bridge} is missing")
        if ipr.get_links(host)[0].get_attr("IFLA_MASTER") != bridge_index:
            raise CniError(IO_FAILURE, f"{host_veth_name(container_id, ifname)} is not attached to {bridge}")
    with _pod_netns(netns_path) as pod:
        index = _lookup(pod, ifname)
        if index is None:
            raise CniError(IO_FAILURE, f"interface {ifname} is missing in {netns_path}")
        have = {(a.get_attr("IFA_ADDRESS"), a["prefixlen"]) for a in pod.get_addr(index=index, family=2)}
        if (str(address.ip), address.network.prefixlen) not in have:
            raise CniError(IO_FAILURE, f"{ifname} in {netns_path} lost its address {address}")
