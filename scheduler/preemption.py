"""DefaultPreemption: when a pod fits nowhere, find the node where evicting the least important pods helps.

For each node that failed only for reasons eviction can fix, all lower-priority pods are removed from a
copy of the node; if the pod then fits, victims are reprieved one by one (most important first, those whose
eviction would violate a PodDisruptionBudget before the rest) as long as the pod still fits. Among the
candidates, Kubernetes' criteria pick one node. The result names the node to nominate and the victims; the
driver deletes them and sets `status.nominatedNodeName`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from api import labels
from scheduler.cache import Cache
from scheduler.framework import (
    Code,
    CycleState,
    Framework,
    PostFilterPlugin,
    PostFilterResult,
    Status,
    render_fit_error,
    unresolvable,
    unschedulable,
)
from scheduler.nodeinfo import NodeInfo
from scheduler.podinfo import PodInfo

NOT_HELPFUL: Final = "Preemption is not helpful for scheduling"
NO_VICTIMS: Final = "No preemption victims found for incoming pod"
NEVER_POLICY: Final = "not eligible due to preemptionPolicy=Never"
TERMINATING_VICTIM: Final = "not eligible due to a terminating pod on the nominated node"
MIN_CANDIDATE_NODES_PERCENTAGE: Final = 10
MIN_CANDIDATE_NODES_ABSOLUTE: Final = 100
# Priorities are int32; shifting them positive keeps "sum of priorities" meaningful with negative ones.
_PRIORITY_OFFSET: Final = 2**31


@dataclass(slots=True)
class Candidate:
    """A node where preemption would work, with its victims (least important last) and PDB violations."""

    node: str
    victims: list[PodInfo] = field(default_factory=list)
    pdb_violations: int = 0


@dataclass(frozen=True, slots=True)
class _Budget:
    namespace: str
    selector: labels.Selector
    allowed: int
    disrupted: frozenset[str]


def _budgets(pdbs: Mapping[str, Mapping[str, Any]]) -> list[_Budget]:
    out = []
    for pdb in pdbs.values():
        meta = pdb.get("metadata") or {}
        status = pdb.get("status") or {}
        selector = labels.from_label_selector((pdb.get("spec") or {}).get("selector"))
        if selector.empty:
            # An empty selector in a PDB matches nothing, unlike elsewhere.
            continue
        out.append(
            _Budget(
                namespace=meta.get("namespace", "default"),
                selector=selector,
                allowed=int(status.get("disruptionsAllowed") or 0),
                disrupted=frozenset(status.get("disruptedPods") or ()),
            )
        )
    return out


def split_by_pdb(pods: Sequence[PodInfo], budgets: Sequence[_Budget]) -> tuple[list[PodInfo], list[PodInfo]]:
    """(violating, non-violating): a pod violates when evicting it exceeds a matching budget's allowance."""
    allowed = [b.allowed for b in budgets]
    violating: list[PodInfo] = []
    fine: list[PodInfo] = []
    for pod in pods:
        breaks = False
        for i, b in enumerate(budgets):
            if b.namespace != pod.namespace or not b.selector.matches(pod.labels) or pod.name in b.disrupted:
                continue
            allowed[i] -= 1
            if allowed[i] < 0:
                breaks = True
        (violating if breaks else fine).append(pod)
    return violating, fine


def _more_important(pod: PodInfo) -> tuple[int, str]:
    # Higher priority first; among equals the one running longer (earlier start) is more important.
    return (-pod.priority, pod.start_time or "~")


def eligible(pod: PodInfo, snapshot: Cache) -> str | None:
    """Why the pod may not preempt (None when it may)."""
    if pod.preemption_policy == "Never":
        return NEVER_POLICY
    if pod.nominated_node:
        node = snapshot.node_info(pod.nominated_node)
        if node is not None and any(p.deleting and p.priority < pod.priority for p in node.pods.values()):
            return TERMINATING_VICTIM
    return None


class Evaluator:
    """Runs the dry runs against the framework's filters; `rng` picks where the candidate search starts."""

    def __init__(self, framework: Framework, rng: random.Random) -> None:
        self.framework = framework
        self.rng = rng

    def select_victims(
        self, state: CycleState, pod: PodInfo, node: NodeInfo, budgets: Sequence[_Budget]
    ) -> tuple[Candidate | None, Status | None]:
        """The minimal victims on one node, or the status explaining why the node cannot help."""
        fw = self.framework
        sim_state = state.clone()
        sim = node.clone()
        lower = [p for p in node.pods.values() if p.priority < pod.priority]
        if not lower:
            return None, unresolvable(NO_VICTIMS)
        for victim in lower:
            sim.remove_pod(victim.key)
            fw.remove_pod_from_state(sim_state, pod, victim, sim)
        status = fw.run_filters_with_nominated(sim_state, pod, sim)
        if status is not None:
            return None, status
        lower.sort(key=_more_important)
        violating, fine = split_by_pdb(lower, budgets)
        candidate = Candidate(node.name)

        def reprieve(victim: PodInfo) -> bool:
            sim.add_pod(victim)
            fw.add_pod_to_state(sim_state, pod, victim, sim)
            if fw.run_filters_with_nominated(sim_state, pod, sim) is None:
                return True
            sim.remove_pod(victim.key)
            fw.remove_pod_from_state(sim_state, pod, victim, sim)
            candidate.victims.append(victim)
            return False

        for victim in violating:
            if not reprieve(victim):
                candidate.pdb_violations += 1
        for victim in fine:
            reprieve(victim)
        candidate.victims.sort(key=_more_important)
        return candidate, None

    def preempt(
        self, state: CycleState, pod: PodInfo, snapshot: Cache, statuses: Mapping[str, Status]
    ) -> tuple[PostFilterResult | None, Status]:
        """The PostFilter algorithm: eligibility, candidates, choice; a failed Status explains itself."""
        reason = eligible(pod, snapshot)
        if reason is not None:
            return None, unschedulable(reason)
        all_nodes = snapshot.node_infos()
        node_statuses: dict[str, Status] = {}
        potential: list[NodeInfo] = []
        not_helpful = unresolvable(NOT_HELPFUL)
        for node in all_nodes:
            status = statuses.get(node.name)
            if status is not None and status.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                node_statuses[node.name] = not_helpful
            else:
                potential.append(node)
        candidates: list[Candidate] = []
        if potential:
            budgets = _budgets(snapshot.pdbs)
            want = min(
                max(len(potential) * MIN_CANDIDATE_NODES_PERCENTAGE // 100, MIN_CANDIDATE_NODES_ABSOLUTE),
                len(potential),
            )
            offset = self.rng.randrange(len(potential))
            non_violating = 0
            for i in range(len(potential)):
                node = potential[(offset + i) % len(potential)]
                candidate, status = self.select_victims(state, pod, node, budgets)
                if candidate is None:
                    if status is not None:
                        node_statuses[node.name] = status
                    continue
                candidates.append(candidate)
                non_violating += candidate.pdb_violations == 0
                if non_violating and len(candidates) >= want:
                    break
        if not candidates:
            message = render_fit_error(len(all_nodes), node_statuses.values()).removesuffix(".")
            return PostFilterResult(nominated_node=None), unschedulable(f"preemption: {message}")
        best = pick_candidate(candidates)
        clear = [p for p in self.framework.nominated(best.node) if p.priority < pod.priority and p.key != pod.key]
        result = PostFilterResult(nominated_node=best.node, victims=best.victims, clear_nominations=clear)
        return result, Status(Code.SUCCESS)


def pick_candidate(candidates: Sequence[Candidate]) -> Candidate:
    """Kubernetes' order: a node needing no victims; then fewest PDB violations; lowest highest-victim
    priority; smallest sum of victim priorities; fewest victims; latest start among the highest-priority
    victims; finally the first found."""
    for c in candidates:
        if not c.victims:
            return c

    def key(c: Candidate) -> tuple[int, int, int, int, str]:
        top = max(v.priority for v in c.victims)
        total = sum(v.priority + _PRIORITY_OFFSET for v in c.victims)
        earliest = min((v.start_time or "" for v in c.victims if v.priority == top), default="")
        # Negate the start time's order by sorting on its complement: later start is preferred.
        return (c.pdb_violations, top, total, len(c.victims), _invert(earliest))

    return min(candidates, key=key)


def _invert(timestamp: str) -> str:
    """A string that sorts in the reverse order of RFC 3339 timestamps (digits and separators only)."""
    return "".join(chr(0x10FFFF - ord(ch)) for ch in timestamp) if timestamp else chr(0x10FFFF)


class DefaultPreemption(PostFilterPlugin):
    """The PostFilter plugin of the default profile."""

    name = "DefaultPreemption"

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng
        self.evaluator: Evaluator | None = None

    def attach(self, framework: Framework) -> None:
        self.evaluator = Evaluator(framework, self.rng if self.rng is not None else framework.rng)

    def post_filter(
        self, state: CycleState, pod: PodInfo, snapshot: Cache, statuses: Mapping[str, Status]
    ) -> tuple[PostFilterResult | None, Status]:
        if self.evaluator is None:
            raise RuntimeError("DefaultPreemption runs only inside the Framework it was attached to")
        result, status = self.evaluator.preempt(state, pod, snapshot, statuses)
        if status.code is not Code.SUCCESS and not status.message.startswith("preemption: "):
            status = Status(status.code, (f"preemption: {status.message}",))
        return result, status
