"""The whole cluster under chaos, as `tinykube chaos` / `tinykube node` let a user break it.

One cluster serves the module (bringing one up is the expensive part); the scenarios run in order on one
worker and each leaves the cluster whole again: (a) the store leader SIGKILLed during a rollout while a
client reads, writes and compare-and-swaps through the API (its history must be linearizable); (b) the
scheduler and controller-manager leaders SIGKILLed (standbys take over; the times are printed); (c) the
store leader's node partitioned (the majority serves, the minority refuses writes, healing converges);
(d) a node hard-stopped (NotReady, its pods replaced elsewhere) and started again; (e) a worker added with
`tinykube node add` runs pods; (f) `down --keep-state` then `up` brings every object and node back;
(g) `tinykube node remove` drains the worker (its pods recreated elsewhere) and leaves nothing of it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.support.cleanup import Cleanup
from tests.support.linearizability import History, check
from tests.support.names import unique_prefix
from tests.support.tinykube_up import LocalCluster, up
from tinykube.lifecycle import CONTROL_PLANE_LABEL

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cluster-chaos")]
REPLICAS = 20
# Pods tolerate an unreachable node this long before they are evicted (Kubernetes' default is 300 s).
TOLERATION_SECONDS = 5


class ChaosCluster(LocalCluster):
    def chaos(self, *argv: str) -> str:
        out = self.tk("chaos", *argv)
        assert out.returncode == 0, out.stderr
        print(out.stdout.strip())
        return out.stdout

    def wait(self, what: str, seconds: float, condition: Any) -> float:
        """Poll ``condition`` until it holds; the seconds it took."""
        started = time.monotonic()
        while not condition():
            assert time.monotonic() - started < seconds, f"{what}: not after {seconds:.0f}s"
            time.sleep(0.5)
        return time.monotonic() - started

    def available(self, name: str = "web") -> int:
        out = self.kubectl("get", "deployment", name, "-o", "jsonpath={.status.availableReplicas}", check=False)
        return int(out) if out.strip().isdigit() else 0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaosCluster]:
    name = unique_prefix()
    state = tmp_path_factory.mktemp("chaos") / "state"
    cleanup = Cleanup()
    try:
        c = ChaosCluster(name, up(name, state, cleanup).state)
        toleration = [{"key": f"node.kubernetes.io/{t}", "operator": "Exists", "effect": "NoExecute",
                       "tolerationSeconds": TOLERATION_SECONDS} for t in ("unreachable", "not-ready")]
        deployment = {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": REPLICAS, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"tolerations": toleration, "terminationGracePeriodSeconds": 1,
                                           "containers": [{"name": "httpd", "image": "busybox",
                                                           "command": ["httpd", "-f", "-p", "8080"],
                                                           "env": [{"name": "ROUND", "value": "0"}]}]}}}}
        manifest = state.parent / "web.json"
        manifest.write_text(json.dumps(deployment))
        c.kubectl("apply", "-f", str(manifest))
        c.kubectl("rollout", "status", "deployment/web", "--timeout=180s")
        yield c
    finally:
        cleanup.run()


def test_status_and_logs_name_every_leader(cluster: ChaosCluster) -> None:
    leaders = cluster.status()["leaders"]
    nodes = {"node1", "node2", "node3"}
    assert {leaders["store"], leaders["scheduler"], leaders["controller-manager"]} <= nodes, leaders
    log = cluster.tk("logs", leaders["scheduler"], "scheduler", "--tail", "50")
    assert "acquired lease" in log.stdout, log.stdout[-2000:]
    missing = cluster.tk("logs", "node1", "no-such-component")
    assert missing.returncode == 1 and "no log for no-such-component" in missing.stderr


class ApiRegister:
    """Reads, writes and compare-and-swaps of one ConfigMap key straight over HTTPS (no client retries,
    so every outcome recorded is what the API answered)."""

    def __init__(self, cluster: ChaosCluster, session: aiohttp.ClientSession) -> None:
        config = yaml.safe_load(cluster.kubeconfig.read_text())
        self.url = config["clusters"][0]["cluster"]["server"] + "/api/v1/namespaces/default/configmaps/register"
        self.session = session

    @staticmethod
    def ssl_context(cluster: ChaosCluster) -> ssl.SSLContext:
        pki = cluster.state / "pki"
        ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        ctx.load_cert_chain(pki / "admin.crt", pki / "admin.key")
        return ctx

    async def get(self) -> tuple[str | None, str]:
        async with self.session.get(self.url) as resp:
            if resp.status != 200:
                raise aiohttp.ClientResponseError(resp.request_info, (), status=resp.status)
            obj = await resp.json()
            return obj["data"]["v"], obj["metadata"]["resourceVersion"]

    async def put(self, value: str, resource_version: str | None = None) -> int:
        meta: dict[str, str] = {"name": "register"}
        if resource_version is not None:
            meta["resourceVersion"] = resource_version
        async with self.session.put(self.url, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
                                                    "data": {"v": value}}) as resp:
            await resp.read()
            return resp.status


async def api_client(register: ApiRegister, pid: int, history: History, until: float) -> None:
    rng = random.Random(pid)
    seq = 0
    while time.monotonic() < until:
        seq += 1
        value = f"{pid}-{seq}"
        kind = rng.choice(["read", "write", "cas"])
        if kind == "read":
            op = history.invoke(pid, "read", "v")
            try:
                got, _ = await register.get()
                history.ok(op, got)
            except (aiohttp.ClientError, TimeoutError):
                history.fail(op)  # a read changes nothing
        elif kind == "write":
            op = history.invoke(pid, "write", "v", value)
            try:
                code = await register.put(value)
            except (aiohttp.ClientError, TimeoutError):
                history.info(op)
                continue
            if code == 200:
                history.ok(op)
            else:  # a 5xx or 504 may have been committed anyway
                history.info(op)
        else:
            try:
                current, rv = await register.get()
            except (aiohttp.ClientError, TimeoutError):
                continue
            op = history.invoke(pid, "cas", "v", (current, value))
            try:
                code = await register.put(value, rv)
            except (aiohttp.ClientError, TimeoutError):
                history.info(op)
                continue
            if code == 200:
                history.ok(op, True)
            elif code == 409:
                history.ok(op, False)
            else:
                history.info(op)
        await asyncio.sleep(0.02)


def test_store_leader_killed_during_rollout(cluster: ChaosCluster) -> None:
    cluster.kubectl("create", "configmap", "register", "--from-literal=v=start")
    cluster.kubectl("set", "env", "deployment/web", "ROUND=1")
    history = History()

    async def run() -> None:
        until = time.monotonic() + 25
        timeout = aiohttp.ClientTimeout(total=5)
        connector = aiohttp.TCPConnector(ssl=ApiRegister.ssl_context(cluster))
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            register = ApiRegister(cluster, session)
            clients = [asyncio.create_task(api_client(register, pid, history, until)) for pid in range(4)]
            for _ in range(2):
                await asyncio.sleep(6)
                await asyncio.to_thread(cluster.chaos, "kill-leader", "store")
            await asyncio.gather(*clients)

    asyncio.run(run())
    cluster.kubectl("rollout", "status", "deployment/web", "--timeout=240s")
    pods = json.loads(cluster.kubectl("get", "pods", "-l", "app=web", "-o", "json"))["items"]
    rounds = [p["spec"]["containers"][0]["env"][0]["value"] for p in pods if not p["metadata"].get("deletionTimestamp")]
    assert rounds == ["1"] * REPLICAS, rounds  # old pods may still be terminating, nothing more
    ops = history.operations
    acknowledged = sum(1 for op in ops if op.status == "ok" and op.kind != "read")
    assert acknowledged > 20, f"only {acknowledged} acknowledged writes"
    result = check(ops, initial="start")
    assert result.linearizable is True, result.explain()


def lease_holder(cluster: ChaosCluster, lease: str) -> str:
    return cluster.kubectl("get", "lease", "-n", "kube-system", lease, "-o",
                           "jsonpath={.spec.holderIdentity}", check=False).strip()


def test_scheduler_and_controller_manager_leaders_fail_over(cluster: ChaosCluster) -> None:
    before = {lease: lease_holder(cluster, lease) for lease in ("kube-scheduler", "kube-controller-manager")}
    cluster.chaos("kill-leader", "scheduler")
    cluster.chaos("kill-leader", "controller-manager")
    for lease, holder in before.items():
        took = cluster.wait(f"a new {lease} leader", 60,
                            lambda name=lease, old=holder: lease_holder(cluster, name) not in ("", old))
        print(f"{lease}: new leader {lease_holder(cluster, lease)} after {took:.1f}s (lease duration 15s)")
    cluster.kubectl("scale", "deployment/web", f"--replicas={REPLICAS + 4}")
    cluster.kubectl("rollout", "status", "deployment/web", "--timeout=180s")
    cluster.kubectl("scale", "deployment/web", f"--replicas={REPLICAS}")


def etcdctl(cluster: ChaosCluster, ip: str, *argv: str) -> subprocess.CompletedProcess[str]:
    etcd = cluster.state / "pki" / "etcd"
    tls = [f"--cacert={etcd / 'ca.crt'}", f"--cert={etcd / 'healthcheck-client.crt'}",
           f"--key={etcd / 'healthcheck-client.key'}"] if etcd.exists() else []
    scheme = "https" if tls else "http"
    return subprocess.run(["etcdctl", f"--endpoints={scheme}://{ip}:2379", "--command-timeout=3s", *tls, *argv],
                          capture_output=True, text=True, env={"ETCDCTL_API": "3", "PATH": "/usr/bin:/bin"},
                          timeout=30)


def test_partitioned_store_leader_node(cluster: ChaosCluster) -> None:
    status = cluster.status()
    ips = {n["name"]: n["ip"] for n in status["nodes"]}
    old = status["leaders"]["store"]
    cluster.chaos("partition", old)
    try:
        took = cluster.wait("a leader among the majority", 30,
                            lambda: cluster.status()["leaders"]["store"] not in (None, old))
        print(f"store: the majority elected {cluster.status()['leaders']['store']} after {took:.1f}s")
        cluster.wait("a write through the API", 60,
                     lambda: cluster.kubectl("create", "configmap", f"majority-{time.monotonic_ns()}", check=False,
                                             timeout=30) != "")
        refused = etcdctl(cluster, ips[old], "put", "/chaos/minority", "x")
        assert refused.returncode != 0, "the partitioned minority acknowledged a write"
    finally:
        cluster.chaos("heal")

    def converged() -> bool:
        revisions = set()
        for ip in ips.values():
            out = etcdctl(cluster, ip, "endpoint", "status", "-w", "json")
            if out.returncode != 0:
                return False
            revisions.add(json.loads(out.stdout)[0]["Status"]["header"]["revision"])
        return len(revisions) == 1
    cluster.wait("members to agree again", 60, converged)
    assert etcdctl(cluster, ips[old], "get", "/chaos/minority").stdout == ""


def test_hard_stopped_node_pods_move_elsewhere(cluster: ChaosCluster) -> None:
    victim = "node3"
    out = cluster.tk("node", "stop", victim)
    assert out.returncode == 0, out.stderr
    print(out.stdout.strip())

    def ready(node: str) -> str:
        return cluster.kubectl("get", "node", node, "-o",  # polled: a failed call just polls again
                               "jsonpath={.status.conditions[?(@.type=='Ready')].status}", check=False).strip()
    took = cluster.wait(f"{victim} NotReady", 120, lambda: ready(victim) == "Unknown")
    print(f"{victim}: Ready=Unknown after {took:.1f}s")

    def replaced() -> bool:
        pods = json.loads(cluster.kubectl("get", "pods", "-l", "app=web", "-o", "json"))["items"]
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        running = [p for p in live if p["status"].get("phase") == "Running" and p["spec"].get("nodeName") != victim]
        return len(running) == REPLICAS
    took = cluster.wait("the pods of the stopped node replaced on the others", 120, replaced)
    print(f"{REPLICAS} pods running on the remaining nodes {took:.1f}s after {victim} went NotReady")
    out = cluster.tk("node", "start", victim)
    assert out.returncode == 0, out.stderr
    cluster.wait(f"{victim} Ready again", 90, lambda: ready(victim) == "True")
    cluster.wait("the evicted pods gone", 90, lambda: victim not in cluster.kubectl(
        "get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].spec.nodeName}"))


WORKER = "node4"
PINNED = 2


def ensure_worker_with_pods(cluster: ChaosCluster) -> None:
    """Worker node4 in the cluster with the ``pinned`` Deployment's pods on it (the other nodes are cordoned
    while they are scheduled), whether or not an earlier test of the module made them."""
    if WORKER not in {n["name"] for n in cluster.status()["nodes"]}:
        added = cluster.tk("node", "add", WORKER, timeout=360)
        assert added.returncode == 0, added.stdout + added.stderr
        print(added.stdout.strip())
    if cluster.kubectl("get", "deployment", "pinned", "--ignore-not-found", "-o", "name").strip():
        return
    others = [n["name"] for n in cluster.status()["nodes"] if n["name"] != WORKER]
    cluster.kubectl("cordon", *others)
    try:
        cluster.kubectl("create", "deployment", "pinned", "--image=busybox", f"--replicas={PINNED}", "--",
                        "sleep", "3600")
        cluster.kubectl("rollout", "status", "deployment/pinned", "--timeout=180s")
    finally:
        cluster.kubectl("uncordon", *others)


def pinned_nodes(cluster: ChaosCluster) -> list[str]:
    """The nodes of the ``pinned`` pods that run (and are not being deleted)."""
    pods = json.loads(cluster.kubectl("get", "pods", "-l", "app=pinned", "-o", "json"))["items"]
    return sorted(p["spec"].get("nodeName", "") for p in pods
                  if not p["metadata"].get("deletionTimestamp") and p["status"].get("phase") == "Running")


def test_added_worker_joins_and_runs_pods(cluster: ChaosCluster) -> None:
    ensure_worker_with_pods(cluster)
    node = json.loads(cluster.kubectl("get", "node", WORKER, "-o", "json"))
    assert CONTROL_PLANE_LABEL not in node["metadata"]["labels"]
    assert pinned_nodes(cluster) == [WORKER] * PINNED
    status = cluster.status()
    assert {"name": WORKER, "ready": True} in [{"name": n["name"], "ready": n["ready"]} for n in status["nodes"]]
    assert {c["name"] for c in status["components"] if c["node"] == WORKER and c["state"] == "running"} == {
        "runtime", "flanneld", "kubelet", "proxy", "clusterdns"}
    # It joined the kubeadm way: its client certificate came through a CSR made with a bootstrap token.
    csrs = json.loads(cluster.kubectl("get", "csr", "-o", "json"))["items"]
    joined = [x509.load_pem_x509_csr(base64.b64decode(c["spec"]["request"])).subject
              for c in csrs if c["spec"]["username"].startswith("system:bootstrap:") and c["status"].get("certificate")]
    names = [a.value for subject in joined for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    assert f"system:node:{WORKER}" in names, names
    for argv, refusal in ((("add", WORKER), "already has a node"), (("remove", "node1"), "control-plane node"),
                          (("remove", "node9"), "has no node 'node9'"), (("add", "Bad_Name"), "invalid node name")):
        out = cluster.tk("node", *argv)
        assert out.returncode == 1 and refusal in out.stderr and len(out.stderr.strip().splitlines()) == 1, out


def test_down_keep_state_then_up_brings_everything_back(cluster: ChaosCluster) -> None:
    cluster.kubectl("create", "configmap", "survivor", "--from-literal=k=v")
    down = cluster.tk("down", "--keep-state")
    assert down.returncode == 0, down.stdout + down.stderr
    assert (cluster.state / "cluster.json").exists()
    again = cluster.tk("up", "-d")
    assert again.returncode == 0, again.stdout + again.stderr
    assert cluster.kubectl("get", "configmap", "survivor", "-o", "jsonpath={.data.k}") == "v"
    took = cluster.wait("the Deployment available again", 180, lambda: cluster.available() == REPLICAS)
    print(f"web: {REPLICAS}/{REPLICAS} available {took:.1f}s after up")
    # Added workers are part of the kept cluster: they come back Ready with the rest.
    assert all(n["ready"] for n in cluster.status()["nodes"]), cluster.status()["nodes"]


def test_removed_worker_is_drained_and_leaves_nothing(cluster: ChaosCluster) -> None:
    ensure_worker_with_pods(cluster)
    removed = cluster.tk("node", "remove", WORKER, timeout=360)
    assert removed.returncode == 0, removed.stdout + removed.stderr
    print(removed.stdout.strip())
    took = cluster.wait("the pinned pods recreated elsewhere", 120,
                        lambda: len(pinned_nodes(cluster)) == PINNED and WORKER not in pinned_nodes(cluster))
    print(f"{PINNED} pods of {WORKER} running elsewhere {took:.1f}s after the removal")
    assert cluster.kubectl("get", "node", WORKER, "--ignore-not-found", "-o", "name").strip() == ""
    assert WORKER not in {n["name"] for n in cluster.status()["nodes"]}
    assert WORKER not in {c["node"] for c in cluster.status()["components"]}
    netns = f"{cluster.name}-{WORKER}"
    assert netns not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    infra_links = subprocess.run(["ip", "-n", f"{cluster.name}-infra", "-o", "link"], capture_output=True, text=True)
    assert f"veth-{WORKER}@" not in infra_links.stdout
    node_dir = cluster.state / WORKER
    assert not node_dir.exists()
    assert subprocess.run(["pgrep", "-af", str(node_dir)], capture_output=True, text=True).stdout == ""
    assert not list(Path("/sys/fs/cgroup").glob(f"*/{netns}")), "cgroups of the removed node left behind"
    cluster.kubectl("delete", "deployment", "pinned")
