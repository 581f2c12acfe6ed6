"""The scheduling queue with a fake clock: ordering, backoff, parking and moving on events, gates."""

from typing import Any

from scheduler.events import (
    ASSIGNED_POD_DELETE,
    NODE_ADD,
    Action,
    ClusterEvent,
    Resource,
    assigned_pod_update_event,
    node_update_event,
)
from scheduler.podinfo import PodInfo
from scheduler.queue import SchedulingQueue
from tests.unit.scheduler_fixtures import framework, node, pod


def _queue(**kwargs: float) -> SchedulingQueue:
    fw = framework()
    return SchedulingQueue(fw.events_by_plugin(), fw.run_pre_enqueue, **kwargs)


def _p(name: str, priority: int = 0, created: str = "2026-01-01T00:00:00Z", **spec: Any) -> PodInfo:
    raw = pod(name, priority=priority, **spec)
    raw["metadata"]["creationTimestamp"] = created
    return PodInfo(raw)


def _drain(q: SchedulingQueue, now: float) -> list[str]:
    out = []
    while (qp := q.pop(now)) is not None:
        out.append(qp.pod.name)
        q.done(qp.key)
    return out


def test_active_queue_orders_by_priority_then_creation():
    q = _queue()
    q.add(_p("old-low", 0, "2026-01-01T00:00:00Z"), 0)
    q.add(_p("new-high", 10, "2026-01-01T00:00:09Z"), 0)
    q.add(_p("old-high", 10, "2026-01-01T00:00:01Z"), 0)
    q.add(_p("new-low", 0, "2026-01-01T00:00:05Z"), 0)
    assert _drain(q, 0) == ["old-high", "new-high", "old-low", "new-low"]
    assert q.pop(0) is None


def test_pop_is_non_blocking_and_counts_attempts():
    q = _queue()
    assert q.pop(0) is None
    q.add(_p("a"), 0)
    qp = q.pop(0)
    assert qp is not None and qp.attempts == 1 and qp.initial_attempt == 0


def test_exponential_backoff_capped():
    q = _queue(initial_backoff=1, max_backoff=10)
    q.add(_p("a"), 0)
    now = 0.0
    waits = []
    for _ in range(6):
        qp = q.pop(now)
        assert qp is not None
        q.add_unschedulable(qp, [], now, error=True)  # errors always back off
        assert q.where("default/a") == "backoff"
        wake = q.next_wakeup()
        assert wake is not None
        waits.append(wake - now)
        assert q.pop(wake - 0.001) is None
        now = wake
    assert waits == [1, 2, 4, 8, 10, 10]


def test_unschedulable_pod_moves_only_on_events_its_plugins_registered():
    q = _queue()
    q.add(_p("a"), 0)
    qp = q.pop(0)
    assert qp is not None
    q.add_unschedulable(qp, ["NodeResourcesFit"], 0)
    assert q.where("default/a") == "unschedulable"
    # A new PV does not help a pod that lacked CPU.
    assert q.move_on_event(ClusterEvent(Resource.PERSISTENT_VOLUME, Action.ADD), 5) == 0
    # A label change on a node does not either; a deleted pod frees room.
    assert q.move_on_event(ClusterEvent(Resource.NODE, Action.UPDATE_NODE_LABEL), 5) == 0
    assert q.move_on_event(ASSIGNED_POD_DELETE, 5) == 1
    assert q.where("default/a") == "active"  # its 1 s backoff had already passed


def test_moved_pod_still_in_backoff_goes_to_backoff_queue():
    q = _queue()
    q.add(_p("a"), 0)
    qp = q.pop(0)
    assert qp is not None
    q.add_unschedulable(qp, ["TaintToleration"], 10)
    assert q.move_on_event(NODE_ADD, 10.5) == 1
    assert q.where("default/a") == "backoff"
    assert q.pop(10.9) is None
    popped = q.pop(11)
    assert popped is not None and popped.pod.name == "a"


def test_event_during_the_cycle_sends_the_pod_to_backoff_not_parking():
    q = _queue()
    q.add(_p("a"), 0)
    qp = q.pop(0)
    assert qp is not None
    q.move_on_event(NODE_ADD, 0.5)  # happens while "a" is being scheduled
    q.add_unschedulable(qp, ["NodeResourcesFit"], 1)
    assert q.where("default/a") == "backoff"
    q.add(_p("b"), 2)
    qb = q.pop(2)
    assert qb is not None
    q.add_unschedulable(qb, ["NodeResourcesFit"], 2)  # no event since b was popped
    assert q.where("default/b") == "unschedulable"


def test_parked_pods_are_flushed_after_five_minutes():
    q = _queue()
    q.add(_p("a"), 0)
    qp = q.pop(0)
    assert qp is not None
    q.add_unschedulable(qp, ["NodeAffinity"], 0)
    assert q.pop(300) is None
    popped = q.pop(300.5)
    assert popped is not None and popped.pod.name == "a"


def test_scheduling_gates_keep_pods_out_until_removed():
    q = _queue()
    q.add(_p("gated", schedulingGates=[{"name": "wait"}]), 0)
    assert q.where("default/gated") == "unschedulable"
    assert q.pop(0) is None
    assert q.move_on_event(NODE_ADD, 1) == 0
    assert q.pop(1000) is None  # not flushed either
    q.update(_p("gated"), 1001)
    assert q.where("default/gated") == "active"


def test_update_of_parked_pod_requeues_it_and_delete_forgets_it():
    q = _queue()
    q.add(_p("a"), 0)
    qp = q.pop(0)
    assert qp is not None
    q.add_unschedulable(qp, ["NodeAffinity"], 0)
    q.update(_p("a", nodeSelector={"disk": "ssd"}), 5)
    assert q.where("default/a") == "active"
    q.delete("default/a")
    assert q.where("default/a") is None and q.pop(5) is None and len(q) == 0


def test_lengths_and_nominator():
    q = _queue()
    q.add(_p("a"), 0)
    q.add(_p("b"), 0)
    assert q.lengths() == {"active": 2, "backoff": 0, "unschedulable": 0}
    info = _p("a")
    q.nominator.add(info, "n1")
    assert q.nominator.nominated_pods("n1") == (info,)
    q.delete("default/a")
    assert q.nominator.nominated_pods("n1") == ()


def test_event_classification():
    old = node("n1")
    assert node_update_event(old, node("n1")) is None
    changed = node_update_event(old, node("n1", labels={"zone": "a"}, cpu="8"))
    assert changed is not None
    assert changed.action == Action.UPDATE_NODE_LABEL | Action.UPDATE_NODE_ALLOCATABLE
    assert NODE_ADD.covers(NODE_ADD) and not NODE_ADD.covers(changed)
    relabelled = assigned_pod_update_event(pod("p"), pod("p", labels={"a": "b"}))
    assert relabelled == ClusterEvent(Resource.ASSIGNED_POD, Action.UPDATE_POD_LABEL)
