"""From a pod's resources to cgroup settings: the pod's cgroup parent and the CRI ``LinuxContainerResources``.

The arithmetic is Kubernetes' (pkg/kubelet/cm helpers): cpu shares from requests (1 CPU = 1024 shares,
at least 2), CFS quota from limits over a 100 ms period (at least 1 ms), memory limit in bytes, and the OOM
score that makes the kernel kill BestEffort before Burstable before Guaranteed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kubelet.qos import BEST_EFFORT, GUARANTEED, container_limits, container_requests, qos_class

MIN_SHARES: Final = 2
MAX_SHARES: Final = 262144
SHARES_PER_CPU: Final = 1024
QUOTA_PERIOD_US: Final = 100_000
MIN_QUOTA_US: Final = 1000

GUARANTEED_OOM_SCORE_ADJ: Final = -997
BEST_EFFORT_OOM_SCORE_ADJ: Final = 1000
KUBEPODS: Final = "kubepods"


@dataclass(frozen=True)
class CgroupResources:
    """The fields of CRI's LinuxContainerResources we set; zero means "leave unlimited"."""

    cpu_shares: int = 0
    cpu_quota: int = 0
    cpu_period: int = 0
    memory_limit_in_bytes: int = 0
    oom_score_adj: int = 0
    cpuset_cpus: str = ""


def milli_cpu_to_shares(milli_cpu: int) -> int:
    """cpu.shares for a request; a zero request still gets the minimum so the cgroup is valid."""
    if milli_cpu == 0:
        return MIN_SHARES
    shares = milli_cpu * SHARES_PER_CPU // 1000
    return max(MIN_SHARES, min(MAX_SHARES, shares))


def milli_cpu_to_quota(milli_cpu: int, period_us: int = QUOTA_PERIOD_US) -> int:
    """cfs_quota_us for a limit; 0 means no limit, and tiny limits are raised to the kernel's 1 ms minimum."""
    if milli_cpu == 0:
        return 0
    return max(MIN_QUOTA_US, milli_cpu * period_us // 1000)


def oom_score_adj(pod: Mapping[str, Any], container: Mapping[str, Any], memory_capacity: int) -> int:
    """The container's oom_score_adj: Burstable scales with its memory request so bigger requests live longer."""
    qos = qos_class(pod)
    if qos == GUARANTEED:
        return GUARANTEED_OOM_SCORE_ADJ
    if qos == BEST_EFFORT:
        return BEST_EFFORT_OOM_SCORE_ADJ
    request = container_requests(container).get("memory")
    request_bytes = request.int_value() if request is not None else 0
    adj = 1000 - (1000 * request_bytes) // max(memory_capacity, 1)
    # Burstable must stay strictly between Guaranteed and BestEffort.
    if adj < 2:
        return 2
    if adj == BEST_EFFORT_OOM_SCORE_ADJ:
        return BEST_EFFORT_OOM_SCORE_ADJ - 1
    return adj


def container_resources(pod: Mapping[str, Any], container: Mapping[str, Any],
                        memory_capacity: int, cpuset: str = "") -> CgroupResources:
    """What to send in CreateContainer for ``container``; ``cpuset`` is the static CPU manager's exclusive set."""
    requests = container_requests(container)
    limits = container_limits(container)
    cpu_request = requests.get("cpu")
    cpu_limit = limits.get("cpu")
    memory_limit = limits.get("memory")
    quota = milli_cpu_to_quota(cpu_limit.milli_value()) if cpu_limit is not None else 0
    return CgroupResources(
        cpu_shares=milli_cpu_to_shares(cpu_request.milli_value() if cpu_request is not None else 0),
        cpu_quota=quota,
        cpu_period=QUOTA_PERIOD_US if quota else 0,
        memory_limit_in_bytes=memory_limit.int_value() if memory_limit is not None else 0,
        oom_score_adj=oom_score_adj(pod, container, memory_capacity),
        cpuset_cpus=cpuset,
    )


def pod_cgroup_parent(pod: Mapping[str, Any], root: str = "") -> str:
    """``kubepods/pod<uid>`` for Guaranteed, ``kubepods/<qos>/pod<uid>`` otherwise (the cgroupfs driver's layout)."""
    uid = (pod.get("metadata") or {}).get("uid", "")
    qos = qos_class(pod)
    parts = [root.strip("/")] if root.strip("/") else []
    parts.append(KUBEPODS)
    if qos != GUARANTEED:
        parts.append(qos.lower())
    parts.append(f"pod{uid}")
    return "/".join(parts)


def pod_resources(pod: Mapping[str, Any]) -> CgroupResources:
    """Limits on the pod cgroup: shares from summed requests; quota and memory only when every container caps them.

    Init containers run alone, so for each resource the pod needs the larger of the app containers' sum and
    the biggest init container.
    """
    spec = pod.get("spec") or {}
    qos = qos_class(pod)
    if qos == BEST_EFFORT:
        return CgroupResources(cpu_shares=MIN_SHARES)
    containers = list(spec.get("containers") or [])
    inits = list(spec.get("initContainers") or [])

    def need(pick: str, resource: str) -> tuple[int, bool]:
        total, capped = 0, True
        for c in containers:
            q = (container_requests(c) if pick == "requests" else container_limits(c)).get(resource)
            if q is None:
                capped = False
                continue
            total += q.milli_value() if resource == "cpu" else q.int_value()
        for c in inits:
            q = (container_requests(c) if pick == "requests" else container_limits(c)).get(resource)
            if q is None:
                capped = False
                continue
            total = max(total, q.milli_value() if resource == "cpu" else q.int_value())
        return total, capped

    cpu_request, _ = need("requests", "cpu")
    cpu_limit, cpu_capped = need("limits", "cpu")
    memory_limit, memory_capped = need("limits", "memory")
    quota = milli_cpu_to_quota(cpu_limit) if cpu_capped and cpu_limit else 0
    return CgroupResources(
        cpu_shares=milli_cpu_to_shares(cpu_request),
        cpu_quota=quota,
        cpu_period=QUOTA_PERIOD_US if quota else 0,
        memory_limit_in_bytes=memory_limit if memory_capped else 0,
    )

