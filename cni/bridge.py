"""Attach a pod's network namespace to the node bridge through a veth pair, with iproute2's ``ip -batch``.

The plugin runs on every pod's start and stop, so its cost is on each pod's critical path: one short-lived
``ip`` process per namespace costs milliseconds, where importing pyroute2 cost 0.2-0.3 s of CPU per call
(and its ``NetNS`` forked a helper besides). Steps inside the pod's namespace run with the plugin's (only)
thread moved into it by ``setns`` and back; ``ip`` inherits the namespace it is started in.

The host end's name is derived from the container id and interface, so DEL finds it even when the
pod's namespace is already gone.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import ipaddress
import json
import os
import shutil
import socket
import struct
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from cni.ipam import Lease
from cni.spec import IO_FAILURE, UNKNOWN_CONTAINER, CniError

CLONE_NEWNET = 0x40000000
SIOCGIFHWADDR = 0x8927
IP_TIMEOUT = 30.0
_libc = ctypes.CDLL(None, use_errno=True)


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


def _ip_binary() -> str:
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/bin", "/bin"])
    found = shutil.which("ip", path=path)
    if found is None:
        raise CniError(IO_FAILURE, "iproute2's ip command is not installed")
    return found


def _ip(commands: Sequence[str]) -> None:
    """Run ``commands`` through one ``ip -batch``; its first failure becomes an I/O error with ip's words."""
    proc = subprocess.run([_ip_binary(), "-batch", "-"], input="\n".join(commands) + "\n", capture_output=True,
                          text=True, timeout=IP_TIMEOUT, check=False)
    if proc.returncode != 0:
        raise CniError(IO_FAILURE, f"ip: {' '.join(proc.stderr.split())}")


def _ip_json(*args: str) -> list[dict[str, Any]]:
    proc = subprocess.run([_ip_binary(), "-j", *args], capture_output=True, text=True, timeout=IP_TIMEOUT,
                          check=False)
    if proc.returncode != 0:
        raise CniError(IO_FAILURE, f"ip {' '.join(args)}: {' '.join(proc.stderr.split())}")
    out: list[dict[str, Any]] = json.loads(proc.stdout or "[]")
    return out


def _index(ifname: str) -> int | None:
    """The interface's index in the current namespace, or None."""
    try:
        return socket.if_nametoindex(ifname)
    except OSError:
        return None


def _mac(ifname: str) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        raw = fcntl.ioctl(s.fileno(), SIOCGIFHWADDR, struct.pack("256s", ifname.encode()))
    return ":".join(f"{b:02x}" for b in raw[18:24])


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


@contextmanager
def _inside(path: str) -> Iterator[None]:
    """The calling thread in the network namespace at ``path``, and back in its own afterwards."""
    try:
        target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise CniError(UNKNOWN_CONTAINER, f"network namespace {path} does not exist") from None
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)


def ensure_bridge(name: str, gateway: ipaddress.IPv4Interface | None, mtu: int) -> None:
    """The node bridge, created on first use, up, with the pod gateway address when it is the gateway."""
    if _index(name) is None:
        try:
            _ip([f"link add name {name} mtu {mtu} type bridge"])
        except CniError:
            if _index(name) is None:  # not a concurrent ADD that made it first
                raise
    _ip([*([f"addr replace {gateway} dev {name}"] if gateway is not None else []), f"link set {name} up"])


def attach(netns_path: str, ifname: str, container_id: str, *, config: BridgeConfig, lease: Lease,
           routes: list[ipaddress.IPv4Network]) -> Attachment:
    """Create the veth pair, enslave the host end to the bridge, address and route the pod end."""
    host = host_veth_name(container_id, ifname)
    address, gateway, mtu = lease.address, lease.gateway, config.mtu
    ensure_bridge(config.name, ipaddress.IPv4Interface(f"{gateway}/{address.network.prefixlen}")
                  if config.is_gateway else None, mtu)
    with _inside(netns_path):
        if _index(ifname) is not None:
            raise CniError(IO_FAILURE, f"interface {ifname} already exists in {netns_path}")
    if _index(host) is not None:  # left by an ADD that failed halfway; its pod end is gone
        _ip([f"link del {host}"])
    _ip([f"link add {host} mtu {mtu} type veth peer name {ifname} mtu {mtu} netns {netns_path}",
         f"link set {host} master {config.name} up",
         # hairpin: a pod reaching itself through its Service's virtual IP
         *([f"link set {host} type bridge_slave hairpin on"] if config.hairpin else [])])
    with _inside(netns_path):
        _ip([f"addr add {address} dev {ifname}", f"link set {ifname} up", "link set lo up",
             *(f"route add {dst} via {gateway}" for dst in routes)])
        container_mac = _mac(ifname)
    return Attachment(config.name, _mac(config.name), host, _mac(host), container_mac)


def detach(netns_path: str, ifname: str, container_id: str) -> None:
    """Remove the pod's veth pair; nothing left to remove is success (DEL may be called twice)."""
    host = host_veth_name(container_id, ifname)
    if _index(host) is not None:
        try:
            _ip([f"link del {host}"])
        except CniError:
            if _index(host) is not None:  # not removed meanwhile
                raise
        return
    if netns_path and os.path.exists(netns_path):
        with _inside(netns_path):
            if _index(ifname) is not None:
                _ip([f"link del {ifname}"])


def check(netns_path: str, ifname: str, container_id: str, bridge: str, address: ipaddress.IPv4Interface) -> None:
    """Raise when the attachment ADD made is no longer as it was (CHECK)."""
    host = host_veth_name(container_id, ifname)
    if _index(host) is None or _index(bridge) is None:
        raise CniError(IO_FAILURE, f"host end of {container_id}/{ifname} or bridge {bridge} is missing")
    if _ip_json("link", "show", "dev", host)[0].get("master") != bridge:
        raise CniError(IO_FAILURE, f"{host} is not attached to {bridge}")
    with _inside(netns_path):
        if _index(ifname) is None:
            raise CniError(IO_FAILURE, f"interface {ifname} is missing in {netns_path}")
        have = {(a.get("local"), a.get("prefixlen")) for link in _ip_json("-4", "addr", "show", "dev", ifname)
                for a in link.get("addr_info", [])}
    if (str(address.ip), address.network.prefixlen) not in have:
        raise CniError(IO_FAILURE, f"{ifname} in {netns_path} lost its address {address}")
