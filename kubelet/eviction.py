"""Node-pressure eviction: ``--eviction-hard`` thresholds, pressure conditions, and victim ranking.

Pure, as Kubernetes' eviction manager's helpers are: observations and pod usage come in, decisions come out.
Ranking follows upstream: for memory, pods using more than they requested first, then lower priority,
then larger usage above request (so BestEffort pods go first and Guaranteed pods last); disk likewise with
ephemeral-storage; PIDs by priority then process count. The matching ``node.kubernetes.io/*-pressure``
taints follow from the conditions; the node lifecycle controller sets them, as upstream.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Final

from api.quantity import Quantity
from kubelet.qos import container_requests, effective_pod_requests

MEMORY_AVAILABLE: Final = "memory.available"
NODEFS_AVAILABLE: Final = "nodefs.available"
NODEFS_INODES_FREE: Final = "nodefs.inodesFree"
IMAGEFS_AVAILABLE: Final = "imagefs.available"
PID_AVAILABLE: Final = "pid.available"
SIGNALS: Final = (MEMORY_AVAILABLE, NODEFS_AVAILABLE, NODEFS_INODES_FREE, IMAGEFS_AVAILABLE, PID_AVAILABLE)

DEFAULT_EVICTION_HARD: Final = "memory.available<100Mi,nodefs.available<10%,nodefs.inodesFree<5%,imagefs.available<15%"

CONDITION_OF: Final = {MEMORY_AVAILABLE: "MemoryPressure", NODEFS_AVAILABLE: "DiskPressure",
                       NODEFS_INODES_FREE: "DiskPressure", IMAGEFS_AVAILABLE: "DiskPressure",
                       PID_AVAILABLE: "PIDPressure"}
RESOURCE_OF: Final = {MEMORY_AVAILABLE: "memory", NODEFS_AVAILABLE: "ephemeral-storage",
                      NODEFS_INODES_FREE: "inodes", IMAGEFS_AVAILABLE: "ephemeral-storage", PID_AVAILABLE: "pids"}

# Priorities at or above this (system-cluster-critical and up) are never evicted for node pressure.
CRITICAL_PRIORITY: Final = 2_000_000_000
PRESSURE_TRANSITION_SECONDS: Final = 300.0


class ThresholdError(ValueError):
    """An ``--eviction-hard`` entry that cannot be parsed."""


@dataclass(frozen=True)
class Threshold:
    """``signal < value``: an absolute quantity or a fraction of capacity."""

    signal: str
    quantity: Quantity | None = None
    percentage: Fraction | None = None

    def limit(self, capacity: int) -> int:
        """The threshold in absolute units for a signal whose capacity is ``capacity``."""
        if self.quantity is not None:
            return self.quantity.int_value()
        return int((self.percentage or Fraction(0)) * capacity)

    def text(self, capacity: int) -> str:
        """The threshold as the eviction message quotes it."""
        if self.quantity is not None:
            return str(self.quantity)
        return str(Quantity(self.limit(capacity), "BinarySI"))


def parse_thresholds(text: str) -> list[Threshold]:
    """``memory.available<100Mi,nodefs.available<10%`` → thresholds; only ``<`` is allowed, as upstream."""
    out: list[Threshold] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        signal, op, value = part.partition("<")
        if not op:
            raise ThresholdError(f"invalid eviction threshold syntax {part!r}, expected <signal><operator><value>")
        if signal not in SIGNALS:
            raise ThresholdError(f"unsupported eviction signal {signal}")
        if value.endswith("%"):
            pct = Fraction(value[:-1]) / 100
            if not 0 <= pct <= 1:
                raise ThresholdError(f"eviction percentage threshold {signal} must be >= 0% and <= 100%: {value}")
            out.append(Threshold(signal, percentage=pct))
        else:
            q = Quantity.parse(value)
            if q.value < 0:
                raise ThresholdError(f"eviction threshold {signal} must be positive: {value}")
            out.append(Threshold(signal, quantity=q))
    return out


@dataclass(frozen=True)
class Observation:
    """A signal's current value and the capacity that percentages refer to."""

    available: int
    capacity: int


@dataclass
class PressureState:
    """When each pressure condition was last observed, for the transition period's hysteresis."""

    last_observed: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Evaluation:
    """Thresholds crossed now, and the pressure conditions to report (held for the transition period)."""

    crossed: list[Threshold]
    conditions: frozenset[str]


def evaluate(thresholds: Sequence[Threshold], observations: Mapping[str, Observation], state: PressureState,
             now: float, transition_seconds: float = PRESSURE_TRANSITION_SECONDS) -> Evaluation:
    """Which thresholds are crossed and which pressure conditions hold (until quiet for ``transition_seconds``)."""
    crossed = []
    for t in thresholds:
        obs = observations.get(t.signal)
        if obs is not None and obs.available < t.limit(obs.capacity):
            crossed.append(t)
            state.last_observed[CONDITION_OF[t.signal]] = now
    held = frozenset(c for c, at in state.last_observed.items() if now - at < transition_seconds or
                     any(CONDITION_OF[t.signal] == c for t in crossed))
    return Evaluation(crossed, held)


@dataclass(frozen=True)
class PodUsage:
    """A pod's measured usage: per-container memory working set and disk bytes, and its process count."""

    pod: Mapping[str, Any]
    memory: Mapping[str, int] = field(default_factory=dict)
    disk: Mapping[str, int] = field(default_factory=dict)
    processes: int = 0


def _priority(pod: Mapping[str, Any]) -> int:
    return int((pod.get("spec") or {}).get("priority") or 0)


def _request(pod: Mapping[str, Any], resource: str) -> int:
    if resource == "memory":
        q = effective_pod_requests(pod).get("memory")
        return q.int_value() if q is not None else 0
    return sum(_container_request(c, resource) for c in (pod.get("spec") or {}).get("containers") or [])


def _container_request(container: Mapping[str, Any], resource: str) -> int:
    if resource in ("cpu", "memory"):
        q = container_requests(container).get(resource)
    else:
        text = ((container.get("resources") or {}).get("requests") or {}).get(resource)
        q = Quantity.parse(str(text)) if text is not None else None
    return q.int_value() if q is not None else 0


def rank(signal: str, pods: Sequence[PodUsage]) -> list[PodUsage]:
    """Pods in eviction order for ``signal``; critical pods are left out."""
    candidates = [p for p in pods if _priority(p.pod) < CRITICAL_PRIORITY]
    if signal == PID_AVAILABLE:
        return sorted(candidates, key=lambda p: (_priority(p.pod), -p.processes))
    resource, usage_of = ("memory", "memory") if signal == MEMORY_AVAILABLE else ("ephemeral-storage", "disk")

    def key(p: PodUsage) -> tuple[int, int, int]:
        used = sum((p.memory if usage_of == "memory" else p.disk).values())
        over = used - _request(p.pod, resource)
        return (0 if over > 0 else 1, _priority(p.pod), -over)

    return sorted(candidates, key=key)


def eviction_message(threshold: Threshold, observation: Observation, victim: PodUsage) -> str:
    """The pod's status message, worded as the kubelet's eviction manager words it."""
    resource = RESOURCE_OF[threshold.signal]
    message = f"The node was low on resource: {resource}. "
    available = Quantity(observation.available, "DecimalSI" if resource in ("pids", "inodes") else "BinarySI")
    message += f"Threshold quantity: {threshold.text(observation.capacity)}, available: {available}. "
    usage = victim.memory if resource == "memory" else victim.disk if resource == "ephemeral-storage" else {}
    for c in (victim.pod.get("spec") or {}).get("containers") or []:
        name = c.get("name", "")
        used = usage.get(name)
        if used is None:
            continue
        request = _container_request(c, resource)
        if used > request:
            message += (f"Container {name} was using {Quantity(used, 'BinarySI')}, request is "
                        f"{Quantity(request, 'BinarySI') if request else 0}, has larger consumption of {resource}. ")
    return message


def evicted_status(message: str, now_text: str) -> dict[str, Any]:
    """The status patch for an evicted pod: Failed/Evicted plus the DisruptionTarget condition."""
    return {"phase": "Failed", "reason": "Evicted", "message": message,
            "conditions": [{"type": "DisruptionTarget", "status": "True", "reason": "TerminationByKubelet",
                            "message": message, "lastTransitionTime": now_text}]}
