"""NodeResourcesFit: the pod's effective requests must fit what the node has left; scores how full nodes get.

Scoring follows the profile's `scoringStrategy`: LeastAllocated (the default) spreads pods onto emptier
nodes, MostAllocated packs them. CPU and memory are scored with the scheduler's non-zero defaults so that
request-less pods still count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from scheduler.cache import Cache
from scheduler.events import Action, ClusterEvent, Resource
from scheduler.framework import MAX_NODE_SCORE, Code, CycleState, FilterPlugin, NodeFilter, ScorePlugin, Status
from scheduler.nodeinfo import NodeInfo
from scheduler.podinfo import PodInfo
from scheduler.resources import CPU, EPHEMERAL_STORAGE, MEMORY

LEAST_ALLOCATED: Final = "LeastAllocated"
MOST_ALLOCATED: Final = "MostAllocated"
DEFAULT_RESOURCES: Final = ((CPU, 1), (MEMORY, 1))
TOO_MANY_PODS: Final = "Too many pods"


class ConfigError(ValueError):
    """Plugin arguments the scheduler cannot run with; raised when the profile is built."""


def insufficient(pod: PodInfo, node: NodeInfo) -> tuple[list[str], bool]:
    """Reasons the pod does not fit, and whether any of them holds even on an empty node (unresolvable)."""
    reasons: list[str] = []
    unresolvable = False
    alloc, used, want = node.allocatable, node.requested, pod.requests
    if used.pods + 1 > alloc.pods:
        reasons.append(TOO_MANY_PODS)
    if want.milli_cpu and want.milli_cpu > alloc.milli_cpu - used.milli_cpu:
        reasons.append("Insufficient cpu")
        unresolvable |= want.milli_cpu > alloc.milli_cpu
    if want.memory and want.memory > alloc.memory - used.memory:
        reasons.append("Insufficient memory")
        unresolvable |= want.memory > alloc.memory
    if want.ephemeral_storage and want.ephemeral_storage > alloc.ephemeral_storage - used.ephemeral_storage:
        reasons.append("Insufficient ephemeral-storage")
        unresolvable |= want.ephemeral_storage > alloc.ephemeral_storage
    for name, amount in want.scalar.items():
        if amount and amount > alloc.scalar.get(name, 0) - used.scalar.get(name, 0):
            reasons.append(f"Insufficient {name}")
            unresolvable |= amount > alloc.scalar.get(name, 0)
    return reasons, unresolvable


class NodeResourcesFit(FilterPlugin, ScorePlugin):
    """Filter on requests vs allocatable; score by the configured strategy and resource weights."""

    name = "NodeResourcesFit"

    def __init__(self, args: Mapping[str, Any] | None = None) -> None:
        strategy = (args or {}).get("scoringStrategy") or {}
        self.strategy: str = strategy.get("type") or LEAST_ALLOCATED
        if self.strategy not in (LEAST_ALLOCATED, MOST_ALLOCATED):
            raise ConfigError(
                f"NodeResourcesFit scoringStrategy.type {self.strategy!r} is not supported; "
                f"use {LEAST_ALLOCATED} or {MOST_ALLOCATED}"
            )
        raw = strategy.get("resources")
        self.resources: tuple[tuple[str, int], ...] = (
            tuple((r["name"], int(r.get("weight", 1))) for r in raw) if raw else DEFAULT_RESOURCES
        )

    def events_to_register(self) -> Sequence[ClusterEvent]:
        return (
            ClusterEvent(Resource.ASSIGNED_POD, Action.DELETE | Action.UPDATE_POD_SCALE_DOWN),
            ClusterEvent(Resource.NODE, Action.ADD | Action.UPDATE_NODE_ALLOCATABLE),
        )

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        return self._check(pod)(node)

    def node_filter(self, state: CycleState, pod: PodInfo, snapshot: Cache) -> NodeFilter | None:
        return self._check(pod)

    def _check(self, pod: PodInfo) -> NodeFilter:
        want = pod.requests
        cpu, memory, storage = want.milli_cpu, want.memory, want.ephemeral_storage
        scalar = bool(want.scalar)

        def check(node: NodeInfo) -> Status | None:
            alloc, used = node.allocatable, node.requested
            # Fast path: the common pod asks for CPU and memory only, and fits.
            if (
                used.pods < alloc.pods
                and cpu <= alloc.milli_cpu - used.milli_cpu
                and memory <= alloc.memory - used.memory
                and storage <= alloc.ephemeral_storage - used.ephemeral_storage
                and not scalar
            ):
                return None
            return self._rejection(pod, node)

        return check

    def _rejection(self, pod: PodInfo, node: NodeInfo) -> Status | None:
        reasons, unresolvable = insufficient(pod, node)
        if not reasons:
            return None
        return Status(
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE if unresolvable else Code.UNSCHEDULABLE, tuple(reasons), self.name
        )

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        if self.resources != DEFAULT_RESOURCES or self.strategy != LEAST_ALLOCATED:
            return super().score_nodes(state, pod, nodes)
        # LeastAllocated over CPU and memory with equal weights: the default, and the hot path.
        cpu, memory = pod.non_zero_cpu, pod.non_zero_memory
        out: list[int] = []
        append = out.append
        for node in nodes:
            alloc = node.allocatable
            cpu_cap, mem_cap = alloc.milli_cpu, alloc.memory
            if cpu_cap and mem_cap:
                cpu_req, mem_req = node.non_zero_cpu + cpu, node.non_zero_memory + memory
                cpu_score = 0 if cpu_req > cpu_cap else (cpu_cap - cpu_req) * MAX_NODE_SCORE // cpu_cap
                mem_score = 0 if mem_req > mem_cap else (mem_cap - mem_req) * MAX_NODE_SCORE // mem_cap
                append((cpu_score + mem_score) // 2)
            else:
                append(self.score(state, pod, node))
        return out

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        total = weights = 0
        least = self.strategy == LEAST_ALLOCATED
        for name, weight in self.resources:
            if name == CPU:
                capacity, requested = node.allocatable.milli_cpu, node.non_zero_cpu + pod.non_zero_cpu
            elif name == MEMORY:
                capacity, requested = node.allocatable.memory, node.non_zero_memory + pod.non_zero_memory
            else:
                if name == EPHEMERAL_STORAGE:
                    asked = pod.requests.ephemeral_storage
                else:
                    asked = pod.requests.scalar.get(name, 0)
                if not asked:
                    continue
                capacity, requested = node.allocatable.get(name), node.requested.get(name) + asked
            if capacity == 0:
                continue
            if least:
                value = 0 if requested > capacity else (capacity - requested) * MAX_NODE_SCORE // capacity
            else:
                value = MAX_NODE_SCORE if requested > capacity else requested * MAX_NODE_SCORE // capacity
            total += value * weight
            weights += weight
        return total // weights if weights else 0
