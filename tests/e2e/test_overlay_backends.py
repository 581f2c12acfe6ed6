"""Pods on three netns nodes reach each other across the VXLAN overlay, set up by tinykube-cni and cni.vxlan."""

import subprocess
import sys
import time

import pytest

from cni.vxlan import Peer, VxlanDevice
from tests.support.netcluster import NetCluster, Pod
from tests.support.netns import netns_exec


def ping(netns: str, ip: str) -> bool:
    return netns_exec(netns, "/bin/busybox", "ping", "-c", "1", "-W", "2", ip).returncode == 0


ECHO_SERVER = """
import socket, sys
kind = socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM
s = socket.socket(socket.AF_INET, kind)
s.bind((sys.argv[2], 7007))
if kind == socket.SOCK_DGRAM:
    while True:
        data, peer = s.recvfrom(65535)
        s.sendto(data.upper(), peer)
s.listen()
while True:
    c, _ = s.accept()
    with c:
        c.sendall(c.recv(65535).upper())
"""
ECHO_CLIENT = """
import socket, sys
kind = socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM
for _ in range(20):  # UDP has no handshake: resend until the server, just started, answers
    s = socket.socket(socket.AF_INET, kind)
    s.settimeout(0.5)
    try:
        s.connect((sys.argv[2], 7007))
        s.send(sys.argv[3].encode())
        print(s.recv(65535).decode())
        break
    except OSError:
        s.close()
"""


def echo(server: Pod, client: Pod, kind: str, processes) -> str:
    """What ``client`` hears back from an upper-casing echo server in ``server`` over ``kind`` (tcp/udp)."""
    processes.start(f"echo-{kind}-{server.name}", ["nsenter", f"--net=/run/netns/{server.netns}", sys.executable,
                                                   "-c", ECHO_SERVER, kind, server.ip])
    time.sleep(0.3)
    return subprocess.run(["nsenter", f"--net=/run/netns/{client.netns}", sys.executable, "-c", ECHO_CLIENT, kind,
                           server.ip, f"from {client.name}"], capture_output=True, text=True, timeout=30).stdout.strip()


@pytest.mark.parametrize("backend", ["vxlan", "host-gw"])
def test_tcp_and_udp_between_pods_on_different_nodes(backend, prefix, cleanup, tmp_path, processes):
    net = NetCluster(prefix, cleanup, tmp_path, nodes=2, backend=backend)
    a = net.add_pod(net.topo.nodes[0], "a")
    b = net.add_pod(net.topo.nodes[1], "b")
    assert echo(b, a, "tcp", processes) == "FROM A"
    assert echo(b, a, "udp", processes) == "FROM A"


def test_pods_talk_across_nodes_over_vxlan(prefix, cleanup, tmp_path):
    net = NetCluster(prefix, cleanup, tmp_path)
    pods = [net.add_pod(node, f"p{node.index}") for node in net.topo.nodes]
    assert ping(pods[0].netns, pods[1].ip)
    assert ping(pods[0].netns, pods[2].ip)
    assert ping(pods[2].netns, pods[1].ip)

    node1, node2, _ = net.topo.nodes
    assert VxlanDevice(node1.ip, "eth0", node1.pod_cidr, netns=node1.netns).sync(
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
