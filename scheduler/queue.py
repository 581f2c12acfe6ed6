"""The scheduling queue: activeQ, backoffQ and the unschedulable pods, plus pod nominations.

activeQ pops the highest priority first, then the oldest pod. A pod that failed waits in backoffQ for
`initial * 2^(attempts-1)` seconds (capped), or, when it was rejected as unschedulable, is parked until a
cluster event that one of its rejecting plugins registered for arrives (or five minutes pass). Events that
arrive while a pod is being scheduled are remembered, so a pod is not parked on stale information.
Everything is driven by explicit `now` arguments; `pop` never blocks.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from scheduler.events import UNSCHEDULABLE_TIMEOUT, ClusterEvent
from scheduler.framework import Status
from scheduler.podinfo import PodInfo

DEFAULT_INITIAL_BACKOFF: Final = 1.0
DEFAULT_MAX_BACKOFF: Final = 10.0
DEFAULT_MAX_UNSCHEDULABLE: Final = 300.0

ACTIVE: Final = "active"
BACKOFF: Final = "backoff"
UNSCHEDULABLE: Final = "unschedulable"


@dataclass(slots=True)
class QueuedPod:
    """A pod in the queue with its scheduling history."""

    pod: PodInfo
    timestamp: float
    attempts: int = 0
    initial_attempt: float | None = None
    unschedulable_plugins: frozenset[str] = frozenset()
    gated: Status | None = None
    seq: int = 0
    where: str = ""
    updated_in_flight: bool = field(default=False)

    @property
    def key(self) -> str:
        return self.pod.key


PreEnqueue = Callable[[PodInfo], "Status | None"]


def _no_pre_enqueue(_pod: PodInfo) -> Status | None:
    return None


class Nominator:
    """Pods nominated to nodes by preemption; filters count them as if they were already there."""

    def __init__(self) -> None:
        self._by_node: dict[str, dict[str, PodInfo]] = {}
        self._node_of: dict[str, str] = {}

    def add(self, pod: PodInfo, node: str) -> None:
        self.remove(pod.key)
        if node:
            self._by_node.setdefault(node, {})[pod.key] = pod
            self._node_of[pod.key] = node

    def remove(self, key: str) -> None:
        node = self._node_of.pop(key, None)
        if node is not None:
            pods = self._by_node[node]
            pods.pop(key, None)
            if not pods:
                del self._by_node[node]

    def update(self, pod: PodInfo) -> None:
        """Keep the newest version of a nominated pod (or record the nomination its status carries)."""
        node = self._node_of.get(pod.key) or pod.nominated_node
        if node:
            self.add(pod, node)

    def __len__(self) -> int:
        return len(self._node_of)

    def nominated_pods(self, node: str) -> Sequence[PodInfo]:
        """Pods nominated to the node, for filters to count."""
        pods = self._by_node.get(node)
        return tuple(pods.values()) if pods else ()

    def node_of(self, key: str) -> str | None:
        return self._node_of.get(key)


class SchedulingQueue:
    """Pending pods of one scheduler; `events_by_plugin` comes from the framework's registrations."""

    def __init__(
        self,
        events_by_plugin: Mapping[str, Sequence[ClusterEvent]],
        pre_enqueue: PreEnqueue = _no_pre_enqueue,
        initial_backoff: float = DEFAULT_INITIAL_BACKOFF,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        max_unschedulable: float = DEFAULT_MAX_UNSCHEDULABLE,
    ) -> None:
        self.events_by_plugin = {k: tuple(v) for k, v in events_by_plugin.items()}
        self.pre_enqueue = pre_enqueue
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_unschedulable = max_unschedulable
        self.nominator = Nominator()
        self._pods: dict[str, QueuedPod] = {}
        self._active: list[tuple[int, str, int, str]] = []
        self._backoff: list[tuple[float, int, str]] = []
        self._unschedulable: dict[str, QueuedPod] = {}
        self._in_flight: dict[str, QueuedPod] = {}
        self._event_start: dict[str, int] = {}
        self._events: list[ClusterEvent] = []
        self._events_base = 0
        self._seq = itertools.count()

    # --- sizes, for metrics ---

    def __len__(self) -> int:
        return len(self._pods)

    def lengths(self) -> dict[str, int]:
        """Pods per sub-queue, for the queue-length metrics."""
        counts = {ACTIVE: 0, BACKOFF: 0, UNSCHEDULABLE: 0}
        for qp in self._pods.values():
            counts[qp.where] += 1
        return counts

    def where(self, key: str) -> str | None:
        """Which sub-queue holds the pod ("active", "backoff", "unschedulable"), None if none does."""
        qp = self._pods.get(key)
        return None if qp is None else qp.where

    # --- informer events for unscheduled pods ---

    def add(self, pod: PodInfo, now: float) -> None:
        """A new pending pod."""
        if pod.key in self._pods or pod.key in self._in_flight:
            self.update(pod, now)
            return
        qp = QueuedPod(pod, timestamp=now)
        if pod.nominated_node:
            self.nominator.add(pod, pod.nominated_node)
        self._to_active_or_park(qp)

    def update(self, pod: PodInfo, now: float) -> None:
        """A new version of a pending pod; a parked pod whose spec or labels changed gets another chance."""
        if pod.key in self._in_flight:
            qp = self._in_flight[pod.key]
            qp.updated_in_flight = qp.updated_in_flight or _relevant_change(qp.pod, pod)
            qp.pod = pod
            self.nominator.update(pod)
            return
        qp_or_none = self._pods.get(pod.key)
        if qp_or_none is None:
            self.add(pod, now)
            return
        qp = qp_or_none
        old = qp.pod
        qp.pod = pod
        self.nominator.update(pod)
        if qp.where == ACTIVE:
            if old.priority != pod.priority:
                self._push_active(qp)
        elif qp.where == UNSCHEDULABLE and _relevant_change(old, pod):
            del self._unschedulable[pod.key]
            if qp.gated is not None:
                self._to_active_or_park(qp)
            else:
                self._requeue(qp, now)

    def delete(self, key: str) -> None:
        """The pod was deleted or got bound by someone else."""
        qp = self._pods.pop(key, None)
        self._unschedulable.pop(key, None)
        self._in_flight.pop(key, None)
        self._event_start.pop(key, None)
        self.nominator.remove(key)
        if qp is not None:
            qp.where = ""

    # --- the scheduling loop ---

    def pop(self, now: float) -> QueuedPod | None:
        """The next pod to schedule, or None when activeQ is empty (after moving due backoffs and timeouts)."""
        self.flush(now)
        while self._active:
            _, _, seq, key = heapq.heappop(self._active)
            qp = self._pods.get(key)
            if qp is None or qp.where != ACTIVE or qp.seq != seq:
                continue
            del self._pods[key]
            qp.where = ""
            qp.attempts += 1
            if qp.initial_attempt is None:
                qp.initial_attempt = now
            qp.updated_in_flight = False
            self._in_flight[key] = qp
            self._event_start[key] = self._events_base + len(self._events)
            return qp
        return None

    def done(self, key: str) -> None:
        """The pod's cycle ended with an assumed placement (or it was dropped); forget it."""
        self._in_flight.pop(key, None)
        self._event_start.pop(key, None)
        self._prune_events()

    def add_unschedulable(self, qp: QueuedPod, plugins: Sequence[str], now: float, error: bool = False) -> None:
        """Requeue a pod whose cycle failed: parked if nothing relevant happened meanwhile, else backed off."""
        start = self._event_start.pop(qp.key, self._events_base + len(self._events))
        self._in_flight.pop(qp.key, None)
        if qp.key in self._pods:
            self._prune_events()
            return
        qp.timestamp = now
        qp.unschedulable_plugins = frozenset(plugins)
        missed = self._events[start - self._events_base :]
        self._prune_events()
        if (
            error
            or not qp.unschedulable_plugins
            or qp.updated_in_flight
            or any(self._interested(qp, e) for e in missed)
        ):
            self._push_backoff(qp)
            return
        qp.where = UNSCHEDULABLE
        self._pods[qp.key] = qp
        self._unschedulable[qp.key] = qp

    def move_on_event(self, event: ClusterEvent, now: float) -> int:
        """Move parked pods that one of their rejecting plugins cares about; returns how many moved."""
        if self._in_flight:
            self._events.append(event)
        moved = 0
        for qp in list(self._unschedulable.values()):
            if qp.gated is None and self._interested(qp, event):
                del self._unschedulable[qp.key]
                self._requeue(qp, now)
                moved += 1
        return moved

    def flush(self, now: float) -> None:
        """Move finished backoffs to activeQ and pods parked longer than the limit back into circulation."""
        while self._backoff and self._backoff[0][0] <= now:
            _, seq, key = heapq.heappop(self._backoff)
            qp = self._pods.get(key)
            if qp is not None and qp.where == BACKOFF and qp.seq == seq:
                self._push_active(qp)
        stale = [
            qp
            for qp in self._unschedulable.values()
            if qp.gated is None and now - qp.timestamp > self.max_unschedulable
        ]
        for qp in stale:
            del self._unschedulable[qp.key]
            self._requeue(qp, now)

    def backoff_duration(self, qp: QueuedPod) -> float:
        """initial x 2^(attempts-1), capped at the maximum."""
        if qp.attempts <= 0:
            return 0.0
        return min(self.initial_backoff * float(1 << min(qp.attempts - 1, 30)), self.max_backoff)

    def next_wakeup(self) -> float | None:
        """When the next backoff completes, so the driver knows how long it may sleep."""
        while self._backoff:
            expiry, seq, key = self._backoff[0]
            qp = self._pods.get(key)
            if qp is not None and qp.where == BACKOFF and qp.seq == seq:
                return expiry
            heapq.heappop(self._backoff)
        return None

    # --- internals ---

    def _interested(self, qp: QueuedPod, event: ClusterEvent) -> bool:
        if event is UNSCHEDULABLE_TIMEOUT:
            return True
        for plugin in qp.unschedulable_plugins:
            for registered in self.events_by_plugin.get(plugin, ()):
                if registered.covers(event):
                    return True
        return False

    def _requeue(self, qp: QueuedPod, now: float) -> None:
        if qp.timestamp + self.backoff_duration(qp) > now:
            self._push_backoff(qp)
        else:
            self._push_active(qp)

    def _to_active_or_park(self, qp: QueuedPod) -> None:
        gate = self.pre_enqueue(qp.pod)
        qp.gated = gate
        if gate is not None:
            qp.unschedulable_plugins = frozenset((gate.plugin,))
            qp.where = UNSCHEDULABLE
            self._pods[qp.key] = qp
            self._unschedulable[qp.key] = qp
            return
        self._push_active(qp)

    def _push_active(self, qp: QueuedPod) -> None:
        qp.seq = next(self._seq)
        qp.where = ACTIVE
        self._pods[qp.key] = qp
        heapq.heappush(self._active, (-qp.pod.priority, qp.pod.creation, qp.seq, qp.key))

    def _push_backoff(self, qp: QueuedPod) -> None:
        qp.seq = next(self._seq)
        qp.where = BACKOFF
        self._pods[qp.key] = qp
        heapq.heappush(self._backoff, (qp.timestamp + self.backoff_duration(qp), qp.seq, qp.key))

    def _prune_events(self) -> None:
        if not self._event_start:
            self._events_base += len(self._events)
            self._events.clear()
            return
        oldest = min(self._event_start.values())
        drop = oldest - self._events_base
        if drop > 0:
            del self._events[:drop]
            self._events_base = oldest


def _relevant_change(old: PodInfo, new: PodInfo) -> bool:
    return old.spec != new.spec or old.labels != new.labels
