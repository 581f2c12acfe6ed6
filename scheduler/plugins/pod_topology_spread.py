"""PodTopologySpread: keep matching pods evenly spread over topology domains (zones, hosts, ...).

DoNotSchedule constraints filter: placing the pod in a domain must not raise that domain's count more than
`maxSkew` above the emptiest eligible domain. ScheduleAnyway constraints, or the cluster's default
constraints for pods that declare none, score: fewer matching pods in the node's domains is better.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from api import labels
from api.labels import Requirement, Selector
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
from scheduler.nodeselector import RequiredNodeAffinity, required_node_affinity
from scheduler.podinfo import HOSTNAME_LABEL, PodInfo, tolerates_any

REASON: Final = "node(s) didn't match pod topology spread constraints"
MISSING_LABEL_REASON: Final = "node(s) didn't match pod topology spread constraints (missing required label)"
_REJECTED: Final = unschedulable(REASON, plugin="PodTopologySpread")
_MISSING_LABEL: Final = unresolvable(MISSING_LABEL_REASON, plugin="PodTopologySpread")
ZONE_LABEL: Final = "topology.kubernetes.io/zone"
SYSTEM_DEFAULT_CONSTRAINTS: Final = (
    {"maxSkew": 3, "topologyKey": HOSTNAME_LABEL, "whenUnsatisfiable": "ScheduleAnyway"},
    {"maxSkew": 5, "topologyKey": ZONE_LABEL, "whenUnsatisfiable": "ScheduleAnyway"},
)
_HARD_EFFECTS: Final = frozenset(("NoSchedule", "NoExecute"))


@dataclass(frozen=True, slots=True)
class Constraint:
    """One topologySpreadConstraint with its selector resolved against the pod (matchLabelKeys applied)."""

    max_skew: int
    topology_key: str
    selector: Selector
    min_domains: int
    honor_affinity: bool
    honor_taints: bool
    self_match: int

    def includes(self, pod: PodInfo, node: NodeInfo, affinity: RequiredNodeAffinity) -> bool:
        """Whether the node's domain counts for this constraint (nodeAffinityPolicy / nodeTaintsPolicy)."""
        if self.honor_affinity and not affinity.matches(node.name, node.labels):
            return False
        if self.honor_taints:
            for taint in node.taints:
                if taint.get("effect") in _HARD_EFFECTS and not tolerates_any(pod.tolerations, taint):
                    return False
        return True

    def counts_pod(self, pod: PodInfo, other: PodInfo) -> bool:
        """Whether another pod counts towards this constraint's domains."""
        return other.namespace == pod.namespace and not other.deleting and self.selector.matches(other.labels)


def build_constraints(
    pod: PodInfo, raw: Sequence[Mapping[str, Any]], selector: Selector | None = None
) -> list[Constraint]:
    """Resolve raw constraints for a pod; `selector` overrides theirs (default constraints)."""
    out = []
    for c in raw:
        sel = selector if selector is not None else labels.from_label_selector(c.get("labelSelector"))
        extra = [
            Requirement(key, labels.IN, (pod.labels[key],))
            for key in c.get("matchLabelKeys") or ()
            if key in pod.labels
        ]
        if extra and not sel.nothing:
            sel = Selector((*sel.requirements, *extra))
        out.append(
            Constraint(
                max_skew=int(c.get("maxSkew", 1)),
                topology_key=c.get("topologyKey", ""),
                selector=sel,
                min_domains=int(c.get("minDomains") or 0),
                honor_affinity=(c.get("nodeAffinityPolicy") or "Honor") == "Honor",
                honor_taints=(c.get("nodeTaintsPolicy") or "Ignore") == "Honor",
                self_match=1 if sel.matches(pod.labels) else 0,
            )
        )
    return out


@dataclass(slots=True)
class _FilterState(StateData):
    constraints: list[Constraint]
    affinity: RequiredNodeAffinity
    counts: list[dict[str, int]]
    mins: list[int] = field(default_factory=list)

    def clone(self) -> _FilterState:
        return _FilterState(self.constraints, self.affinity, [dict(c) for c in self.counts], list(self.mins))

    def refresh_min(self, i: int) -> None:
        self.mins[i] = min(self.counts[i].values(), default=0)


@dataclass(slots=True)
class _ScoreState(StateData):
    constraints: list[Constraint]
    counts: list[dict[str, int]]
    weights: list[float]
    require_all: bool

    def clone(self) -> _ScoreState:
        return self


def _has_all_keys(node: NodeInfo, constraints: Sequence[Constraint]) -> bool:
    return all(c.topology_key in node.labels for c in constraints)


def _eligible_domains(
    pod: PodInfo, constraints: Sequence[Constraint], affinity: RequiredNodeAffinity, snapshot: Cache
) -> Sequence[Mapping[str, str]]:
    """Per constraint, node name -> domain for the nodes whose domains count (they have every key).

    Without node affinity or untolerated taints to honour, that is the cache's topology index, kept across
    cycles; otherwise every node is checked.
    """
    honor_affinity = not affinity.empty and any(c.honor_affinity for c in constraints)
    honor_taints = bool(snapshot.hard_tainted_nodes) and any(c.honor_taints for c in constraints)
    if not honor_affinity and not honor_taints:
        indexed = [snapshot.topology_values(c.topology_key) for c in constraints]
        if len(indexed) == 1:
            return indexed
        return [{n: v for n, v in values.items() if all(n in other for other in indexed)} for values in indexed]
    eligible: list[dict[str, str]] = [{} for _ in constraints]
    for node in snapshot.node_infos():
        if not _has_all_keys(node, constraints):
            continue
        for i, c in enumerate(constraints):
            if c.includes(pod, node, affinity):
                eligible[i][node.name] = node.labels[c.topology_key]
    return eligible


class PodTopologySpread(PreFilterPlugin, PreFilterExtensions, FilterPlugin, PreScorePlugin, ScorePlugin):
    """Filter on DoNotSchedule constraints; score on ScheduleAnyway ones or the cluster defaults."""

    name = "PodTopologySpread"

    def __init__(self, args: Mapping[str, Any] | None = None) -> None:
        args = args or {}
        defaulting = args.get("defaultingType") or "System"
        self.system_defaulted = defaulting == "System"
        self.default_constraints: tuple[Mapping[str, Any], ...] = (
            SYSTEM_DEFAULT_CONSTRAINTS if self.system_defaulted else tuple(args.get("defaultConstraints") or ())
        )

    def events_to_register(self) -> Sequence[ClusterEvent]:
        return (
            ClusterEvent(Resource.ASSIGNED_POD, Action.ADD | Action.DELETE | Action.UPDATE_POD_LABEL),
            ClusterEvent(
                Resource.NODE, Action.ADD | Action.DELETE | Action.UPDATE_NODE_LABEL | Action.UPDATE_NODE_TAINT
            ),
        )

    # --- filter ---

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Cache) -> Status | None:
        raw = [
            c for c in pod.spec.get("topologySpreadConstraints") or () if c.get("whenUnsatisfiable") != "ScheduleAnyway"
        ]
        if not raw:
            return SKIP
        constraints = build_constraints(pod, raw)
        affinity = required_node_affinity(pod.spec)
        # Domains of the eligible nodes start at zero; then only pods the selector may match are counted.
        eligible = _eligible_domains(pod, constraints, affinity, snapshot)
        data = _FilterState(constraints, affinity, [dict.fromkeys(e.values(), 0) for e in eligible])
        for i, c in enumerate(constraints):
            counts, domain_of = data.counts[i], eligible[i]
            for other, node_name in snapshot.pods_selected_by(c.selector):
                domain = domain_of.get(node_name)
                if domain is not None and c.counts_pod(pod, other):
                    counts[domain] += 1
        data.mins = [min(c.values(), default=0) for c in data.counts]
        state.write(self.name, data)
        return None

    def _update(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo, sign: int) -> None:
        data = state.get(self.name, _FilterState)
        if data is None or not _has_all_keys(node, data.constraints):
            return
        for i, c in enumerate(data.constraints):
            if c.counts_pod(pod, other) and c.includes(pod, node, data.affinity):
                value = node.labels[c.topology_key]
                data.counts[i][value] = data.counts[i].get(value, 0) + sign
                data.refresh_min(i)

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        self._update(state, pod, other, node, 1)

    def remove_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        self._update(state, pod, other, node, -1)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        return self._check(state)(node)

    def node_filter(self, state: CycleState, pod: PodInfo, snapshot: Cache) -> NodeFilter | None:
        return self._check(state)

    def _check(self, state: CycleState) -> NodeFilter:
        """The skew test with each constraint's key, counts and ceiling (max skew above the minimum) bound once."""
        data = state.read(self.name, _FilterState)
        limits = []
        for i, c in enumerate(data.constraints):
            counts = data.counts[i]
            low = 0 if c.min_domains and len(counts) < c.min_domains else data.mins[i]
            limits.append((c.topology_key, counts, c.max_skew + low - c.self_match))

        def check(node: NodeInfo) -> Status | None:
            node_labels = node.labels
            for key, counts, ceiling in limits:
                value = node_labels.get(key)
                if value is None:
                    return _MISSING_LABEL
                if counts.get(value, 0) > ceiling:
                    return _REJECTED
            return None

        return check

    # --- score ---

    def _soft_constraints(self, pod: PodInfo, snapshot: Cache) -> tuple[list[Constraint], bool]:
        declared = pod.spec.get("topologySpreadConstraints") or ()
        if declared:
            soft = [c for c in declared if c.get("whenUnsatisfiable") == "ScheduleAnyway"]
            return build_constraints(pod, soft), True
        if not self.default_constraints:
            return [], True
        selector = snapshot.default_spread_selector(pod)
        if selector is None:
            return [], True
        return build_constraints(pod, self.default_constraints, selector), not self.system_defaulted

    def pre_score(self, state: CycleState, pod: PodInfo, snapshot: Cache, nodes: Sequence[NodeInfo]) -> Status | None:
        constraints, require_all = self._soft_constraints(pod, snapshot)
        if not constraints:
            return SKIP
        affinity = required_node_affinity(pod.spec)
        counts: list[dict[str, int]] = [{} for _ in constraints]
        keys = [c.topology_key for c in constraints]
        # Each constraint's domain per node, None where the node lacks the key (no node at all for require_all).
        values = [[n.labels.get(k) for k in keys] for n in nodes]
        if require_all:
            values = [v for v in values if None not in v]
        domains = [{d for v in values if (d := v[i]) is not None} for i in range(len(keys))]
        for i, key in enumerate(keys):
            if key != HOSTNAME_LABEL:
                counts[i] = dict.fromkeys(domains[i], 0)
        # Hostname constraints count per node (keyed by node name); others per domain, over all nodes.
        for i, c in enumerate(constraints):
            per_host = c.topology_key == HOSTNAME_LABEL
            for other, node_name in snapshot.pods_selected_by(c.selector):
                if not c.counts_pod(pod, other):
                    continue
                if per_host:
                    counts[i][node_name] = counts[i].get(node_name, 0) + 1
                    continue
                where = snapshot.node_info(node_name)
                if where is None or (require_all and not _has_all_keys(where, constraints)):
                    continue
                value = where.labels.get(c.topology_key)
                if value is not None and value in counts[i] and c.includes(pod, where, affinity):
                    counts[i][value] += 1
        weights = [math.log(len(d) + 2) for d in domains]
        state.write(self.name + "/score", _ScoreState(constraints, counts, weights, require_all))
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        """Raw score (lower is better), or -1 for a node lacking the topology keys (normalized to 0)."""
        return self.score_nodes(state, pod, (node,))[0]

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        data = state.read(self.name + "/score", _ScoreState)
        terms = [(c.topology_key, c.topology_key == HOSTNAME_LABEL, data.counts[i], data.weights[i], c.max_skew - 1)
                 for i, c in enumerate(data.constraints)]
        require_all = data.require_all
        out: list[int] = []
        for node in nodes:
            node_labels = node.labels
            total = 0.0
            for key, per_host, counts, weight, skew in terms:
                value = node_labels.get(key)
                if value is None:
                    if require_all:
                        total = -1.0
                        break
                    continue
                total += counts.get(node.name if per_host else value, 0) * weight + skew
            out.append(round(total))
        return out

    def normalize(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        counted = [s for s in scores if s >= 0]
        low, high = min(counted, default=0), max(counted, default=0)
        for i, s in enumerate(scores):
            if s < 0:
                scores[i] = 0
            elif high == 0:
                scores[i] = MAX_NODE_SCORE
            else:
                scores[i] = MAX_NODE_SCORE * (high + low - s) // high
