"""kube-proxy's iptables rules programmed into real node namespaces: ClusterIP balancing across the overlay,
NodePort from the host, REJECT without endpoints, session affinity, incremental sync and cleanup."""

import collections
import subprocess

import pytest
from pyroute2 import IPRoute

from proxy import service_route
from proxy.iptables_rules import build
from proxy.iptables_sync import IptablesSyncer
from proxy.model import Endpoint, ServicePort
from tests.support.netcluster import NetCluster, fetch


class InNetns:
    """Runs iptables commands inside a node's namespace, as the proxy does when it runs there."""

    def __init__(self, netns: str) -> None:
        self.netns = netns

    def __call__(self, argv, stdin):
        return subprocess.run(["nsenter", f"--net=/run/netns/{self.netns}", *argv], input=stdin, capture_output=True)


@pytest.fixture
def cluster(prefix, cleanup, tmp_path, processes):
    net = NetCluster(prefix, cleanup, tmp_path)
    pods = [net.add_pod(node, f"web{node.index}") for node in net.topo.nodes[1:]]
    for pod in pods:
        net.serve_http(processes, pod)
    client = net.add_pod(net.topo.nodes[0], "client")
    return net, pods, client


def web(pods, **kw) -> ServicePort:
    return ServicePort("default", "web", "http", "tcp", "10.96.0.50", 80, node_port=30080,
                       endpoints=tuple(Endpoint(p.ip, 8080, p.node.name) for p in pods), **kw)


def test_cluster_ip_node_port_reject_and_cleanup(cluster):
    net, pods, client = cluster
    node1 = net.topo.nodes[0]
    with IPRoute(netns=node1.netns) as ipr:
        assert service_route.ensure(ipr, "10.96.0.0/12", "eth0")
        assert not service_route.ensure(ipr, "10.96.0.0/12", "eth0")
    syncer = IptablesSyncer(runner=InNetns(node1.netns))
    empty = ServicePort("default", "empty", "", "tcp", "10.96.0.51", 80)
    first = syncer.sync(build([web(pods), empty], "10.244.0.0/16", node1.name))
    assert first.chains_written > 0

    served = collections.Counter(fetch(client.netns, "http://10.96.0.50/") for _ in range(20))
    assert set(served) == {"web2", "web3"}, served  # both endpoints, through the overlay

    assert fetch(None, f"http://{node1.ip}:30080/") in {"web2", "web3"}  # NodePort from the host

    refused = subprocess.run(["nsenter", f"--net=/run/netns/{client.netns}", "timeout", "5", "/bin/busybox",
                              "wget", "-q", "-O", "-", "http://10.96.0.51/"], capture_output=True, text=True)
    assert refused.returncode != 0 and "refused" in refused.stderr  # REJECT answers at once, no hang

    again = syncer.sync(build([web(pods), empty], "10.244.0.0/16", node1.name))
    assert (again.chains_written, again.chains_removed) == (0, 0)

    one = syncer.sync(build([web(pods[:1]), empty], "10.244.0.0/16", node1.name))
    assert one.chains_removed == 1 and 0 < one.chains_written <= 2
    assert {fetch(client.netns, "http://10.96.0.50/") for _ in range(6)} == {"web2"}

    syncer.cleanup()
    leftover = subprocess.run(["nsenter", f"--net=/run/netns/{node1.netns}", "iptables-save"],
                              capture_output=True, text=True).stdout
    assert "KUBE-" not in leftover


def test_session_affinity_pins_a_client(cluster):
    net, pods, client = cluster
    node1 = net.topo.nodes[0]
    IptablesSyncer(runner=InNetns(node1.netns)).sync(
        build([web(pods, session_affinity_seconds=600)], "10.244.0.0/16", node1.name))
    assert len({fetch(client.netns, "http://10.96.0.50/") for _ in range(8)}) == 1
