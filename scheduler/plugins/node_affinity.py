"""NodeAffinity: `nodeSelector` and required node affinity filter nodes; preferred terms score them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from scheduler.cache import Cache
from scheduler.events import Action, ClusterEvent, Resource
from scheduler.framework import (
    SKIP,
    CycleState,
    FilterPlugin,
    PreFilterPlugin,
    PreScorePlugin,
    ScorePlugin,
    StateData,
    Status,
    default_normalize,
    unresolvable,
)
from scheduler.nodeinfo import NodeInfo
from scheduler.nodeselector import PreferredTerm, RequiredNodeAffinity, compile_preferred, required_node_affinity
from scheduler.podinfo import PodInfo

REASON: Final = "node(s) didn't match Pod's node affinity/selector"
_REJECTED: Final = unresolvable(REASON, plugin="NodeAffinity")


@dataclass(slots=True)
class _Required(StateData):
    affinity: RequiredNodeAffinity

    def clone(self) -> _Required:
        return self


@dataclass(slots=True)
class _Preferred(StateData):
    terms: tuple[PreferredTerm, ...]

    def clone(self) -> _Preferred:
        return self


class NodeAffinity(PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin):
    """Hard and soft node constraints; a `metadata.name` matchFields term narrows the nodes looked at."""

    name = "NodeAffinity"

    def events_to_register(self) -> Sequence[ClusterEvent]:
        return (ClusterEvent(Resource.NODE, Action.ADD | Action.UPDATE_NODE_LABEL),)

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Cache) -> Status | None:
        required = required_node_affinity(pod.spec)
        if required.empty:
            return SKIP
        if required.selector is not None:
            if not required.selector.terms:
                return _REJECTED
            names = required.selector.node_names()
            if names is not None:
                state.narrow(self.name, names)
        state.write(self.name, _Required(required))
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        required = state.read(self.name, _Required).affinity
        return None if required.matches(node.name, node.labels) else _REJECTED

    def pre_score(self, state: CycleState, pod: PodInfo, snapshot: Cache, nodes: Sequence[NodeInfo]) -> Status | None:
        node_affinity = (pod.spec.get("affinity") or {}).get("nodeAffinity") or {}
        terms = compile_preferred(node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution"))
        if not terms:
            return SKIP
        state.write(self.name + "/preferred", _Preferred(terms))
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        terms = state.read(self.name + "/preferred", _Preferred).terms
        return sum(t.weight for t in terms if t.term.matches(node.name, node.labels))

    def normalize(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        default_normalize(scores)
