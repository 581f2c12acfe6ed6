"""The HorizontalPodAutoscaler on real usage: a real kubelet and runtime run a CPU-burning pod, the apiserver's
metrics.k8s.io reports its usage, and the controller-manager scales the Deployment up."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.runtime_support import wait_for
from tests.support.apiserver_cluster import BIN, ApiserverCluster
from tests.support.kubelet_node import DEFAULT_IMAGES, kubelet_argv, running_runtime
from tests.support.ports import free_port
from tests.support.processes import Processes

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="containers need root"),
    pytest.mark.skipif(not (DEFAULT_IMAGES / "index.json").exists(), reason="needs .venv/images"),
]


def _deployment(name: str, node: str) -> dict[str, Any]:
    """One host-network busybox that burns up to 200m against a 50m request: about 400 % utilization."""
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {
                         "nodeName": node, "hostNetwork": True, "terminationGracePeriodSeconds": 1,
                         "containers": [{"name": "burner", "image": "busybox", "imagePullPolicy": "IfNotPresent",
                                         "command": ["/bin/sh", "-c", "while :; do :; done"],
                                         "resources": {"requests": {"cpu": "50m"},
                                                       "limits": {"cpu": "200m", "memory": "32Mi"}}}]}}}}


@pytest.fixture
def cluster(tmp_path: Path, processes: Processes) -> Iterator[ApiserverCluster]:
    c = ApiserverCluster(processes, free_port, tmp_path / "cluster", apiservers=1)
    c.start()
    yield c


def test_hpa_scales_a_deployment_on_cpu_usage(cluster: ApiserverCluster, tmp_path: Path, prefix: str,
                                               processes: Processes) -> None:
    node, name = f"{prefix}-node", f"{prefix}-burn"
    with running_runtime(tmp_path, prefix, processes, None) as endpoint:
        processes.start("kubelet", kubelet_argv(cluster.apiservers[0].kubeconfig, endpoint, node,
                                                tmp_path / "kubelet", free_port()))
        processes.start("controller-manager", [
            str(BIN / "tinykube"), "controller-manager", "--kubeconfig", str(cluster.apiservers[0].kubeconfig),
            "--secure-port", "0", "--leader-elect=false",
            "--controllers", "deployment,replicaset,horizontalpodautoscaling"])
        try:
            wait_for(lambda: cluster.kubectl("get", "node", node, check=False).returncode == 0, 30, "the Node")
            cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(_deployment(name, node)))
            cluster.kubectl("rollout", "status", f"deployment/{name}", "--timeout=120s", timeout=130)
            cluster.kubectl("autoscale", f"deployment/{name}", "--cpu-percent=50", "--min=1", "--max=2")

            def hpa() -> dict[str, Any]:
                out: dict[str, Any] = json.loads(cluster.kubectl("get", "hpa", name, "-o", "json").stdout)
                return out

            limited_status: list[dict[str, Any]] = []

            def limited() -> bool:
                # While the second pod has no metrics yet, it counts as idle (as upstream does), which can
                # bring the ratio within range for a moment: the limit shows once every pod reports usage.
                status: dict[str, Any] = hpa().get("status", {})
                reasons = {c["type"]: c["reason"] for c in status.get("conditions") or []}
                if reasons.get("ScalingLimited") != "TooManyReplicas":
                    return False
                limited_status.append(status)
                return True

            wait_for(lambda: int(hpa().get("status", {}).get("desiredReplicas") or 0) == 2, 120,
                     f"the HPA to want 2 replicas: {hpa().get('status')}")
            wait_for(limited, 60, "the HPA to be limited by its maximum")
            status = limited_status[-1]
            assert status["currentMetrics"][0]["resource"]["current"]["averageUtilization"] > 50, status
            reasons = {c["type"]: c["reason"] for c in status["conditions"]}
            assert (reasons["ScalingActive"], reasons["ScalingLimited"]) == ("ValidMetricFound", "TooManyReplicas"), \
                status
            wait_for(lambda: cluster.kubectl_json("get", "deployment", name)["spec"]["replicas"] == 2, 30,
                     "the Deployment scaled to 2")
        finally:
            # No garbage collector runs here: scale to zero so the kubelet stops the pods, then delete the rest.
            cluster.kubectl("delete", "hpa", name, "--ignore-not-found", check=False)
            cluster.kubectl("scale", f"deployment/{name}", "--replicas=0", check=False)
            wait_for(lambda: not cluster.kubectl_json("get", "pods", "-l", f"app={name}")["items"], 60,
                     "the pods gone")
            cluster.kubectl("delete", "deployment", name, "--ignore-not-found", check=False)
            cluster.kubectl("delete", "replicasets", "-l", f"app={name}", check=False)
            cluster.kubectl("delete", "node", node, "--ignore-not-found", check=False)
