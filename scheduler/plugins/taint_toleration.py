"""TaintToleration: NoSchedule/NoExecute taints repel pods that do not tolerate them; PreferNoSchedule scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scheduler.cache import Cache
from scheduler.events import Action, ClusterEvent, Resource
from scheduler.framework import (
    SKIP,
    CycleState,
    FilterPlugin,
    NodeFilter,
    PreScorePlugin,
    ScorePlugin,
    StateData,
    Status,
    default_normalize,
    unresolvable,
)
from scheduler.nodeinfo import NodeInfo
from scheduler.podinfo import PodInfo, tolerates_any

_HARD_EFFECTS = frozenset(("NoSchedule", "NoExecute"))


def untolerated_reason(taint: Mapping[str, Any]) -> str:
    """Kubernetes' reason text, `{key: value}` with an empty value kept."""
    return f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '')}}}"


@dataclass(slots=True)
class _PreferTolerations(StateData):
    tolerations: tuple[Mapping[str, Any], ...]

    def clone(self) -> _PreferTolerations:
        return self


class TaintToleration(FilterPlugin, PreScorePlugin, ScorePlugin):
    """The first hard taint the pod does not tolerate rejects the node; fewer soft taints score higher."""

    name = "TaintToleration"

    def events_to_register(self) -> Sequence[ClusterEvent]:
        return (ClusterEvent(Resource.NODE, Action.ADD | Action.UPDATE_NODE_TAINT),)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        for taint in node.taints:
            if taint.get("effect") in _HARD_EFFECTS and not tolerates_any(pod.tolerations, taint):
                return unresolvable(untolerated_reason(taint), plugin=self.name)
        return None

    def node_filter(self, state: CycleState, pod: PodInfo, snapshot: Cache) -> NodeFilter | None:
        if not snapshot.hard_tainted_nodes:
            return None
        filter_ = self.filter
        return lambda node: filter_(state, pod, node) if node.taints else None

    def pre_score(self, state: CycleState, pod: PodInfo, snapshot: Cache, nodes: Sequence[NodeInfo]) -> Status | None:
        if not snapshot.soft_tainted_nodes:
            return SKIP  # every node would score alike
        soft = tuple(t for t in pod.tolerations if (t.get("effect") or "PreferNoSchedule") == "PreferNoSchedule")
        state.write(self.name, _PreferTolerations(soft))
        return None

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        score = self.score
        return [score(state, pod, n) if n.taints else 0 for n in nodes]

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        if not node.taints:
            return 0
        tolerations = state.read(self.name, _PreferTolerations).tolerations
        return sum(
            1 for t in node.taints if t.get("effect") == "PreferNoSchedule" and not tolerates_any(tolerations, t)
        )

    def normalize(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        default_normalize(scores, reverse=True)
