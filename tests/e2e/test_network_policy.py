"""NetworkPolicy truth tables (as upstream's network policy e2e does): for each policy set, every
(from pod, to pod, port) probe across three netns nodes is allowed or denied exactly as expected."""

import itertools
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from proxy.iptables_sync import IptablesSyncer
from proxy.netpol_rules import HOOKS, Pod, build
from tests.support.cleanup import Cleanup
from tests.support.names import unique_prefix
from tests.support.netcluster import NetCluster
from tests.support.processes import Processes

NAMESPACES = {"x": {"ns": "x"}, "y": {"ns": "y"}}
PODS = [("x", "a", "node1"), ("x", "b", "node2"), ("y", "a", "node3"), ("y", "c", "node1")]
PORTS = (80, 81)


class InNetns:
    def __init__(self, netns: str) -> None:
        self.netns = netns

    def __call__(self, argv, stdin):
        return subprocess.run(["nsenter", f"--net=/run/netns/{self.netns}", *argv], input=stdin, capture_output=True)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """One cluster for every truth table: pods serving on 80 and 81 (module-scoped: it takes seconds)."""
    cleanup = Cleanup()
    workdir = tmp_path_factory.mktemp("netpol")
    procs = Processes(workdir / "logs")
    try:
        net = NetCluster(unique_prefix(), cleanup, workdir)
        nodes = {n.name: n for n in net.topo.nodes}
        pods = {}
        for ns, name, node in PODS:
            pod = net.add_pod(nodes[node], f"{ns}{name}")
            for port in PORTS:
                procs.start(f"{ns}{name}-{port}", ["nsenter", f"--net=/run/netns/{pod.netns}", "/bin/busybox",
                                                   "httpd", "-f", "-p", str(port), "-h", str(workdir)])
            pods[f"{ns}/{name}"] = (pod, Pod(ns, name, pod.ip, node, {"app": name},
                                             {"http": (80, "TCP"), "alt": (81, "TCP")}))
        for pod, _ in pods.values():
            for port in PORTS:
                wait_until_serving(pod, port)
        syncers = {n.name: IptablesSyncer(runner=InNetns(n.netns), hooks=HOOKS, owned_prefix="TK-N")
                   for n in net.topo.nodes}
        yield pods, syncers
    finally:
        for syncer in locals().get("syncers", {}).values():
            syncer.cleanup()
        procs.stop_all()
        cleanup.run()


def probe(src, dst, port: int, seconds: int = 2) -> bool:
    """A TCP connection from ``src``'s namespace to ``dst`` (httpd's 404 for / still proves it connected)."""
    out = subprocess.run(["nsenter", f"--net=/run/netns/{src.netns}", "timeout", str(seconds), "/bin/busybox", "wget",
                          "-q", "-O", "-", f"http://{dst.ip}:{port}/"], capture_output=True, text=True)
    return "404" in out.stderr or out.returncode == 0


def wait_until_serving(pod, port: int) -> None:
    for _ in range(50):
        if probe(pod, pod, port):
            return
        time.sleep(0.1)
    raise RuntimeError(f"httpd on {pod.name}:{port} did not start")


def apply(lab, policies) -> dict[tuple[str, str, int], bool]:
    pods, syncers = lab
    infos = [info for _, info in pods.values()]
    for node, syncer in syncers.items():
        syncer.sync(build(policies, infos, NAMESPACES, node))
    cases = [(a, b, port) for a, b in itertools.permutations(pods, 2) for port in PORTS]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda c: probe(pods[c[0]][0], pods[c[1]][0], c[2]), cases))
    return dict(zip(cases, results, strict=True))


def expect(allowed) -> dict[tuple[str, str, int], bool]:
    names = [f"{ns}/{n}" for ns, n, _ in PODS]
    return {(a, b, p): allowed(a, b, p) for a, b in itertools.permutations(names, 2) for p in PORTS}


def policy(ns: str, name: str, spec: dict[str, object]) -> dict[str, object]:
    return {"metadata": {"namespace": ns, "name": name}, "spec": spec}


def check(lab, policies, allowed) -> None:
    got = apply(lab, policies)
    want = expect(allowed)
    wrong = {k: got[k] for k in want if got[k] != want[k]}
    assert not wrong, f"probes that disagree (got): {wrong}"


def test_no_policy_allows_everything(lab):
    check(lab, [], lambda a, b, p: True)


def test_default_deny_ingress_in_one_namespace(lab):
    check(lab, [policy("x", "deny", {"podSelector": {}, "policyTypes": ["Ingress"]})],
          lambda a, b, p: not b.startswith("x/"))


def test_allow_from_pods_by_label_on_a_named_port(lab):
    pols = [policy("x", "allow-b", {"podSelector": {"matchLabels": {"app": "a"}},
                                    "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "b"}}}],
                                                 "ports": [{"port": "http"}]}]})]
    check(lab, pols, lambda a, b, p: b != "x/a" or (a == "x/b" and p == 80))


def test_namespace_selector_and_combined_selector(lab):
    pols = [policy("x", "from-y-a", {"podSelector": {"matchLabels": {"app": "a"}}, "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"ns": "y"}}, "podSelector": {"matchLabels": {"app": "a"}}}]}]})]
    check(lab, pols, lambda a, b, p: b != "x/a" or a == "y/a")


def test_egress_deny_with_ip_block_exception(lab):
    pods, _ = lab
    ya = pods["y/a"][0].ip
    pols = [policy("y", "egress", {"podSelector": {"matchLabels": {"app": "c"}}, "policyTypes": ["Egress"],
                                   "egress": [{"to": [{"ipBlock": {"cidr": "10.244.0.0/16", "except": [f"{ya}/32"]}}],
                                               "ports": [{"port": 81, "protocol": "TCP"}]}]})]
    check(lab, pols, lambda a, b, p: a != "y/c" or (p == 81 and b != "y/a"))


def test_port_range_with_end_port(lab):
    pols = [policy("y", "range", {"podSelector": {}, "ingress": [{"ports": [{"port": 81, "endPort": 90}]}]})]
    check(lab, pols, lambda a, b, p: not b.startswith("y/") or p == 81)
