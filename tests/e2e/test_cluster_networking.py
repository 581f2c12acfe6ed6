"""Cluster networking end to end on a `tinykube up` cluster (three netns nodes), as issue #10 accepts it:
(1) cluster DNS answers for Services, headless Services and StatefulSet pods on every node, busybox's nslookup/wget
work by name, and a NodePort answers on every node's address from the host;
(2) endpoint churn: a client loops on a ClusterIP while the Deployment behind it scales
2→6→2→5→1, and no answer comes from a pod once it is deleted, and no request fails. A terminating pod serves
through a 5 s preStop sleep and stops at SIGTERM, so zero failures means every node's kube-proxy stopped
sending new connections to it within those 5 s of its endpoint turning not-ready (without the preStop sleep,
requests in that window are refused and the test fails).

One cluster serves the module (bringing one up is the expensive part); each test works in its own namespace.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support.cleanup import Cleanup
from tests.support.names import unique_prefix
from tests.support.tinykube_up import LocalCluster, up

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cluster-networking")]
KUBE_DNS = "10.96.0.10"
# Serves its own pod name on :8080 (the page is written before httpd starts) and stops on SIGTERM (httpd as
# PID 1 would ignore it and serve on until the grace period ends).
NAME_SERVER = ["sh", "-c", "mkdir -p /tmp/www && hostname > /tmp/www/index.html || exit 1; "
               "httpd -f -p 8080 -h /tmp/www & trap 'kill $!; exit 0' TERM; wait"]
READY_ON_8080 = {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1}
# Long enough for every node's kube-proxy to drop a terminating pod's endpoint before its httpd stops.
PRE_STOP_SECONDS = 5


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    name = unique_prefix()
    cleanup = Cleanup()
    try:
        yield up(name, tmp_path_factory.mktemp("networking") / "state", cleanup)
    finally:
        cleanup.run()


def _apply(cluster: LocalCluster, namespace: str, *objects: dict[str, Any]) -> None:
    manifest = cluster.state.parent / f"{namespace}.json"
    manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}))
    cluster.kubectl("apply", "-n", namespace, "-f", str(manifest))


def _name_server_pod(labels: dict[str, str], **spec: Any) -> dict[str, Any]:
    container = {"name": "httpd", "image": "busybox", "command": NAME_SERVER, "readinessProbe": READY_ON_8080}
    return {"metadata": {"labels": labels}, "spec": {"containers": [container], **spec}}


def _service(name: str, selector: dict[str, str], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": selector, "ports": [{"port": 80, "targetPort": 8080}], **spec}}


def _client(name: str, *command: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "client", "image": "busybox", "command": list(command)}]}}


def _addresses(nslookup: str) -> set[str]:
    """The addresses busybox nslookup printed for the name (the server's own ``Address:`` line comes first,
    before any ``Name:``)."""
    answer = nslookup.split("Name:", 1)[1] if "Name:" in nslookup else ""
    return set(re.findall(r"^Address:\s*(\S+)$", answer, re.MULTILINE))


def _pod_ips(cluster: LocalCluster, namespace: str, selector: str) -> dict[str, str]:
    pods = json.loads(cluster.kubectl("get", "pods", "-n", namespace, "-l", selector, "-o", "json"))["items"]
    return {p["metadata"]["name"]: p["status"]["podIP"] for p in pods}


def test_dns_on_every_node_names_services_and_statefulset_pods_and_node_ports_answer(cluster: LocalCluster) -> None:
    ns = "dns"
    cluster.kubectl("create", "namespace", ns)
    peer, web = {"app": "peer"}, {"app": "web"}
    # First, with no pod anywhere but this one on node1 (the module's first test, on a fresh cluster): every
    # node's DNS server answers, as kube-dns's ClusterIP picks any of them. Their addresses are the nodes'
    # pod gateways, which must exist before a node's first pod does.
    first = _client("client", "sleep", "3600")
    first["spec"]["nodeName"] = "node1"
    _apply(cluster, ns, first)
    cluster.kubectl("wait", "-n", ns, "--for=condition=ready", "pod/client", "--timeout=120s")
    servers = cluster.kubectl("get", "endpointslices", "-n", "kube-system", "-l",
                              "kubernetes.io/service-name=kube-dns", "-o",
                              "jsonpath={.items[*].endpoints[*].addresses[*]}").split()
    assert len(servers) == 3, servers
    for server in servers:
        answer = cluster.kubectl("exec", "-n", ns, "client", "--", "nslookup", "kubernetes.default.svc.cluster.local",
                                 server)
        assert _addresses(answer) == {"10.96.0.1"}, (server, answer)
    _apply(cluster, ns,
           _service("peers", peer, clusterIP="None"),
           {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "peer"},
            "spec": {"serviceName": "peers", "replicas": 2, "selector": {"matchLabels": peer},
                     "template": _name_server_pod(peer)}},
           _service("web", web),
           {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 3, "selector": {"matchLabels": web},
                     "template": _name_server_pod(web)}})
    cluster.kubectl("rollout", "status", "-n", ns, "statefulset/peer", "--timeout=180s")
    cluster.kubectl("rollout", "status", "-n", ns, "deployment/web", "--timeout=180s")
    peers, webs = _pod_ips(cluster, ns, "app=peer"), _pod_ips(cluster, ns, "app=web")
    assert sorted(peers) == ["peer-0", "peer-1"], peers
    cluster_ip = cluster.kubectl("get", "service", "-n", ns, "web", "-o", "jsonpath={.spec.clusterIP}")

    def in_client(*argv: str, check: bool = True) -> str:
        return cluster.kubectl("exec", "-n", ns, "client", "--", *argv, check=check)

    domain = f"{ns}.svc.cluster.local"
    assert _addresses(in_client("nslookup", f"peers.{domain}", KUBE_DNS)) == set(peers.values())
    assert _addresses(in_client("nslookup", f"peer-0.peers.{domain}", KUBE_DNS)) == {peers["peer-0"]}
    assert _addresses(in_client("nslookup", f"web.{domain}", KUBE_DNS)) == {cluster_ip}
    # Short names go through the pod's search path (busybox also tries the other search domains and the
    # AAAA type, which answer NXDOMAIN/nothing, so its exit status is not the point here).
    assert cluster_ip in _addresses(in_client("nslookup", "web", check=False))
    # (busybox 1.35's `wget -T` segfaults: the timeout comes from `timeout` instead)
    assert in_client("timeout", "5", "wget", "-q", "-O-", "http://peer-1.peers:8080").strip() == "peer-1"
    assert in_client("timeout", "5", "wget", "-q", "-O-", "http://web").strip() in webs
    # The same pods through a NodePort, from the host's root namespace to every node's address.
    _apply(cluster, ns, _service("web-np", web, type="NodePort"))
    node_port = cluster.kubectl("get", "service", "-n", ns, "web-np", "-o", "jsonpath={.spec.ports[0].nodePort}")
    node_ips = cluster.kubectl("get", "nodes", "-o",
                               'jsonpath={.items[*].status.addresses[?(@.type=="InternalIP")].address}').split()
    assert len(node_ips) == 3, node_ips
    for ip in node_ips:
        page = subprocess.run(["timeout", "5", "/bin/busybox", "wget", "-q", "-O-", f"http://{ip}:{node_port}/"],
                              capture_output=True, text=True)
        assert page.stdout.strip() in webs, (ip, page.stdout, page.stderr)
    unknown = subprocess.run(cluster.kubectl_argv("exec", "-n", ns, "client", "--", "nslookup",
                                                  f"nosuch.{domain}", KUBE_DNS), capture_output=True, text=True)
    assert unknown.returncode != 0 and "NXDOMAIN" in unknown.stdout, unknown.stdout + unknown.stderr


@dataclass
class Watch:
    """``kubectl get -w -o json --output-watch-events`` in a thread; every event stamped (CLOCK_BOOTTIME,
    the clock a pod reads in /proc/uptime) as it arrives."""

    argv: list[str]
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.process = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        decoder, text, buffer = json.JSONDecoder(), codecs.getincrementaldecoder("utf-8")(), ""
        while chunk := os.read(self.process.stdout.fileno(), 65536):
            stamp = time.clock_gettime(time.CLOCK_BOOTTIME)
            buffer += text.decode(chunk)
            while buffer.strip():
                try:
                    event, end = decoder.raw_decode(buffer.lstrip())
                except json.JSONDecodeError:
                    break
                self.events.append((stamp, event))
                buffer = buffer.lstrip()[end:]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.thread.join(timeout=10)


def _endpoint_removals(events: list[tuple[float, dict[str, Any]]]) -> dict[str, float]:
    """When each pod's endpoint stopped being ready (its address turned not-ready or left every slice)."""
    slices: dict[str, dict[str, bool]] = {}
    ready: set[str] = set()
    removed: dict[str, float] = {}
    for stamp, event in events:
        obj = event["object"]
        name = obj["metadata"]["name"]
        if event["type"] == "DELETED":
            slices.pop(name, None)
        else:
            slices[name] = {e["targetRef"]["name"]: bool(e.get("conditions", {}).get("ready"))
                            for e in obj.get("endpoints") or [] if e.get("targetRef")}
        now = {pod for states in slices.values() for pod, is_ready in states.items() if is_ready}
        for pod in ready - now:
            removed.setdefault(pod, stamp)
        ready = now
    return removed


def test_no_answer_from_a_deleted_pod_while_a_deployment_scales(cluster: LocalCluster) -> None:
    ns = "churn"
    cluster.kubectl("create", "namespace", ns)
    echo = {"app": "echo"}
    pre_stop = {"preStop": {"exec": {"command": ["sleep", str(PRE_STOP_SECONDS)]}}}
    template = _name_server_pod(echo, terminationGracePeriodSeconds=PRE_STOP_SECONDS + 5)
    template["spec"]["containers"][0]["lifecycle"] = pre_stop
    _apply(cluster, ns, _service("echo", echo),
           {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "echo"},
            "spec": {"replicas": 2, "selector": {"matchLabels": echo}, "template": template}})
    cluster.kubectl("rollout", "status", "-n", ns, "deployment/echo", "--timeout=180s")
    ip = cluster.kubectl("get", "service", "-n", ns, "echo", "-o", "jsonpath={.spec.clusterIP}")
    kubectl_watch = cluster.kubectl_argv("get", "-n", ns, "-w", "-o", "json", "--output-watch-events")
    slices = Watch([*kubectl_watch, "endpointslices", "-l", "kubernetes.io/service-name=echo"])
    pods = Watch([*kubectl_watch, "pods", "-l", "app=echo"])
    try:
        # Each line: uptime when the request started, when it ended, and the answer (a pod name or FAIL).
        # (stderr off: the shell reports a wget that `timeout` killed as "Terminated")
        loop = (f"exec 2>/dev/null; while true; do read t0 _ </proc/uptime; a=$(timeout 2 wget -q -O- http://{ip}/)"
                " || a=FAIL; read t1 _ </proc/uptime; echo \"$t0 $t1 ${a:-EMPTY}\"; usleep 50000; done")
        _apply(cluster, ns, _client("client", "sh", "-c", loop))
        cluster.kubectl("wait", "-n", ns, "--for=condition=ready", "pod/client", "--timeout=120s")
        time.sleep(3)
        for replicas in (6, 2, 5, 1):
            cluster.kubectl("scale", "-n", ns, "deployment/echo", f"--replicas={replicas}")
            cluster.kubectl("rollout", "status", "-n", ns, "deployment/echo", "--timeout=180s")
            deadline = time.monotonic() + 120
            while len(_pod_ips(cluster, ns, "app=echo")) != replicas:  # the terminating ones are gone
                assert time.monotonic() < deadline, f"pods never settled at {replicas}"
                time.sleep(1)
            time.sleep(2)
        log = cluster.kubectl("logs", "-n", ns, "client")
    finally:
        slices.stop()
        pods.stop()

    lines = [line.split() for line in log.splitlines()]
    assert all(len(fields) == 3 for fields in lines), log
    answers = [(float(t0), float(t1), who) for t0, t1, who in lines]
    existed = {e["object"]["metadata"]["name"] for _, e in pods.events}
    deleted = {e["object"]["metadata"]["name"]: stamp for stamp, e in pods.events if e["type"] == "DELETED"}
    removed = _endpoint_removals(slices.events)
    assert len(deleted) == 4 + 4, deleted  # 2 → 6 → 2 → 5 → 1: twice four pods went away
    assert all(pod in removed and removed[pod] < deleted[pod] for pod in deleted), (removed, deleted)

    print(f"\n{len(answers)} requests over {answers[-1][1] - answers[0][0]:.1f}s from "
          f"{len({w for _, _, w in answers})} answerers")
    for pod, gone in sorted(deleted.items(), key=lambda item: item[1]):
        last = max((t0 for t0, _, who in answers if who == pod), default=None)
        gap = "never answered" if last is None else f"last request it answered started {last - removed[pod]:+.2f}s"
        print(f"{pod}: endpoint removed, {gap}; deleted {gone - removed[pod]:.2f}s after removal")

    failures = [a for a in answers if a[2] not in existed]
    assert failures == [], failures  # a pod name every time: no refused, timed-out, empty or foreign answer
    late = [(t1, who, deleted[who]) for _, t1, who in answers if who in deleted and t1 >= deleted[who]]
    assert late == [], late
    assert len({who for _, _, who in answers}) >= 3
