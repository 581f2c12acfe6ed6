"""Pods on three netns nodes reach each other across the VXLAN overlay, set up by tinykube-cni and cni.vxlan."""

from pyroute2 import IPRoute

from cni.vxlan import Peer, VxlanDevice
from tests.support.netcluster import NetCluster
from tests.support.netns import netns_exec


def ping(netns: str, ip: str) -> bool:
    return netns_exec(netns, "/bin/busybox", "ping", "-c", "1", "-W", "2", ip).returncode == 0


def test_pods_talk_across_nodes_over_vxlan(prefix, cleanup, tmp_path):
    net = NetCluster(prefix, cleanup, tmp_path)
    pods = [net.add_pod(node, f"p{node.index}") for node in net.topo.nodes]
    assert ping(pods[0].netns, pods[1].ip)
    assert ping(pods[0].netns, pods[2].ip)
    assert ping(pods[2].netns, pods[1].ip)

    node1, node2, _ = net.topo.nodes
    with IPRoute(netns=node1.netns) as ipr:
        assert VxlanDevice(ipr, node1.ip, "eth0", node1.pod_cidr).sync(
            [Peer(o.pod_cidr, net.macs[o.name], o.ip) for o in net.topo.nodes[1:]]).empty()  # already in sync

    # A peer leaving the cluster takes its route with it: node3's pods are then unreachable from node1.
    net.sync_overlay(node1, [node2])
    assert not ping(pods[0].netns, pods[2].ip)
    routes = netns_exec(node1.netns, "ip", "route").stdout
    assert "10.244.3.0/24" not in routes
    assert "10.244.2.0/24 via 10.244.2.0 dev flannel.1" in routes


def test_host_gw_backend_routes_pods_directly(prefix, cleanup, tmp_path):
    net = NetCluster(prefix, cleanup, tmp_path, backend="host-gw")
    pods = [net.add_pod(node, f"p{node.index}") for node in net.topo.nodes]
    assert ping(pods[0].netns, pods[1].ip)
    assert ping(pods[1].netns, pods[2].ip)
    node1 = net.topo.nodes[0]
    routes = netns_exec(node1.netns, "ip", "route").stdout
    assert f"10.244.2.0/24 via {net.topo.nodes[1].ip} dev eth0" in routes
    assert "flannel.1" not in netns_exec(node1.netns, "ip", "link").stdout
    net.sync_overlay(node1, [net.topo.nodes[1]])
    assert "10.244.3.0/24" not in netns_exec(node1.netns, "ip", "route").stdout
    assert "10.244.2.0/24" in netns_exec(node1.netns, "ip", "route").stdout
