"""``tinykube kubelet --hollow`` against real apiservers: registration, Lease renewal, pods reported Running,
deletions confirmed — the kubemark path scheduler and controller benchmarks rely on."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.support.apiserver_cluster import ApiserverCluster, cluster_fixture
from tests.support.polling import wait_for

cluster = cluster_fixture("hollow", scope="function")


def get(cluster: ApiserverCluster, path: str) -> dict[str, Any]:
    code, body = cluster.request("GET", path)
    return body if code == 200 else {}


def test_hollow_node_registers_heartbeats_and_runs_pods(cluster: ApiserverCluster, tmp_path: Path,
                                                       prefix: str) -> None:
    node = f"{prefix}-hollow"
    cluster.processes.start("kubelet", [
        sys.executable, "-m", "tinykube.cli", "kubelet", "--hollow", "--kubeconfig",
        str(cluster.apiservers[0].kubeconfig), "--hostname-override", node, "--node-ip", "127.0.0.2",
        "--root-dir", str(tmp_path / "kubelet"), "--node-labels", "tier=hollow",
        "--register-with-taints", "bench=true:PreferNoSchedule", "--max-pods", "50",
        "--node-status-update-frequency", "1s"])
    try:
        registered = wait_for(lambda: get(cluster, f"/api/v1/nodes/{node}"), 30, "the Node")
        assert registered["metadata"]["labels"]["tier"] == "hollow"
        assert registered["metadata"]["labels"]["kubernetes.io/hostname"] == node
        assert registered["spec"]["taints"] == [{"key": "bench", "value": "true", "effect": "PreferNoSchedule"}]

        def ready() -> bool:
            conds = get(cluster, f"/api/v1/nodes/{node}").get("status", {}).get("conditions", [])
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)

        wait_for(ready, 30, "the node to be Ready")
        status = get(cluster, f"/api/v1/nodes/{node}")["status"]
        assert status["capacity"]["pods"] == "50" and status["addresses"][0]["address"] == "127.0.0.2"
        lease_path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node}"
        lease = wait_for(lambda: get(cluster, lease_path), 30, "the node Lease")
        assert lease["spec"]["holderIdentity"] == node and lease["spec"]["leaseDurationSeconds"] == 40
        assert lease["metadata"]["ownerReferences"][0]["uid"] == registered["metadata"]["uid"]
        first_renew = lease["spec"]["renewTime"]
        wait_for(lambda: get(cluster, lease_path)["spec"]["renewTime"] != first_renew, 15, "a Lease renewal")

        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"{prefix}-p", "namespace": "default"},
               "spec": {"nodeName": node, "containers": [{"name": "app", "image": "busybox"}]}}
        code, created = cluster.request("POST", "/api/v1/namespaces/default/pods", json.dumps(pod).encode())
        assert code == 201, created
        pod_path = f"/api/v1/namespaces/default/pods/{prefix}-p"

        def running() -> dict[str, Any]:
            st = get(cluster, pod_path).get("status", {})
            return st if st.get("phase") == "Running" else {}

        st = wait_for(running, 30, "the pod to run")
        assert st["podIP"].startswith("10.250.") and st["hostIP"] == "127.0.0.2"
        assert {c["type"]: c["status"] for c in st["conditions"]}["Ready"] == "True"
        assert st["containerStatuses"][0]["ready"] and "running" in st["containerStatuses"][0]["state"]
        table = cluster.kubectl("get", "pod", f"{prefix}-p", "-o", "wide").stdout
        assert "Running" in table and node in table

        code, _ = cluster.request("DELETE", pod_path)
        assert code == 200
        wait_for(lambda: cluster.request("GET", pod_path)[0] == 404, 30, "the kubelet to confirm the deletion")
    finally:
        cluster.request("DELETE", f"/api/v1/nodes/{node}")


def test_one_process_plays_many_hollow_nodes(cluster: ApiserverCluster, tmp_path: Path, prefix: str) -> None:
    cluster.processes.start("kubelet", [
        sys.executable, "-m", "tinykube.cli", "kubelet", "--hollow", "--hollow-nodes", "3", "--kubeconfig",
        str(cluster.apiservers[0].kubeconfig), "--hostname-override", prefix, "--node-ip", "127.0.0.2",
        "--root-dir", str(tmp_path / "kubelet"), "--pod-cidr", "10.251.0.0/16"])
    nodes = [f"{prefix}-{i}" for i in range(3)]
    try:
        wait_for(lambda: all(get(cluster, f"/api/v1/nodes/{n}") for n in nodes), 30, "the three nodes")
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"{prefix}-p", "namespace": "default"},
               "spec": {"nodeName": nodes[2], "containers": [{"name": "app", "image": "busybox"}]}}
        code, _ = cluster.request("POST", "/api/v1/namespaces/default/pods", json.dumps(pod).encode())
        assert code == 201
        pod_path = f"/api/v1/namespaces/default/pods/{prefix}-p"
        ip = wait_for(lambda: get(cluster, pod_path).get("status", {}).get("podIP"), 30, "the pod's IP")
        assert ip.startswith("10.251.2.")  # node 2 hands out from the third /24
        cluster.request("DELETE", pod_path)
        wait_for(lambda: cluster.request("GET", pod_path)[0] == 404, 30, "the deletion")
    finally:
        for node in nodes:
            cluster.request("DELETE", f"/api/v1/nodes/{node}")
