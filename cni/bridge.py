"""Attach a pod's network namespace to the node bridge through a veth pair, over rtnetlink in-process.

The plugin runs on every pod's start and stop, so its cost is on each pod's critical path: importing
pyroute2 cost 0.2-0.3 s of CPU per call, and a short-lived ``ip`` per step a fork and an exec each; a
few netlink requests cost neither (``cni.netlink``). Steps inside the pod's namespace run with the
plugin's (only) thread moved into it by ``setns`` and back, on a netlink socket opened there. Imports
are kept to what a call needs: the interpreter's start-up is most of what the plugin costs.

The host end's name is derived from the container id and interface, so DEL finds it even when the
pod's namespace is already gone.
"""

from __future__ import annotations

import _socket as socket  # the C core alone: socket.py's wrappers (enum, selectors) cost each call ~5 ms
import fcntl
import os
import struct

from cni.ipam import Lease
from cni.ipv4 import Interface, Network
from cni.netlink import Netlink
from cni.netns import Inside
from cni.spec import IO_FAILURE, UNKNOWN_CONTAINER, CniError

TYPE_CHECKING = False  # typing's costs every plugin call an import
if TYPE_CHECKING:
    from types import TracebackType

try:  # hashlib's import loads OpenSSL, a few ms of every plugin call; the builtin module is the same SHA-256
    from _sha256 import sha256  # type: ignore[import-not-found,unused-ignore]  # Python 3.11
except ImportError:
    from hashlib import sha256

SIOCGIFHWADDR = 0x8927


class BridgeConfig:
    """How pods attach: the bridge's name, the MTU, hairpin, and whether the bridge is the pods' gateway."""

    __slots__ = ("hairpin", "is_gateway", "mtu", "name")

    def __init__(self, name: str, mtu: int, hairpin: bool, is_gateway: bool) -> None:
        self.name, self.mtu, self.hairpin, self.is_gateway = name, mtu, hairpin, is_gateway


class Attachment:
    """What ADD reports: the bridge, the host end and the pod end, with their MACs."""

    __slots__ = ("bridge", "bridge_mac", "container_mac", "host_mac", "host_veth")

    def __init__(self, bridge: str, bridge_mac: str, host_veth: str, host_mac: str, container_mac: str) -> None:
        self.bridge, self.bridge_mac, self.host_veth = bridge, bridge_mac, host_veth
        self.host_mac, self.container_mac = host_mac, container_mac


def host_veth_name(container_id: str, ifname: str) -> str:
    return "veth" + str(sha256(f"{container_id}/{ifname}".encode()).hexdigest())[:8]


def _netlink(what: str) -> Netlink:
    try:
        return Netlink()
    except OSError as exc:
        raise CniError(IO_FAILURE, f"{what}: netlink: {exc.strerror}") from None


class _Step:
    """A kernel refusal during ``what`` as the spec's I/O error, with the kernel's words."""

    __slots__ = ("what",)

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if isinstance(exc, OSError):
            raise CniError(IO_FAILURE, f"{self.what}: {exc.strerror or exc}") from None


def _index(ifname: str) -> int | None:
    """The interface's index in the current namespace, or None."""
    try:
        return socket.if_nametoindex(ifname)
    except OSError:
        return None


def _mac(ifname: str) -> str:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        raw = fcntl.ioctl(s.fileno(), SIOCGIFHWADDR, struct.pack("256s", ifname.encode()))
    finally:
        s.close()
    return ":".join(f"{b:02x}" for b in raw[18:24])


class _Inside(Inside):
    """``Inside``, with a missing namespace as the spec's unknown-container error."""

    __slots__ = ()

    def __enter__(self) -> None:
        try:
            super().__enter__()
        except FileNotFoundError:
            raise CniError(UNKNOWN_CONTAINER, f"network namespace {self.path} does not exist") from None


def _require(ifname: str, where: str) -> int:
    index = _index(ifname)
    if index is None:
        raise CniError(IO_FAILURE, f"interface {ifname} vanished from {where}")
    return index


def ensure_bridge(name: str, gateway: Interface | None, mtu: int) -> None:
    """The node bridge, created on first use, up, with the pod gateway address when it is the gateway."""
    with _netlink("the node") as nl:
        _ensure_bridge(nl, name, gateway, mtu)


def _ensure_bridge(nl: Netlink, name: str, gateway: Interface | None, mtu: int) -> int:
    if _index(name) is None:
        try:
            nl.add_bridge(name, mtu)
        except OSError as exc:
            if _index(name) is None:  # not a concurrent ADD that made it first
                raise CniError(IO_FAILURE, f"creating bridge {name}: {exc.strerror}") from None
    index = _require(name, "the node")
    with _Step(f"configuring bridge {name}"):
        if gateway is not None:
            nl.add_address(index, str(gateway.ip), gateway.prefixlen, replace=True)
        nl.set_link(index)
    return index


def attach(netns_path: str, ifname: str, container_id: str, *, config: BridgeConfig, lease: Lease,
           routes: list[Network]) -> Attachment:
    """Create the veth pair, enslave the host end to the bridge, address and route the pod end."""
    host = host_veth_name(container_id, ifname)
    address, gateway, mtu = lease.address, lease.gateway, config.mtu
    with _netlink("the node") as nl:
        bridge = _ensure_bridge(nl, config.name, Interface(f"{gateway}/{address.prefixlen}")
                                if config.is_gateway else None, mtu)
        with _Inside(netns_path):
            if _index(ifname) is not None:
                raise CniError(IO_FAILURE, f"interface {ifname} already exists in {netns_path}")
        stale = _index(host)
        with _Step(f"creating veth {host}"):
            if stale is not None:  # left by an ADD that failed halfway; its pod end is gone
                nl.delete_link(stale)
            netns_fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                nl.add_veth(host, ifname, mtu, netns_fd)
            finally:
                os.close(netns_fd)
            host_index = _require(host, "the node")
            nl.set_link(host_index, master=bridge)
            if config.hairpin:  # a pod reaching itself through its Service's virtual IP
                nl.set_hairpin(host_index)
    with _Inside(netns_path), _netlink(netns_path) as pod_nl, _Step(f"configuring {ifname} in {netns_path}"):
        index = _require(ifname, netns_path)
        pod_nl.add_address(index, str(address.ip), address.prefixlen)
        pod_nl.set_link(index)
        pod_nl.set_link(_require("lo", netns_path))
        for dst in routes:
            pod_nl.add_route(str(dst.network_address), dst.prefixlen, str(gateway))
        container_mac = _mac(ifname)
    return Attachment(config.name, _mac(config.name), host, _mac(host), container_mac)


def detach(netns_path: str, ifname: str, container_id: str) -> None:
    """Remove the pod's veth pair; nothing left to remove is success (DEL may be called twice)."""
    host = host_veth_name(container_id, ifname)
    index = _index(host)
    if index is not None:
        with _netlink("the node") as nl:
            try:
                nl.delete_link(index)
            except OSError as exc:
                if _index(host) is not None:  # not removed meanwhile
                    raise CniError(IO_FAILURE, f"deleting {host}: {exc.strerror}") from None
        return
    if netns_path and os.path.exists(netns_path):
        with _Inside(netns_path):
            index = _index(ifname)
            if index is not None:
                with _netlink(netns_path) as nl, _Step(f"deleting {ifname} in {netns_path}"):
                    nl.delete_link(index)


def check(netns_path: str, ifname: str, container_id: str, bridge: str, address: Interface) -> None:
    """Raise when the attachment ADD made is no longer as it was (CHECK)."""
    host = host_veth_name(container_id, ifname)
    host_index, bridge_index = _index(host), _index(bridge)
    if host_index is None or bridge_index is None:
        raise CniError(IO_FAILURE, f"host end of {container_id}/{ifname} or bridge {bridge} is missing")
    with _netlink("the node") as nl, _Step(f"reading {host}"):
        if nl.master(host_index) != bridge_index:
            raise CniError(IO_FAILURE, f"{host} is not attached to {bridge}")
    with _Inside(netns_path):
        index = _index(ifname)
        if index is None:
            raise CniError(IO_FAILURE, f"interface {ifname} is missing in {netns_path}")
        with _netlink(netns_path) as nl, _Step(f"reading {ifname} in {netns_path}"):
            have = nl.addresses(index)
    if (str(address.ip), address.prefixlen) not in have:
        raise CniError(IO_FAILURE, f"{ifname} in {netns_path} lost its address {address}")
