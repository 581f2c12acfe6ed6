"""Pod QoS classes as Kubernetes computes them (pkg/apis/core/helper/qos): Guaranteed, Burstable, BestEffort.

The class decides the pod's cgroup parent, its OOM score and the order in which eviction picks victims,
so every one of those reads it from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from api.quantity import Quantity

GUARANTEED: Final = "Guaranteed"
BURSTABLE: Final = "Burstable"
BEST_EFFORT: Final = "BestEffort"

# Only these resources take part in QoS; extended resources and ephemeral-storage do not.
QOS_RESOURCES: Final = ("cpu", "memory")


def _nonzero(values: Mapping[str, Any] | None) -> dict[str, Quantity]:
    out: dict[str, Quantity] = {}
    for name, text in (values or {}).items():
        if name in QOS_RESOURCES:
            q = Quantity.parse(str(text))
            if q.value != 0:
                out[name] = q
    return out


def container_requests(container: Mapping[str, Any]) -> dict[str, Quantity]:
    """Non-zero cpu/memory requests, with a missing request taken from its limit (API defaulting does the same)."""
    resources = container.get("resources") or {}
    requests = _nonzero(resources.get("requests"))
    for name, q in _nonzero(resources.get("limits")).items():
        requests.setdefault(name, q)
    return requests


def container_limits(container: Mapping[str, Any]) -> dict[str, Quantity]:
    """Non-zero cpu/memory limits."""
    return _nonzero((container.get("resources") or {}).get("limits"))


def _all_containers(spec: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    yield from spec.get("initContainers") or []
    yield from spec.get("containers") or []


def qos_class(pod: Mapping[str, Any]) -> str:
    """The pod's QoS class: Guaranteed only when every container limits both cpu and memory at its request."""
    spec = pod.get("spec") or {}
    requests: dict[str, Quantity] = {}
    limits: dict[str, Quantity] = {}
    guaranteed = True
    for container in _all_containers(spec):
        c_requests = container_requests(container)
        c_limits = container_limits(container)
        for name, q in c_requests.items():
            requests[name] = requests.get(name, Quantity(0)) + q
        for name, q in c_limits.items():
            limits[name] = limits.get(name, Quantity(0)) + q
        if set(c_limits) != set(QOS_RESOURCES):
            guaranteed = False
    if not requests and not limits:
        return BEST_EFFORT
    if guaranteed and set(limits) == set(QOS_RESOURCES) and all(
            requests.get(name) == limits[name] for name in QOS_RESOURCES):
        return GUARANTEED
    return BURSTABLE


def effective_pod_requests(pod: Mapping[str, Any]) -> dict[str, Quantity]:
    """What the pod reserves: the larger of the sum over its containers and any single init container.

    Init containers run one at a time before the app containers, so the pod needs the maximum of the two,
    which is what the scheduler and eviction's "usage over requests" both use.
    """
    spec = pod.get("spec") or {}
    total: dict[str, Quantity] = {}
    for container in spec.get("containers") or []:
        for name, q in container_requests(container).items():
            total[name] = total.get(name, Quantity(0)) + q
    for container in spec.get("initContainers") or []:
        for name, q in container_requests(container).items():
            if q > total.get(name, Quantity(0)):
                total[name] = q
    return total
