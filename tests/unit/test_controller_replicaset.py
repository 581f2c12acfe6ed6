"""ReplicaSet/ReplicationController reconcile: slow start, burst cap, expectations, deletion ranking,
adoption/release, status with minReadySeconds."""

from __future__ import annotations

from typing import Any

from controller_manager import replicaset
from controller_manager.actions import Create, Delete, Expect, Patch, RequeueAfter, UpdateStatus
from controller_manager.expectations import Expectations
from controller_manager.view import PODS, REPLICA_SETS, REPLICATION_CONTROLLERS
from tests.unit.controller_fixtures import FakeCluster, finish, make_running


def rs_obj(replicas: int, name: str = "web", min_ready: int = 0) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"replicas": replicas, "minReadySeconds": min_ready,
                 "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name, "tier": "fe"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}},
    }


def sync(c: FakeCluster, key: str = "ns/web", kind: replicaset.Kind = replicaset.REPLICA_SET):
    actions = replicaset.reconcile(c, kind, key, c.clock.now, c.expectations)
    c.apply(actions)
    return actions


def test_slow_start_batches():
    assert replicaset.slow_start_batches(10) == [1, 2, 4, 3]
    assert replicaset.slow_start_batches(1) == [1]
    assert replicaset.slow_start_batches(0) == []


def test_creates_pods_from_template_in_slow_start_batches():
    c = FakeCluster()
    rs = c.add(REPLICA_SETS, rs_obj(10))
    actions = sync(c)
    creates = [a for a in actions if isinstance(a, Create)]
    assert [a.batch for a in creates] == [0, 1, 1, 2, 2, 2, 2, 3, 3, 3]
    assert actions[0] == Expect("ns/web", creations=10)
    pod = creates[0].body
    assert pod["metadata"]["generateName"] == "web-"
    assert pod["metadata"]["labels"] == {"app": "web", "tier": "fe"}
    assert pod["metadata"]["ownerReferences"] == [{
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": rs["metadata"]["uid"],
        "controller": True, "blockOwnerDeletion": True}]
    assert len(c.all(PODS, "ns")) == 10
    status = c.get(REPLICA_SETS, "ns", "web")["status"]
    assert status["observedGeneration"] == 1
    # the next sync sees the pods and writes status; nothing more to create
    actions = sync(c)
    assert not [a for a in actions if isinstance(a, Create)]
    assert c.get(REPLICA_SETS, "ns", "web")["status"]["replicas"] == 10


def test_burst_cap_limits_one_sync_to_500():
    c = FakeCluster()
    c.add(REPLICA_SETS, rs_obj(1200))
    actions = replicaset.reconcile(c, replicaset.REPLICA_SET, "ns/web", c.clock.now, Expectations())
    assert sum(isinstance(a, Create) for a in actions) == 500


def test_unobserved_creates_block_further_creates_until_expired():
    c = FakeCluster()
    c.add(REPLICA_SETS, rs_obj(3))
    exp = Expectations()
    exp.expect("ns/web", 3, (), c.clock.now)
    assert not [a for a in replicaset.reconcile(c, replicaset.REPLICA_SET, "ns/web", c.clock.now, exp)
                if isinstance(a, Create)]
    later = c.clock.advance(301)
    assert len([a for a in replicaset.reconcile(c, replicaset.REPLICA_SET, "ns/web", later, exp)
                if isinstance(a, Create)]) == 3


def test_scale_down_deletes_worst_pods_first():
    c = FakeCluster()
    c.add(REPLICA_SETS, rs_obj(5))
    sync(c)
    pods = c.all(PODS, "ns")
    # p0: ready long ago; p1: ready recently; p2: running not ready; p3: pending on a node; p4: unscheduled
    make_running(c, pods[0], "n1")
    c.clock.advance(100)
    make_running(c, pods[1], "n2")
    make_running(c, pods[2], "n3", ready=False)
    p3 = dict(pods[3])
    p3["spec"] = {**p3["spec"], "nodeName": "n4"}
    c.put(PODS, p3)
    rs = c.get(REPLICA_SETS, "ns", "web")
    rs["spec"]["replicas"] = 1
    c.put(REPLICA_SETS, rs)
    actions = sync(c)
    deleted = [a.name for a in actions if isinstance(a, Delete)]
    names = [p["metadata"]["name"] for p in pods]
    assert deleted == [names[4], names[3], names[2], names[1]]
    assert [p["metadata"]["name"] for p in c.all(PODS, "ns")] == [names[0]]


def test_deletion_prefers_pods_sharing_a_node():
    c = FakeCluster()
    c.add(REPLICA_SETS, rs_obj(3))
    sync(c)
    a, b, d = c.all(PODS, "ns")
    make_running(c, a, "n1")
    make_running(c, b, "n1")
    make_running(c, d, "n2")
    rs = c.get(REPLICA_SETS, "ns", "web")
    rs["spec"]["replicas"] = 2
    c.put(REPLICA_SETS, rs)
    deleted = [x.name for x in sync(c) if isinstance(x, Delete)]
    assert deleted[0] in (a["metadata"]["name"], b["metadata"]["name"])


def test_adopts_orphans_and_releases_pods_that_stop_matching():
    c = FakeCluster()
    rs = c.add(REPLICA_SETS, rs_obj(2))
    c.add(PODS, {"metadata": {"name": "orphan", "namespace": "ns", "labels": {"app": "web"}}, "spec": {}})
    owned = c.add(PODS, {"metadata": {"name": "mine", "namespace": "ns", "labels": {"app": "other"},
                                      "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                                           "name": "web", "uid": rs["metadata"]["uid"],
                                                           "controller": True}]}, "spec": {}})
    other_owner = c.add(PODS, {"metadata": {"name": "theirs", "namespace": "ns", "labels": {"app": "web"},
                                            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                                                 "name": "x", "uid": "u-x", "controller": True}]},
                               "spec": {}})
    actions = sync(c)
    patches = [a for a in actions if isinstance(a, Patch)]
    assert {p.name for p in patches} == {"orphan", "mine"}
    assert c.get(PODS, "ns", "orphan")["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
    assert not c.get(PODS, "ns", "mine")["metadata"].get("ownerReferences")
    assert c.get(PODS, "ns", "theirs")["metadata"]["ownerReferences"] == other_owner["metadata"]["ownerReferences"]
    assert owned["metadata"]["name"] == "mine"
    # orphan adopted counts as one replica, so exactly one more pod is created
    assert sum(isinstance(a, Create) for a in actions) == 1


def test_finished_pods_are_replaced_not_counted():
    c = FakeCluster()
    c.add(REPLICA_SETS, rs_obj(1))
    sync(c)
    (pod,) = c.all(PODS, "ns")
    finish(c, pod, "Failed")
    actions = sync(c)
    assert sum(isinstance(a, Create) for a in actions) == 1


def test_status_counts_ready_and_available_with_min_ready_seconds():
    c = FakeCluster()
    c.add(REPLICA_SETS, rs_obj(2, min_ready=10))
    sync(c)
    for p in c.all(PODS, "ns"):
        make_running(c, p)
    actions = sync(c)
    status = c.get(REPLICA_SETS, "ns", "web")["status"]
    assert (status["replicas"], status["readyReplicas"], status["availableReplicas"]) == (2, 2, 0)
    assert status["fullyLabeledReplicas"] == 2
    assert RequeueAfter("ns/web", 10.0) in actions
    c.clock.advance(10.5)
    sync(c)
    assert c.get(REPLICA_SETS, "ns", "web")["status"]["availableReplicas"] == 2
    # nothing changed: no status write
    assert not [a for a in sync(c) if isinstance(a, UpdateStatus)]


def test_deleting_replicaset_creates_nothing():
    c = FakeCluster()
    obj = rs_obj(3)
    obj["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    obj["metadata"]["finalizers"] = ["foregroundDeletion"]
    c.add(REPLICA_SETS, obj)
    assert not [a for a in sync(c) if isinstance(a, Create)]


def test_replication_controller_uses_map_selector():
    c = FakeCluster()
    c.add(REPLICATION_CONTROLLERS, {
        "metadata": {"name": "rc", "namespace": "ns"},
        "spec": {"replicas": 2, "selector": {"app": "rc"},
                 "template": {"metadata": {"labels": {"app": "rc"}}, "spec": {"containers": []}}}})
    actions = sync(c, "ns/rc", replicaset.REPLICATION_CONTROLLER)
    creates = [a for a in actions if isinstance(a, Create)]
    assert len(creates) == 2
    assert creates[0].body["metadata"]["ownerReferences"][0]["kind"] == "ReplicationController"
    assert c.get(REPLICATION_CONTROLLERS, "ns", "rc")["status"]["replicas"] == 0
    sync(c, "ns/rc", replicaset.REPLICATION_CONTROLLER)
    assert c.get(REPLICATION_CONTROLLERS, "ns", "rc")["status"]["replicas"] == 2



def test_failed_pod_writes_raise_replica_failure_and_success_clears_it():
    c = FakeCluster()
    c.add(REPLICA_SETS, rs_obj(2))
    exp = Expectations()
    actions = replicaset.reconcile(c, replicaset.REPLICA_SET, "ns/web", c.clock.now, exp,
                                   write_error='pods "web-x" is forbidden: exceeded quota')
    c.apply([a for a in actions if isinstance(a, UpdateStatus)])
    (cond,) = c.get(REPLICA_SETS, "ns", "web")["status"]["conditions"]
    assert (cond["type"], cond["reason"]) == ("ReplicaFailure", "FailedCreate")
    assert "exceeded quota" in cond["message"]
    sync(c)
    assert "conditions" not in c.get(REPLICA_SETS, "ns", "web")["status"]
