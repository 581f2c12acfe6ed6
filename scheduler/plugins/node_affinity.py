"""NodeAffinity: `nodeSelector` and required node affinity filter nodes; preferred terms score them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from scheduler.cache import Cache
from scheduler.events import Action, ClusterEvent, Resource
from scheduler.framework import (
    SKIP,
    CycleState,
    FilterPlugin,
    NodeFilter,
    PreFilterPlugin,
    PreScorePlugin,
    ScorePlugin,
    StateData,
    Status,
    default_normalize,
    unresolvable,
)
from scheduler.nodeinfo import NodeInfo
from scheduler.nodeselector import (
    NodeLabelMemo,
    PreferredTerm,
    RequiredNodeAffinity,
    compile_preferred,
    required_node_affinity,
)
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

    def __init__(self) -> None:
        self._matches: NodeLabelMemo[bool] = NodeLabelMemo()
        self._weights: NodeLabelMemo[int] = NodeLabelMemo()

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
        return self._check(state)(node)

    def node_filter(self, state: CycleState, pod: PodInfo, snapshot: Cache) -> NodeFilter | None:
        return self._check(state)

    def _check(self, state: CycleState) -> NodeFilter:
        affinity = state.read(self.name, _Required).affinity
        matches = self._matches.lookup(affinity, affinity.matches)
        return lambda node: None if matches(node.name, node.labels) else _REJECTED

    def pre_score(self, state: CycleState, pod: PodInfo, snapshot: Cache, nodes: Sequence[NodeInfo]) -> Status | None:
        node_affinity = (pod.spec.get("affinity") or {}).get("nodeAffinity") or {}
        terms = compile_preferred(node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution"))
        if not terms:
            return SKIP
        state.write(self.name + "/preferred", _Preferred(terms))
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return self.score_nodes(state, pod, (node,))[0]

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        terms = state.read(self.name + "/preferred", _Preferred).terms

        def weight(name: str, node_labels: Mapping[str, str]) -> int:
            return sum(t.weight for t in terms if t.term.matches(name, node_labels))

        weigh = self._weights.lookup(terms, weight)
        return [weigh(n.name, n.labels) for n in nodes]

    def normalize(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        default_normalize(scores)
