"""The cluster's underlay: an infra namespace with a bridge, one namespace per node, one veth to the host.

Everything any traffic targets lives in a namespace created here; the root namespace gets one
address (``172.28.<k>.254``) on one veth and no route beyond the /24 (ARCHITECTURE.md §2). Creation
is idempotent, so an interrupted ``up`` can simply be run again, and ``destroy`` removes whatever of
it exists.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from pyroute2 import IPRoute, NetlinkError, NetNS, netns

from process.log import get_logger
from tinykube.cluster import Cluster
from tinykube.topology import UNDERLAY_PREFIX, Node, Topology, free_subnet

log = get_logger("underlay")

NETNS_DIR = Path("/run/netns")
LOCK_PATH = Path("/run/tinykube/underlay.lock")
# subnet index -> the state directory of the cluster laid out on it, so a cluster that is down with its state
# kept (`down --keep-state`) gets the same addresses back at its next `up` instead of finding them taken.
RESERVATIONS = Path("/run/tinykube/subnets")


class UnderlayError(RuntimeError):
    """The kernel refused part of the underlay; the message says which part."""


@contextlib.contextmanager
def machine_lock() -> Iterator[None]:
    """Serialize subnet allocation and creation between clusters coming up at the same time."""
    LOCK_PATH.parent.mkdir(parents=True, exist_ok=True)
    with LOCK_PATH.open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def used_subnets() -> set[int]:
    """Underlay subnet indexes claimed by host links of clusters that exist on this machine now."""
    underlay = ipaddress.ip_network(f"{UNDERLAY_PREFIX}.0.0/16")
    used: set[int] = set()
    with IPRoute() as ipr:
        for addr in ipr.get_addr(family=2):
            ip = ipaddress.ip_address(addr.get_attr("IFA_ADDRESS"))
            if ip in underlay:
                used.add(int(str(ip).split(".")[2]))
    return used


def reserved_subnets() -> set[int]:
    """Subnets reserved for kept clusters; a reservation lapses once its state directory holds no such cluster."""
    reserved: set[int] = set()
    for path in RESERVATIONS.glob("*"):
        try:
            if Cluster.load(Path(path.read_text())).topology.subnet == int(path.name):
                reserved.add(int(path.name))
        except (OSError, ValueError, KeyError):
            continue
    return reserved


def release(topo: Topology, state_dir: Path) -> None:
    """Drop the subnet reservation of the cluster in ``state_dir`` (it is gone for good)."""
    path = RESERVATIONS / str(topo.subnet)
    with contextlib.suppress(FileNotFoundError):
        if Path(path.read_text()) == state_dir.resolve():
            path.unlink()


def netns_exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def _index(ns: IPRoute | NetNS, ifname: str) -> int | None:
    found = ns.link_lookup(ifname=ifname)
    return int(found[0]) if found else None


def _ensure_addr(ns: IPRoute | NetNS, index: int, address: str, prefixlen: int) -> None:
    have = {a.get_attr("IFA_ADDRESS") for a in ns.get_addr(index=index)}
    if address not in have:
        ns.addr("add", index=index, address=address, prefixlen=prefixlen)


def _sysctl(netns_name: str, key: str, value: str) -> None:
    result = subprocess.run(["nsenter", f"--net={NETNS_DIR / netns_name}", "sysctl", "-qw", f"{key}={value}"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise UnderlayError(f"sysctl {key}={value} in {netns_name}: {result.stderr.strip()}")


def _refuse_taken_subnet(ipr: IPRoute, topo: Topology) -> None:
    """Another cluster's host link holding our host address would split the root namespace's routes to the
    subnet between two clusters; refuse rather than reach the wrong cluster."""
    for addr in ipr.get_addr(family=2):
        if addr.get_attr("IFA_ADDRESS") == topo.host_ip:
            raise UnderlayError(f"subnet {UNDERLAY_PREFIX}.{topo.subnet}.0/{topo.prefixlen} of cluster {topo.name!r} "
                                f"is in use by another cluster (link {addr.get_attr('IFA_LABEL')}); "
                                "take that one down, or this one (tinykube down) and bring it up afresh")


def _create_infra(topo: Topology) -> None:
    if not netns_exists(topo.infra_netns):
        netns.create(topo.infra_netns)
    with NetNS(topo.infra_netns) as ns:
        ns.link("set", index=_index(ns, "lo"), state="up")
        if _index(ns, topo.bridge) is None:
            ns.link("add", ifname=topo.bridge, kind="bridge")
        bridge = _index(ns, topo.bridge)
        assert bridge is not None
        _ensure_addr(ns, bridge, topo.gateway_ip, topo.prefixlen)
        ns.link("set", index=bridge, state="up")
    with IPRoute() as ipr:
        if _index(ipr, topo.host_link) is None:
            _refuse_taken_subnet(ipr, topo)
            ipr.link("add", ifname=topo.host_link, kind="veth",
                     peer={"ifname": "uplink", "net_ns_fd": topo.infra_netns})
        host = _index(ipr, topo.host_link)
        assert host is not None
        _ensure_addr(ipr, host, topo.host_ip, topo.prefixlen)
        ipr.link("set", index=host, state="up")
    with NetNS(topo.infra_netns) as ns:
        uplink = _index(ns, "uplink")
        if uplink is None:
            raise UnderlayError(f"veth {topo.host_link} has no peer 'uplink' in {topo.infra_netns}")
        ns.link("set", index=uplink, master=_index(ns, topo.bridge), state="up")


def _create_node(topo: Topology, node: Node) -> None:
    if not netns_exists(node.netns):
        netns.create(node.netns)
    port = f"veth-{node.name}"
    with NetNS(topo.infra_netns) as infra:
        if _index(infra, port) is None:
            infra.link("add", ifname=port, kind="veth", peer={"ifname": "eth0", "net_ns_fd": node.netns})
        infra.link("set", index=_index(infra, port), master=_index(infra, topo.bridge), state="up")
    with NetNS(node.netns) as ns:
        ns.link("set", index=_index(ns, "lo"), state="up")
        eth0 = _index(ns, "eth0")
        if eth0 is None:
            raise UnderlayError(f"node {node.name}: eth0 missing in {node.netns}")
        _ensure_addr(ns, eth0, node.ip, topo.prefixlen)
        ns.link("set", index=eth0, state="up")
    # Nodes route pod traffic between cni0 and the overlay; nothing routes beyond the underlay.
    _sysctl(node.netns, "net.ipv4.ip_forward", "1")


def create(topo: Topology) -> None:
    """Create (or complete) the underlay of ``topo``."""
    try:
        _create_infra(topo)
        for node in topo.nodes:
            _create_node(topo, node)
    except Exception as exc:
        if isinstance(exc, UnderlayError):
            raise
        raise UnderlayError(f"creating the underlay of {topo.name!r}: {exc}") from exc
    log.info("underlay ready", cluster=topo.name, subnet=f"{UNDERLAY_PREFIX}.{topo.subnet}.0/{topo.prefixlen}",
             nodes=len(topo.nodes))


def claim(name: str, node_count: int = 3, control_plane_count: int = 3, state_dir: Path | None = None) -> Topology:
    """Lay out a new cluster on the lowest free subnet and create its underlay, which claims the subnet; with
    ``state_dir``, the subnet stays reserved for that cluster while its state exists (even when it is down)."""
    with machine_lock():
        topo = Topology.build(name, free_subnet(used_subnets() | reserved_subnets()), node_count,
                              control_plane_count)
        if state_dir is not None:
            RESERVATIONS.mkdir(parents=True, exist_ok=True)
            (RESERVATIONS / str(topo.subnet)).write_text(str(state_dir.resolve()))
        create(topo)
    return topo


def destroy(topo: Topology) -> None:
    """Remove every namespace and link of ``topo`` that exists; missing pieces are not an error."""
    for name in [n.netns for n in topo.nodes] + [topo.infra_netns]:
        if netns_exists(name):
            netns.remove(name)
    with IPRoute() as ipr:
        host = _index(ipr, topo.host_link)
        if host is not None:  # normally gone with its peer's namespace
            with contextlib.suppress(NetlinkError):  # ENODEV: the kernel removed it meanwhile
                ipr.link("del", index=host)
        # The kernel tears veths down asynchronously; a new cluster must not find this one's link (or its
        # subnet address) still there.
        deadline = time.monotonic() + 10
        while _index(ipr, topo.host_link) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
    log.info("underlay removed", cluster=topo.name)


def add_node(topo: Topology, node: Node) -> None:
    """Create one node's namespace and link on an existing underlay, leaving the other nodes alone (a
    hard-stopped node's link stays down)."""
    try:
        _create_node(topo, node)
    except Exception as exc:
        if isinstance(exc, UnderlayError):
            raise
        raise UnderlayError(f"adding node {node.name} to the underlay of {topo.name!r}: {exc}") from exc


def remove_node(topo: Topology, node: Node) -> None:
    """Remove one node's namespace and its port on the bridge (the veth pair dies with the namespace)."""
    if netns_exists(node.netns):
        netns.remove(node.netns)
    with NetNS(topo.infra_netns) as infra:
        port = _index(infra, f"veth-{node.name}")
        if port is not None:  # normally gone with its peer's namespace
            with contextlib.suppress(NetlinkError):
                infra.link("del", index=port)
    log.info("node removed from the underlay", cluster=topo.name, node=node.name)


def set_node_link(topo: Topology, node: Node, up: bool) -> None:
    """Cut or restore a node's only link to the underlay (hard-stopping a node, as a pulled cable)."""
    with NetNS(topo.infra_netns) as infra:
        port = _index(infra, f"veth-{node.name}")
        if port is None:
            raise UnderlayError(f"node {node.name} has no link in {topo.infra_netns}")
        infra.link("set", index=port, state="up" if up else "down")
