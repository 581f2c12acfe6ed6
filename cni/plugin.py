"""``tinykube-cni``: the CNI plugin executable — bridge mode with built-in host-local IPAM.

Network config (conflist entry), beside the spec's ``cniVersion``/``name``/``type``::

    {"bridge": "cni0", "mtu": 1450, "isGateway": true, "hairpinMode": true,
     "ipam": {"subnet": "10.244.1.0/24", "gateway": "10.244.1.1", "dataDir": "/var/lib/cni/networks",
              "routes": [{"dst": "0.0.0.0/0"}]}}

It works alone or chained before the reference ``portmap`` plugin (its result is the ``prevResult``).
"""

from __future__ import annotations

import os
import sys

from cni import bridge
from cni.ipam import DEFAULT_DATA_DIR, HostLocal
from cni.ipv4 import Interface, Network
from cni.spec import INVALID_CONFIG, IO_FAILURE, CniError, Invocation, dump, netns_exists, parse, version_result

TYPE_CHECKING = False  # typing's import costs every plugin call; see ``cni.bridge``
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

DEFAULT_BRIDGE = "cni0"
DEFAULT_MTU = 1500


def _ipam(inv: Invocation) -> HostLocal:
    ipam = inv.config.get("ipam")
    if not isinstance(ipam, dict) or not ipam.get("subnet"):
        raise CniError(INVALID_CONFIG, "ipam.subnet is required")
    return HostLocal(str(inv.config["name"]), str(ipam["subnet"]), data_dir=str(ipam.get("dataDir", DEFAULT_DATA_DIR)),
                     gateway=ipam.get("gateway"), range_start=ipam.get("rangeStart"), range_end=ipam.get("rangeEnd"))


def _routes(inv: Invocation) -> list[Network]:
    raw = inv.config.get("ipam", {}).get("routes", [{"dst": "0.0.0.0/0"}])
    try:
        return [Network(r["dst"]) for r in raw]
    except (KeyError, TypeError, ValueError) as exc:
        raise CniError(INVALID_CONFIG, f"invalid ipam.routes: {exc}") from None


def _int_field(inv: Invocation, name: str, default: int) -> int:
    value = inv.config.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise CniError(INVALID_CONFIG, f"{name} must be a positive integer")
    return value


def add(inv: Invocation) -> dict[str, Any]:
    ipam = _ipam(inv)
    routes = _routes(inv)
    mtu = _int_field(inv, "mtu", DEFAULT_MTU)
    lease = ipam.allocate(inv.container_id, inv.ifname)
    try:
        config = bridge.BridgeConfig(name=str(inv.config.get("bridge", DEFAULT_BRIDGE)), mtu=mtu,
                                     hairpin=bool(inv.config.get("hairpinMode", False)),
                                     is_gateway=bool(inv.config.get("isGateway", True)))
        att = bridge.attach(inv.netns, inv.ifname, inv.container_id, config=config, lease=lease, routes=routes)
    except BaseException:
        ipam.release(inv.container_id, inv.ifname)  # nothing half-made survives a failed ADD
        raise
    return {
        "cniVersion": inv.version,
        "interfaces": [
            {"name": att.bridge, "mac": att.bridge_mac},
            {"name": att.host_veth, "mac": att.host_mac},
            {"name": inv.ifname, "mac": att.container_mac, "sandbox": inv.netns},
        ],
        "ips": [{"address": str(lease.address), "gateway": str(lease.gateway), "interface": 2}],
        "routes": [{"dst": str(r), "gw": str(lease.gateway)} for r in routes],
        "dns": inv.config.get("dns", {}),
    }


def delete(inv: Invocation) -> None:
    bridge.detach(inv.netns, inv.ifname, inv.container_id)
    _ipam(inv).release(inv.container_id, inv.ifname)


def check(inv: Invocation) -> None:
    prev = inv.config.get("prevResult")
    if not isinstance(prev, dict) or not prev.get("ips"):
        raise CniError(INVALID_CONFIG, "CHECK needs prevResult with the ips ADD returned")
    address = Interface(prev["ips"][0]["address"])
    leased = _ipam(inv).leased(inv.container_id, inv.ifname)
    if leased != address.ip:
        raise CniError(IO_FAILURE, f"{address.ip} is not leased to {inv.container_id}/{inv.ifname}")
    if not netns_exists(inv.netns):
        raise CniError(IO_FAILURE, f"network namespace {inv.netns} does not exist")
    bridge.check(inv.netns, inv.ifname, inv.container_id, str(inv.config.get("bridge", DEFAULT_BRIDGE)), address)


def run(env: Mapping[str, str], stdin: bytes) -> tuple[int, str]:
    """Execute one CNI call; returns the exit code and what goes to stdout."""
    version = "1.0.0"
    try:
        inv = parse(env, stdin)
        version = inv.version
        if inv.command == "VERSION":
            return 0, dump(version_result())
        if inv.command == "ADD":
            return 0, dump(add(inv))
        if inv.command == "DEL":
            delete(inv)
        else:
            check(inv)
        return 0, ""
    except CniError as exc:
        return 1, dump(exc.to_json(version))
    except OSError as exc:  # kernel and filesystem refusals reach the runtime as I/O errors
        return 1, dump(CniError(IO_FAILURE, f"{type(exc).__name__}: {exc}").to_json(version))


def main() -> int:
    code, out = run(os.environ, sys.stdin.buffer.read())
    if out:
        sys.stdout.write(out + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
