"""The scheduler's asyncio driver: informer events into the cache and queues, cycles out, writes to the API.

Everything runs on one event loop. Informer handlers only update the cache and queues (never await), and
the scheduling loop runs one pure `schedule_one` cycle at a time, so a cycle always reads a consistent cache.
Writes — bindings, status patches, victim deletions — are tasks that run while the next pod is being
scheduled; the cache's assumption makes the next cycle see the previous pod's resources taken. Events go
through their own bounded queue (scheduler.eventqueue), so they never take a binding's slot.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from client.cache import DeletedFinalStateUnknown
from client.errors import ApiConnectionError, ApiError, NotFound
from client.events import NORMAL, WARNING, EventRecorder
from client.informer import SharedInformer, SharedInformerFactory
from client.mapping import lookup
from client.rest import PatchType, RestClient
from process.log import get_logger
from scheduler.cache import Cache, object_key, pod_key
from scheduler.eventqueue import EventQueue
from scheduler.events import (
    ASSIGNED_POD_ADD,
    ASSIGNED_POD_DELETE,
    Action,
    ClusterEvent,
    Resource,
    assigned_pod_update_event,
    node_update_event,
)
from scheduler.framework import Framework, ScheduleResult
from scheduler.metrics import SchedulerMetrics
from scheduler.plugins.volume_binding import BindVolume, ProvisionVolume
from scheduler.podinfo import PodInfo
from scheduler.profile import Profile
from scheduler.queue import QueuedPod, SchedulingQueue

log = get_logger("scheduler")

PODS = lookup("pods")
TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})
SELECTED_NODE_ANNOTATION = "volume.kubernetes.io/selected-node"
# Parked pods are re-examined at least this often even when no wake-up is due (kube-scheduler flushes every 1 s).
FLUSH_PERIOD = 1.0
# Cycles run back to back without yielding to the loop at most this long, so informers and binds keep up.
YIELD_EVERY = 0.01
# API writes in flight at once. Cycles keep running (pods are assumed) while writes wait for a slot, so a
# burst of thousands of bindings queues here instead of timing out in the connection pool.
MAX_WRITES_IN_FLIGHT = 64
# Flushing the queues and expiring assumptions scan every parked and cached pod: do it this often while busy
# (and whenever the queues look empty), not once per pod.
HOUSEKEEPING_PERIOD = 0.1

Obj = Mapping[str, Any]


def _obj(item: Obj | DeletedFinalStateUnknown) -> Obj:
    """The object a delete handler got, whether or not the deletion was seen directly."""
    if isinstance(item, DeletedFinalStateUnknown):
        last: Obj = item.obj
        return last
    return item


def _terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in TERMINAL_PHASES


@dataclass
class _Profile:
    framework: Framework
    queue: SchedulingQueue


class Scheduler:
    """One scheduler process's state: the cache, a queue per profile, and the writes in flight."""

    def __init__(self, client: RestClient, profiles: Iterable[Profile], *, recorder: EventRecorder,
                 metrics: SchedulerMetrics, clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None) -> None:
        self.client = client
        self.events = EventQueue(recorder)
        self.metrics = metrics
        self.clock = clock
        self.cache = Cache()
        self.profiles: dict[str, _Profile] = {}
        for profile in profiles:
            fw = profile.build(rng=rng)
            queue = SchedulingQueue(fw.events_by_plugin(), fw.run_pre_enqueue, initial_backoff=1, max_backoff=10)
            # The framework filters with the queue's nominations; the queue needs the framework's registrations.
            fw.nominator = queue.nominator
            self.profiles[profile.scheduler_name] = _Profile(fw, queue)
        self._wake = asyncio.Event()
        self._writes: set[asyncio.Task[None]] = set()
        # Pending pods this scheduler knows exist, with when they were first queued: a cycle that ends for a
        # pod deleted meanwhile must not put it back into the queue.
        self._pending: dict[str, float] = {}
        self._write_slots = asyncio.Semaphore(MAX_WRITES_IN_FLIGHT)
        self._next_profile = 0

    # --- informer wiring ---

    def watch(self, factory: SharedInformerFactory) -> list[SharedInformer]:
        """Register handlers on every informer the scheduler needs; returns them (for sync waits)."""
        pods = factory.informer(PODS)
        pods.add_event_handler(on_add=self.pod_added, on_update=self.pod_updated, on_delete=self.pod_deleted)
        nodes = factory.informer(lookup("nodes"))
        nodes.add_event_handler(on_add=self.node_added, on_update=self.node_updated,
                                on_delete=lambda n: self.cache.remove_node(_obj(n)["metadata"]["name"]))
        informers = [pods, nodes]
        c = self.cache
        simple: list[tuple[str, Callable[[Obj], None], Callable[[Obj], None], Resource | None]] = [
            ("persistentvolumes", c.set_pv, lambda o: c.remove_pv(object_key(o)), Resource.PERSISTENT_VOLUME),
            ("persistentvolumeclaims", c.set_pvc, lambda o: c.remove_pvc(object_key(o)),
             Resource.PERSISTENT_VOLUME_CLAIM),
            ("storageclasses.storage.k8s.io", c.set_storage_class, lambda o: c.remove_storage_class(object_key(o)),
             Resource.STORAGE_CLASS),
            ("namespaces", c.set_namespace, lambda o: c.remove_namespace(object_key(o)), Resource.NAMESPACE),
            ("poddisruptionbudgets.policy", c.set_pdb, lambda o: c.remove_pdb(object_key(o)), None),
            ("services", c.set_service, lambda o: c.remove_service(object_key(o)), None),
        ]
        for kind, name in (("ReplicaSet", "replicasets.apps"), ("StatefulSet", "statefulsets.apps"),
                           ("ReplicationController", "replicationcontrollers")):
            simple.append((name, functools.partial(c.set_workload, kind),
                           functools.partial(self._remove_workload, kind), None))
        for name, set_, remove, resource in simple:
            informers.append(self._register(factory.informer(lookup(name)), set_, remove, resource))
        return informers

    def _remove_workload(self, kind: str, obj: Obj) -> None:
        meta = obj["metadata"]
        self.cache.remove_workload(kind, meta.get("namespace", "default"), meta["name"])

    def _register(self, inf: SharedInformer, set_: Callable[[Obj], None], remove: Callable[[Obj], None],
                  resource: Resource | None) -> SharedInformer:
        """Mirror one resource into the cache; changes to PVs, claims, classes, namespaces wake parked pods."""

        def on_add(obj: Obj) -> None:
            set_(obj)
            if resource is not None:
                self._event(ClusterEvent(resource, Action.ADD))

        def on_update(_old: Obj, new: Obj) -> None:
            set_(new)
            if resource is not None:
                self._event(ClusterEvent(resource, Action.UPDATE))

        def on_delete(obj: Obj | DeletedFinalStateUnknown) -> None:
            remove(_obj(obj))

        inf.add_event_handler(on_add=on_add, on_update=on_update, on_delete=on_delete)
        return inf

    def _event(self, event: ClusterEvent) -> None:
        now = self.clock()
        for p in self.profiles.values():
            if p.queue.move_on_event(event, now):
                self._wake.set()

    def _profile_of(self, pod: Obj) -> _Profile | None:
        return self.profiles.get((pod.get("spec") or {}).get("schedulerName") or "default-scheduler")

    def pod_added(self, pod: Obj) -> None:
        """Assigned pods count in the cache (and may unpark others); pending pods of our profiles are queued."""
        if (pod.get("spec") or {}).get("nodeName"):
            if pod_key(pod) in self._pending:  # bound while the watch was down: seen first in a relist
                self._forget_pending(pod)
            self.cache.add_pod(pod)
            self._event(ASSIGNED_POD_DELETE if _terminal(pod) else ASSIGNED_POD_ADD)
            return
        profile = self._profile_of(pod)
        if profile is None or _terminal(pod) or (pod.get("metadata") or {}).get("deletionTimestamp"):
            return
        info = PodInfo(pod)
        self._pending.setdefault(info.key, self.clock())
        profile.queue.add(info, self.clock())
        self._wake.set()

    def pod_updated(self, old: Obj, new: Obj) -> None:
        """A binding confirms an assumption; other changes refresh the cache or the queue."""
        if (new.get("spec") or {}).get("nodeName"):
            if not (old.get("spec") or {}).get("nodeName"):
                self._forget_pending(new)
                self.cache.add_pod(new)
                self._event(ASSIGNED_POD_ADD)
                return
            self.cache.update_pod(new)
            if _terminal(new) and not _terminal(old):
                self._event(ASSIGNED_POD_DELETE)
            elif (event := assigned_pod_update_event(old, new)) is not None:
                self._event(event)
            return
        profile = self._profile_of(new)
        if profile is None:
            return
        if _terminal(new) or (new.get("metadata") or {}).get("deletionTimestamp"):
            self._forget_pending(new)
            return
        info = PodInfo(new)
        self._pending.setdefault(info.key, self.clock())
        profile.queue.update(info, self.clock())
        self._wake.set()

    def pod_deleted(self, item: Obj | DeletedFinalStateUnknown) -> None:
        """Free what an assigned pod took, or drop a pending one from the queue."""
        pod = _obj(item)
        if (pod.get("spec") or {}).get("nodeName"):
            self.cache.remove_pod(pod_key(pod))
            self._event(ASSIGNED_POD_DELETE)
        else:
            self._forget_pending(pod)

    def _forget_pending(self, pod: Obj) -> None:
        key = pod_key(pod)
        self._pending.pop(key, None)
        for p in self.profiles.values():
            p.queue.delete(key)

    def node_added(self, node: Obj) -> None:
        """A new node may fit parked pods."""
        self.cache.add_node(node)
        self._event(ClusterEvent(Resource.NODE, Action.ADD))

    def node_updated(self, old: Obj, new: Obj) -> None:
        """Only updates that could make a pod fit (labels, taints, allocatable, …) unpark pods."""
        self.cache.add_node(new)
        event = node_update_event(old, new)
        if event is not None:
            self._event(event)

    # --- the scheduling loop ---

    async def run(self) -> None:
        """Schedule until cancelled; waits for work when every queue is empty or backing off."""
        yielded = housekept = self.clock()
        while True:
            now = self.clock()
            popped = self._pop(now) if now - housekept < HOUSEKEEPING_PERIOD else None
            if popped is None:
                self._housekeeping(now)
                housekept = now
                popped = self._pop(now)
            if popped is None:
                await self._idle(now)
                yielded = self.clock()
                continue
            self._cycle(*popped)
            if self.clock() - yielded >= YIELD_EVERY:
                await asyncio.sleep(0)
                yielded = self.clock()

    def _housekeeping(self, now: float) -> None:
        """Finished backoffs into activeQ, long-parked pods back, expired assumptions forgotten."""
        for p in self.profiles.values():
            p.queue.flush(now)
        for key in self.cache.cleanup_expired(now):
            log.warning("assumed pod expired without its binding showing up", pod=key)

    def _pop(self, now: float) -> tuple[_Profile, QueuedPod] | None:
        """Round-robin over profiles, so one busy profile cannot starve another."""
        profiles = list(self.profiles.values())
        for i in range(len(profiles)):
            p = profiles[(self._next_profile + i) % len(profiles)]
            qp = p.queue.pop(now)
            if qp is not None:
                self._next_profile = (self._next_profile + i + 1) % len(profiles)
                return p, qp
        return None

    async def _idle(self, now: float) -> None:
        wakeups = [w for p in self.profiles.values() if (w := p.queue.next_wakeup()) is not None]
        timeout = min([FLUSH_PERIOD, *(w - now for w in wakeups)])
        self._wake.clear()
        try:
            async with asyncio.timeout(max(timeout, 0.0)):
                await self._wake.wait()
        except TimeoutError:
            pass

    def _cycle(self, profile: _Profile, qp: QueuedPod) -> None:
        pod, fw, queue = qp.pod, profile.framework, profile.queue
        if self.cache.pod_node(pod.key) is not None:
            queue.done(pod.key)  # already assumed or bound (a stale queue entry)
            return
        started = self.clock()
        result = fw.schedule_one(pod, self.cache)
        self.metrics.algorithm_seconds.observe(self.clock() - started)
        if result.node is None:
            self._unschedulable(profile, qp, result, started)
            return
        node = result.node
        self.cache.assume_pod(pod, node)
        status = fw.reserve(result.state, pod, node, self.cache) or fw.permit(result.state, pod, node)
        if status is not None:
            fw.unreserve(result.state, pod, node, self.cache)
            self.cache.forget_pod(pod.key)
            self._requeue(queue, qp, [status.plugin] if status.plugin else [])
            self.metrics.attempt("unschedulable", self.clock() - started)
            self._failed_scheduling(pod, status.message, "Unschedulable")
            return
        queue.done(pod.key)
        queue.nominator.remove(pod.key)
        self._spawn(self._bind(profile, qp, result, started))

    def _unschedulable(self, profile: _Profile, qp: QueuedPod, result: ScheduleResult, started: float) -> None:
        pod, queue = qp.pod, profile.queue
        preemption = result.preemption
        if preemption is not None:
            for other in preemption.clear_nominations:
                queue.nominator.remove(other.key)
                self._spawn(self._set_nominated_node(other, None))
            if preemption.nominated_node:
                queue.nominator.add(pod, preemption.nominated_node)
                self._spawn(self._preempt(pod, preemption.nominated_node, preemption.victims))
        self._requeue(queue, qp, sorted(result.diagnosis.unschedulable_plugins))
        self.metrics.attempt("unschedulable", self.clock() - started)
        self._failed_scheduling(pod, result.message, "Unschedulable")

    def _requeue(self, queue: SchedulingQueue, qp: QueuedPod, plugins: list[str], error: bool = False) -> None:
        if qp.key in self._pending:
            queue.add_unschedulable(qp, plugins, self.clock(), error=error)
        else:
            queue.done(qp.key)  # deleted (or bound elsewhere) while its cycle ran

    # --- writes ---

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(self._bounded(coro))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _bounded(self, coro: Coroutine[Any, Any, None]) -> None:
        async with self._write_slots:
            try:
                await coro
            except Exception:
                # API errors are handled where they happen; anything else is a bug, reported rather than lost
                # in an unawaited task.
                log.error("scheduler write failed", exc_info=True)

    async def drain(self) -> None:
        """Wait for the writes in flight (bindings, patches, events), e.g. before releasing the lease."""
        while self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)
        await self.events.flush()

    async def _bind(self, profile: _Profile, qp: QueuedPod, result: ScheduleResult, started: float) -> None:
        pod, fw, node = qp.pod, profile.framework, result.node
        assert node is not None
        try:
            for intent in fw.pre_bind(result.state, pod, node):
                await self._apply_intent(intent)
            binding = fw.bind(result.state, pod, node)
            await self.client.create(PODS, binding, pod.namespace, name=pod.name, subresource="binding")
        except (ApiError, ApiConnectionError) as exc:
            fw.unreserve(result.state, pod, node, self.cache)
            self.cache.forget_pod(pod.key)
            self.metrics.attempt("error", self.clock() - started)
            if isinstance(exc, NotFound):
                self._pending.pop(pod.key, None)
                return  # the pod is gone; nothing to retry
            log.warning("binding failed", pod=pod.key, node=node, error=str(exc))
            self._requeue(profile.queue, qp, [], error=True)
            self._wake.set()
            self._failed_scheduling(pod, f"Binding rejected: {exc}", "SchedulerError")
            return
        now = self.clock()
        self.cache.finish_binding(pod.key, now)
        self.metrics.attempt("scheduled", now - started)
        queued = self._pending.pop(pod.key, None)
        if queued is not None:
            self.metrics.e2e_seconds.observe(now - queued)
        self.events.record(pod, NORMAL, "Scheduled", f"Successfully assigned {pod.key} to {node}")

    async def _apply_intent(self, intent: object) -> None:
        if isinstance(intent, BindVolume):
            await self.client.patch(lookup("persistentvolumes"), intent.pv_name, {"spec": {"claimRef": {
                "apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": intent.claim_namespace,
                "name": intent.claim_name, "uid": intent.claim_uid}}}, patch_type=PatchType.MERGE)
        elif isinstance(intent, ProvisionVolume):
            await self.client.patch(lookup("persistentvolumeclaims"), intent.claim_name, {"metadata": {
                "annotations": {SELECTED_NODE_ANNOTATION: intent.node}}}, intent.claim_namespace,
                patch_type=PatchType.MERGE)
        else:
            raise TypeError(f"unknown PreBind intent {intent!r}")

    def _failed_scheduling(self, pod: PodInfo, message: str, reason: str) -> None:
        self.events.record(pod, WARNING, "FailedScheduling", message)
        self._spawn(self._patch_status(pod, {"status": {"conditions": [{
            "type": "PodScheduled", "status": "False", "reason": reason, "message": message,
            "lastProbeTime": None, "lastTransitionTime": _now_rfc3339()}]}}))

    async def _preempt(self, pod: PodInfo, node: str, victims: Iterable[PodInfo]) -> None:
        for victim in victims:
            self.events.record(victim, NORMAL, "Preempted", f"Preempted by pod {pod.uid} on node {node}")
            await self._delete_victim(victim)
        await self._set_nominated_node(pod, node)

    async def _delete_victim(self, victim: PodInfo) -> None:
        try:
            # Graceful: the pod's own terminationGracePeriodSeconds applies; the UID guards against a new pod.
            await self.client.delete(PODS, victim.name, victim.namespace, preconditions={"uid": victim.uid})
        except NotFound:
            pass
        except (ApiError, ApiConnectionError) as exc:
            log.warning("could not delete preemption victim", pod=victim.key, error=str(exc))

    async def _set_nominated_node(self, pod: PodInfo, node: str | None) -> None:
        await self._patch_status(pod, {"status": {"nominatedNodeName": node}})

    async def _patch_status(self, pod: PodInfo, patch: Mapping[str, Any]) -> None:
        try:
            await self.client.patch(PODS, pod.name, patch, pod.namespace, patch_type=PatchType.STRATEGIC,
                                    subresource="status")
        except NotFound:
            pass
        except (ApiError, ApiConnectionError) as exc:
            log.warning("could not update pod status", pod=pod.key, error=str(exc))

    def queue_lengths(self) -> dict[str, int]:
        """Pods per sub-queue, summed over profiles (for /metrics)."""
        total: dict[str, int] = {}
        for p in self.profiles.values():
            for name, n in p.queue.lengths().items():
                total[name] = total.get(name, 0) + n
        return total


def _now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
