"""Deployment reconcile, driven together with the ReplicaSet core and simulated kubelets."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from controller_manager import deployment, history, replicaset
from controller_manager.actions import Action, Create, RequeueAfter
from controller_manager.view import DEPLOYMENTS, PODS, REPLICA_SETS
from tests.unit.controller_fixtures import FakeCluster, make_running


def dep_obj(replicas: int = 10, image: str = "v1", *, surge: int | str = 1, unavailable: int | str = 1,
            strategy: str = "RollingUpdate", deadline: int = 600, history: int = 10) -> dict[str, Any]:
    strat: dict[str, Any] = {"type": strategy}
    if strategy == "RollingUpdate":
        strat["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    return {
        "metadata": {"name": "web", "namespace": "ns"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}, "strategy": strat,
                 "revisionHistoryLimit": history, "progressDeadlineSeconds": deadline,
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": image}]}}},
    }


class Sim:
    """The Deployment controller, the ReplicaSet controller and kubelets taking turns on one fake cluster."""

    def __init__(self, c: FakeCluster, ready_pods: bool = True) -> None:
        self.c = c
        self.ready_pods = ready_pods
        self.max_pods = 0
        self.min_available: int | None = None

    def sync_rs(self) -> None:
        for rs in self.c.all(REPLICA_SETS, "ns"):
            key = f"ns/{rs['metadata']['name']}"
            self.c.apply(replicaset.reconcile(self.c, replicaset.REPLICA_SET, key, self.c.clock.now,
                                              self.c.expectations))

    def sync_deployment(self) -> list[Action]:
        actions = deployment.reconcile(self.c, "ns/web", self.c.clock.now)
        self.c.apply(actions)
        return actions

    def kubelets(self) -> None:
        if not self.ready_pods:
            return
        for p in self.c.all(PODS, "ns"):
            if not p.get("status"):
                make_running(self.c, p)

    def reset(self) -> None:
        """Start measuring afresh (a new rollout begins)."""
        self.max_pods = 0
        self.min_available = None

    def observe(self) -> None:
        pods = self.c.all(PODS, "ns")
        self.max_pods = max(self.max_pods, len(pods))
        ready = sum(1 for p in pods if any(cd["type"] == "Ready" and cd["status"] == "True"
                                           for cd in (p.get("status") or {}).get("conditions", [])))
        self.min_available = ready if self.min_available is None else min(self.min_available, ready)

    def step(self) -> None:
        self.kubelets()
        self.sync_rs()
        self.sync_deployment()
        self.sync_rs()
        self.observe()
        self.c.clock.advance(1)

    def run_until_complete(self, limit: int = 100) -> int:
        for i in range(limit):
            self.step()
            if rollout_status(self.c.get(DEPLOYMENTS, "ns", "web")) == "done":
                return i
        raise AssertionError("rollout did not finish")


def rollout_status(d: dict[str, Any]) -> str:
    """What `kubectl rollout status` decides from a Deployment (its exact rules)."""
    st = d.get("status") or {}
    if st.get("observedGeneration", 0) < d["metadata"]["generation"]:
        return "waiting for spec update to be observed"
    for cond in st.get("conditions", []):
        if cond["type"] == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            return "error: deadline exceeded"
    replicas = d["spec"]["replicas"]
    if st.get("updatedReplicas", 0) < replicas:
        return "waiting: updated"
    if st.get("replicas", 0) > st.get("updatedReplicas", 0):
        return "waiting: old replicas pending termination"
    if st.get("availableReplicas", 0) < st.get("updatedReplicas", 0):
        return "waiting: available"
    return "done"


def set_template_image(c: FakeCluster, image: str) -> None:
    d = copy.deepcopy(c.get(DEPLOYMENTS, "ns", "web"))
    d["spec"]["template"]["spec"]["containers"][0]["image"] = image
    c.put(DEPLOYMENTS, d)


def settled(image: str = "v1", **kw) -> tuple[FakeCluster, Sim]:
    c = FakeCluster()
    c.add(DEPLOYMENTS, dep_obj(image=image, **kw))
    sim = Sim(c)
    sim.run_until_complete()
    return c, sim


def test_fenceposts_round_surge_up_and_unavailable_down():
    d = dep_obj(10, surge="25%", unavailable="25%")
    assert deployment.resolve_fenceposts(d) == (3, 2)
    assert deployment.resolve_fenceposts(dep_obj(1, surge="0%", unavailable="10%")) == (0, 1)
    assert deployment.max_unavailable(dep_obj(3, surge=0, unavailable=5)) == 3
    assert deployment.max_surge(dep_obj(3, strategy="Recreate")) == 0


def test_template_hash_is_stable_and_collision_count_changes_it():
    t = dep_obj()["spec"]["template"]
    h = history.template_hash(t)
    assert h == history.template_hash(copy.deepcopy(t))
    assert h != history.template_hash(t, 1)
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789")


def test_first_sync_creates_new_replicaset_with_revision_and_conditions():
    c = FakeCluster()
    c.add(DEPLOYMENTS, dep_obj(replicas=3))
    actions = deployment.reconcile(c, "ns/web", c.clock.now)
    c.apply(actions)
    (create,) = [a for a in actions if isinstance(a, Create)]
    rs = create.body
    h = history.template_hash(dep_obj()["spec"]["template"])
    assert rs["metadata"]["name"] == f"web-{h}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": h}
    assert rs["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == h
    assert rs["spec"]["replicas"] == 3  # nothing old: surge allows all at once
    ann = rs["metadata"]["annotations"]
    assert ann[deployment.REVISION] == "1"
    assert ann[deployment.DESIRED_REPLICAS] == "3"
    assert ann[deployment.MAX_REPLICAS] == "4"
    d = c.get(DEPLOYMENTS, "ns", "web")
    assert d["metadata"]["annotations"][deployment.REVISION] == "1"
    conds = {cd["type"]: cd for cd in d["status"]["conditions"]}
    assert conds["Progressing"]["reason"] == "NewReplicaSetCreated"
    assert conds["Available"]["status"] == "False"
    assert any(e.reason == "ScalingReplicaSet" and "from 0 to 3" in e.message for e in c.events)


def test_rolling_update_respects_surge_and_unavailable_and_finishes():
    c, sim = settled()
    d = c.get(DEPLOYMENTS, "ns", "web")
    conds = {cd["type"]: cd for cd in d["status"]["conditions"]}
    assert conds["Available"]["reason"] == "MinimumReplicasAvailable"
    assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
    set_template_image(c, "v2")
    sim.reset()
    sim.run_until_complete()
    assert sim.max_pods <= 11
    assert sim.min_available is not None and sim.min_available >= 9
    rss = c.all(REPLICA_SETS, "ns")
    assert len(rss) == 2
    new = next(r for r in rss if r["spec"]["template"]["spec"]["containers"][0]["image"] == "v2")
    old = next(r for r in rss if r is not new)
    assert (new["spec"]["replicas"], old["spec"]["replicas"]) == (10, 0)
    assert new["metadata"]["annotations"][deployment.REVISION] == "2"
    assert all(p["metadata"]["labels"]["pod-template-hash"] == new["metadata"]["labels"]["pod-template-hash"]
               for p in c.all(PODS, "ns"))
    d = c.get(DEPLOYMENTS, "ns", "web")
    assert d["metadata"]["annotations"][deployment.REVISION] == "2"
    assert d["status"]["updatedReplicas"] == d["status"]["availableReplicas"] == 10
    progressing = next(cd for cd in d["status"]["conditions"] if cd["type"] == "Progressing")
    assert progressing["reason"] == "NewReplicaSetAvailable"
    assert progressing["message"] == f'ReplicaSet "{new["metadata"]["name"]}" has successfully progressed.'


@pytest.mark.parametrize(("surge", "unavailable", "max_pods", "min_ready"),
                         [("25%", "25%", 13, 8), (0, 2, 10, 8), (3, 0, 13, 10)])
def test_rolling_update_bounds_for_other_settings(surge, unavailable, max_pods, min_ready):
    c, sim = settled(surge=surge, unavailable=unavailable)
    set_template_image(c, "v2")
    sim.reset()
    sim.run_until_complete()
    assert sim.max_pods <= max_pods
    assert sim.min_available is not None and sim.min_available >= min_ready


def test_rollback_reuses_old_replicaset_and_bumps_its_revision():
    c, sim = settled()
    set_template_image(c, "v2")
    sim.run_until_complete()
    old_template = next(r for r in c.all(REPLICA_SETS, "ns")
                        if r["metadata"]["annotations"][deployment.REVISION] == "1")["spec"]["template"]
    set_template_image(c, "v1")  # what `kubectl rollout undo` patches in
    sim.run_until_complete()
    rss = c.all(REPLICA_SETS, "ns")
    assert len(rss) == 2
    v1 = next(r for r in rss if r["spec"]["template"]["spec"]["containers"][0]["image"] == "v1")
    assert v1["spec"]["template"] == old_template
    assert v1["spec"]["replicas"] == 10
    assert v1["metadata"]["annotations"][deployment.REVISION] == "3"
    assert v1["metadata"]["annotations"][deployment.REVISION_HISTORY] == "1"
    assert all(p["spec"]["containers"][0]["image"] == "v1" for p in c.all(PODS, "ns"))


def test_progress_deadline_exceeded_when_pods_never_become_ready():
    c, sim = settled(deadline=30)
    set_template_image(c, "v2")
    sim.ready_pods = False
    requeues = []
    for _ in range(60):
        sim.step()
        requeues += [a for a in sim.sync_deployment() if isinstance(a, RequeueAfter)]
        if rollout_status(c.get(DEPLOYMENTS, "ns", "web")).startswith("error"):
            break
    d = c.get(DEPLOYMENTS, "ns", "web")
    cond = next(cd for cd in d["status"]["conditions"] if cd["type"] == "Progressing")
    assert (cond["status"], cond["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert requeues and requeues[0].seconds <= 31
    assert d["status"]["availableReplicas"] == 9  # maxUnavailable held even while stuck


def test_recreate_scales_old_to_zero_before_creating_new():
    c, sim = settled(strategy="Recreate")
    set_template_image(c, "v2")
    sim.step()
    rss = c.all(REPLICA_SETS, "ns")
    assert len(rss) == 1 and rss[0]["spec"]["replicas"] == 0
    assert not c.all(PODS, "ns")
    for _ in range(20):
        sim.step()
        images = {p["spec"]["containers"][0]["image"] for p in c.all(PODS, "ns")}
        assert len(images) <= 1  # old and new never run side by side
    assert images == {"v2"}
    assert rollout_status(c.get(DEPLOYMENTS, "ns", "web")) == "done"


def test_scaling_mid_rollout_is_proportional():
    c, sim = settled()
    set_template_image(c, "v2")
    sim.step()
    sim.step()
    before = {r["metadata"]["name"]: r["spec"]["replicas"] for r in c.all(REPLICA_SETS, "ns")}
    d = copy.deepcopy(c.get(DEPLOYMENTS, "ns", "web"))
    d["spec"]["replicas"] = 20
    c.put(DEPLOYMENTS, d)
    sim.sync_deployment()
    after = {r["metadata"]["name"]: r["spec"]["replicas"] for r in c.all(REPLICA_SETS, "ns")}
    assert sum(after.values()) == 21
    for name, size in before.items():
        assert after[name] >= size
    assert all(r["metadata"]["annotations"][deployment.DESIRED_REPLICAS] == "20" for r in c.all(REPLICA_SETS, "ns"))
    sim.run_until_complete()
    assert len(c.all(PODS, "ns")) == 20


def test_paused_deployment_does_not_roll_out():
    c, sim = settled()
    d = copy.deepcopy(c.get(DEPLOYMENTS, "ns", "web"))
    d["spec"]["paused"] = True
    d["spec"]["template"]["spec"]["containers"][0]["image"] = "v2"
    c.put(DEPLOYMENTS, d)
    for _ in range(3):
        sim.step()
    assert len(c.all(REPLICA_SETS, "ns")) == 1
    cond = next(cd for cd in c.get(DEPLOYMENTS, "ns", "web")["status"]["conditions"] if cd["type"] == "Progressing")
    assert (cond["status"], cond["reason"]) == ("Unknown", "DeploymentPaused")
    d = copy.deepcopy(c.get(DEPLOYMENTS, "ns", "web"))
    d["spec"]["paused"] = False
    c.put(DEPLOYMENTS, d)
    sim.run_until_complete()
    assert {p["spec"]["containers"][0]["image"] for p in c.all(PODS, "ns")} == {"v2"}


def test_revision_history_limit_deletes_oldest_scaled_down_replicasets():
    c, sim = settled(history=1)
    for image in ("v2", "v3", "v4"):
        set_template_image(c, image)
        sim.run_until_complete()
        sim.step()
    revisions = sorted(int(r["metadata"]["annotations"][deployment.REVISION]) for r in c.all(REPLICA_SETS, "ns"))
    assert revisions == [3, 4]


def test_restarted_at_annotation_rolls_pods():
    c, sim = settled(replicas=2)
    d = copy.deepcopy(c.get(DEPLOYMENTS, "ns", "web"))
    d["spec"]["template"]["metadata"]["annotations"] = {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}
    c.put(DEPLOYMENTS, d)
    sim.run_until_complete()
    assert all(p["metadata"].get("annotations", {}).get("kubectl.kubernetes.io/restartedAt") for p in c.all(PODS, "ns"))


def test_hash_collision_bumps_collision_count_and_retries_with_new_name():
    c = FakeCluster()
    c.add(DEPLOYMENTS, dep_obj(replicas=1))
    h = history.template_hash(dep_obj()["spec"]["template"])
    c.add(REPLICA_SETS, {"metadata": {"name": f"web-{h}", "namespace": "ns"},
                         "spec": {"replicas": 0, "selector": {"matchLabels": {"other": "x"}},
                                  "template": {"metadata": {"labels": {"other": "x"}}, "spec": {}}}})
    c.apply(deployment.reconcile(c, "ns/web", c.clock.now))
    assert c.get(DEPLOYMENTS, "ns", "web")["status"]["collisionCount"] == 1
    actions = deployment.reconcile(c, "ns/web", c.clock.now)
    (create,) = [a for a in actions if isinstance(a, Create)]
    assert create.body["metadata"]["name"] == f"web-{history.template_hash(dep_obj()['spec']['template'], 1)}"


def test_replica_failure_of_a_replicaset_surfaces_on_the_deployment():
    c, sim = settled(replicas=2)
    rs = copy.deepcopy(c.all(REPLICA_SETS, "ns")[0])
    rs["status"]["conditions"] = [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                                   "message": "exceeded quota"}]
    c.put(REPLICA_SETS, rs)
    set_template_image(c, "v2")
    sim.sync_deployment()
    conds = {cd["type"]: cd for cd in c.get(DEPLOYMENTS, "ns", "web")["status"]["conditions"]}
    assert (conds["ReplicaFailure"]["reason"], conds["ReplicaFailure"]["message"]) == ("FailedCreate",
                                                                                        "exceeded quota")


def test_proportional_scaling_matches_the_documented_example():
    """Kubernetes' docs: 10 replicas, maxSurge 3, maxUnavailable 2, a rollout stuck at 8 old + 5 new;
    scaling to 15 adds 3 to the old ReplicaSet and 2 to the new one."""
    c, sim = settled(surge=3, unavailable=2)
    set_template_image(c, "broken")
    sim.ready_pods = False
    for _ in range(5):
        sim.step()
    sizes = {r["spec"]["template"]["spec"]["containers"][0]["image"]: r["spec"]["replicas"]
             for r in c.all(REPLICA_SETS, "ns")}
    assert sizes == {"v1": 8, "broken": 5}
    d = copy.deepcopy(c.get(DEPLOYMENTS, "ns", "web"))
    d["spec"]["replicas"] = 15
    c.put(DEPLOYMENTS, d)
    sim.sync_deployment()
    sizes = {r["spec"]["template"]["spec"]["containers"][0]["image"]: r["spec"]["replicas"]
             for r in c.all(REPLICA_SETS, "ns")}
    assert sizes == {"v1": 11, "broken": 7}
