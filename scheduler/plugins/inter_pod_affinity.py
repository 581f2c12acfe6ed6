"""InterPodAffinity: pod affinity and anti-affinity between the incoming pod and the pods already placed.

PreFilter counts, per topology domain (`(topologyKey, value)`), the existing pods that match each of the
incoming pod's required terms and the existing pods whose required anti-affinity matches the incoming pod;
Filter then only looks the node's domains up. Preferred terms of both sides feed the score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from scheduler.cache import Cache
from scheduler.events import Action, ClusterEvent, Resource
from scheduler.framework import (
    MAX_NODE_SCORE,
    SKIP,
    CycleState,
    FilterPlugin,
    NodeFilter,
    PreFilterExtensions,
    PreFilterPlugin,
    PreScorePlugin,
    ScorePlugin,
    StateData,
    Status,
    unresolvable,
    unschedulable,
)
from scheduler.nodeinfo import NodeInfo
from scheduler.podinfo import AffinityTerm, PodInfo

AFFINITY_REASON: Final = "node(s) didn't match pod affinity rules"
ANTI_AFFINITY_REASON: Final = "node(s) didn't match pod anti-affinity rules"
EXISTING_ANTI_AFFINITY_REASON: Final = "node(s) didn't satisfy existing pods anti-affinity rules"
_AFFINITY_REJECTED: Final = unresolvable(AFFINITY_REASON, plugin="InterPodAffinity")
_ANTI_REJECTED: Final = unschedulable(ANTI_AFFINITY_REASON, plugin="InterPodAffinity")
_EXISTING_REJECTED: Final = unschedulable(EXISTING_ANTI_AFFINITY_REASON, plugin="InterPodAffinity")
# Weight given to existing pods' *required* affinity terms when scoring (hardPodAffinityWeight).
DEFAULT_HARD_POD_AFFINITY_WEIGHT: Final = 1

TopologyPair = tuple[str, str]


def _add(counts: dict[TopologyPair, int], pair: TopologyPair, delta: int) -> None:
    value = counts.get(pair, 0) + delta
    if value:
        counts[pair] = value
    else:
        counts.pop(pair, None)


def _matches_all(terms: Sequence[AffinityTerm], pod: PodInfo, ns_labels: Mapping[str, Mapping[str, str]]) -> bool:
    return bool(terms) and all(t.matches(pod, ns_labels) for t in terms)


@dataclass(slots=True)
class _FilterState(StateData):
    ns_labels: Mapping[str, Mapping[str, str]]
    existing_anti: dict[TopologyPair, int] = field(default_factory=dict)
    affinity: dict[TopologyPair, int] = field(default_factory=dict)
    anti: dict[TopologyPair, int] = field(default_factory=dict)

    def clone(self) -> _FilterState:
        return _FilterState(self.ns_labels, dict(self.existing_anti), dict(self.affinity), dict(self.anti))


@dataclass(slots=True)
class _ScoreState(StateData):
    topology_scores: dict[str, dict[str, int]]

    def clone(self) -> _ScoreState:
        return self


class InterPodAffinity(PreFilterPlugin, PreFilterExtensions, FilterPlugin, PreScorePlugin, ScorePlugin):
    """Required terms filter, preferred terms (and existing pods' terms, symmetrically) score."""

    name = "InterPodAffinity"

    def __init__(self, hard_pod_affinity_weight: int = DEFAULT_HARD_POD_AFFINITY_WEIGHT) -> None:
        self.hard_pod_affinity_weight = hard_pod_affinity_weight

    def events_to_register(self) -> Sequence[ClusterEvent]:
        return (
            ClusterEvent(Resource.ASSIGNED_POD, Action.ADD | Action.DELETE | Action.UPDATE_POD_LABEL),
            ClusterEvent(Resource.NODE, Action.ADD | Action.UPDATE_NODE_LABEL),
            ClusterEvent(Resource.NAMESPACE, Action.ADD | Action.UPDATE_OTHER),
        )

    # --- filter ---

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Cache) -> Status | None:
        if not pod.required_affinity and not pod.required_anti_affinity and not snapshot.anti_affinity_pods:
            return SKIP
        ns_labels = snapshot.namespace_labels
        data = _FilterState(ns_labels)
        node_info = snapshot.node_info
        # Existing pods' anti-affinity, once per distinct term rather than once per pod.
        for term, per_node in snapshot.anti_affinity_terms.items():
            if not term.matches(pod, ns_labels):
                continue
            for node_name, count in per_node.items():
                node = node_info(node_name)
                value = None if node is None else node.labels.get(term.topology_key)
                if value is not None:
                    _add(data.existing_anti, (term.topology_key, value), count)
        if pod.required_affinity:
            for other, node_name in snapshot.pods_selected_by(pod.required_affinity[0].selector):
                node = node_info(node_name)
                if node is None or not _matches_all(pod.required_affinity, other, ns_labels):
                    continue
                for term in pod.required_affinity:
                    value = node.labels.get(term.topology_key)
                    if value is not None:
                        _add(data.affinity, (term.topology_key, value), 1)
        for term in pod.required_anti_affinity:
            for other, node_name in snapshot.pods_selected_by(term.selector):
                node = node_info(node_name)
                value = None if node is None else node.labels.get(term.topology_key)
                if value is not None and term.matches(other, ns_labels):
                    _add(data.anti, (term.topology_key, value), 1)
        state.write(self.name, data)
        return None

    def _count(self, data: _FilterState, pod: PodInfo, node: NodeInfo, other: PodInfo, sign: int) -> None:
        """Account one pod appearing on (or leaving) a node, as preemption's simulations need."""
        node_labels = node.labels
        ns_labels = data.ns_labels
        for term in other.required_anti_affinity:
            value = node_labels.get(term.topology_key)
            if value is not None and term.matches(pod, ns_labels):
                _add(data.existing_anti, (term.topology_key, value), sign)
        if pod.required_affinity and _matches_all(pod.required_affinity, other, ns_labels):
            for term in pod.required_affinity:
                value = node_labels.get(term.topology_key)
                if value is not None:
                    _add(data.affinity, (term.topology_key, value), sign)
        for term in pod.required_anti_affinity:
            value = node_labels.get(term.topology_key)
            if value is not None and term.matches(other, ns_labels):
                _add(data.anti, (term.topology_key, value), sign)

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        data = state.get(self.name, _FilterState)
        if data is not None:
            self._count(data, pod, node, other, 1)

    def remove_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        data = state.get(self.name, _FilterState)
        if data is not None:
            self._count(data, pod, node, other, -1)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        check = self._check(state, pod)
        return None if check is None else check(node)

    def node_filter(self, state: CycleState, pod: PodInfo, snapshot: Cache) -> NodeFilter | None:
        return self._check(state, pod)

    def _check(self, state: CycleState, pod: PodInfo) -> NodeFilter | None:
        """The node test over PreFilter's per-domain counts; None when no domain holds a matching pod."""
        data = state.read(self.name, _FilterState)
        affinity_counts, anti_counts, existing_anti = data.affinity, data.anti, data.existing_anti
        affinity_keys = tuple(t.topology_key for t in pod.required_affinity)
        # The first pod of a group with affinity to itself may go anywhere that has the topology keys.
        first_of_group = not affinity_counts and _matches_all(pod.required_affinity, pod, data.ns_labels)
        anti_keys = tuple(t.topology_key for t in pod.required_anti_affinity) if anti_counts else ()
        if not affinity_keys and not anti_keys and not existing_anti:
            return None

        def check(node: NodeInfo) -> Status | None:
            node_labels = node.labels
            if affinity_keys:
                all_present = True
                for key in affinity_keys:
                    value = node_labels.get(key)
                    if value is None:
                        return _AFFINITY_REJECTED
                    if affinity_counts.get((key, value), 0) <= 0:
                        all_present = False
                if not all_present and not first_of_group:
                    return _AFFINITY_REJECTED
            for key in anti_keys:
                value = node_labels.get(key)
                if value is not None and anti_counts.get((key, value), 0) > 0:
                    return _ANTI_REJECTED
            if existing_anti:
                for pair in node_labels.items():
                    if existing_anti.get(pair, 0) > 0:
                        return _EXISTING_REJECTED
            return None

        return check

    # --- score ---

    def pre_score(self, state: CycleState, pod: PodInfo, snapshot: Cache, nodes: Sequence[NodeInfo]) -> Status | None:
        has_preferred = bool(pod.preferred_affinity or pod.preferred_anti_affinity)
        if not has_preferred and not snapshot.scoring_affinity_pods:
            return SKIP
        ns_labels = snapshot.namespace_labels
        scores: dict[str, dict[str, int]] = {}

        def bump(key: str, node_labels: Mapping[str, str], weight: int) -> None:
            value = node_labels.get(key)
            if value is not None:
                per_key = scores.setdefault(key, {})
                per_key[value] = per_key.get(value, 0) + weight

        for terms, sign in ((pod.preferred_affinity, 1), (pod.preferred_anti_affinity, -1)):
            for w in terms:
                for other, node_name in snapshot.pods_selected_by(w.term.selector):
                    node = snapshot.node_info(node_name)
                    if node is not None and w.term.matches(other, ns_labels):
                        bump(w.term.topology_key, node.labels, sign * w.weight)
        # Existing pods' terms about the incoming pod (symmetry), from the cache's per-term index: replicas
        # share terms, so each distinct term is matched once and counts for every pod that carries it.
        symmetric: list[tuple[AffinityTerm, int, dict[str, int]]] = [
            (term, weight, per_node) for (term, weight), per_node in snapshot.preferred_terms.items()]
        if self.hard_pod_affinity_weight:
            symmetric.extend((term, self.hard_pod_affinity_weight, per_node)
                             for term, per_node in snapshot.affinity_terms.items())
        for term, weight, per_node in symmetric:
            if not term.matches(pod, ns_labels):
                continue
            for node_name, count in per_node.items():
                node = snapshot.node_info(node_name)
                if node is not None:
                    bump(term.topology_key, node.labels, weight * count)
        if not scores:
            return SKIP
        state.write(self.name + "/score", _ScoreState(scores))
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return self.score_nodes(state, pod, (node,))[0]

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        """Each node's sum of PreScore's weights for its domains."""
        per_key = tuple(state.read(self.name + "/score", _ScoreState).topology_scores.items())
        out: list[int] = []
        for node in nodes:
            node_labels = node.labels
            total = 0
            for key, per_value in per_key:
                value = node_labels.get(key)
                if value is not None:
                    total += per_value.get(value, 0)
            out.append(total)
        return out

    def normalize(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        if not scores:
            return
        low, high = min(scores), max(scores)
        spread = high - low
        for i, s in enumerate(scores):
            scores[i] = int(MAX_NODE_SCORE * (s - low) / spread) if spread > 0 else 0
