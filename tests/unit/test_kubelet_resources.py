"""QoS classes and the cgroup settings derived from them, checked against Kubernetes' documented numbers."""

from __future__ import annotations

from typing import Any

import pytest

from kubelet.cgroups_plan import (
    CgroupResources,
    container_resources,
    milli_cpu_to_quota,
    milli_cpu_to_shares,
    oom_score_adj,
    pod_cgroup_parent,
    pod_resources,
)
from kubelet.qos import BEST_EFFORT, BURSTABLE, GUARANTEED, effective_pod_requests, qos_class

GI = 1024**3


def container(name: str = "c", requests: dict[str, str] | None = None,
              limits: dict[str, str] | None = None) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return {"name": name, "image": "busybox", "resources": resources}


def pod(*containers: dict[str, Any], inits: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "default", "uid": "u1"},
            "spec": {"containers": list(containers), "initContainers": inits or []}}


@pytest.mark.parametrize(("pod_obj", "expected"), [
    (pod(container()), BEST_EFFORT),
    (pod(container(requests={"cpu": "0", "memory": "0"})), BEST_EFFORT),
    (pod(container(requests={"cpu": "100m"})), BURSTABLE),
    (pod(container(limits={"cpu": "1", "memory": "1Gi"})), GUARANTEED),  # requests default to limits
    (pod(container(requests={"cpu": "1", "memory": "1Gi"}, limits={"cpu": "1", "memory": "1Gi"})), GUARANTEED),
    (pod(container(requests={"cpu": "500m", "memory": "1Gi"}, limits={"cpu": "1", "memory": "1Gi"})), BURSTABLE),
    (pod(container(limits={"cpu": "1"})), BURSTABLE),
    (pod(container(limits={"cpu": "1", "memory": "1Gi"}), container("d")), BURSTABLE),
    (pod(container(requests={"ephemeral-storage": "1Gi"})), BEST_EFFORT),
    (pod(container(limits={"cpu": "1", "memory": "1Gi"}), inits=[container("i")]), BURSTABLE),
])
def test_qos_class(pod_obj: dict[str, Any], expected: str) -> None:
    assert qos_class(pod_obj) == expected


def test_shares_and_quota_follow_kubernetes_arithmetic() -> None:
    assert milli_cpu_to_shares(0) == 2
    assert milli_cpu_to_shares(1) == 2
    assert milli_cpu_to_shares(100) == 102
    assert milli_cpu_to_shares(1000) == 1024
    assert milli_cpu_to_shares(10**6) == 262144
    assert milli_cpu_to_quota(0) == 0
    assert milli_cpu_to_quota(5) == 1000
    assert milli_cpu_to_quota(250) == 25000
    assert milli_cpu_to_quota(2000) == 200000


def test_container_resources_for_each_class() -> None:
    g = pod(container(limits={"cpu": "500m", "memory": "128Mi"}))
    assert container_resources(g, g["spec"]["containers"][0], 8 * GI) == CgroupResources(
        cpu_shares=512, cpu_quota=50000, cpu_period=100000, memory_limit_in_bytes=128 * 1024**2,
        oom_score_adj=-997)
    b = pod(container(requests={"cpu": "250m", "memory": "2Gi"}))
    res = container_resources(b, b["spec"]["containers"][0], 8 * GI)
    assert (res.cpu_shares, res.cpu_quota, res.memory_limit_in_bytes) == (256, 0, 0)
    assert res.oom_score_adj == 1000 - (1000 * 2 * GI) // (8 * GI) == 750
    e = pod(container())
    assert container_resources(e, e["spec"]["containers"][0], 8 * GI) == CgroupResources(
        cpu_shares=2, oom_score_adj=1000)


def test_burstable_oom_score_stays_between_the_other_classes() -> None:
    huge = pod(container(requests={"memory": "16Gi"}))
    assert oom_score_adj(huge, huge["spec"]["containers"][0], 8 * GI) == 2
    tiny = pod(container(requests={"memory": "1"}))
    assert oom_score_adj(tiny, tiny["spec"]["containers"][0], 8 * GI) == 999


def test_cgroup_parent_by_class() -> None:
    assert pod_cgroup_parent(pod(container(limits={"cpu": "1", "memory": "1Gi"}))) == "kubepods/podu1"
    assert pod_cgroup_parent(pod(container(requests={"cpu": "1"}))) == "kubepods/burstable/podu1"
    assert pod_cgroup_parent(pod(container()), root="/tk") == "tk/kubepods/besteffort/podu1"


def test_pod_level_resources_take_init_maximum_and_cap_only_when_all_cap() -> None:
    p = pod(container("a", limits={"cpu": "1", "memory": "1Gi"}),
            container("b", limits={"cpu": "500m", "memory": "512Mi"}),
            inits=[container("i", limits={"cpu": "2", "memory": "256Mi"})])
    res = pod_resources(p)
    assert res.cpu_shares == milli_cpu_to_shares(2000)
    assert res.cpu_quota == 200000
    assert res.memory_limit_in_bytes == GI + 512 * 1024**2
    uncapped = pod(container("a", limits={"cpu": "1"}), container("b", requests={"cpu": "1"}))
    res = pod_resources(uncapped)
    assert (res.cpu_shares, res.cpu_quota, res.memory_limit_in_bytes) == (2048, 0, 0)
    assert pod_resources(pod(container())) == CgroupResources(cpu_shares=2)
    assert effective_pod_requests(p)["cpu"].milli_value() == 2000

