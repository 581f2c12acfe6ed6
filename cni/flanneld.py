"""``tinykube flanneld``: flannel's job with the Kubernetes subnet manager.

Learns this node's ``spec.podCIDR``, creates the VXLAN device (or nothing, for host-gw), publishes the
VTEP MAC and public IP as flannel's Node annotations, writes the CNI conflist, and for every other node
programs the route/neighbour/FDB entries (or the host-gw route), reacting to node changes at once.
This is the one part of ``cni/`` that talks to the API; the plugin and the data plane know nothing of it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from client.changes import ChangeTrigger, sync_on_changes
from client.flags import add_client_flags, rest_client_from_args
from client.informer import SharedInformerFactory
from client.mapping import lookup
from client.rest import PatchType
from cni import hostgw
from cni.bridge import ensure_bridge
from cni.ipv4 import Interface, Network
from cni.plugin_install import install_plugin
from cni.plugin_server import PluginServer
from cni.vxlan import MTU, Peer, VxlanDevice
from process import log as process_log
from process.flags import ComponentParser
from process.log import get_logger
from process.shutdown import serve

log = get_logger("flanneld")

ANNOTATION = "flannel.alpha.coreos.com/"
CONFLIST = "10-tinykube.conflist"
BRIDGE = "cni0"


def pod_gateway(pod_cidr: str) -> Interface:
    """The bridge's address: the subnet's first host, where the plugin's IPAM puts the pods' gateway."""
    subnet = Network(pod_cidr)
    return Interface(f"{subnet.network_address + 1}/{subnet.prefixlen}")


def parser() -> argparse.ArgumentParser:
    p = ComponentParser("flanneld", description="Run the pod network overlay for this node (flannel's job).")
    add_client_flags(p)
    p.add_argument("--kube-subnet-mgr", action="store_true", help="take subnets from Node.spec.podCIDR (always on)")
    p.add_argument("--iface", default="eth0", help="the underlay interface")
    p.add_argument("--public-ip", required=True, help="this node's underlay address")
    p.add_argument("--backend", choices=["vxlan", "host-gw"], default="vxlan")
    p.add_argument("--node-name", required=True, help="this node's Node name")
    p.add_argument("--cni-conf-dir", type=Path, required=True, help="where to write the CNI conflist")
    p.add_argument("--cni-bin-dir", type=Path, required=True, help="where to install the tinykube-cni plugin")
    p.add_argument("--ipam-dir", type=Path, default=Path("/var/lib/cni/networks"), help="IPAM lease directory")
    p.add_argument("--cni-plugin-socket", default="",
                   help="serve tinykube-cni's calls on this unix socket (a C client forwards them; empty: the "
                        "plugin starts an interpreter per call)")
    return p


def peers(nodes: Sequence[Mapping[str, Any]], me: str) -> list[Peer]:
    """Every other node that has a subnet and has published its overlay endpoint."""
    out = []
    for node in nodes:
        meta = node.get("metadata", {})
        annotations = meta.get("annotations") or {}
        cidr = (node.get("spec") or {}).get("podCIDR")
        public_ip = annotations.get(ANNOTATION + "public-ip")
        if meta.get("name") == me or not cidr or not public_ip:
            continue
        try:
            mac = json.loads(annotations.get(ANNOTATION + "backend-data") or "{}").get("VtepMAC", "")
        except ValueError:
            mac = ""
        out.append(Peer(cidr, mac, public_ip))
    return sorted(out)


def conflist(pod_cidr: str, mtu: int, ipam_dir: Path) -> dict[str, Any]:
    return {
        "cniVersion": "1.0.0",
        "name": "tinykube",
        "plugins": [
            {"type": "tinykube-cni", "bridge": BRIDGE, "mtu": mtu, "isGateway": True, "hairpinMode": True,
             "ipam": {"subnet": pod_cidr, "dataDir": str(ipam_dir)}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def start_plugin_server(path: str) -> PluginServer | None:
    """The node's plugin server on ``path``; None (each call then starts the plugin) if not wanted or possible."""
    if not path:
        return None
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return PluginServer(path).start()
    except OSError as exc:
        log.warning("cannot serve CNI calls; each one starts the plugin", socket=path, err=str(exc))
        return None


def write_conflist(conf_dir: Path, doc: Mapping[str, Any]) -> None:
    conf_dir.mkdir(parents=True, exist_ok=True)
    tmp = conf_dir / f".{CONFLIST}.tmp"
    tmp.write_text(json.dumps(doc, indent=1))
    os.replace(tmp, conf_dir / CONFLIST)


def setup_local(args: argparse.Namespace, pod_cidr: str) -> dict[str, str]:
    """Create this node's side of the overlay; returns the annotations that tell the others how to reach it."""
    annotations = {ANNOTATION + "backend-type": args.backend, ANNOTATION + "public-ip": args.public_ip,
                   ANNOTATION + "kube-subnet-manager": "true"}
    if args.backend == "vxlan":
        mac = VxlanDevice(args.public_ip, args.iface, pod_cidr).ensure()
        annotations[ANNOTATION + "backend-data"] = json.dumps({"VNI": 1, "VtepMAC": mac})
    return annotations


def sync_peers(args: argparse.Namespace, pod_cidr: str, wanted: list[Peer]) -> None:
    if args.backend == "vxlan":
        VxlanDevice(args.public_ip, args.iface, pod_cidr).sync([p for p in wanted if p.vtep_mac])
    else:
        hostgw.sync(args.iface, wanted)


async def run(args: argparse.Namespace, stop: asyncio.Event) -> int:
    client = rest_client_from_args(args, "tinykube-flanneld")
    factory = SharedInformerFactory(client)
    nodes = factory.informer(lookup("nodes"))
    trigger = ChangeTrigger([nodes])
    factory.start()
    server: PluginServer | None = None
    try:
        await factory.wait_for_cache_sync()
        while not (pod_cidr := ((nodes.get(args.node_name) or {}).get("spec") or {}).get("podCIDR", "")):
            log.info("waiting for this node's podCIDR", node=args.node_name)
            trigger.changed.clear()
            if not await trigger.wait(stop):
                return 0
        annotations = await asyncio.to_thread(setup_local, args, pod_cidr)
        await client.patch(lookup("nodes"), args.node_name, {"metadata": {"annotations": annotations}},
                           patch_type=PatchType.MERGE)
        mtu = MTU if args.backend == "vxlan" else 1500
        # The gateway exists before the first pod: the node's DNS listens on it, and other nodes' pods ask it.
        await asyncio.to_thread(ensure_bridge, BRIDGE, pod_gateway(pod_cidr), mtu)
        server = start_plugin_server(args.cni_plugin_socket)
        await asyncio.to_thread(install_plugin, args.cni_bin_dir, server.path if server else "")
        write_conflist(args.cni_conf_dir, conflist(pod_cidr, mtu, args.ipam_dir))
        log.info("overlay ready", node=args.node_name, subnet=pod_cidr, backend=args.backend)

        async def sync() -> None:
            await asyncio.to_thread(sync_peers, args, pod_cidr, peers(nodes.list(), args.node_name))

        await sync_on_changes(trigger, stop, sync)
    finally:
        if server is not None:
            server.close()
        await factory.shutdown()
        await client.close()
    return 0


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    process_log.configure("flanneld", args.verbosity)
    return serve(lambda stop: run(args, stop))
