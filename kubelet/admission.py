"""Pod admission on the node: a pod that does not fit what is left of allocatable is rejected, not run.

The scheduler normally prevents this, but pods bound by ``nodeName`` (or static pods) skip it, so the kubelet
checks again as upstream does (lifecycle's predicate admit handler), with its reasons (``OutOfcpu``,
``OutOfmemory``, ``OutOfpods``) and wording.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from api.quantity import Quantity
from kubelet.qos import effective_pod_requests


@dataclass(frozen=True)
class Rejection:
    """Why the pod may not run here: the pod's status reason and message."""

    reason: str
    message: str


def _amount(resource: str, q: Quantity) -> int:
    return q.milli_value() if resource == "cpu" else q.int_value()


def admit(pod: Mapping[str, Any], active: Sequence[Mapping[str, Any]],
          allocatable: Mapping[str, str]) -> Rejection | None:
    """None when ``pod`` fits next to the ``active`` pods; else the first resource it overflows."""
    if "pods" in allocatable and len(active) + 1 > int(allocatable["pods"]):
        capacity = int(allocatable["pods"])
        return Rejection("OutOfpods", "Pod was rejected: Node didn't have enough resource: pods, requested: 1, "
                                      f"used: {len(active)}, capacity: {capacity}")
    wanted = effective_pod_requests(pod)
    for resource in ("cpu", "memory"):
        if resource not in wanted or resource not in allocatable:
            continue
        requested = _amount(resource, wanted[resource])
        used = sum(_amount(resource, q) for other in active
                   if (q := effective_pod_requests(other).get(resource)) is not None)
        capacity = _amount(resource, Quantity.parse(allocatable[resource]))
        if used + requested > capacity:
            return Rejection(f"OutOf{resource}", "Pod was rejected: Node didn't have enough resource: "
                                                 f"{resource}, requested: {requested}, used: {used}, "
                                                 f"capacity: {capacity}")
    return None
