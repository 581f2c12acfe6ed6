"""VolumeBinding: bound PVs' node affinity, WaitForFirstConsumer local PVs, assumption and intents."""

from typing import Any

from scheduler.cache import Cache
from scheduler.plugins.volume_binding import BindVolume, ProvisionVolume
from scheduler.podinfo import PodInfo
from tests.unit.scheduler_fixtures import cluster, framework, node, pod


def _pvc(name: str, sc: str = "local", size: str = "1Gi", volume: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "storageClassName": sc,
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": size}},
    }
    if volume:
        spec["volumeName"] = volume
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"}, "spec": spec}


def _pv(name: str, host: str, size: str = "10Gi", sc: str = "local") -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "storageClassName": sc,
            "accessModes": ["ReadWriteOnce"],
            "capacity": {"storage": size},
            "local": {"path": "/mnt/disk"},
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": [host]}]}
                    ]
                }
            },
        },
        "status": {"phase": "Available"},
    }


def _sc(name: str = "local", mode: str = "WaitForFirstConsumer", provisioner: str = "kubernetes.io/no-provisioner"):
    return {"metadata": {"name": name}, "provisioner": provisioner, "volumeBindingMode": mode}


def _claiming(name: str, *claims: str) -> dict[str, Any]:
    return pod(name, volumes=[{"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims])


def _storage(cache: Cache, *objects: dict[str, Any]) -> Cache:
    for obj in objects:
        if "provisioner" in obj:
            cache.set_storage_class(obj)
        elif "capacity" in obj.get("spec", {}):
            cache.set_pv(obj)
        else:
            cache.set_pvc(obj)
    return cache


def test_wait_for_first_consumer_picks_the_node_of_a_fitting_local_pv():
    cache = _storage(
        cluster([node("n1"), node("n2"), node("n3")]),
        _sc(),
        _pvc("data", size="5Gi"),
        _pv("pv-small", "n1", size="1Gi"),
        _pv("pv-n2", "n2"),
    )
    fw = framework()
    info = PodInfo(_claiming("p", "data"))
    result = fw.schedule_one(info, cache)
    assert result.node == "n2"
    assert fw.reserve(result.state, info, "n2", cache) is None
    assert cache.assumed_pv_claims == {"pv-n2": "default/data"}
    assert fw.pre_bind(result.state, info, "n2") == [BindVolume("pv-n2", "default", "data", "uid-data")]
    # Another claim cannot take the assumed PV.
    cache.set_pvc(_pvc("other", size="5Gi"))
    blocked = fw.schedule_one(PodInfo(_claiming("q", "other")), cache)
    assert blocked.node is None
    assert blocked.message.startswith(
        "0/3 nodes are available: 3 node(s) didn't find available persistent volumes to bind."
    )
    fw.unreserve(result.state, info, "n2", cache)
    assert cache.assumed_pv_claims == {}


def test_smallest_fitting_pv_is_chosen_and_two_claims_get_two_pvs():
    cache = _storage(
        cluster([node("n1")]),
        _sc(),
        _pvc("a"),
        _pvc("b"),
        _pv("big", "n1", size="100Gi"),
        _pv("mid", "n1", size="10Gi"),
    )
    fw = framework()
    info = PodInfo(_claiming("p", "a", "b"))
    result = fw.schedule_one(info, cache)
    assert result.node == "n1"
    assert [i.pv_name for i in fw.pre_bind(result.state, info, "n1")] == ["mid", "big"]


def test_dynamic_provisioning_when_no_pv_fits():
    cache = _storage(cluster([node("n1")]), _sc(provisioner="example.com/csi"), _pvc("data"))
    fw = framework()
    info = PodInfo(_claiming("p", "data"))
    result = fw.schedule_one(info, cache)
    assert result.node == "n1"
    assert fw.pre_bind(result.state, info, "n1") == [ProvisionVolume("default", "data", "n1")]


def test_bound_pv_node_affinity_conflict():
    cache = _storage(cluster([node("n1"), node("n2")]), _sc(), _pvc("data", volume="pv1"), _pv("pv1", "n1"))
    assert framework().schedule_one(PodInfo(_claiming("p", "data")), cache).node == "n1"
    cache.set_pvc(_pvc("lost", volume="gone"))
    result = framework().schedule_one(PodInfo(_claiming("q", "lost")), cache)
    assert result.message.startswith(
        "0/2 nodes are available: 2 node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)."
    )
    other = _storage(cluster([node("n2")]), _pvc("data", volume="pv1"), _pv("pv1", "n1"))
    result = framework().schedule_one(PodInfo(_claiming("p", "data")), other)
    assert result.message.startswith("0/1 nodes are available: 1 node(s) had volume node affinity conflict.")


def test_unbound_immediate_claim_is_rejected_at_prefilter():
    cache = _storage(cluster([node("n1")]), _sc(mode="Immediate"), _pvc("data"))
    result = framework().schedule_one(PodInfo(_claiming("p", "data")), cache)
    assert result.node is None
    assert result.diagnosis.pre_filter_msg == "pod has unbound immediate PersistentVolumeClaims"
    assert result.diagnosis.unschedulable_plugins == {"VolumeBinding"}


def test_pv_bound_to_another_claim_is_not_a_candidate():
    taken = _pv("pv1", "n1")
    taken["spec"]["claimRef"] = {"namespace": "default", "name": "someone-else"}
    cache = _storage(cluster([node("n1")]), _sc(), _pvc("data"), taken)
    assert framework().schedule_one(PodInfo(_claiming("p", "data")), cache).node is None
