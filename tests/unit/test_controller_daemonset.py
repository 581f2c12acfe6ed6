"""DaemonSet reconcile: placement by selector/affinity/taints, standard tolerations, rolling updates,
OnDelete, ControllerRevisions, status."""

from __future__ import annotations

import copy
from typing import Any

from controller_manager import daemonset, history
from controller_manager.actions import Action, Create, Delete
from controller_manager.history import REVISION_HASH
from controller_manager.view import CONTROLLER_REVISIONS, DAEMON_SETS, NODES, PODS
from tests.unit.controller_fixtures import FakeCluster, make_running


def ds_obj(image: str = "v1", **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "agent"}}, "revisionHistoryLimit": 10,
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
        "template": {"metadata": {"labels": {"app": "agent"}},
                     "spec": {"containers": [{"name": "c", "image": image}]}}}
    base.update(spec)
    return {"metadata": {"name": "agent", "namespace": "ns"}, "spec": base}


def add_node(c: FakeCluster, name: str, taints: list[dict[str, Any]] | None = None, **lbls: str) -> None:
    c.add(NODES, {"metadata": {"name": name, "labels": lbls}, "spec": {"taints": taints or []}})


def sync(c: FakeCluster) -> list[Action]:
    actions = daemonset.reconcile(c, "ns/agent", c.clock.now, c.expectations)
    c.apply(actions)
    return actions


def kubelets(c: FakeCluster) -> None:
    for p in c.all(PODS, "ns"):
        if not p.get("status"):
            make_running(c, p, daemonset._pod_node(p) or "")


def pods_by_node(c: FakeCluster) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for p in c.all(PODS, "ns"):
        out.setdefault(daemonset._pod_node(p) or "", []).append(p)
    return out


def test_one_pod_per_eligible_node_with_standard_tolerations():
    c = FakeCluster()
    add_node(c, "n1")
    add_node(c, "n2", [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}])
    add_node(c, "n3", [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}])
    add_node(c, "n4", [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}])
    c.add(DAEMON_SETS, ds_obj())
    actions = sync(c)
    assert sorted(pods_by_node(c)) == ["n1", "n3", "n4"]
    pod = next(a.body for a in actions if isinstance(a, Create) and a.resource == PODS)
    keys = {t["key"] for t in pod["spec"]["tolerations"]}
    assert {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable",
            "node.kubernetes.io/unschedulable", "node.kubernetes.io/memory-pressure"} <= keys
    term = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["nodeSelectorTerms"][0]["matchFields"][0]["key"] == "metadata.name"
    assert pod["metadata"]["labels"][REVISION_HASH]
    (rev,) = c.all(CONTROLLER_REVISIONS, "ns")
    assert rev["revision"] == 1 and rev["metadata"]["name"] == f"agent-{pod['metadata']['labels'][REVISION_HASH]}"
    kubelets(c)
    sync(c)
    st = c.get(DAEMON_SETS, "ns", "agent")["status"]
    assert (st["desiredNumberScheduled"], st["currentNumberScheduled"], st["numberReady"],
            st["numberAvailable"], st["updatedNumberScheduled"], st["numberMisscheduled"]) == (3, 3, 3, 3, 3, 0)


def test_node_selector_and_new_nodes():
    c = FakeCluster()
    add_node(c, "n1", disk="ssd")
    add_node(c, "n2")
    spec = ds_obj()
    spec["spec"]["template"]["spec"]["nodeSelector"] = {"disk": "ssd"}
    c.add(DAEMON_SETS, spec)
    sync(c)
    assert sorted(pods_by_node(c)) == ["n1"]
    add_node(c, "n3", disk="ssd")
    sync(c)
    assert sorted(pods_by_node(c)) == ["n1", "n3"]


def test_no_schedule_taint_keeps_running_pod_but_no_execute_evicts():
    c = FakeCluster()
    add_node(c, "n1")
    add_node(c, "n2")
    c.add(DAEMON_SETS, ds_obj())
    sync(c)
    kubelets(c)
    for name, effect in (("n1", "NoSchedule"), ("n2", "NoExecute")):
        node = copy.deepcopy(c.get(NODES, None, name))
        node["spec"]["taints"] = [{"key": "maintenance", "effect": effect}]
        c.put(NODES, node)
    doomed = pods_by_node(c)["n2"][0]["metadata"]["name"]
    actions = sync(c)
    assert [a.name for a in actions if isinstance(a, Delete)] == [doomed]
    assert sorted(pods_by_node(c)) == ["n1"]
    sync(c)
    st = c.get(DAEMON_SETS, "ns", "agent")["status"]
    assert st["numberMisscheduled"] == 1  # n1's pod stays although no new one would be placed


def test_rolling_update_replaces_one_node_at_a_time():
    c = FakeCluster()
    for i in range(4):
        add_node(c, f"n{i}")
    c.add(DAEMON_SETS, ds_obj())
    sync(c)
    kubelets(c)
    sync(c)
    ds = copy.deepcopy(c.get(DAEMON_SETS, "ns", "agent"))
    ds["spec"]["template"]["spec"]["containers"][0]["image"] = "v2"
    c.put(DAEMON_SETS, ds)
    worst = 4
    for _ in range(20):
        sync(c)
        available = sum(1 for ps in pods_by_node(c).values() for p in ps if (p.get("status") or {}).get("phase"))
        worst = min(worst, available)
        kubelets(c)
        c.clock.advance(1)
    images = {p["spec"]["containers"][0]["image"] for p in c.all(PODS, "ns")}
    assert images == {"v2"} and len(c.all(PODS, "ns")) == 4
    assert worst == 3
    revs = sorted(r["revision"] for r in c.all(CONTROLLER_REVISIONS, "ns"))
    assert revs == [1, 2]
    assert c.get(DAEMON_SETS, "ns", "agent")["status"]["updatedNumberScheduled"] == 4


def test_surge_update_keeps_every_node_served():
    c = FakeCluster()
    for i in range(3):
        add_node(c, f"n{i}")
    c.add(DAEMON_SETS, ds_obj(updateStrategy={"type": "RollingUpdate",
                                              "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}))
    sync(c)
    kubelets(c)
    sync(c)
    ds = copy.deepcopy(c.get(DAEMON_SETS, "ns", "agent"))
    ds["spec"]["template"]["spec"]["containers"][0]["image"] = "v2"
    c.put(DAEMON_SETS, ds)
    most = 0
    for _ in range(20):
        sync(c)
        by_node = pods_by_node(c)
        assert all(any((p.get("status") or {}).get("phase") == "Running" for p in ps) for ps in by_node.values())
        most = max(most, len(c.all(PODS, "ns")))
        kubelets(c)
        c.clock.advance(1)
    assert {p["spec"]["containers"][0]["image"] for p in c.all(PODS, "ns")} == {"v2"}
    assert most == 4


def test_on_delete_waits_for_the_user_and_rollback_reuses_revision():
    c = FakeCluster()
    add_node(c, "n1")
    c.add(DAEMON_SETS, ds_obj(updateStrategy={"type": "OnDelete"}))
    sync(c)
    kubelets(c)
    ds = copy.deepcopy(c.get(DAEMON_SETS, "ns", "agent"))
    ds["spec"]["template"]["spec"]["containers"][0]["image"] = "v2"
    c.put(DAEMON_SETS, ds)
    assert not [a for a in sync(c) if isinstance(a, Delete)]
    ds = copy.deepcopy(c.get(DAEMON_SETS, "ns", "agent"))
    ds["spec"]["template"]["spec"]["containers"][0]["image"] = "v1"
    c.put(DAEMON_SETS, ds)
    sync(c)
    revs = {r["data"]["spec"]["template"]["spec"]["containers"][0]["image"]: r["revision"]
            for r in c.all(CONTROLLER_REVISIONS, "ns")}
    assert revs == {"v1": 3, "v2": 2}


def test_revision_name_collision_bumps_collision_count():
    c = FakeCluster()
    add_node(c, "n1")
    ds = c.add(DAEMON_SETS, ds_obj())
    _, actions = history.sync_revision(c, ds, DAEMON_SETS)
    (create,) = actions
    assert isinstance(create, Create)
    c.add(CONTROLLER_REVISIONS, {**create.body, "data": {"someone": "else"}, "metadata": {
        "name": create.body["metadata"]["name"], "namespace": "ns"}})
    actions = sync(c)
    assert not [a for a in actions if isinstance(a, Create)]
    assert c.get(DAEMON_SETS, "ns", "agent")["status"]["collisionCount"] == 1
    sync(c)
    assert len(c.all(PODS, "ns")) == 1
