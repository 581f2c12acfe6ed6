"""kube-proxy's rules, both modes, programmed into real node namespaces: ClusterIP balancing across the
overlay, NodePort from the host, hairpin, REJECT without endpoints, session affinity, and cleanup."""

import collections
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from proxy import iptables_rules, nftables_rules, service_route
from proxy.iptables_sync import IptablesSyncer
from proxy.model import Endpoint, ServicePort
from proxy.nftables_sync import NftablesSyncer
from tests.support.netcluster import NetCluster, fetch


class InNetns:
    """Runs iptables/nft inside a node's namespace, as the proxy does when it runs there."""

    def __init__(self, netns: str) -> None:
        self.netns = netns

    def __call__(self, argv, stdin):
        return subprocess.run(["nsenter", f"--net=/run/netns/{self.netns}", *argv], input=stdin, capture_output=True)


@dataclass
class Mode:
    name: str
    build: Callable[..., Any]
    syncer: Callable[[InNetns], Any]
    leftovers: list[str]


MODES = {
    "iptables": Mode("iptables", iptables_rules.build, lambda r: IptablesSyncer(runner=r), ["iptables-legacy-save"]),
    "nftables": Mode("nftables", nftables_rules.build, lambda r: NftablesSyncer(runner=r), ["nft", "list", "ruleset"]),
}


@pytest.fixture(params=sorted(MODES))
def mode(request) -> Mode:
    return MODES[request.param]


@pytest.fixture
def cluster(prefix, cleanup, tmp_path, processes):
    net = NetCluster(prefix, cleanup, tmp_path)
    pods = [net.add_pod(node, f"web{node.index}") for node in net.topo.nodes[1:]]
    pods.append(net.add_pod(net.topo.nodes[0], "web1"))
    for pod in pods:
        net.serve_http(processes, pod)
    client = net.add_pod(net.topo.nodes[0], "client")
    node1 = net.topo.nodes[0]
    assert service_route.ensure("10.96.0.0/12", "eth0", node1.netns)
    assert not service_route.ensure("10.96.0.0/12", "eth0", node1.netns)
    with pytest.raises(RuntimeError, match="device nosuch0 not found"):
        service_route.ensure("10.96.0.0/12", "nosuch0", node1.netns)
    return net, pods, client


def web(pods, **kw) -> ServicePort:
    return ServicePort("default", "web", "http", "tcp", "10.96.0.50", 80, node_port=30080,
                       endpoints=tuple(Endpoint(p.ip, 8080, p.node.name) for p in pods), **kw)


def wget(netns: str | None, url: str) -> subprocess.CompletedProcess[str]:
    argv = ["timeout", "5", "/bin/busybox", "wget", "-q", "-O", "-", url]
    return subprocess.run(["nsenter", f"--net=/run/netns/{netns}", *argv] if netns else argv,
                          capture_output=True, text=True)


def test_services_through_real_rules(mode, cluster):
    net, pods, client = cluster
    node1 = net.topo.nodes[0]
    syncer = mode.syncer(InNetns(node1.netns))
    empty = ServicePort("default", "empty", "", "tcp", "10.96.0.51", 80, node_port=30081)
    hairpin = next(p for p in pods if p.name == "web1")
    itself = ServicePort("default", "itself", "", "tcp", "10.96.0.52", 80,
                         endpoints=(Endpoint(hairpin.ip, 8080, hairpin.node.name),))
    syncer.sync(mode.build([web(pods), empty, itself], "10.244.0.0/16", node1.name))

    served = collections.Counter(fetch(client.netns, "http://10.96.0.50/") for _ in range(30))
    assert set(served) == {"web1", "web2", "web3"}, served  # all endpoints, local and across the overlay

    assert fetch(None, f"http://{node1.ip}:30080/") in {"web1", "web2", "web3"}  # NodePort from the host
    assert fetch(node1.netns, "http://10.96.0.50/") in {"web1", "web2", "web3"}  # a node's own process
    assert fetch(hairpin.netns, "http://10.96.0.52/") == "web1"  # hairpin: a pod reaches itself through its Service

    refused = wget(client.netns, "http://10.96.0.51/")
    assert refused.returncode != 0 and "refused" in refused.stderr, refused.stderr  # REJECT: no hang
    assert "refused" in wget(None, f"http://{node1.ip}:30081/").stderr

    syncer.sync(mode.build([web(pods[:1]), empty], "10.244.0.0/16", node1.name))
    assert {fetch(client.netns, "http://10.96.0.50/") for _ in range(6)} == {"web2"}

    syncer.cleanup()
    leftover = subprocess.run(["nsenter", f"--net=/run/netns/{node1.netns}", *mode.leftovers],
                              capture_output=True, text=True).stdout
    assert "KUBE-" not in leftover and "tinykube-proxy" not in leftover


def test_session_affinity_pins_a_client(mode, cluster):
    net, pods, client = cluster
    node1 = net.topo.nodes[0]
    mode.syncer(InNetns(node1.netns)).sync(
        mode.build([web(pods, session_affinity_seconds=600)], "10.244.0.0/16", node1.name))
    assert len({fetch(client.netns, "http://10.96.0.50/") for _ in range(8)}) == 1
