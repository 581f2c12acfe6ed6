"""`tinykube controller-manager` against a real store and apiservers, with kubectl as the user.

No kubelet or scheduler runs: a fake kubelet thread stands in for a node (it binds pending pods
to itself, reports them Running and Ready through pods/status, and finishes pods a test asks to
exit), so what is under test is only the controllers' behaviour through the API.
"""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from tests.support.apiserver_cluster import BIN, ApiserverCluster
from tests.support.ports import free_port
from tests.support.processes import Processes

NODE = "fake-node"
EXIT_LABEL = "fake-kubelet/exit-code"
"""Pods carrying this label are finished with that exit code instead of running forever."""
LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"
UNREADY_LABEL = "fake-kubelet/unready"
"""Pods carrying this label run but never become Ready."""

pytestmark = pytest.mark.slow


class FakeKubelet:
    """Polls pods and plays a node's part for them: bind, run and report Ready, finish, delete on request."""

    def __init__(self, cluster: ApiserverCluster) -> None:
        self.cluster = cluster
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._ips: dict[str, str] = {}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(0.3):
            try:
                self._pass()
            except (OSError, KeyError, json.JSONDecodeError):
                continue  # a pod that vanished mid-pass, or a failover blip: next pass

    def _ip(self, uid: str) -> str:
        return self._ips.setdefault(uid, f"10.244.0.{len(self._ips) + 2}")

    def _renew_lease(self) -> None:
        """The node heartbeat node lifecycle reads, as a kubelet renews it."""
        path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        code, lease = self.cluster.request("GET", f"{path}/{NODE}")
        if code == 404:
            lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                     "metadata": {"name": NODE, "namespace": "kube-node-lease"},
                     "spec": {"holderIdentity": NODE, "leaseDurationSeconds": 40, "renewTime": now}}
            self.cluster.request("POST", path, json.dumps(lease).encode())
        elif code == 200:
            lease["spec"]["renewTime"] = now
            self.cluster.request("PUT", f"{path}/{NODE}", json.dumps(lease).encode())

    def _pass(self) -> None:
        self._renew_lease()
        _, pods = self.cluster.request("GET", "/api/v1/pods")
        for pod in pods.get("items") or []:
            m = pod["metadata"]
            base = f"/api/v1/namespaces/{m['namespace']}/pods/{m['name']}"
            if m.get("deletionTimestamp"):
                self.cluster.request("DELETE", base, json.dumps({"gracePeriodSeconds": 0}).encode())
                continue
            phase = (pod.get("status") or {}).get("phase")
            if phase in ("Succeeded", "Failed"):
                continue
            if not pod["spec"].get("nodeName"):
                binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": m["name"]},
                           "target": {"kind": "Node", "name": NODE}}
                self.cluster.request("POST", base + "/binding", json.dumps(binding).encode())
                continue
            exit_code = (m.get("labels") or {}).get(EXIT_LABEL)
            if phase == "Running" and exit_code is None:
                continue
            unready = UNREADY_LABEL in (m.get("labels") or {})
            self.cluster.request("PUT", base + "/status", json.dumps(self._status(pod, exit_code, unready)).encode())

    def _status(self, pod: dict[str, Any], exit_code: str | None, unready: bool) -> dict[str, Any]:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        container = pod["spec"]["containers"][0]["name"]
        if exit_code is None:
            phase, ready = "Running", "False" if unready else "True"
            state: dict[str, Any] = {"running": {"startedAt": now}}
        else:
            phase, ready = ("Succeeded" if exit_code == "0" else "Failed"), "False"
            state = {"terminated": {"exitCode": int(exit_code), "startedAt": now, "finishedAt": now,
                                    "reason": "Completed" if exit_code == "0" else "Error"}}
        ip = self._ip(pod["metadata"]["uid"])
        return {**pod, "status": {
            "phase": phase, "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "127.0.0.1", "startTime": now,
            "conditions": [{"type": t, "status": ready if t != "PodScheduled" else "True", "lastTransitionTime": now}
                           for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")],
            "containerStatuses": [{"name": container, "ready": ready == "True", "restartCount": 0,
                                   "image": pod["spec"]["containers"][0]["image"], "imageID": "", "state": state}],
        }}


@dataclass
class Harness:
    """The cluster and the controller-manager processes started on it, by name."""

    cluster: ApiserverCluster
    managers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start_manager(self, name: str, *extra: str) -> subprocess.Popen[bytes]:
        self.managers[name] = start_manager(self.cluster, name, *extra)
        return self.managers[name]

    def logs(self) -> str:
        return "\n".join(self.cluster.processes.log(n)[-3000:] for n in self.managers)


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """A store, one apiserver, a Ready fake node, the controller manager and the fake kubelet."""
    root = tmp_path_factory.mktemp("controller-manager")
    procs = Processes(root / "logs")
    kubelet: FakeKubelet | None = None
    try:
        c = ApiserverCluster(procs, free_port, root, apiservers=1)
        c.start()
        c.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(_node(NODE)))
        h = Harness(c)
        h.start_manager("controller-manager-1")
        kubelet = FakeKubelet(c)
        kubelet.start()
        yield h
    finally:
        if kubelet is not None:
            kubelet.stop()
        procs.stop_all()


@pytest.fixture
def cluster(harness: Harness) -> ApiserverCluster:
    return harness.cluster


def start_manager(c: ApiserverCluster, name: str, *extra: str) -> subprocess.Popen[bytes]:
    return c.processes.start(name, [
        str(BIN / "tinykube"), "controller-manager", "--kubeconfig", str(c.apiservers[0].kubeconfig),
        "--secure-port", "0", "--allocate-node-cidrs", "--cluster-cidr", "10.245.0.0/16",
        "--node-cidr-mask-size", "24", "--root-ca-file", str(c.pki / "ca.crt"),
        "--service-account-private-key-file", str(c.pki / "sa.key"),
        "--leader-elect-lease-duration", "4s", "--leader-elect-renew-deadline", "3s",
        "--leader-elect-retry-period", "1s", "--node-monitor-grace-period", "1h",
        "--controllers", "*,-nodelifecycle", *extra,
    ])


def _node(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60.0, logs: Callable[[], str] | None = None) -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}" + (f"\n{logs()[-4000:]}" if logs else ""))
        time.sleep(0.3)


def _get(c: ApiserverCluster, path: str) -> dict[str, Any] | None:
    code, body = c.request("GET", path)
    return body if code == 200 else None


def _items(c: ApiserverCluster, path: str) -> list[dict[str, Any]]:
    body = _get(c, path)
    return list((body or {}).get("items") or [])


def _live_pods(c: ApiserverCluster, ns: str, selector: str) -> list[dict[str, Any]]:
    return [p for p in _items(c, f"/api/v1/namespaces/{ns}/pods?labelSelector={selector}")
            if not p["metadata"].get("deletionTimestamp")]


def _deployment(name: str, replicas: int, image: str = "nginx:1") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "web", "image": image,
                                                       "ports": [{"containerPort": 80}]}]}}},
    }


@pytest.fixture
def ns(cluster: ApiserverCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace per test, deleted (by the namespace controller) afterwards."""
    name = f"cm-{request.node.name.removeprefix('test_').replace('_', '-')[:40]}"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)
    wait_for(f"namespace {name} gone", lambda: _get(cluster, f"/api/v1/namespaces/{name}") is None, timeout=90)


def test_deployment_creates_replicaset_and_pods_and_scales(cluster: ApiserverCluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump(_deployment("web", 3)))
    wait_for("3 pods", lambda: len(_live_pods(cluster, ns, "app%3Dweb")) == 3)
    rss = _items(cluster, f"/apis/apps/v1/namespaces/{ns}/replicasets")
    assert len(rss) == 1 and rss[0]["metadata"]["ownerReferences"][0]["name"] == "web"
    wait_for("deployment available", lambda: (_get(cluster, f"/apis/apps/v1/namespaces/{ns}/deployments/web")
                                              or {}).get("status", {}).get("availableReplicas") == 3)
    cluster.kubectl("scale", "-n", ns, "deployment/web", "--replicas=5")
    wait_for("5 pods", lambda: len(_live_pods(cluster, ns, "app%3Dweb")) == 5)
    cluster.kubectl("scale", "-n", ns, "deployment/web", "--replicas=2")
    wait_for("2 pods", lambda: len(_live_pods(cluster, ns, "app%3Dweb")) == 2)
    wait_for("status caught up", lambda: (_get(cluster, f"/apis/apps/v1/namespaces/{ns}/deployments/web")
                                          or {}).get("status", {}).get("replicas") == 2)
    time.sleep(1.0)
    before = _get(cluster, f"/apis/apps/v1/namespaces/{ns}/deployments/web")
    time.sleep(2.0)  # settled: no more pods, and no write loop on the Deployment
    after = _get(cluster, f"/apis/apps/v1/namespaces/{ns}/deployments/web")
    assert len(_live_pods(cluster, ns, "app%3Dweb")) == 2
    assert before is not None and after is not None
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def _kubectl(cluster: ApiserverCluster, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return cluster.kubectl("--cache-dir", str(cluster.root / "kubectl-cache"), *args, check=check, timeout=120)


def _images(cluster: ApiserverCluster, ns: str, selector: str) -> set[str]:
    return {p["spec"]["containers"][0]["image"] for p in _live_pods(cluster, ns, selector)}


def test_rolling_update_finishes_and_undo_restores_the_old_template(cluster: ApiserverCluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump(_deployment("roll", 4)))
    _kubectl(cluster, "rollout", "status", "-n", ns, "deployment/roll", "--timeout=60s")
    _kubectl(cluster, "set", "image", "-n", ns, "deployment/roll", "web=nginx:2")
    result = _kubectl(cluster, "rollout", "status", "-n", ns, "deployment/roll", "--timeout=90s")
    assert "successfully rolled out" in result.stdout
    assert _images(cluster, ns, "app%3Droll") == {"nginx:2"}
    rss = _items(cluster, f"/apis/apps/v1/namespaces/{ns}/replicasets")
    assert sorted(rs["spec"]["replicas"] for rs in rss) == [0, 4]
    _kubectl(cluster, "rollout", "undo", "-n", ns, "deployment/roll")
    _kubectl(cluster, "rollout", "status", "-n", ns, "deployment/roll", "--timeout=90s")
    d = _get(cluster, f"/apis/apps/v1/namespaces/{ns}/deployments/roll")
    assert d is not None and d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1"
    revisions = {rs["spec"]["template"]["spec"]["containers"][0]["image"]:
                 rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                 for rs in _items(cluster, f"/apis/apps/v1/namespaces/{ns}/replicasets")}
    assert revisions == {"nginx:1": "3", "nginx:2": "2"}  # undo re-adopts the first template as revision 3
    wait_for("only old-template pods", lambda: _images(cluster, ns, "app%3Droll") == {"nginx:1"})


def test_service_gets_endpointslice_and_endpoints_of_ready_pods(cluster: ApiserverCluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump(_deployment("backend", 2)))
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "backend"},
           "spec": {"selector": {"app": "backend"}, "ports": [{"name": "http", "port": 8080, "targetPort": 80}]}}
    cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump(svc))

    def ready_ips() -> set[str]:
        return {p["status"]["podIP"] for p in _live_pods(cluster, ns, "app%3Dbackend")
                if (p.get("status") or {}).get("phase") == "Running"}

    def slice_ips() -> set[str]:
        slices = _items(cluster, f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"
                                 "?labelSelector=kubernetes.io%2Fservice-name%3Dbackend")
        return {a for s in slices for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready")
                for a in e["addresses"]}

    wait_for("2 ready pods", lambda: len(ready_ips()) == 2)
    wait_for("slice with the ready pods", lambda: slice_ips() == ready_ips())
    slices = _items(cluster, f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices")
    assert [p["port"] for s in slices for p in s.get("ports") or []] == [80]
    wait_for("endpoints with the ready pods", lambda: {
        a["ip"] for sub in (_get(cluster, f"/api/v1/namespaces/{ns}/endpoints/backend") or {}).get("subsets") or []
        for a in sub.get("addresses") or []} == ready_ips())


def test_deleting_a_deployment_removes_its_replicasets_and_pods(cluster: ApiserverCluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump(_deployment("gone", 2)))
    wait_for("2 pods", lambda: len(_live_pods(cluster, ns, "app%3Dgone")) == 2)
    cluster.kubectl("delete", "-n", ns, "deployment/gone", "--cascade=background", "--wait=false")
    wait_for("replicasets collected", lambda: not _items(cluster, f"/apis/apps/v1/namespaces/{ns}/replicasets"))
    wait_for("pods collected", lambda: not _items(cluster, f"/api/v1/namespaces/{ns}/pods"))


def test_deleting_a_namespace_removes_its_objects_then_the_namespace(cluster: ApiserverCluster) -> None:
    name = "cm-doomed"
    cluster.kubectl("create", "namespace", name)
    cluster.kubectl("create", "configmap", "-n", name, "settings", "--from-literal=a=b")
    cluster.kubectl("apply", "-n", name, "-f", "-", stdin=yaml.safe_dump(_deployment("app", 1)))
    wait_for("a pod", lambda: _live_pods(cluster, name, "app%3Dapp"))
    cluster.kubectl("delete", "namespace", name, "--wait=false")
    wait_for("namespace Terminating", lambda: (_get(cluster, f"/api/v1/namespaces/{name}") or {}).get(
        "status", {}).get("phase") in ("Terminating", None))
    wait_for("namespace gone", lambda: _get(cluster, f"/api/v1/namespaces/{name}") is None, timeout=90)
    for path in (f"/api/v1/namespaces/{name}/configmaps", f"/api/v1/namespaces/{name}/pods",
                 f"/apis/apps/v1/namespaces/{name}/deployments", f"/apis/apps/v1/namespaces/{name}/replicasets"):
        assert _items(cluster, path) == [], path


def test_every_namespace_gets_default_serviceaccount_and_root_ca(cluster: ApiserverCluster, ns: str) -> None:
    wait_for("default ServiceAccount", lambda: _get(cluster, f"/api/v1/namespaces/{ns}/serviceaccounts/default"))
    cm = wait_for("kube-root-ca.crt", lambda: _get(cluster, f"/api/v1/namespaces/{ns}/configmaps/kube-root-ca.crt"))
    assert cm["data"]["ca.crt"] == (cluster.pki / "ca.crt").read_text()
    cluster.kubectl("delete", "serviceaccount", "-n", ns, "default")
    wait_for("default ServiceAccount recreated",
             lambda: _get(cluster, f"/api/v1/namespaces/{ns}/serviceaccounts/default"))


def test_legacy_token_secret_gets_a_token_kubectl_can_use(cluster: ApiserverCluster, ns: str) -> None:
    cluster.kubectl("create", "serviceaccount", "-n", ns, "builder")
    wait_for("ServiceAccount", lambda: _get(cluster, f"/api/v1/namespaces/{ns}/serviceaccounts/builder"))
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
              "metadata": {"name": "builder-token", "annotations": {"kubernetes.io/service-account.name": "builder"}}}
    cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump(secret))
    filled = wait_for("token filled", lambda: (s := _get(cluster, f"/api/v1/namespaces/{ns}/secrets/builder-token"))
                      and "token" in (s.get("data") or {}) and s)
    data = {k: base64.b64decode(v).decode() for k, v in filled["data"].items()}
    assert data["namespace"] == ns and data["ca.crt"] == (cluster.pki / "ca.crt").read_text()
    sa = _get(cluster, f"/api/v1/namespaces/{ns}/serviceaccounts/builder")
    assert sa is not None
    assert filled["metadata"]["annotations"]["kubernetes.io/service-account.uid"] == sa["metadata"]["uid"]
    # The token alone (no client certificate) is who kubectl talks as.
    kubeconfig = cluster.root / f"{ns}-token.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "sa",
        "clusters": [{"name": "c", "cluster": {"server": cluster.apiservers[0].url,
                                               "certificate-authority": str(cluster.pki / "ca.crt")}}],
        "users": [{"name": "sa", "user": {"token": data["token"]}}],
        "contexts": [{"name": "sa", "context": {"cluster": "c", "user": "sa", "namespace": ns}}]}))
    whoami = _kubectl(cluster, "--kubeconfig", str(kubeconfig), "auth", "whoami", "-o", "json")
    assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == f"system:serviceaccount:{ns}:builder"
    # Deleting the account takes the Secret with it, and the token stops working.
    cluster.kubectl("delete", "serviceaccount", "-n", ns, "builder")
    wait_for("token Secret deleted", lambda: _get(cluster, f"/api/v1/namespaces/{ns}/secrets/builder-token") is None)
    refused = _kubectl(cluster, "--kubeconfig", str(kubeconfig), "auth", "whoami", check=False)
    assert refused.returncode != 0 and "Unauthorized" in refused.stderr


def _crd(group: str, plural: str, kind: str) -> dict[str, Any]:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "listKind": f"{kind}List"},
                     "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                         "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}


def test_gc_watches_a_crd_created_after_it_started(cluster: ApiserverCluster, ns: str) -> None:
    group, plural = f"{ns}.example.com", "widgets"
    cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(_crd(group, plural, "Widget")))
    try:
        path = f"/apis/{group}/v1/namespaces/{ns}/{plural}"
        wait_for("CRD served", lambda: _get(cluster, path) is not None)
        owner = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "owner"}}
        cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump(owner))
        got = _get(cluster, f"{path}/owner")
        assert got is not None
        owner_ref = {"apiVersion": f"{group}/v1", "kind": "Widget", "name": "owner", "uid": got["metadata"]["uid"]}
        dependent = {"apiVersion": f"{group}/v1", "kind": "Widget",
                     "metadata": {"name": "dependent", "ownerReferences": [owner_ref]}}
        # A built-in dependent too, which the collector may see before it knows the owner's kind.
        owned_map = {"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": "owned", "ownerReferences": [owner_ref]}}
        cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump_all([dependent, owned_map]))
        _kubectl(cluster, "delete", "-n", ns, f"{plural}.{group}/owner", "--cascade=background", "--wait=false")
        wait_for("dependent widget collected", lambda: _get(cluster, f"{path}/dependent") is None, timeout=90,
                 logs=lambda: cluster.processes.log("controller-manager-1")[-3000:])
        wait_for("dependent ConfigMap collected",
                 lambda: _get(cluster, f"/api/v1/namespaces/{ns}/configmaps/owned") is None, timeout=90)
    finally:
        cluster.kubectl("delete", "customresourcedefinition", f"{plural}.{group}", "--wait=false", check=False)


def _manager_lines(harness: Harness, message: str, resource: str) -> list[str]:
    """Log lines of every controller-manager started here that carry ``message`` about ``resource``."""
    return [line for name in harness.managers for line in harness.cluster.processes.log(name).splitlines()
            if message in line and resource in line]


def test_deleting_a_namespace_removes_custom_resources_of_a_crd_made_after_start(cluster: ApiserverCluster) -> None:
    name, group, plural = "cm-doomed-crd", "doomed.example.com", "gadgets"
    cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(_crd(group, plural, "Gadget")))
    try:
        cluster.kubectl("create", "namespace", name)
        path = f"/apis/{group}/v1/namespaces/{name}/{plural}"
        wait_for("CRD served", lambda: _get(cluster, path) is not None)
        gadget = {"apiVersion": f"{group}/v1", "kind": "Gadget", "metadata": {"name": "g1"}, "spec": {"size": 3}}
        cluster.kubectl("apply", "-n", name, "-f", "-", stdin=yaml.safe_dump(gadget))
        cluster.kubectl("delete", "namespace", name, "--wait=false")
        wait_for("namespace gone", lambda: _get(cluster, f"/api/v1/namespaces/{name}") is None, timeout=90,
                 logs=lambda: cluster.processes.log("controller-manager-1"))
        assert _items(cluster, path) == []
    finally:
        cluster.kubectl("delete", "customresourcedefinition", f"{plural}.{group}", "--wait=false", check=False)


def test_gc_stops_watching_a_deleted_crd_and_watches_it_again_when_made_again(harness: Harness, ns: str) -> None:
    cluster = harness.cluster
    group, plural = f"{ns}.example.com", "sprockets"
    crd = _crd(group, plural, "Sprocket")
    resource = f"/apis/{group}/v1/{plural}"
    cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(crd))
    try:
        wait_for("GC monitors the CRD", lambda: _manager_lines(harness, "monitors a new resource", resource),
                 logs=harness.logs)
        cluster.kubectl("delete", "customresourcedefinition", f"{plural}.{group}")
        wait_for("its informer stopped",
                 lambda: _manager_lines(harness, "stopped watching a resource no longer served", resource),
                 logs=harness.logs)
        cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(crd))
        path = f"/apis/{group}/v1/namespaces/{ns}/{plural}"
        wait_for("CRD served again", lambda: _get(cluster, path) is not None)
        wait_for("GC monitors it again",
                 lambda: len(_manager_lines(harness, "monitors a new resource", resource)) == 2, logs=harness.logs)
        sprocket = {"apiVersion": f"{group}/v1", "kind": "Sprocket"}
        cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump({**sprocket, "metadata": {"name": "owner"}}))
        owner = _get(cluster, f"{path}/owner")
        assert owner is not None
        dependent = {**sprocket, "metadata": {"name": "dependent", "ownerReferences": [
            {**sprocket, "name": "owner", "uid": owner["metadata"]["uid"]}]}}
        cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump(dependent))
        _kubectl(cluster, "delete", "-n", ns, f"{plural}.{group}/owner", "--cascade=background", "--wait=false")
        wait_for("dependent collected by the new monitor", lambda: _get(cluster, f"{path}/dependent") is None,
                 timeout=90, logs=harness.logs)
    finally:
        cluster.kubectl("delete", "customresourcedefinition", f"{plural}.{group}", "--wait=false", check=False)


def test_hpa_reports_what_the_metrics_api_could_not_give(cluster: ApiserverCluster, ns: str) -> None:
    # The fake node has no kubelet to scrape: metrics.k8s.io has no usage for its pods, so the HPA says so
    # and leaves the Deployment alone (the e2e test scales on real usage).
    cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump(_deployment("auto", 2)))
    wait_for("2 pods", lambda: len(_live_pods(cluster, ns, "app%3Dauto")) == 2)
    _kubectl(cluster, "autoscale", "-n", ns, "deployment/auto", "--cpu-percent=50", "--min=1", "--max=4")

    def active() -> dict[str, Any] | None:
        hpa = _get(cluster, f"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers/auto") or {}
        return {c["type"]: c for c in (hpa.get("status") or {}).get("conditions") or []}.get("ScalingActive")

    condition = wait_for("ScalingActive condition", active, logs=lambda: cluster.processes.log("controller-manager-1"))
    assert (condition["status"], condition["reason"]) == ("False", "FailedGetResourceMetric"), condition
    hpa = _get(cluster, f"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers/auto")
    assert hpa is not None and hpa["status"]["currentReplicas"] == 2
    events = _items(cluster, f"/api/v1/namespaces/{ns}/events?fieldSelector=involvedObject.name%3Dauto")
    assert "FailedGetResourceMetric" in {e["reason"] for e in events}
    assert len(_live_pods(cluster, ns, "app%3Dauto")) == 2


def test_nodes_get_distinct_pod_cidrs(cluster: ApiserverCluster) -> None:
    cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(_node("cidr-node")))
    try:
        def cidrs() -> dict[str, str] | None:
            got = {n["metadata"]["name"]: n["spec"].get("podCIDR", "") for n in _items(cluster, "/api/v1/nodes")}
            return got if all(got.values()) else None
        got: dict[str, str] = wait_for("pod CIDRs", cidrs)
        assert len(set(got.values())) == len(got)
        assert all(v.startswith("10.245.") and v.endswith("/24") for v in got.values())
    finally:
        cluster.kubectl("delete", "node", "cidr-node")


def test_job_with_two_completions_completes(cluster: ApiserverCluster, ns: str) -> None:
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "twice"},
           "spec": {"completions": 2, "parallelism": 1, "template": {
               "metadata": {"labels": {EXIT_LABEL: "0"}},
               "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}
    cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump(job))
    cluster.kubectl("wait", "-n", ns, "job/twice", "--for=condition=Complete", "--timeout=60s", timeout=90)
    status = (_get(cluster, f"/apis/batch/v1/namespaces/{ns}/jobs/twice") or {})["status"]
    assert status["succeeded"] == 2
    pods = _items(cluster, f"/api/v1/namespaces/{ns}/pods")
    assert len(pods) == 2 and all(not p["metadata"].get("finalizers") for p in pods)


def test_leader_failover_during_a_rollout(harness: Harness, ns: str) -> None:
    cluster = harness.cluster
    d = _deployment("failover", 4)
    d["spec"]["minReadySeconds"] = 2  # each rollout step waits, so the kill lands mid-rollout
    cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump(d))
    _kubectl(cluster, "rollout", "status", "-n", ns, "deployment/failover", "--timeout=60s")
    harness.start_manager("controller-manager-2")
    lease = _get(cluster, f"{LEASES}/kube-controller-manager")
    assert lease is not None
    first = lease["spec"]["holderIdentity"]
    _kubectl(cluster, "set", "image", "-n", ns, "deployment/failover", "web=nginx:2")
    wait_for("the rollout to start", lambda: "nginx:2" in _images(cluster, ns, "app%3Dfailover"))
    assert "caches synced" not in cluster.processes.log("controller-manager-2")  # a standby runs nothing
    leader = harness.managers["controller-manager-1"]
    leader.send_signal(signal.SIGKILL)
    leader.wait(timeout=10)
    assert _images(cluster, ns, "app%3Dfailover") != {"nginx:2"}  # not finished when the leader died

    def new_holder() -> str | None:
        got = _get(cluster, f"{LEASES}/kube-controller-manager")
        holder = ((got or {}).get("spec") or {}).get("holderIdentity")
        return holder if holder and holder != first else None

    wait_for("the standby to take the lease", new_holder, timeout=30, logs=harness.logs)
    _kubectl(cluster, "rollout", "status", "-n", ns, "deployment/failover", "--timeout=90s")
    assert _images(cluster, ns, "app%3Dfailover") == {"nginx:2"}


def test_rollout_pause_resume_and_restart(cluster: ApiserverCluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump(_deployment("ctl", 2)))
    _kubectl(cluster, "rollout", "status", "-n", ns, "deployment/ctl", "--timeout=60s")
    _kubectl(cluster, "rollout", "pause", "-n", ns, "deployment/ctl")
    _kubectl(cluster, "set", "image", "-n", ns, "deployment/ctl", "web=nginx:2")
    time.sleep(1.5)
    assert len(_items(cluster, f"/apis/apps/v1/namespaces/{ns}/replicasets")) == 1  # paused: no new ReplicaSet
    _kubectl(cluster, "rollout", "resume", "-n", ns, "deployment/ctl")
    _kubectl(cluster, "rollout", "status", "-n", ns, "deployment/ctl", "--timeout=60s")
    assert _images(cluster, ns, "app%3Dctl") == {"nginx:2"}
    _kubectl(cluster, "rollout", "restart", "-n", ns, "deployment/ctl")
    _kubectl(cluster, "rollout", "status", "-n", ns, "deployment/ctl", "--timeout=60s")
    assert len(_items(cluster, f"/apis/apps/v1/namespaces/{ns}/replicasets")) == 3


def _solo_manager(harness: Harness, name: str, *extra: str) -> subprocess.Popen[bytes]:
    """A manager electing on its own Lease ``name`` and running only an idle controller (IPAM, switched off)."""
    proc = harness.start_manager(name, "--leader-elect-resource-name", name, "--controllers", "nodeipam",
                                 "--allocate-node-cidrs=false", *extra)
    wait_for(f"{name} to lead", lambda: ((_get(harness.cluster, f"{LEASES}/{name}") or {}).get("spec") or {}).get(
        "holderIdentity"), timeout=30, logs=harness.logs)
    return proc


def test_losing_the_lease_exits_non_zero(harness: Harness) -> None:
    name = "cm-lease-thief"
    proc = _solo_manager(harness, name)
    try:
        lease = _get(harness.cluster, f"{LEASES}/{name}")
        assert lease is not None
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        lease["spec"].update(holderIdentity="intruder", renewTime=now, acquireTime=now, leaseDurationSeconds=300)
        code, body = harness.cluster.request("PUT", f"{LEASES}/{name}", json.dumps(lease).encode())
        assert code == 200, body
        assert proc.wait(timeout=20) == 1
        assert "leaderelection lost" in harness.cluster.processes.log(name)
    finally:
        harness.cluster.request("DELETE", f"{LEASES}/{name}")


def test_health_and_metrics_then_sigterm_releases_the_lease(harness: Harness) -> None:
    name = "cm-graceful"
    port = free_port()
    proc = _solo_manager(harness, name, "--secure-port", str(port))
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
            assert resp.read() == b"ok"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            assert "workqueue_depth_nodeipam 0" in resp.read().decode()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        lease = _get(harness.cluster, f"{LEASES}/{name}")
        assert lease is not None and not lease["spec"].get("holderIdentity")
    finally:
        harness.cluster.request("DELETE", f"{LEASES}/{name}")


def test_unknown_controller_is_a_usage_error() -> None:
    result = subprocess.run([str(BIN / "tinykube"), "controller-manager", "--controllers", "*,-bogus"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "unknown controllers -bogus" in result.stderr


def test_replicationcontroller_keeps_its_pods(cluster: ApiserverCluster, ns: str) -> None:
    rc = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "legacy"},
          "spec": {"replicas": 2, "selector": {"app": "legacy"},
                   "template": {"metadata": {"labels": {"app": "legacy"}},
                                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump(rc))
    wait_for("2 pods", lambda: len(_live_pods(cluster, ns, "app%3Dlegacy")) == 2)
    wait_for("status.readyReplicas 2", lambda: (_get(cluster, f"/api/v1/namespaces/{ns}/replicationcontrollers/legacy")
                                                or {}).get("status", {}).get("readyReplicas") == 2)


def test_quota_usage_and_disruption_budget_follow_the_pods(cluster: ApiserverCluster, ns: str) -> None:
    quota = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"}, "spec": {"hard": {"pods": "10"}}}
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "budget"},
           "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "guarded"}}}}
    for obj in (quota, pdb, _deployment("guarded", 2)):
        cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump(obj))
    wait_for("quota used 2 pods", lambda: (_get(cluster, f"/api/v1/namespaces/{ns}/resourcequotas/q")
                                           or {}).get("status", {}).get("used", {}).get("pods") == "2")

    def budget() -> dict[str, Any]:
        got = _get(cluster, f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/budget") or {}
        status: dict[str, Any] = got.get("status") or {}
        return status

    wait_for("budget with one disruption allowed", lambda: budget().get("disruptionsAllowed") == 1)
    assert (budget()["currentHealthy"], budget()["desiredHealthy"], budget()["expectedPods"]) == (2, 1, 2)


def test_node_lifecycle_marks_a_silent_node_unknown_and_taints_it(harness: Harness) -> None:
    cluster = harness.cluster
    stale = _node("silent-node")
    hour_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    stale["status"]["conditions"][0]["lastHeartbeatTime"] = hour_ago
    cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(stale))
    name = "cm-lifecycle"
    proc = harness.start_manager(name, "--leader-elect-resource-name", name, "--controllers", "nodelifecycle",
                                 "--node-monitor-grace-period", "4s", "--node-monitor-period", "1s")
    try:
        def ready_of(node: str) -> str:
            got = _get(cluster, f"/api/v1/nodes/{node}") or {}
            conds = got.get("status", {}).get("conditions") or []
            return next((c["status"] for c in conds if c["type"] == "Ready"), "")

        def taints() -> set[tuple[str, str]]:
            got = _get(cluster, "/api/v1/nodes/silent-node") or {}
            return {(t["key"], t["effect"]) for t in got.get("spec", {}).get("taints") or []}

        wait_for("silent node Unknown", lambda: ready_of("silent-node") == "Unknown", logs=harness.logs)
        wait_for("unreachable taints", lambda: taints() >= {("node.kubernetes.io/unreachable", "NoSchedule"),
                                                            ("node.kubernetes.io/unreachable", "NoExecute")})
        assert ready_of(NODE) == "True"  # the fake kubelet's Lease keeps its node alive
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        cluster.kubectl("delete", "node", "silent-node")
        cluster.request("DELETE", f"{LEASES}/{name}")


def test_daemonset_runs_a_pod_on_every_node(cluster: ApiserverCluster, ns: str) -> None:
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
          "spec": {"selector": {"matchLabels": {"app": "agent"}},
                   "template": {"metadata": {"labels": {"app": "agent"}},
                                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump(ds))
    nodes = {n["metadata"]["name"] for n in _items(cluster, "/api/v1/nodes")}

    def placed() -> set[str]:
        return {p["spec"].get("nodeName") or "" for p in _live_pods(cluster, ns, "app%3Dagent")}

    wait_for("one pod per node", lambda: placed() == nodes)
    wait_for("numberReady", lambda: (_get(cluster, f"/apis/apps/v1/namespaces/{ns}/daemonsets/agent") or {}).get(
        "status", {}).get("numberReady") == len(nodes))


def test_statefulset_creates_ordered_pods(cluster: ApiserverCluster, ns: str) -> None:
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
           "spec": {"replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                    "template": {"metadata": {"labels": {"app": "db"}},
                                 "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump(sts))
    wait_for("db-0..2", lambda: sorted(p["metadata"]["name"] for p in _live_pods(cluster, ns, "app%3Ddb"))
             == ["db-0", "db-1", "db-2"])
    _kubectl(cluster, "rollout", "status", "-n", ns, "statefulset/db", "--timeout=60s")


def test_foreground_and_orphan_deletion(cluster: ApiserverCluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump(_deployment("fg", 2)))
    cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump(_deployment("orphans", 2)))
    wait_for("4 pods", lambda: len(_live_pods(cluster, ns, "app+in+%28fg%2Corphans%29")) == 4)
    cluster.kubectl("delete", "-n", ns, "deployment/orphans", "--cascade=orphan")
    wait_for("orphaned replicaset", lambda: [rs for rs in _items(cluster, f"/apis/apps/v1/namespaces/{ns}/replicasets")
                                            if rs["metadata"]["name"].startswith("orphans-")
                                            and not rs["metadata"].get("ownerReferences")])
    cluster.kubectl("delete", "-n", ns, "deployment/fg", "--cascade=foreground", "--wait=false")
    held = _get(cluster, f"/apis/apps/v1/namespaces/{ns}/deployments/fg")
    assert held is not None and "foregroundDeletion" in held["metadata"]["finalizers"]
    wait_for("deployment gone after its dependents",
             lambda: _get(cluster, f"/apis/apps/v1/namespaces/{ns}/deployments/fg") is None)
    assert _live_pods(cluster, ns, "app%3Dfg") == []
    assert len(_live_pods(cluster, ns, "app%3Dorphans")) == 2  # the orphaned ReplicaSet still keeps its pods


def test_cronjob_runs_a_job_on_schedule(cluster: ApiserverCluster, ns: str) -> None:
    cj = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick"},
          "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {
              "metadata": {"labels": {EXIT_LABEL: "0"}},
              "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}}}
    cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump(cj))
    jobs = wait_for("a Job of the CronJob", lambda: _items(cluster, f"/apis/batch/v1/namespaces/{ns}/jobs"), timeout=90)
    assert jobs[0]["metadata"]["ownerReferences"][0]["name"] == "tick"
    wait_for("lastSuccessfulTime", lambda: (_get(cluster, f"/apis/batch/v1/namespaces/{ns}/cronjobs/tick")
                                            or {}).get("status", {}).get("lastSuccessfulTime"), timeout=60)



class PodWatcher:
    """Samples a namespace's pods until stopped: the extremes of live and ready counts, and of running ones;
    with ``deployment``, also the lowest availableReplicas and highest sum of ReplicaSet replicas."""

    def __init__(self, cluster: ApiserverCluster, ns: str, selector: str, deployment: str | None = None) -> None:
        self.cluster, self.ns, self.selector, self.deployment = cluster, ns, selector, deployment
        self.max_live = 0
        self.min_ready: int | None = None
        self.max_running = 0
        self.min_available: int | None = None
        self.max_rs_replicas = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> PodWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(0.05):
            pods = _live_pods(self.cluster, self.ns, self.selector)
            ready = sum(1 for p in pods if any(c["type"] == "Ready" and c["status"] == "True"
                                               for c in (p.get("status") or {}).get("conditions") or []))
            running = sum(1 for p in pods if (p.get("status") or {}).get("phase") in ("Pending", "Running", None))
            self.max_live = max(self.max_live, len(pods))
            self.min_ready = ready if self.min_ready is None else min(self.min_ready, ready)
            self.max_running = max(self.max_running, running)
            if self.deployment is not None:
                d = _get(self.cluster, f"/apis/apps/v1/namespaces/{self.ns}/deployments/{self.deployment}") or {}
                available = int(d.get("status", {}).get("availableReplicas") or 0)
                self.min_available = available if self.min_available is None else min(self.min_available, available)
                rss = _items(self.cluster, f"/apis/apps/v1/namespaces/{self.ns}/replicasets")
                self.max_rs_replicas = max(self.max_rs_replicas, sum(rs["spec"]["replicas"] for rs in rss))


def test_rollout_of_ten_never_exceeds_surge_or_unavailability(cluster: ApiserverCluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump(_deployment("ten", 10)))
    _kubectl(cluster, "rollout", "status", "-n", ns, "deployment/ten", "--timeout=60s")
    wait_for("10 ready", lambda: len(_live_pods(cluster, ns, "app%3Dten")) == 10)
    with PodWatcher(cluster, ns, "app%3Dten", deployment="ten") as watcher:
        _kubectl(cluster, "set", "image", "-n", ns, "deployment/ten", "web=nginx:2")
        _kubectl(cluster, "rollout", "status", "-n", ns, "deployment/ten", "--timeout=120s")
    assert _images(cluster, ns, "app%3Dten") == {"nginx:2"}
    assert watcher.max_live <= 11, watcher.max_live
    assert watcher.max_rs_replicas <= 11, watcher.max_rs_replicas
    assert watcher.min_available is not None and watcher.min_available >= 9, watcher.min_available
    # this dipped to 8 while the Deployment trusted a ReplicaSet status still counting pods being deleted
    assert watcher.min_ready is not None and watcher.min_ready >= 9, watcher.min_ready


def test_rollout_status_fails_on_progress_deadline(cluster: ApiserverCluster, ns: str) -> None:
    d = _deployment("stuck", 1)
    d["spec"]["progressDeadlineSeconds"] = 2
    d["spec"]["template"]["metadata"]["labels"][UNREADY_LABEL] = "yes"
    cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump(d))
    result = _kubectl(cluster, "rollout", "status", "-n", ns, "deployment/stuck", "--timeout=60s", check=False)
    assert result.returncode != 0
    assert "exceeded its progress deadline" in result.stderr


def test_job_respects_parallelism(cluster: ApiserverCluster, ns: str) -> None:
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "five"},
           "spec": {"completions": 5, "parallelism": 2, "template": {
               "metadata": {"labels": {"job": "five", EXIT_LABEL: "0"}},
               "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}
    with PodWatcher(cluster, ns, "job%3Dfive") as watcher:
        cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump(job))
        cluster.kubectl("wait", "-n", ns, "job/five", "--for=condition=Complete", "--timeout=60s", timeout=90)
    assert (_get(cluster, f"/apis/batch/v1/namespaces/{ns}/jobs/five") or {})["status"]["succeeded"] == 5
    assert 1 <= watcher.max_running <= 2, watcher.max_running


def _job(name: str, exit_code: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {**spec, "template": {
                "metadata": {"labels": {EXIT_LABEL: exit_code}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}


def test_failing_job_stops_at_backoff_limit(cluster: ApiserverCluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump(_job("doomed", "3", backoffLimit=0)))
    cluster.kubectl("wait", "-n", ns, "job/doomed", "--for=condition=Failed", "--timeout=60s", timeout=90)
    job = _get(cluster, f"/apis/batch/v1/namespaces/{ns}/jobs/doomed") or {}
    failed = next(c for c in job["status"]["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "BackoffLimitExceeded"
    assert job["status"]["failed"] == 1
    time.sleep(1.0)
    assert len(_items(cluster, f"/api/v1/namespaces/{ns}/pods")) == 1  # no retry beyond the limit


def test_finished_job_is_deleted_after_its_ttl(cluster: ApiserverCluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump(_job("brief", "0", ttlSecondsAfterFinished=1)))
    wait_for("job deleted after finishing", lambda: _get(cluster, f"/apis/batch/v1/namespaces/{ns}/jobs/brief") is None)
    wait_for("its pod collected", lambda: not _items(cluster, f"/api/v1/namespaces/{ns}/pods"))


def test_claim_binds_a_matching_volume(cluster: ApiserverCluster, ns: str) -> None:
    pv = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": f"{ns}-pv"},
          "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "manual",
                   "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": "/tmp/unused"}}}
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
           "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "manual",
                    "resources": {"requests": {"storage": "500Mi"}}}}
    cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(pv))
    try:
        cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump(pvc))
        def bound_claim() -> dict[str, Any] | None:
            claim = _get(cluster, f"/api/v1/namespaces/{ns}/persistentvolumeclaims/data") or {}
            return claim if claim.get("status", {}).get("phase") == "Bound" else None

        assert wait_for("claim Bound", bound_claim)["spec"]["volumeName"] == f"{ns}-pv"
        wait_for("volume Bound", lambda: (_get(cluster, f"/api/v1/persistentvolumes/{ns}-pv") or {}).get(
            "status", {}).get("phase") == "Bound")
    finally:
        cluster.kubectl("delete", "persistentvolume", f"{ns}-pv", "--wait=false")
        wait_for("volume deleted", lambda: _get(cluster, f"/api/v1/persistentvolumes/{ns}-pv") is None)
