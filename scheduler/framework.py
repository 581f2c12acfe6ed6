"""The scheduling framework: extension-point interfaces and one scheduling cycle over a cache snapshot.

`Framework.schedule_one` is pure: a pod and the cache go in; the chosen node (or a diagnosis that renders
Kubernetes' FailedScheduling message, plus what preemption decided) comes out. The driver then assumes the
pod in the cache, runs `reserve`/`permit`, and performs `pre_bind`/`bind` writes asynchronously.
"""

from __future__ import annotations

import abc
import enum
import functools
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Protocol, TypeVar

from scheduler.cache import Cache
from scheduler.events import ClusterEvent
from scheduler.nodeinfo import NodeInfo
from scheduler.podinfo import PodInfo

MAX_NODE_SCORE: Final = 100
MIN_FEASIBLE_NODES: Final = 100
MIN_FEASIBLE_NODES_PERCENTAGE: Final = 5
DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE: Final = 0  # 0 = Kubernetes' adaptive formula


class Code(enum.IntEnum):
    """Outcome of a plugin call; UNSCHEDULABLE_AND_UNRESOLVABLE tells preemption not to bother with the node."""

    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    SKIP = 4


@dataclass(frozen=True, slots=True)
class Status:
    """A plugin's verdict with the reasons FailedScheduling reports; success is represented by None."""

    code: Code
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)

    @property
    def rejected(self) -> bool:
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    def with_plugin(self, plugin: str) -> Status:
        return self if self.plugin == plugin else Status(self.code, self.reasons, plugin)


SKIP: Final = Status(Code.SKIP)


def unschedulable(*reasons: str, plugin: str = "") -> Status:
    """A rejection that evicting pods from the node might fix."""
    return Status(Code.UNSCHEDULABLE, reasons, plugin)


def unresolvable(*reasons: str, plugin: str = "") -> Status:
    """A rejection no preemption on this node can fix (label, taint, affinity mismatches)."""
    return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons, plugin)


class StateData(abc.ABC):
    """Per-cycle data a plugin computes in PreFilter/PreScore; cloned when preemption simulates victims."""

    @abc.abstractmethod
    def clone(self) -> StateData: ...


T = TypeVar("T", bound=StateData)


class CycleState:
    """Scratch space for one scheduling cycle, keyed by plugin name."""

    __slots__ = ("allowed_nodes", "data", "narrowed_by", "skip_filter", "skip_score")

    def __init__(self) -> None:
        self.data: dict[str, StateData] = {}
        self.skip_filter: set[str] = set()
        self.skip_score: set[str] = set()
        self.allowed_nodes: frozenset[str] | None = None
        self.narrowed_by: list[str] = []

    def write(self, key: str, value: StateData) -> None:
        self.data[key] = value

    def read(self, key: str, cls: type[T]) -> T:
        """The plugin's data for this cycle; a wrong type is a plugin bug, hence TypeError."""
        value = self.data[key]
        if not isinstance(value, cls):
            raise TypeError(f"cycle state {key!r} holds {type(value).__name__}, not {cls.__name__}")
        return value

    def get(self, key: str, cls: type[T]) -> T | None:
        value = self.data.get(key)
        return value if isinstance(value, cls) else None

    def narrow(self, plugin: str, names: Iterable[str]) -> None:
        """Restrict the nodes this cycle considers (NodeAffinity on metadata.name, as DaemonSet pods use)."""
        chosen = frozenset(names)
        self.allowed_nodes = chosen if self.allowed_nodes is None else self.allowed_nodes & chosen
        self.narrowed_by.append(plugin)

    def clone(self) -> CycleState:
        other = CycleState()
        other.data = {k: v.clone() for k, v in self.data.items()}
        other.skip_filter = set(self.skip_filter)
        other.skip_score = set(self.skip_score)
        other.allowed_nodes = self.allowed_nodes
        other.narrowed_by = self.narrowed_by
        return other


# --- extension points ---


class Plugin(abc.ABC):
    """A named scheduling plugin; it implements one or more of the extension-point interfaces below."""

    name: ClassVar[str]

    def attach(self, framework: Framework) -> None:
        """Called once by the framework that runs the plugin (preemption needs to run its filters)."""
        return None

    def events_to_register(self) -> Sequence[ClusterEvent]:
        """Cluster events that may make a pod this plugin rejected schedulable again."""
        return ()


class PreEnqueuePlugin(Plugin):
    """Decides whether a pod may enter activeQ."""

    @abc.abstractmethod
    def pre_enqueue(self, pod: PodInfo) -> Status | None:
        """Whether the pod may enter the active queue at all (SchedulingGates)."""


class PreFilterPlugin(Plugin):
    """Runs once per cycle before the per-node filters."""

    @abc.abstractmethod
    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Cache) -> Status | None:
        """Precompute per-pod data once; return SKIP when the pod gives the plugin's Filter nothing to do."""


class PreFilterExtensions(abc.ABC):
    """Keeps PreFilter state right when preemption adds or removes pods from a simulated node."""

    @abc.abstractmethod
    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None: ...

    @abc.abstractmethod
    def remove_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None: ...


NodeFilter = Callable[[NodeInfo], "Status | None"]
"""A Filter bound to one cycle's state and pod: the per-node call of the hot loop."""


class FilterPlugin(Plugin):
    """Decides per node whether the pod can run there."""

    @abc.abstractmethod
    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        """None when the pod may run on the node; a rejecting Status with Kubernetes' reason otherwise."""

    def node_filter(self, state: CycleState, pod: PodInfo, snapshot: Cache) -> NodeFilter | None:
        """This cycle's filter as a one-argument call, or None when it can reject no node of the snapshot.

        Hot plugins return a closure over what PreFilter computed, so the loop over hundreds of nodes
        reads no cycle state and parses nothing per node.
        """
        return functools.partial(self.filter, state, pod)


@dataclass(slots=True)
class PostFilterResult:
    """What a PostFilter plugin (preemption) decided: a node to nominate and the pods to evict for it."""

    nominated_node: str | None
    victims: list[PodInfo] = field(default_factory=list)
    clear_nominations: list[PodInfo] = field(default_factory=list)


class PostFilterPlugin(Plugin):
    """Runs when no node fits (preemption)."""

    @abc.abstractmethod
    def post_filter(
        self, state: CycleState, pod: PodInfo, snapshot: Cache, statuses: Mapping[str, Status]
    ) -> tuple[PostFilterResult | None, Status]:
        """Try to make the pod schedulable in a later cycle; the Status message joins FailedScheduling."""


class PreScorePlugin(Plugin):
    """Runs once per cycle before scoring the feasible nodes."""

    @abc.abstractmethod
    def pre_score(self, state: CycleState, pod: PodInfo, snapshot: Cache, nodes: Sequence[NodeInfo]) -> Status | None:
        """Precompute scoring data over the feasible nodes; SKIP when the plugin would score all alike."""


class ScorePlugin(Plugin):
    """Ranks feasible nodes; the framework normalizes and weights the scores."""

    @abc.abstractmethod
    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int: ...

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        """Raw scores for many nodes; plugins on the hot path override it with a tighter loop."""
        score = self.score
        return [score(state, pod, n) for n in nodes]

    def normalize(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        """Bring raw scores into 0..MAX_NODE_SCORE in place; plugins that already score in range keep them."""
        return None


class ReservePlugin(Plugin):
    """Claims per-pod resources outside the node info (PV choices) once a node is chosen."""

    @abc.abstractmethod
    def reserve(self, state: CycleState, pod: PodInfo, node: str, snapshot: Cache) -> Status | None: ...

    @abc.abstractmethod
    def unreserve(self, state: CycleState, pod: PodInfo, node: str, snapshot: Cache) -> None: ...


class PermitPlugin(Plugin):
    """A last veto before binding."""

    @abc.abstractmethod
    def permit(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        """None allows; a rejecting Status denies (waiting is not supported)."""


class PreBindPlugin(Plugin):
    """Prepares writes that must precede the binding."""

    @abc.abstractmethod
    def pre_bind(self, state: CycleState, pod: PodInfo, node: str) -> list[Any]:
        """Writes the driver must make before binding (e.g. PV claim references), as plain intents."""


class BindPlugin(Plugin):
    """Produces the binding itself."""

    @abc.abstractmethod
    def bind(self, state: CycleState, pod: PodInfo, node: str) -> Mapping[str, Any]:
        """The Binding object the driver POSTs to `pods/<name>/binding`."""


def default_normalize(scores: list[int], reverse: bool = False) -> None:
    """Scale so the best raw score becomes MAX_NODE_SCORE; `reverse` when a lower raw score is better."""
    top = max(scores, default=0)
    if top == 0:
        if reverse:
            scores[:] = [MAX_NODE_SCORE] * len(scores)
        return
    for i, s in enumerate(scores):
        value = MAX_NODE_SCORE * s // top
        scores[i] = MAX_NODE_SCORE - value if reverse else value


# --- diagnosis ---

NO_NODE_AVAILABLE: Final = "0/{} nodes are available"


@dataclass(slots=True)
class Diagnosis:
    """Why a pod fits nowhere: each node's rejection, the plugins that rejected, PreFilter/PostFilter messages."""

    num_nodes: int = 0
    node_statuses: dict[str, Status] = field(default_factory=dict)
    unschedulable_plugins: set[str] = field(default_factory=set)
    pre_filter_msg: str = ""
    post_filter_msg: str = ""

    def message(self) -> str:
        """Kubernetes' FitError text, as FailedScheduling events and the PodScheduled condition show it."""
        return render_fit_error(self.num_nodes, self.node_statuses.values(), self.pre_filter_msg, self.post_filter_msg)


def reason_histogram(statuses: Iterable[Status]) -> str:
    """`1 node(s) had untolerated taint {…}, 2 Insufficient cpu`: counts per reason, sorted as strings."""
    counts: dict[str, int] = {}
    for status in statuses:
        for reason in status.reasons:
            counts[reason] = counts.get(reason, 0) + 1
    return ", ".join(sorted(f"{n} {reason}" for reason, n in counts.items()))


def render_fit_error(
    num_nodes: int, statuses: Iterable[Status], pre_filter_msg: str = "", post_filter_msg: str = ""
) -> str:
    """The FailedScheduling text from node statuses and the PreFilter/PostFilter messages."""
    text = NO_NODE_AVAILABLE.format(num_nodes) + ":"
    if pre_filter_msg:
        text += f" {pre_filter_msg}."
    else:
        histogram = reason_histogram(statuses)
        if histogram:
            text += f" {histogram}."
    if post_filter_msg:
        text += f" {post_filter_msg}."
    return text


@dataclass(slots=True)
class ScheduleResult:
    """One cycle's outcome; `state` carries what Reserve/PreBind need for the chosen node."""

    node: str | None
    diagnosis: Diagnosis
    state: CycleState
    evaluated_nodes: int = 0
    feasible_nodes: int = 0
    preemption: PostFilterResult | None = None

    @property
    def message(self) -> str:
        return self.diagnosis.message()


# --- the framework ---


class Nominations(Protocol):
    """Pods nominated to nodes by earlier preemptions (the queue's nominator)."""

    def nominated_pods(self, node: str) -> Sequence[PodInfo]: ...

    def __len__(self) -> int: ...


def num_feasible_nodes_to_find(num_all: int, percentage: int) -> int:
    """How many feasible nodes to look for before scoring (Kubernetes' percentageOfNodesToScore rule).

    Below 100 nodes, or at 100%, every node; otherwise the configured percentage, or the adaptive
    `50 - nodes/125` (never under 5%), but never fewer than 100 nodes.
    """
    if num_all < MIN_FEASIBLE_NODES or percentage >= 100:
        return num_all
    if percentage <= 0:
        percentage = max(50 - num_all // 125, MIN_FEASIBLE_NODES_PERCENTAGE)
    return max(num_all * percentage // 100, MIN_FEASIBLE_NODES)


class Framework:
    """One profile's plugins in their extension points, and the scheduling cycle that runs them."""

    def __init__(
        self,
        scheduler_name: str,
        plugins: Sequence[Plugin],
        score_weights: Mapping[str, int],
        *,
        percentage_of_nodes_to_score: int = DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE,
        rng: random.Random | None = None,
        nominator: Nominations | None = None,
        disabled: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        self.scheduler_name = scheduler_name
        self.plugins = list(plugins)
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self.rng = rng if rng is not None else random.Random(0)
        self.nominator = nominator
        self.next_start_index = 0
        off = disabled or {}

        def at(point: str, kind: type[Plugin]) -> list[Any]:
            return [p for p in plugins if isinstance(p, kind) and point not in off.get(p.name, ())]

        self.pre_enqueue: list[PreEnqueuePlugin] = at("preEnqueue", PreEnqueuePlugin)
        self.pre_filter: list[PreFilterPlugin] = at("preFilter", PreFilterPlugin)
        self.filters: list[FilterPlugin] = at("filter", FilterPlugin)
        self.post_filter: list[PostFilterPlugin] = at("postFilter", PostFilterPlugin)
        self.pre_score: list[PreScorePlugin] = at("preScore", PreScorePlugin)
        self.scorers: list[tuple[ScorePlugin, int]] = [
            (p, score_weights.get(p.name, 1)) for p in at("score", ScorePlugin)
        ]
        self.reservers: list[ReservePlugin] = at("reserve", ReservePlugin)
        self.permitters: list[PermitPlugin] = at("permit", PermitPlugin)
        self.pre_binders: list[PreBindPlugin] = at("preBind", PreBindPlugin)
        self.binders: list[BindPlugin] = at("bind", BindPlugin)
        for p in plugins:
            p.attach(self)

    def plugin(self, name: str) -> Plugin | None:
        return next((p for p in self.plugins if p.name == name), None)

    def events_by_plugin(self) -> dict[str, tuple[ClusterEvent, ...]]:
        """Each plugin's registered events, for the queue's move decisions."""
        return {p.name: tuple(p.events_to_register()) for p in self.plugins}

    # --- queueing ---

    def run_pre_enqueue(self, pod: PodInfo) -> Status | None:
        """The first PreEnqueue rejection, tagged with its plugin, or None."""
        for p in self.pre_enqueue:
            status = p.pre_enqueue(pod)
            if status is not None:
                return status.with_plugin(p.name)
        return None

    # --- filtering ---

    def run_pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Cache) -> Status | None:
        """Run PreFilters, recording which plugins skip; the first rejection ends the cycle.

        Plugins that narrow the candidate nodes to an empty intersection reject the pod here.
        """
        for p in self.pre_filter:
            status = p.pre_filter(state, pod, snapshot)
            if status is None:
                if state.allowed_nodes is not None and not state.allowed_nodes:
                    plugins = state.narrowed_by
                    if len(plugins) == 1:
                        reason = f"node(s) didn't satisfy plugin {plugins[0]}"
                    else:
                        reason = f"node(s) didn't satisfy plugin(s) [{' '.join(plugins)}] simultaneously"
                    return unschedulable(reason, plugin=p.name)
                continue
            if status.code is Code.SKIP:
                state.skip_filter.add(p.name)
                continue
            return status.with_plugin(p.name)
        return None

    def run_filters(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        """Run every non-skipped Filter; the first rejection wins, as in Kubernetes."""
        skip = state.skip_filter
        for p in self.filters:
            if skip and p.name in skip:
                continue
            status = p.filter(state, pod, node)
            if status is not None:
                return status.with_plugin(p.name)
        return None

    def run_filters_with_nominated(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        """Filter as if higher-or-equal-priority pods nominated to the node were already there.

        Both with and without them must pass: the nominated pods may never arrive, and anti-affinity
        could go either way.
        """
        others = [p for p in self.nominated(node.name) if p.priority >= pod.priority and p.key != pod.key]
        if not others:
            return self.run_filters(state, pod, node)
        simulated_state = state.clone()
        simulated = node.clone()
        for other in others:
            simulated.add_pod(other)
            self.add_pod_to_state(simulated_state, pod, other, simulated)
        status = self.run_filters(simulated_state, pod, simulated)
        if status is not None:
            return status
        return self.run_filters(state, pod, node)

    def nominated(self, node: str) -> Sequence[PodInfo]:
        """Pods nominated to a node (none without a nominator)."""
        return self.nominator.nominated_pods(node) if self.nominator is not None else ()

    def add_pod_to_state(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        """Tell PreFilter state that a pod appeared on a node in a simulation."""
        for p in self.pre_filter:
            if isinstance(p, PreFilterExtensions) and p.name not in state.skip_filter:
                p.add_pod(state, pod, other, node)

    def remove_pod_from_state(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        """Tell PreFilter state that a pod left a node in a simulation."""
        for p in self.pre_filter:
            if isinstance(p, PreFilterExtensions) and p.name not in state.skip_filter:
                p.remove_pod(state, pod, other, node)

    # --- the cycle ---

    def schedule_one(self, pod: PodInfo, snapshot: Cache) -> ScheduleResult:
        """Pick a node for the pod, or explain why none fits (running PostFilter, i.e. preemption)."""
        state = CycleState()
        all_nodes = snapshot.node_infos()
        diagnosis = Diagnosis(num_nodes=len(all_nodes))
        result = ScheduleResult(None, diagnosis, state)
        if not all_nodes:
            return result
        status = self.run_pre_filter(state, pod, snapshot)
        if status is not None:
            diagnosis.pre_filter_msg = status.message
            diagnosis.unschedulable_plugins.add(status.plugin)
            if status.rejected:
                diagnosis.node_statuses = {n.name: status for n in all_nodes}
            self._post_filter(result, pod, snapshot)
            return result

        if pod.nominated_node:
            nominated = snapshot.node_info(pod.nominated_node)
            allowed = nominated is not None and (state.allowed_nodes is None or nominated.name in state.allowed_nodes)
            if allowed and nominated is not None and self.run_filters_with_nominated(state, pod, nominated) is None:
                result.node = nominated.name
                result.evaluated_nodes = result.feasible_nodes = 1
                return result

        feasible = self._find_feasible(state, pod, snapshot, all_nodes, result)
        result.feasible_nodes = len(feasible)
        if not feasible:
            self._post_filter(result, pod, snapshot)
            return result
        if len(feasible) == 1:
            result.node = feasible[0].name
            return result
        totals = self._score(state, pod, snapshot, feasible)
        result.node = self._select_host(feasible, totals)
        return result

    def _find_feasible(
        self, state: CycleState, pod: PodInfo, snapshot: Cache, all_nodes: list[NodeInfo], result: ScheduleResult
    ) -> list[NodeInfo]:
        diagnosis = result.diagnosis
        allowed = state.allowed_nodes
        if allowed is not None:
            nodes = [n for n in all_nodes if n.name in allowed]
            rejected = unresolvable(f"node(s) didn't satisfy plugin(s) [{' '.join(sorted(state.narrowed_by))}]")
            for n in all_nodes:
                if n.name not in allowed:
                    diagnosis.node_statuses[n.name] = rejected
        else:
            nodes = all_nodes
        count = len(nodes)
        if count == 0:
            return []
        want = num_feasible_nodes_to_find(count, self.percentage_of_nodes_to_score)
        start = self.next_start_index % count
        feasible: list[NodeInfo] = []
        statuses = diagnosis.node_statuses
        plugins = diagnosis.unschedulable_plugins
        checks = [
            (check, p.name)
            for p in self.filters
            if p.name not in state.skip_filter and (check := p.node_filter(state, pod, snapshot)) is not None
        ]
        nominated = self.nominated if self.nominator else None
        processed = 0
        for node in nodes[start:] + nodes[:start] if start else nodes:
            processed += 1
            if nominated is not None and nominated(node.name):
                status = self.run_filters_with_nominated(state, pod, node)
            else:
                # The hot path: each non-skipped filter's per-cycle closure, first rejection wins.
                status = None
                for check, name in checks:
                    status = check(node)
                    if status is not None:
                        status = status.with_plugin(name)
                        break
            if status is None:
                feasible.append(node)
                if len(feasible) >= want:
                    break
            else:
                statuses[node.name] = status
                plugins.add(status.plugin)
        self.next_start_index = (start + processed) % count
        result.evaluated_nodes = processed
        return feasible

    def _score(self, state: CycleState, pod: PodInfo, snapshot: Cache, nodes: list[NodeInfo]) -> list[int]:
        for p in self.pre_score:
            status = p.pre_score(state, pod, snapshot, nodes)
            if status is not None and status.code is Code.SKIP:
                state.skip_score.add(p.name)
        totals = [0] * len(nodes)
        for plugin, weight in self.scorers:
            if plugin.name in state.skip_score:
                continue
            scores = plugin.score_nodes(state, pod, nodes)
            plugin.normalize(state, pod, scores)
            totals = [t + s * weight for t, s in zip(totals, scores, strict=True)]
        return totals

    def _select_host(self, nodes: list[NodeInfo], totals: list[int]) -> str:
        """Highest total wins; ties are broken uniformly at random with the injected rng (one draw per cycle)."""
        top = max(totals)
        best = [i for i, s in enumerate(totals) if s == top]
        return nodes[best[self.rng.randrange(len(best))] if len(best) > 1 else best[0]].name

    def _post_filter(self, result: ScheduleResult, pod: PodInfo, snapshot: Cache) -> None:
        diagnosis = result.diagnosis
        for p in self.post_filter:
            outcome, status = p.post_filter(result.state, pod, snapshot, diagnosis.node_statuses)
            if status.message:
                diagnosis.post_filter_msg = status.message
            if outcome is not None:
                result.preemption = outcome
            if status.code is Code.SUCCESS:
                return

    # --- after a node is chosen ---

    def reserve(self, state: CycleState, pod: PodInfo, node: str, snapshot: Cache) -> Status | None:
        """Run Reserve plugins in order; on a failure the ones already run are unreserved."""
        for i, p in enumerate(self.reservers):
            status = p.reserve(state, pod, node, snapshot)
            if status is not None:
                for done in reversed(self.reservers[: i + 1]):
                    done.unreserve(state, pod, node, snapshot)
                return status.with_plugin(p.name)
        return None

    def unreserve(self, state: CycleState, pod: PodInfo, node: str, snapshot: Cache) -> None:
        for p in reversed(self.reservers):
            p.unreserve(state, pod, node, snapshot)

    def permit(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        for p in self.permitters:
            status = p.permit(state, pod, node)
            if status is not None:
                return status.with_plugin(p.name)
        return None

    def pre_bind(self, state: CycleState, pod: PodInfo, node: str) -> list[Any]:
        intents: list[Any] = []
        for p in self.pre_binders:
            intents.extend(p.pre_bind(state, pod, node))
        return intents

    def bind(self, state: CycleState, pod: PodInfo, node: str) -> Mapping[str, Any]:
        if not self.binders:
            raise LookupError(f"profile {self.scheduler_name!r} has no Bind plugin enabled")
        return self.binders[0].bind(state, pod, node)
