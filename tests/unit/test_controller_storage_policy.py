"""PV/PVC binding and reclaim; PodDisruptionBudget status; ResourceQuota usage."""

from __future__ import annotations

import copy
from typing import Any

from controller_manager import disruption, provisioner, pvbinder, resourcequota
from controller_manager.actions import Action, Delete, RecordEvent
from controller_manager.view import (
    DEPLOYMENTS,
    PERSISTENT_VOLUME_CLAIMS,
    PERSISTENT_VOLUMES,
    POD_DISRUPTION_BUDGETS,
    PODS,
    REPLICA_SETS,
    RESOURCE_QUOTAS,
    SERVICES,
    STORAGE_CLASSES,
)
from tests.unit.controller_fixtures import FakeCluster


def pv(c: FakeCluster, name: str, size: str, cls: str = "", policy: str = "Retain", **lbls: str) -> None:
    c.add(PERSISTENT_VOLUMES, {"metadata": {"name": name, "labels": lbls}, "spec": {
        "capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"], "storageClassName": cls,
        "persistentVolumeReclaimPolicy": policy, "hostPath": {"path": f"/data/{name}"}}})


def pvc(c: FakeCluster, name: str, size: str, cls: str = "", **spec: Any) -> None:
    c.add(PERSISTENT_VOLUME_CLAIMS, {"metadata": {"name": name, "namespace": "ns"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "storageClassName": cls,
        "resources": {"requests": {"storage": size}}, **spec}})


def bind(c: FakeCluster, name: str) -> list[Action]:
    actions = pvbinder.reconcile_claim(c, f"ns/{name}")
    c.apply(actions)
    return actions


def test_claim_binds_smallest_sufficient_volume_on_both_sides():
    c = FakeCluster()
    pv(c, "big", "10Gi")
    pv(c, "small", "1Gi")
    pv(c, "fits", "2Gi")
    pvc(c, "data", "1500Mi")
    bind(c, "data")
    vol = c.get(PERSISTENT_VOLUMES, None, "fits")
    claim = c.get(PERSISTENT_VOLUME_CLAIMS, "ns", "data")
    assert vol["spec"]["claimRef"]["name"] == "data" and vol["spec"]["claimRef"]["uid"] == claim["metadata"]["uid"]
    assert vol["status"]["phase"] == "Bound"
    assert claim["spec"]["volumeName"] == "fits"
    assert claim["metadata"]["annotations"][pvbinder.BIND_COMPLETED] == "yes"
    assert claim["status"] == {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "2Gi"}}
    assert bind(c, "data") == []


def test_selector_class_and_access_modes_must_match():
    c = FakeCluster()
    pv(c, "fast", "5Gi", cls="fast", tier="gold")
    pv(c, "fast-silver", "5Gi", cls="fast", tier="silver")
    pvc(c, "want-gold", "1Gi", cls="fast", selector={"matchLabels": {"tier": "gold"}})
    pvc(c, "rwx", "1Gi", cls="fast", accessModes=["ReadWriteMany"])
    bind(c, "want-gold")
    assert c.get(PERSISTENT_VOLUME_CLAIMS, "ns", "want-gold")["spec"]["volumeName"] == "fast"
    actions = bind(c, "rwx")
    assert any(isinstance(a, RecordEvent) and a.reason == "FailedBinding" for a in actions)
    assert c.get(PERSISTENT_VOLUME_CLAIMS, "ns", "rwx")["status"]["phase"] == "Pending"


def test_wait_for_first_consumer_then_external_provisioning():
    c = FakeCluster()
    c.add(STORAGE_CLASSES, {"metadata": {"name": "local"}, "provisioner": "tinykube.io/local-path",
                            "volumeBindingMode": "WaitForFirstConsumer", "reclaimPolicy": "Delete"})
    pvc(c, "data", "1Gi", cls="local")
    actions = bind(c, "data")
    assert [a.reason for a in actions if isinstance(a, RecordEvent)] == ["WaitForFirstConsumer"]
    claim = copy.deepcopy(c.get(PERSISTENT_VOLUME_CLAIMS, "ns", "data"))
    claim["metadata"]["annotations"] = {pvbinder.SELECTED_NODE: "node1"}
    c.put(PERSISTENT_VOLUME_CLAIMS, claim)
    actions = bind(c, "data")
    assert [a.reason for a in actions if isinstance(a, RecordEvent)] == ["ExternalProvisioning"]
    ann = c.get(PERSISTENT_VOLUME_CLAIMS, "ns", "data")["metadata"]["annotations"]
    assert ann[pvbinder.STORAGE_PROVISIONER] == "tinykube.io/local-path"


def test_released_volume_is_deleted_or_retained_by_policy():
    c = FakeCluster()
    pv(c, "keep", "1Gi", cls="a")
    pv(c, "drop", "1Gi", cls="b", policy="Delete")
    pvc(c, "one", "1Gi", cls="a")
    pvc(c, "two", "1Gi", cls="b")
    bind(c, "one")
    bind(c, "two")
    c.remove(PERSISTENT_VOLUME_CLAIMS, "ns", "one")
    c.remove(PERSISTENT_VOLUME_CLAIMS, "ns", "two")
    c.apply(pvbinder.reconcile_volume(c, "keep"))
    assert c.get(PERSISTENT_VOLUMES, None, "keep")["status"]["phase"] == "Released"
    actions = pvbinder.reconcile_volume(c, "drop")
    assert isinstance(actions[-1], Delete)
    c.apply(actions)
    assert c.get(PERSISTENT_VOLUMES, None, "drop") is None


def test_prebound_claim_binds_named_volume():
    c = FakeCluster()
    pv(c, "chosen", "1Gi")
    pv(c, "other", "1Gi")
    pvc(c, "data", "1Gi", volumeName="chosen")
    bind(c, "data")
    assert c.get(PERSISTENT_VOLUMES, None, "chosen")["spec"]["claimRef"]["name"] == "data"
    assert "claimRef" not in c.get(PERSISTENT_VOLUMES, None, "other")["spec"]


# --- PodDisruptionBudget ---------------------------------------------------------------------------------

def deployment_pods(c: FakeCluster, replicas: int, ready: int) -> None:
    d = c.add(DEPLOYMENTS, {"metadata": {"name": "web", "namespace": "ns"}, "spec": {"replicas": replicas}})
    rs = c.add(REPLICA_SETS, {"metadata": {"name": "web-1", "namespace": "ns", "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": d["metadata"]["uid"],
         "controller": True}]}, "spec": {"replicas": replicas}})
    for i in range(replicas):
        c.add(PODS, {"metadata": {"name": f"web-{i}", "namespace": "ns", "labels": {"app": "web"}, "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": rs["metadata"]["uid"],
             "controller": True}]}, "spec": {},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if i < ready else
                                                           "False"}]}})


def pdb_status(c: FakeCluster, **spec: Any) -> dict[str, Any]:
    c.add(POD_DISRUPTION_BUDGETS, {"metadata": {"name": "web", "namespace": "ns"},
                                   "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}})
    c.apply(disruption.reconcile(c, "ns/web", c.clock.now))
    status: dict[str, Any] = c.get(POD_DISRUPTION_BUDGETS, "ns", "web")["status"]
    return status


def test_pdb_min_available_counts_healthy_pods():
    c = FakeCluster()
    deployment_pods(c, 5, ready=4)
    st = pdb_status(c, minAvailable=2)
    assert (st["currentHealthy"], st["desiredHealthy"], st["expectedPods"], st["disruptionsAllowed"]) == (4, 2, 5, 2)
    assert st["conditions"][0]["reason"] == "SufficientPods"


def test_pdb_max_unavailable_uses_the_deployment_scale():
    c = FakeCluster()
    deployment_pods(c, 4, ready=4)
    dep = copy.deepcopy(c.get(DEPLOYMENTS, "ns", "web"))
    dep["spec"]["replicas"] = 6  # scaling up: two pods not there yet
    c.put(DEPLOYMENTS, dep)
    st = pdb_status(c, maxUnavailable="50%")
    assert (st["expectedPods"], st["desiredHealthy"], st["disruptionsAllowed"]) == (6, 3, 1)


def test_pdb_without_controllers_for_percentages_allows_nothing():
    c = FakeCluster()
    c.add(PODS, {"metadata": {"name": "bare", "namespace": "ns", "labels": {"app": "web"}}, "spec": {},
                 "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
    st = pdb_status(c, maxUnavailable=1)
    assert st["disruptionsAllowed"] == 0 and st["conditions"][0]["reason"] == "SyncFailed"


# --- ResourceQuota ----------------------------------------------------------------------------------------

def test_quota_usage_counts_live_pods_requests_and_objects():
    c = FakeCluster()
    c.add(PODS, {"metadata": {"name": "a", "namespace": "ns"}, "spec": {
        "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "1", "memory": "64Mi"}}}],
        "containers": [{"name": "c", "resources": {"requests": {"cpu": "250m", "memory": "128Mi"},
                                                    "limits": {"memory": "256Mi"}}},
                       {"name": "d", "resources": {"requests": {"cpu": "250m"}}}]}, "status": {"phase": "Running"}})
    c.add(PODS, {"metadata": {"name": "done", "namespace": "ns"}, "spec": {"containers": [
        {"name": "c", "resources": {"requests": {"cpu": "4"}}}]}, "status": {"phase": "Succeeded"}})
    c.add(SERVICES, {"metadata": {"name": "np", "namespace": "ns"}, "spec": {
        "type": "NodePort", "ports": [{"port": 80}, {"port": 443}]}})
    c.add(RESOURCE_QUOTAS, {"metadata": {"name": "q", "namespace": "ns"}, "spec": {"hard": {
        "pods": "10", "requests.cpu": "4", "requests.memory": "1Gi", "limits.memory": "2Gi", "services": "5",
        "services.nodeports": "2", "count/pods": "10"}}})
    c.apply(resourcequota.reconcile(c, "ns/q"))
    st = c.get(RESOURCE_QUOTAS, "ns", "q")["status"]
    assert st["hard"]["pods"] == "10"
    assert st["used"] == {"pods": "1", "count/pods": "1", "requests.cpu": "1", "requests.memory": "128Mi",
                          "limits.memory": "256Mi", "services": "1", "services.nodeports": "2"}
    assert resourcequota.reconcile(c, "ns/q") == []


def test_quota_scopes_select_best_effort_pods():
    c = FakeCluster()
    c.add(PODS, {"metadata": {"name": "be", "namespace": "ns"}, "spec": {"containers": [{"name": "c"}]}})
    c.add(PODS, {"metadata": {"name": "burst", "namespace": "ns"}, "spec": {"containers": [
        {"name": "c", "resources": {"requests": {"cpu": "1"}}}]}})
    used = resourcequota.usage(c, "ns", ["pods"], ["BestEffort"])
    assert used == {"pods": "1"}


def test_local_path_provisioning_then_binding():
    c = FakeCluster()
    c.add(STORAGE_CLASSES, provisioner.default_storage_class())
    pvc(c, "data", "2Gi", cls="local-path")
    assert provisioner.reconcile(c, "ns/data") == []  # not handed over yet
    bind(c, "data")  # waits for the first consumer
    claim = copy.deepcopy(c.get(PERSISTENT_VOLUME_CLAIMS, "ns", "data"))
    claim["metadata"]["annotations"] = {pvbinder.SELECTED_NODE: "node2"}
    c.put(PERSISTENT_VOLUME_CLAIMS, claim)
    bind(c, "data")  # hands it to the provisioner
    c.apply(provisioner.reconcile(c, "ns/data"))
    uid = claim["metadata"]["uid"]
    vol = c.get(PERSISTENT_VOLUMES, None, f"pvc-{uid}")
    assert vol["spec"]["capacity"] == {"storage": "2Gi"}
    assert vol["spec"]["hostPath"] == {"path": f"{provisioner.DEFAULT_BASE}/pvc-{uid}_ns_data",
                                       "type": "DirectoryOrCreate"}
    terms = vol["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0]["values"] == ["node2"]
    assert provisioner.reconcile(c, "ns/data") == []
    bind(c, "data")
    assert c.get(PERSISTENT_VOLUME_CLAIMS, "ns", "data")["status"]["phase"] == "Bound"
    assert c.get(PERSISTENT_VOLUMES, None, f"pvc-{uid}")["status"]["phase"] == "Bound"
