"""A network-only cluster for tests: netns nodes on the underlay, the VXLAN overlay, and pods attached with
tinykube-cni — real kernel networking without the control plane, for CNI, overlay and proxy tests (root)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from cni import hostgw
from cni.vxlan import Peer, VxlanDevice
from tests.support.cleanup import Cleanup
from tests.support.netns import add_netns, delete_netns
from tests.support.processes import Processes
from tinykube import underlay
from tinykube.topology import Node, Topology

PLUGIN = str(Path(sys.executable).parent / "tinykube-cni")


@dataclass(frozen=True)
class Pod:
    name: str
    netns: str
    node: Node
    ip: str


class NetCluster:
    """Nodes are created at once; pods on demand. Everything is undone through ``cleanup``."""

    def __init__(self, prefix: str, cleanup: Cleanup, workdir: Path, nodes: int = 3, backend: str = "vxlan") -> None:
        self.prefix = prefix
        self.cleanup = cleanup
        self.workdir = workdir
        cleanup.add(underlay.destroy, Topology.build(prefix, subnet=1, node_count=nodes, control_plane_count=1))
        self.topo = underlay.claim(prefix, node_count=nodes, control_plane_count=1)
        self.backend = backend
        self.macs: dict[str, str] = {}
        if backend == "vxlan":
            for node in self.topo.nodes:
                self.macs[node.name] = VxlanDevice(node.ip, "eth0", node.pod_cidr, netns=node.netns).ensure()
        for node in self.topo.nodes:
            self.sync_overlay(node, [o for o in self.topo.nodes if o is not node])

    def sync_overlay(self, node: Node, peers: list[Node]) -> None:
        if self.backend == "host-gw":
            hostgw.sync("eth0", [Peer(p.pod_cidr, "", p.ip) for p in peers], netns=node.netns)
        else:
            VxlanDevice(node.ip, "eth0", node.pod_cidr, netns=node.netns).sync(
                [Peer(p.pod_cidr, self.macs[p.name], p.ip) for p in peers])

    def cni(self, command: str, node: Node, pod_netns: str) -> subprocess.CompletedProcess[str]:
        config = {"cniVersion": "1.0.0", "name": f"{self.prefix}net", "type": "tinykube-cni", "bridge": "cni0",
                  "mtu": 1450, "hairpinMode": True,
                  "ipam": {"subnet": node.pod_cidr, "dataDir": str(self.workdir / "ipam" / node.name)}}
        env = [f"CNI_COMMAND={command}", f"CNI_CONTAINERID={pod_netns}", f"CNI_NETNS=/run/netns/{pod_netns}",
               "CNI_IFNAME=eth0", "CNI_PATH=/usr/lib/cni"]
        return subprocess.run(["nsenter", f"--net=/run/netns/{node.netns}", "env", *env, PLUGIN],
                              input=json.dumps(config), capture_output=True, text=True)

    def add_pod(self, node: Node, name: str) -> Pod:
        netns = add_netns(f"{self.prefix}-{name}")
        self.cleanup.add(delete_netns, netns)
        out = self.cni("ADD", node, netns)
        if out.returncode != 0:
            raise RuntimeError(f"CNI ADD for {name} failed: {out.stdout}{out.stderr}")
        self.cleanup.add(self.cni, "DEL", node, netns)
        return Pod(name, netns, node, json.loads(out.stdout)["ips"][0]["address"].split("/")[0])

    def serve_http(self, processes: Processes, pod: Pod, port: int = 8080) -> None:
        """busybox httpd in the pod's namespace, answering with the pod's name."""
        root = self.workdir / "www" / pod.name
        root.mkdir(parents=True)
        (root / "index.html").write_text(pod.name)
        processes.start(f"httpd-{pod.name}", ["nsenter", f"--net=/run/netns/{pod.netns}", "/bin/busybox", "httpd",
                                              "-f", "-p", str(port), "-h", str(root)])
        for _ in range(50):
            if fetch(pod.netns, f"http://127.0.0.1:{port}/") == pod.name:
                return
            time.sleep(0.1)
        raise RuntimeError(f"httpd in {pod.name} did not start")


def fetch(netns: str | None, url: str) -> str | None:
    """GET ``url`` from inside ``netns`` (or the host); None when it fails."""
    argv = ["timeout", "5", "/bin/busybox", "wget", "-q", "-O", "-", url]
    if netns:
        argv = ["nsenter", f"--net=/run/netns/{netns}", *argv]
    out = subprocess.run(argv, capture_output=True, text=True)
    return out.stdout if out.returncode == 0 else None
