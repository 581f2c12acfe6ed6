"""The underlay really connects the host and the nodes, and leaves nothing behind."""

import subprocess
import time

import pytest

from tinykube import underlay
from tinykube.topology import Topology


def ping(target: str, netns: str | None = None) -> bool:
    argv = ["/bin/busybox", "ping", "-c", "1", "-W", "2", target]
    if netns:
        argv = ["nsenter", f"--net=/run/netns/{netns}", *argv]
    return subprocess.run(argv, capture_output=True).returncode == 0


def reachable_again(target: str, seconds: float = 10) -> bool:
    """Pings until ``target`` answers: the first one after a link comes back can go unanswered (the host's
    neighbour entry for it failed while the link was down)."""
    deadline = time.monotonic() + seconds
    while not ping(target):
        if time.monotonic() > deadline:
            return False
    return True


def host_links() -> str:
    return subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout


@pytest.fixture
def topo(prefix, cleanup) -> Topology:
    cleanup.add(lambda: underlay.destroy(Topology.build(prefix, subnet=1)))  # names only matter for destroy
    return underlay.claim(prefix)


def test_host_reaches_every_node_and_nodes_reach_each_other(topo):
    for node in topo.nodes:
        assert ping(node.ip), node
    assert ping(topo.gateway_ip)
    assert ping(topo.nodes[2].ip, netns=topo.nodes[0].netns)


def test_create_is_idempotent_and_destroy_removes_everything(topo):
    underlay.create(topo)
    assert ping(topo.nodes[0].ip)
    underlay.destroy(topo)
    assert not any(underlay.netns_exists(n) for n in [topo.infra_netns, *(n.netns for n in topo.nodes)])
    assert f"{topo.host_link}@" not in host_links()
    underlay.destroy(topo)


def test_node_link_down_isolates_the_node(topo):
    node = topo.nodes[1]
    underlay.set_node_link(topo, node, up=False)
    assert not ping(node.ip)
    underlay.set_node_link(topo, node, up=True)
    assert reachable_again(node.ip)


def test_no_route_leaves_the_underlay(topo):
    routes = subprocess.run(["nsenter", f"--net=/run/netns/{topo.nodes[0].netns}", "ip", "route"],
                            capture_output=True, text=True).stdout
    assert "default" not in routes
    assert f"172.28.{topo.subnet}.0/24 dev eth0" in routes
