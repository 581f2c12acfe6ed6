"""Node-info snapshot and assume cache: incremental accounting, effective requests, assumption lifecycle."""

import pytest

from api import labels
from scheduler.cache import Cache, CacheError
from scheduler.podinfo import PodInfo
from scheduler.resources import DEFAULT_MEMORY_REQUEST, DEFAULT_MILLI_CPU_REQUEST, pod_requests
from tests.unit.scheduler_fixtures import cluster, node, pod


def _container(cpu: str, memory: str, **extra: object) -> dict[str, object]:
    return {"name": "c", "image": "x", "resources": {"requests": {"cpu": cpu, "memory": memory}}, **extra}


def test_effective_request_is_max_of_containers_sum_and_largest_init_container_plus_overhead():
    spec = {
        "containers": [_container("500m", "100Mi"), _container("250m", "100Mi")],
        "initContainers": [_container("1", "50Mi"), _container("100m", "300Mi")],
        "overhead": {"cpu": "10m", "memory": "1Mi"},
    }
    req = pod_requests(spec)
    assert req.milli_cpu == 1000 + 10
    assert req.memory == (300 + 1) * 1024 * 1024


def test_sidecar_init_containers_count_in_the_sum_and_under_later_init_containers():
    spec = {
        "containers": [_container("100m", "10Mi")],
        "initContainers": [
            _container("200m", "10Mi", restartPolicy="Always"),
            _container("500m", "10Mi"),
        ],
    }
    req = pod_requests(spec)
    # steady state: 100m + 200m sidecar = 300m; init phase: 500m + 200m sidecar = 700m
    assert req.milli_cpu == 700
    assert req.memory == 20 * 1024 * 1024


def test_extended_resources_and_non_zero_defaults():
    raw = pod("p")
    raw["spec"]["containers"][0]["resources"] = {"requests": {"nvidia.com/gpu": "2"}}
    info = PodInfo(raw)
    assert info.requests.scalar == {"nvidia.com/gpu": 2}
    assert info.requests.milli_cpu == 0
    assert (info.non_zero_cpu, info.non_zero_memory) == (DEFAULT_MILLI_CPU_REQUEST, DEFAULT_MEMORY_REQUEST)


def test_pods_update_node_requests_ports_and_affinity_lists_incrementally():
    anti = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "a"}}, "topologyKey": "kubernetes.io/hostname"}
            ]
        }
    }
    p1 = pod("p1", cpu="1", memory="1Gi", node_name="n1", affinity=anti)
    p1["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 8080}]
    cache = cluster([node("n1")], [p1, pod("p2", cpu="500m", node_name="n1")])
    info = cache.node_info("n1")
    assert info is not None
    assert info.requested.milli_cpu == 1500
    assert info.requested.pods == 2
    assert info.port_conflict("0.0.0.0", "TCP", 8080)
    assert info.port_conflict("10.0.0.1", "TCP", 8080)
    assert not info.port_conflict("0.0.0.0", "UDP", 8080)
    assert list(info.pods_with_required_anti_affinity) == ["default/p1"]
    assert cache.anti_affinity_pods == 1

    cache.remove_pod("default/p1")
    assert info.requested.milli_cpu == 500
    assert not info.port_conflict("0.0.0.0", "TCP", 8080)
    assert not info.pods_with_required_anti_affinity
    assert cache.anti_affinity_pods == 0


def test_node_update_keeps_pods_and_removal_hides_the_node():
    cache = cluster([node("n1", cpu="2")], [pod("p", cpu="1", node_name="n1")])
    cache.update_node(node("n1", cpu="8", labels={"zone": "a"}))
    info = cache.node_info("n1")
    assert info is not None and info.allocatable.milli_cpu == 8000 and info.requested.milli_cpu == 1000
    assert info.labels["zone"] == "a"
    cache.remove_node("n1")
    assert cache.node_info("n1") is None
    assert cache.node_infos() == []
    # The pod's later deletion still finds its accounting.
    cache.remove_pod("default/p")
    cache.add_node(node("n1"))
    fresh = cache.node_info("n1")
    assert fresh is not None and fresh.requested.milli_cpu == 0


def test_image_spread_counts_nodes_holding_an_image_under_its_normalized_name():
    cache = cluster([node("n1", images=[("busybox:latest", 10)]), node("n2", images=[("busybox", 10)]), node("n3")])
    assert cache.image_spread("busybox") == 2
    cache.remove_node("n1")
    assert cache.image_spread("busybox:latest") == 1


def test_assumed_pod_counts_until_forgotten():
    cache = cluster([node("n1")])
    p = PodInfo(pod("p", cpu="1"))
    cache.assume_pod(p, "n1")
    info = cache.node_info("n1")
    assert info is not None and info.requested.milli_cpu == 1000
    assert cache.is_assumed("default/p")
    with pytest.raises(CacheError):
        cache.assume_pod(p, "n1")
    cache.forget_pod("default/p")
    assert info.requested.milli_cpu == 0
    assert cache.pod_node("default/p") is None


def test_informer_add_confirms_assumption_even_on_another_node():
    cache = cluster([node("n1"), node("n2")])
    cache.assume_pod(PodInfo(pod("p", cpu="1")), "n1")
    cache.add_pod(pod("p", cpu="1", node_name="n2"))
    n1, n2 = cache.node_info("n1"), cache.node_info("n2")
    assert n1 is not None and n2 is not None
    assert (n1.requested.milli_cpu, n2.requested.milli_cpu) == (0, 1000)
    assert not cache.is_assumed("default/p")
    cache.forget_pod("default/p")  # confirmed pods are not forgotten
    assert n2.requested.milli_cpu == 1000


def test_assumption_expires_only_after_binding_finished_and_ttl_passed():
    cache = Cache(assume_ttl=30)
    cache.add_node(node("n1"))
    cache.assume_pod(PodInfo(pod("p", cpu="1")), "n1")
    assert cache.cleanup_expired(1000.0) == []  # bind still in flight: never expires
    cache.finish_binding("default/p", now=10.0)
    assert cache.cleanup_expired(39.0) == []
    assert cache.cleanup_expired(40.0) == ["default/p"]
    info = cache.node_info("n1")
    assert info is not None and info.requested.milli_cpu == 0


def test_default_spread_selector_merges_services_and_controller_selectors():
    cache = Cache()
    cache.set_service({"metadata": {"name": "web", "namespace": "default"}, "spec": {"selector": {"app": "web"}}})
    cache.set_workload(
        "ReplicaSet",
        {"metadata": {"name": "rs", "namespace": "default"}, "spec": {"selector": {"matchLabels": {"pod-hash": "x"}}}},
    )
    raw = pod("p", labels={"app": "web", "pod-hash": "x"})
    raw["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": "rs", "controller": True}]
    selector = cache.default_spread_selector(PodInfo(raw))
    assert selector is not None
    assert selector.matches({"app": "web", "pod-hash": "x"})
    assert not selector.matches({"app": "web"})
    assert cache.default_spread_selector(PodInfo(pod("lonely"))) is None


def test_finished_pods_free_their_node():
    cache = cluster([node("n1")], [pod("job", cpu="1", node_name="n1")])
    done = pod("job", cpu="1", node_name="n1")
    done["status"]["phase"] = "Succeeded"
    cache.update_pod(done)
    info = cache.node_info("n1")
    assert info is not None and info.requested.milli_cpu == 0 and not info.pods


def test_label_index_narrows_selected_pods():
    cache = cluster(
        [node("n1"), node("n2")],
        [pod("a", labels={"app": "web"}, node_name="n1"), pod("b", labels={"app": "db"}, node_name="n2")],
    )
    selected = cache.pods_selected_by(labels.parse("app in (web,cache)"))
    assert [(p.name, n) for p, n in selected] == [("a", "n1")]
    assert len(list(cache.pods_selected_by(labels.parse("!app")))) == 2  # no equality clause: every pod
    assert list(cache.pods_selected_by(labels.NOTHING)) == []
    cache.remove_pod("default/a")
    assert list(cache.pods_selected_by(labels.parse("app=web"))) == []


def test_other_objects_come_and_go():
    cache = Cache()
    cache.set_namespace({"metadata": {"name": "ns", "labels": {"team": "a"}}})
    cache.set_pvc({"metadata": {"name": "c", "namespace": "ns"}, "spec": {}})
    cache.set_pv({"metadata": {"name": "pv"}, "spec": {}})
    cache.assumed_pv_claims["pv"] = "ns/c"
    cache.set_storage_class({"metadata": {"name": "sc"}})
    cache.set_pdb({"metadata": {"name": "b", "namespace": "ns"}, "spec": {}})
    cache.set_service({"metadata": {"name": "s", "namespace": "ns"}, "spec": {"selector": {"app": "x"}}})
    cache.set_workload(
        "StatefulSet",
        {"metadata": {"name": "ss", "namespace": "ns"}, "spec": {"selector": {"matchLabels": {"app": "x"}}}},
    )
    raw = pod("p", namespace="ns", labels={"app": "x"})
    raw["metadata"]["ownerReferences"] = [{"kind": "StatefulSet", "name": "ss", "controller": True}]
    assert cache.default_spread_selector(PodInfo(raw)) is not None
    assert (set(cache.namespace_labels), set(cache.pvcs), set(cache.pvs)) == ({"ns"}, {"ns/c"}, {"pv"})
    assert (set(cache.storage_classes), set(cache.pdbs)) == ({"sc"}, {"ns/b"})
    cache.remove_namespace("ns")
    cache.remove_pvc("ns/c")
    cache.remove_pv("pv")
    cache.remove_storage_class("sc")
    cache.remove_pdb("ns/b")
    cache.remove_service("ns/s")
    cache.remove_workload("StatefulSet", "ns", "ss")
    assert not (cache.namespace_labels or cache.pvcs or cache.pvs or cache.storage_classes or cache.pdbs)
    assert cache.assumed_pv_claims == {}
    assert cache.default_spread_selector(PodInfo(raw)) is None


def test_pv_bound_by_the_pv_controller_settles_its_assumption():
    cache = Cache()
    cache.assumed_pv_claims["pv"] = "ns/c"
    cache.set_pv({"metadata": {"name": "pv"}, "spec": {"claimRef": {"namespace": "ns", "name": "c"}}})
    assert cache.assumed_pv_claims == {}
