"""Pods on three netns nodes reach each other across the VXLAN overlay, set up by tinykube-cni and cni.vxlan."""

import json
import subprocess
import sys
from pathlib import Path

from pyroute2 import IPRoute

from cni.vxlan import Peer, VxlanDevice
from tests.support.netns import netns_exec
from tinykube import underlay
from tinykube.topology import Topology

PLUGIN = str(Path(sys.executable).parent / "tinykube-cni")


def cni_add(node_ns: str, pod_ns: str, subnet: str, data_dir: Path) -> str:
    config = {"cniVersion": "1.0.0", "name": "tkoverlay", "type": "tinykube-cni", "bridge": "cni0", "mtu": 1450,
              "ipam": {"subnet": subnet, "dataDir": str(data_dir)}}
    env = ["CNI_COMMAND=ADD", f"CNI_CONTAINERID={pod_ns}", f"CNI_NETNS=/run/netns/{pod_ns}", "CNI_IFNAME=eth0",
           "CNI_PATH=/usr/lib/cni"]
    out = subprocess.run(["nsenter", f"--net=/run/netns/{node_ns}", "env", *env, PLUGIN], input=json.dumps(config),
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    return str(json.loads(out.stdout)["ips"][0]["address"]).split("/")[0]


def test_pods_talk_across_nodes_over_vxlan(prefix, netns, cleanup, tmp_path):
    cleanup.add(lambda: underlay.destroy(Topology.build(prefix, subnet=1)))
    topo = underlay.claim(prefix)
    pod_ips, macs = {}, {}
    for node in topo.nodes:
        pod_ns = netns(f"p{node.index}")
        pod_ips[node.name] = cni_add(node.netns, pod_ns, node.pod_cidr, tmp_path / node.name)
        with IPRoute(netns=node.netns) as ipr:
            macs[node.name] = VxlanDevice(ipr, node.ip, "eth0", node.pod_cidr).ensure()
    for node in topo.nodes:
        peers = [Peer(o.pod_cidr, macs[o.name], o.ip) for o in topo.nodes if o is not node]
        with IPRoute(netns=node.netns) as ipr:
            device = VxlanDevice(ipr, node.ip, "eth0", node.pod_cidr)
            assert not device.sync(peers).empty()
            assert device.sync(peers).empty()  # idempotent: the kernel now matches

    src = f"{prefix}-p1"
    for target in ("node2", "node3"):
        ok = netns_exec(src, "/bin/busybox", "ping", "-c", "2", "-W", "2", pod_ips[target])
        assert ok.returncode == 0, (target, ok.stdout, ok.stderr)

    # The peer leaving the cluster takes its route with it: node3's pods are then unreachable from node1.
    node1 = topo.nodes[0]
    with IPRoute(netns=node1.netns) as ipr:
        VxlanDevice(ipr, node1.ip, "eth0", node1.pod_cidr).sync([Peer(topo.nodes[1].pod_cidr, macs["node2"],
                                                                       topo.nodes[1].ip)])
    assert netns_exec(src, "/bin/busybox", "ping", "-c", "1", "-W", "1", pod_ips["node3"]).returncode != 0
    routes = netns_exec(node1.netns, "ip", "route").stdout
    assert "10.244.3.0/24" not in routes
    assert "10.244.2.0/24 via 10.244.2.0 dev flannel.1" in routes
