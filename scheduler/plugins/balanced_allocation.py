"""NodeResourcesBalancedAllocation: prefer nodes whose CPU and memory would be used in similar proportions."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from scheduler.cache import Cache
from scheduler.framework import MAX_NODE_SCORE, SKIP, CycleState, PreScorePlugin, ScorePlugin, Status
from scheduler.nodeinfo import NodeInfo
from scheduler.podinfo import PodInfo
from scheduler.resources import CPU, MEMORY


class BalancedAllocation(PreScorePlugin, ScorePlugin):
    """Score = (1 - standard deviation of the requested fractions) x 100, on actual (not defaulted) requests."""

    name = "NodeResourcesBalancedAllocation"

    def __init__(self, args: Mapping[str, Any] | None = None) -> None:
        raw = (args or {}).get("resources")
        self.resources: tuple[str, ...] = tuple(r["name"] for r in raw) if raw else (CPU, MEMORY)

    def pre_score(self, state: CycleState, pod: PodInfo, snapshot: Cache, nodes: Sequence[NodeInfo]) -> Status | None:
        # A pod that requests none of the resources does not change any node's balance.
        if not any(pod.requests.get(r) for r in self.resources):
            return SKIP
        return None

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        if self.resources != (CPU, MEMORY):
            return super().score_nodes(state, pod, nodes)
        # CPU and memory, the default: the standard deviation of two fractions is half their distance.
        cpu, memory = pod.requests.milli_cpu, pod.requests.memory
        out: list[int] = []
        append = out.append
        for node in nodes:
            alloc, used = node.allocatable, node.requested
            cpu_cap, mem_cap = alloc.milli_cpu, alloc.memory
            if cpu_cap and mem_cap:
                f_cpu = (used.milli_cpu + cpu) / cpu_cap
                f_mem = (used.memory + memory) / mem_cap
                # Capped at 1 (an overcommitted node is as full as a full one); inline, as min() costs a call.
                f_cpu = f_cpu if f_cpu < 1.0 else 1.0
                f_mem = f_mem if f_mem < 1.0 else 1.0
                diff = f_cpu - f_mem if f_cpu > f_mem else f_mem - f_cpu
                append(int((1 - diff / 2) * MAX_NODE_SCORE))
            else:
                append(self.score(state, pod, node))
        return out

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        fractions: list[float] = []
        for name in self.resources:
            capacity = node.allocatable.get(name)
            if capacity == 0:
                continue
            fractions.append(min((node.requested.get(name) + pod.requests.get(name)) / capacity, 1.0))
        if len(fractions) == 2:
            std = abs(fractions[0] - fractions[1]) / 2
        elif len(fractions) > 2:
            mean = sum(fractions) / len(fractions)
            std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
        else:
            std = 0.0
        return int((1 - std) * MAX_NODE_SCORE)
