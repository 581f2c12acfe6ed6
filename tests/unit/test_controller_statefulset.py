"""StatefulSet reconcile: ordinals, OrderedReady vs Parallel, claims, partitioned rolling updates."""

from __future__ import annotations

import copy
from typing import Any

from controller_manager import statefulset
from controller_manager.actions import Action
from controller_manager.history import REVISION_HASH
from controller_manager.view import PERSISTENT_VOLUME_CLAIMS, PODS, STATEFUL_SETS
from tests.unit.controller_fixtures import FakeCluster, finish, make_running


def sts_obj(replicas: int = 3, image: str = "v1", **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "replicas": replicas, "serviceName": "web", "podManagementPolicy": "OrderedReady",
        "selector": {"matchLabels": {"app": "web"}},
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
        "template": {"metadata": {"labels": {"app": "web"}},
                     "spec": {"containers": [{"name": "c", "image": image}]}},
        "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                  "spec": {"accessModes": ["ReadWriteOnce"],
                                           "resources": {"requests": {"storage": "1Gi"}}}}]}
    base.update(spec)
    return {"metadata": {"name": "web", "namespace": "ns"}, "spec": base}


def sync(c: FakeCluster) -> list[Action]:
    actions = statefulset.reconcile(c, "ns/web", c.clock.now, c.expectations)
    c.apply(actions)
    return actions


def names(c: FakeCluster) -> list[str]:
    return sorted(p["metadata"]["name"] for p in c.all(PODS, "ns"))


def kubelets(c: FakeCluster) -> None:
    for p in c.all(PODS, "ns"):
        if not p.get("status"):
            make_running(c, p)


def run(c: FakeCluster, rounds: int = 12) -> None:
    for _ in range(rounds):
        sync(c)
        kubelets(c)


def set_image(c: FakeCluster, image: str, partition: int = 0) -> None:
    sts = copy.deepcopy(c.get(STATEFUL_SETS, "ns", "web"))
    sts["spec"]["template"]["spec"]["containers"][0]["image"] = image
    if sts["spec"]["updateStrategy"]["type"] == "RollingUpdate":
        sts["spec"]["updateStrategy"]["rollingUpdate"]["partition"] = partition
    c.put(STATEFUL_SETS, sts)


def image_of(c: FakeCluster, name: str) -> str:
    return str(c.get(PODS, "ns", name)["spec"]["containers"][0]["image"])


def test_ordered_ready_creates_one_at_a_time_with_identity_and_claims():
    c = FakeCluster()
    c.add(STATEFUL_SETS, sts_obj())
    sync(c)
    assert names(c) == ["web-0"]
    sync(c)
    assert names(c) == ["web-0"]  # web-0 not ready yet
    pod = c.get(PODS, "ns", "web-0")
    assert pod["spec"]["hostname"] == "web-0" and pod["spec"]["subdomain"] == "web"
    assert pod["metadata"]["labels"][statefulset.POD_NAME_LABEL] == "web-0"
    assert pod["metadata"]["labels"][statefulset.POD_INDEX_LABEL] == "0"
    assert pod["spec"]["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0"}}]
    pvc = c.get(PERSISTENT_VOLUME_CLAIMS, "ns", "data-web-0")
    assert pvc["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert "ownerReferences" not in pvc["metadata"]  # retained by default
    kubelets(c)
    sync(c)
    assert names(c) == ["web-0", "web-1"]
    run(c)
    assert names(c) == ["web-0", "web-1", "web-2"]
    st = c.get(STATEFUL_SETS, "ns", "web")["status"]
    assert (st["replicas"], st["readyReplicas"], st["currentReplicas"]) == (3, 3, 3)
    assert st["currentRevision"] == st["updateRevision"]


def test_parallel_creates_all_and_scale_down_removes_highest_first():
    c = FakeCluster()
    c.add(STATEFUL_SETS, sts_obj(4, podManagementPolicy="Parallel"))
    sync(c)
    assert names(c) == ["web-0", "web-1", "web-2", "web-3"]
    kubelets(c)
    sts = copy.deepcopy(c.get(STATEFUL_SETS, "ns", "web"))
    sts["spec"]["replicas"] = 2
    sts["spec"]["podManagementPolicy"] = "OrderedReady"
    c.put(STATEFUL_SETS, sts)
    sync(c)
    assert names(c) == ["web-0", "web-1", "web-2"]
    sync(c)
    assert names(c) == ["web-0", "web-1"]
    assert c.get(PERSISTENT_VOLUME_CLAIMS, "ns", "data-web-3") is not None


def test_failed_pod_is_recreated_with_same_name():
    c = FakeCluster()
    c.add(STATEFUL_SETS, sts_obj(1))
    run(c, 3)
    finish(c, c.get(PODS, "ns", "web-0"), "Failed")
    sync(c)
    assert names(c) == []
    sync(c)
    assert names(c) == ["web-0"]


def test_rolling_update_respects_partition_and_goes_highest_first():
    c = FakeCluster()
    c.add(STATEFUL_SETS, sts_obj())
    run(c)
    old_rev = c.get(STATEFUL_SETS, "ns", "web")["status"]["currentRevision"]
    set_image(c, "v2", partition=1)
    sync(c)
    assert names(c) == ["web-0", "web-1"]  # web-2 went first
    run(c)
    assert [image_of(c, n) for n in names(c)] == ["v1", "v2", "v2"]
    st = c.get(STATEFUL_SETS, "ns", "web")["status"]
    assert st["currentRevision"] == old_rev and st["updatedReplicas"] == 2
    assert c.get(PODS, "ns", "web-0")["metadata"]["labels"][REVISION_HASH] == old_rev
    set_image(c, "v2", partition=0)
    run(c)
    assert [image_of(c, n) for n in names(c)] == ["v2", "v2", "v2"]
    st = c.get(STATEFUL_SETS, "ns", "web")["status"]
    assert st["currentRevision"] == st["updateRevision"] != old_rev


def test_pod_below_partition_recreated_at_current_revision():
    c = FakeCluster()
    c.add(STATEFUL_SETS, sts_obj(2))
    run(c)
    set_image(c, "v2", partition=1)
    run(c)
    c.remove(PODS, "ns", "web-0")
    run(c)
    assert [image_of(c, n) for n in names(c)] == ["v1", "v2"]


def test_on_delete_and_claim_retention_policy():
    c = FakeCluster()
    c.add(STATEFUL_SETS, sts_obj(1, updateStrategy={"type": "OnDelete"},
                                 persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete",
                                                                       "whenScaled": "Retain"}))
    run(c, 3)
    ref = c.get(PERSISTENT_VOLUME_CLAIMS, "ns", "data-web-0")["metadata"]["ownerReferences"][0]
    assert ref["kind"] == "StatefulSet" and not ref["controller"]
    set_image(c, "v2")
    run(c, 3)
    assert image_of(c, "web-0") == "v1"
    c.remove(PODS, "ns", "web-0")
    run(c, 3)
    assert image_of(c, "web-0") == "v2"


def test_when_scaled_delete_hands_claims_to_the_condemned_pod():
    c = FakeCluster()
    c.add(STATEFUL_SETS, sts_obj(2, persistentVolumeClaimRetentionPolicy={"whenDeleted": "Retain",
                                                                          "whenScaled": "Delete"}))
    run(c)
    doomed_uid = c.get(PODS, "ns", "web-1")["metadata"]["uid"]
    sts = copy.deepcopy(c.get(STATEFUL_SETS, "ns", "web"))
    sts["spec"]["replicas"] = 1
    c.put(STATEFUL_SETS, sts)
    sync(c)
    refs = c.get(PERSISTENT_VOLUME_CLAIMS, "ns", "data-web-1")["metadata"]["ownerReferences"]
    assert [(r["kind"], r["uid"]) for r in refs] == [("Pod", doomed_uid)]
    assert "ownerReferences" not in c.get(PERSISTENT_VOLUME_CLAIMS, "ns", "data-web-0")["metadata"]
