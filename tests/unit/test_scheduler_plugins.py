"""Each plugin's Filter and Score against small fake clusters."""

from typing import Any

import pytest

from scheduler.cache import Cache
from scheduler.framework import Code, CycleState, PreFilterPlugin, Status
from scheduler.nodeinfo import NodeInfo
from scheduler.plugins.balanced_allocation import BalancedAllocation
from scheduler.plugins.image_locality import ImageLocality
from scheduler.plugins.inter_pod_affinity import InterPodAffinity
from scheduler.plugins.node_affinity import NodeAffinity
from scheduler.plugins.node_name import NodeName
from scheduler.plugins.node_ports import NodePorts
from scheduler.plugins.node_resources_fit import ConfigError, NodeResourcesFit
from scheduler.plugins.node_unschedulable import NodeUnschedulable
from scheduler.plugins.pod_topology_spread import PodTopologySpread
from scheduler.plugins.scheduling_gates import SchedulingGates
from scheduler.plugins.taint_toleration import TaintToleration
from scheduler.podinfo import PodInfo
from tests.unit.scheduler_fixtures import cluster, node, pod, taint


def _info(cache: Cache, name: str) -> NodeInfo:
    info = cache.node_info(name)
    assert info is not None
    return info


def _filter(plugin: Any, cache: Cache, raw_pod: dict[str, Any]) -> dict[str, Status | None]:
    """Run the plugin's PreFilter (if any) and Filter on every node."""
    state = CycleState()
    info = PodInfo(raw_pod)
    if isinstance(plugin, PreFilterPlugin):
        pre = plugin.pre_filter(state, info, cache)
        if pre is not None and pre.code is Code.SKIP:
            return {n.name: None for n in cache.node_infos()}
        assert pre is None, pre
    return {n.name: plugin.filter(state, info, n) for n in cache.node_infos()}


def _scores(plugin: Any, cache: Cache, raw_pod: dict[str, Any]) -> dict[str, int] | None:
    """PreScore + Score + NormalizeScore over all nodes; None when the plugin skips."""
    state = CycleState()
    info = PodInfo(raw_pod)
    nodes = cache.node_infos()
    if hasattr(plugin, "pre_score"):
        pre = plugin.pre_score(state, info, cache, nodes)
        if pre is not None and pre.code is Code.SKIP:
            return None
    scores = [plugin.score(state, info, n) for n in nodes]
    plugin.normalize(state, info, scores)
    return {n.name: s for n, s in zip(nodes, scores, strict=True)}


def _reasons(results: dict[str, Status | None]) -> dict[str, tuple[str, ...]]:
    return {k: v.reasons for k, v in results.items() if v is not None}


# --- NodeName / NodeUnschedulable ---


def test_node_name():
    cache = cluster([node("a"), node("b")])
    out = _filter(NodeName(), cache, pod("p", nodeName="b"))
    assert out["b"] is None
    status = out["a"]
    assert status is not None and status.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert status.reasons == ("node(s) didn't match the requested node name",)
    assert _filter(NodeName(), cache, pod("p")) == {"a": None, "b": None}


def test_node_unschedulable_unless_tolerated():
    cache = cluster([node("cordoned", unschedulable=True), node("ok")])
    assert _reasons(_filter(NodeUnschedulable(), cache, pod("p"))) == {"cordoned": ("node(s) were unschedulable",)}
    tolerant = pod("p", tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists"}])
    assert _reasons(_filter(NodeUnschedulable(), cache, tolerant)) == {}


# --- NodeResourcesFit ---


def test_resources_fit_reports_every_insufficient_resource():
    cache = cluster(
        [node("small", cpu="1", memory="1Gi", extra={"example.com/gpu": "1"}), node("full", pods=1)],
        [pod("x", node_name="full")],
    )
    raw = pod("p", cpu="2", memory="2Gi")
    raw["spec"]["containers"][0]["resources"]["requests"]["example.com/gpu"] = "2"
    out = _filter(NodeResourcesFit(), cache, raw)
    small, full = out["small"], out["full"]
    assert small is not None and set(small.reasons) == {
        "Insufficient cpu",
        "Insufficient memory",
        "Insufficient example.com/gpu",
    }
    assert small.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE  # asks more than the node has at all
    assert full is not None and "Too many pods" in full.reasons
    assert full.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE  # the gpu does not exist there


def test_resources_fit_resolvable_when_other_pods_hold_the_room():
    cache = cluster([node("n", cpu="2")], [pod("x", cpu="1500m", node_name="n")])
    status = _filter(NodeResourcesFit(), cache, pod("p", cpu="1"))["n"]
    assert status is not None and status.code is Code.UNSCHEDULABLE and status.reasons == ("Insufficient cpu",)
    assert _filter(NodeResourcesFit(), cache, pod("p", cpu="500m"))["n"] is None


def test_least_and_most_allocated_scores():
    cache = cluster([node("n", cpu="4", memory="4Gi")], [pod("x", cpu="1", memory="1Gi", node_name="n")])
    raw = pod("p", cpu="1", memory="1Gi")
    # (4-2)/4 = 50 for both resources
    assert _scores(NodeResourcesFit(), cache, raw) == {"n": 50}
    most = NodeResourcesFit(
        {
            "scoringStrategy": {
                "type": "MostAllocated",
                "resources": [{"name": "cpu", "weight": 3}, {"name": "memory", "weight": 1}],
            }
        }
    )
    assert _scores(most, cache, raw) == {"n": 50}
    with pytest.raises(ConfigError, match="RequestedToCapacityRatio"):
        NodeResourcesFit({"scoringStrategy": {"type": "RequestedToCapacityRatio"}})


def test_least_allocated_uses_non_zero_defaults_for_requestless_pods():
    cache = cluster([node("n", cpu="1", memory="1000Mi")])
    # 100m of 1000m and 200Mi of 1000Mi assumed: (90 + 80) / 2 = 85
    assert _scores(NodeResourcesFit(), cache, pod("p")) == {"n": 85}


def test_balanced_allocation():
    cache = cluster(
        [node("even", cpu="4", memory="4Gi"), node("skewed", cpu="4", memory="4Gi")],
        [pod("x", cpu="3", node_name="skewed")],
    )
    scores = _scores(BalancedAllocation(), cache, pod("p", cpu="1", memory="1Gi"))
    # even: 0.25/0.25 -> 100; skewed: cpu 1.0, memory 0.25 -> std 0.375 -> 62
    assert scores == {"even": 100, "skewed": 62}
    assert _scores(BalancedAllocation(), cache, pod("p")) is None


# --- NodePorts ---


def test_node_ports_conflicts():
    used = pod("x", node_name="a")
    used["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 80, "hostIP": "10.0.0.1"}]
    cache = cluster([node("a"), node("b")], [used])
    wants = pod("p")
    wants["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 80}]
    assert _reasons(_filter(NodePorts(), cache, wants)) == {
        "a": ("node(s) didn't have free ports for the requested pod ports",)
    }
    wants["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 80, "hostIP": "10.0.0.2"}]
    assert _reasons(_filter(NodePorts(), cache, wants)) == {}


# --- NodeAffinity ---


def _affinity_pod(*expressions: dict[str, Any], fields: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    term: dict[str, Any] = {"matchExpressions": list(expressions)}
    if fields:
        term["matchFields"] = fields
    return pod(
        "p",
        affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}},
    )


@pytest.mark.parametrize(
    ("expression", "allowed"),
    [
        ({"key": "disk", "operator": "In", "values": ["ssd"]}, {"ssd"}),
        ({"key": "disk", "operator": "NotIn", "values": ["ssd"]}, {"hdd", "bare"}),
        ({"key": "disk", "operator": "Exists"}, {"ssd", "hdd"}),
        ({"key": "disk", "operator": "DoesNotExist"}, {"bare"}),
        ({"key": "cores", "operator": "Gt", "values": ["8"]}, {"ssd"}),
        ({"key": "cores", "operator": "Lt", "values": ["8"]}, {"hdd"}),
    ],
)
def test_node_affinity_operators(expression: dict[str, Any], allowed: set[str]):
    cache = cluster(
        [
            node("ssd", labels={"disk": "ssd", "cores": "16"}),
            node("hdd", labels={"disk": "hdd", "cores": "4"}),
            node("bare"),
        ]
    )
    out = _filter(NodeAffinity(), cache, _affinity_pod(expression))
    assert {name for name, status in out.items() if status is None} == allowed
    rejected = [s for s in out.values() if s is not None]
    assert all(s.reasons == ("node(s) didn't match Pod's node affinity/selector",) for s in rejected)
    assert all(s.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE for s in rejected)


def test_node_selector_and_affinity_both_apply():
    cache = cluster([node("a", labels={"zone": "z1", "disk": "ssd"}), node("b", labels={"zone": "z1"})])
    raw = _affinity_pod({"key": "zone", "operator": "In", "values": ["z1"]})
    raw["spec"]["nodeSelector"] = {"disk": "ssd"}
    assert {n for n, s in _filter(NodeAffinity(), cache, raw).items() if s is None} == {"a"}


def test_node_affinity_match_fields_narrows_the_candidate_nodes():
    cache = cluster([node("a"), node("b"), node("c")])
    raw = _affinity_pod(fields=[{"key": "metadata.name", "operator": "In", "values": ["b"]}])
    state = CycleState()
    assert NodeAffinity().pre_filter(state, PodInfo(raw), cache) is None
    assert state.allowed_nodes == frozenset({"b"})


def test_node_affinity_preferred_scores():
    cache = cluster([node("a", labels={"disk": "ssd"}), node("b", labels={"zone": "z"}), node("c")])
    raw = pod(
        "p",
        affinity={
            "nodeAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 80,
                        "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]},
                    },
                    {"weight": 20, "preference": {"matchExpressions": [{"key": "zone", "operator": "Exists"}]}},
                ]
            }
        },
    )
    assert _scores(NodeAffinity(), cache, raw) == {"a": 100, "b": 25, "c": 0}
    assert _scores(NodeAffinity(), cache, pod("plain")) is None


# --- TaintToleration ---


def test_taints_filter_hard_effects_only():
    cache = cluster(
        [
            node("noschedule", taints=[taint("dedicated", "gpu")]),
            node("noexecute", taints=[taint("broken", effect="NoExecute")]),
            node("prefer", taints=[taint("meh", effect="PreferNoSchedule")]),
        ]
    )
    assert _reasons(_filter(TaintToleration(), cache, pod("p"))) == {
        "noschedule": ("node(s) had untolerated taint {dedicated: gpu}",),
        "noexecute": ("node(s) had untolerated taint {broken: }",),
    }
    tolerant = pod(
        "p",
        tolerations=[
            {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
            {"key": "broken", "operator": "Exists"},
        ],
    )
    assert _reasons(_filter(TaintToleration(), cache, tolerant)) == {}
    wrong_value = pod(
        "p", tolerations=[{"key": "dedicated", "value": "cpu"}, {"operator": "Exists", "effect": "NoExecute"}]
    )
    assert set(_reasons(_filter(TaintToleration(), cache, wrong_value))) == {"noschedule"}


def test_prefer_no_schedule_scores_lower():
    cache = cluster(
        [
            node("two", taints=[taint("a", effect="PreferNoSchedule"), taint("b", effect="PreferNoSchedule")]),
            node("one", taints=[taint("a", effect="PreferNoSchedule")]),
            node("none"),
        ]
    )
    assert _scores(TaintToleration(), cache, pod("p")) == {"two": 0, "one": 50, "none": 100}
    tolerant = pod("p", tolerations=[{"key": "a", "operator": "Exists", "effect": "PreferNoSchedule"}])
    assert _scores(TaintToleration(), cache, tolerant) == {"two": 0, "one": 100, "none": 100}


# --- ImageLocality ---


def test_image_locality_prefers_nodes_with_big_widely_spread_images():
    mb = 1024 * 1024
    cache = cluster(
        [
            node("has", images=[("web:1", 500 * mb)]),
            node("also", images=[("web:1", 500 * mb)]),
            node("not"),
            node("tiny", images=[("tiny:latest", 5 * mb)]),
        ]
    )
    scores = _scores(ImageLocality(), cache, pod("p", image="web:1"))
    # 500MB spread over 2 of 4 nodes = 250MB; (250 - 23) / (1000 - 23) of 100
    assert scores == {"has": 23, "also": 23, "not": 0, "tiny": 0}
    assert _scores(ImageLocality(), cache, pod("p", image="tiny")) == {"has": 0, "also": 0, "not": 0, "tiny": 0}
    assert _scores(ImageLocality(), cache, pod("p", image="unknown:2")) is None


# --- InterPodAffinity ---


def _term(labels: dict[str, str], key: str = "kubernetes.io/hostname", **extra: Any) -> dict[str, Any]:
    return {"labelSelector": {"matchLabels": labels}, "topologyKey": key, **extra}


def _zoned() -> list[dict[str, Any]]:
    return [
        node("a1", labels={"zone": "a"}),
        node("a2", labels={"zone": "a"}),
        node("b1", labels={"zone": "b"}),
        node("nozone"),
    ]


def test_required_pod_affinity_follows_the_matching_pods_domain():
    cache = cluster(_zoned(), [pod("db", labels={"app": "db"}, node_name="a1")])
    raw = pod(
        "web",
        affinity={"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [_term({"app": "db"}, "zone")]}},
    )
    out = _filter(InterPodAffinity(), cache, raw)
    assert {n for n, s in out.items() if s is None} == {"a1", "a2"}
    assert out["b1"] is not None and out["b1"].reasons == ("node(s) didn't match pod affinity rules",)
    assert out["b1"].code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def test_first_pod_with_affinity_to_itself_may_go_anywhere_with_the_topology_key():
    cache = cluster(_zoned())
    raw = pod(
        "web",
        labels={"app": "web"},
        affinity={"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [_term({"app": "web"}, "zone")]}},
    )
    assert {n for n, s in _filter(InterPodAffinity(), cache, raw).items() if s is None} == {"a1", "a2", "b1"}


def test_required_anti_affinity_and_existing_pods_symmetry():
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [_term({"app": "web"}, "zone")]}}
    cache = cluster(_zoned(), [pod("w1", labels={"app": "web"}, node_name="a1")])
    out = _filter(InterPodAffinity(), cache, pod("w2", labels={"app": "web"}, affinity=anti))
    assert _reasons(out) == {n: ("node(s) didn't match pod anti-affinity rules",) for n in ("a1", "a2")}
    # The existing pod repels a newcomer that itself declares nothing.
    guarded = cluster(_zoned(), [pod("w1", labels={"app": "x"}, affinity=anti, node_name="b1")])
    out = _filter(InterPodAffinity(), guarded, pod("w2", labels={"app": "web"}))
    assert _reasons(out) == {"b1": ("node(s) didn't satisfy existing pods anti-affinity rules",)}


def test_affinity_namespaces_and_namespace_selector():
    cache = cluster(_zoned(), [pod("db", namespace="data", labels={"app": "db"}, node_name="b1")])
    cache.set_namespace({"metadata": {"name": "data", "labels": {"team": "storage"}}})
    same_ns = pod(
        "web",
        affinity={"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [_term({"app": "db"}, "zone")]}},
    )
    # Without namespaces the term looks in the pod's own namespace only (where nothing matches, nor the pod).
    assert all(s is not None for s in _filter(InterPodAffinity(), cache, same_ns).values())
    listed = pod(
        "web",
        affinity={
            "podAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [_term({"app": "db"}, "zone", namespaces=["data"])]
            }
        },
    )
    assert {n for n, s in _filter(InterPodAffinity(), cache, listed).items() if s is None} == {"b1"}
    selected = pod(
        "web",
        affinity={
            "podAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    _term({"app": "db"}, "zone", namespaceSelector={"matchLabels": {"team": "storage"}})
                ]
            }
        },
    )
    assert {n for n, s in _filter(InterPodAffinity(), cache, selected).items() if s is None} == {"b1"}


def test_preferred_affinity_and_anti_affinity_scores():
    cache = cluster(
        _zoned(),
        [pod("db", labels={"app": "db"}, node_name="a1"), pod("noisy", labels={"app": "noisy"}, node_name="b1")],
    )
    raw = pod(
        "web",
        affinity={
            "podAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 50, "podAffinityTerm": _term({"app": "db"}, "zone")}
                ]
            },
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 50, "podAffinityTerm": _term({"app": "noisy"}, "zone")}
                ]
            },
        },
    )
    assert _scores(InterPodAffinity(), cache, raw) == {"a1": 100, "a2": 100, "b1": 0, "nozone": 50}
    assert _scores(InterPodAffinity(), cache, pod("plain")) is None


def test_existing_pods_preferred_terms_score_the_newcomer_symmetrically():
    likes_web = pod(
        "fan",
        node_name="b1",
        affinity={
            "podAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 10, "podAffinityTerm": _term({"app": "web"}, "zone")}
                ]
            }
        },
    )
    cache = cluster(_zoned(), [likes_web])
    scores = _scores(InterPodAffinity(), cache, pod("web", labels={"app": "web"}))
    assert scores == {"a1": 0, "a2": 0, "b1": 100, "nozone": 0}


def test_existing_pods_terms_count_once_per_pod_and_leave_with_the_pod():
    shy = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 10, "podAffinityTerm": _term({"app": "web"}, "zone")}]}}
    clingy = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [_term({"app": "web"}, "zone")]}}
    existing = [pod("shy1", node_name="a1", affinity=shy), pod("shy2", node_name="a2", affinity=shy),
                pod("clingy", node_name="b1", affinity=clingy)]
    cache = cluster(_zoned(), existing)
    web = pod("web", labels={"app": "web"})
    # Raw: zone a -20 (two shy pods), zone b +1 (hard affinity weight 1), nozone 0; then min-max normalized.
    assert _scores(InterPodAffinity(), cache, web) == {"a1": 0, "a2": 0, "b1": 100, "nozone": 95}
    cache.remove_pod("default/shy2")
    assert _scores(InterPodAffinity(), cache, web) == {"a1": 0, "a2": 0, "b1": 100, "nozone": 90}


# --- PodTopologySpread ---


def _spread(max_skew: int = 1, key: str = "zone", when: str = "DoNotSchedule", **extra: Any) -> dict[str, Any]:
    return {
        "maxSkew": max_skew,
        "topologyKey": key,
        "whenUnsatisfiable": when,
        "labelSelector": {"matchLabels": {"app": "web"}},
        **extra,
    }


def test_topology_spread_max_skew():
    cache = cluster(_zoned(), [pod("w1", labels={"app": "web"}, node_name="a1")])
    raw = pod("w2", labels={"app": "web"}, topologySpreadConstraints=[_spread()])
    out = _filter(PodTopologySpread(), cache, raw)
    assert out["b1"] is None
    assert out["a2"] is not None and out["a2"].reasons == ("node(s) didn't match pod topology spread constraints",)
    assert out["nozone"] is not None and out["nozone"].code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert out["nozone"].reasons == ("node(s) didn't match pod topology spread constraints (missing required label)",)
    relaxed = pod("w2", labels={"app": "web"}, topologySpreadConstraints=[_spread(max_skew=2)])
    assert {n for n, s in _filter(PodTopologySpread(), cache, relaxed).items() if s is None} == {"a1", "a2", "b1"}


def test_topology_spread_min_domains_treats_missing_domains_as_empty():
    cache = cluster(_zoned()[:2], [pod("w1", labels={"app": "web"}, node_name="a1")])
    # Only zone "a" exists; with minDomains 2 the global minimum is taken as 0, so skew would be 2.
    raw = pod("w2", labels={"app": "web"}, topologySpreadConstraints=[_spread(minDomains=2)])
    assert all(s is not None for s in _filter(PodTopologySpread(), cache, raw).values())
    plain = pod("w2", labels={"app": "web"}, topologySpreadConstraints=[_spread()])
    assert all(s is None for s in _filter(PodTopologySpread(), cache, plain).values())


def test_topology_spread_node_affinity_and_taints_policies():
    nodes = _zoned()[:3]
    nodes[2]["spec"]["taints"] = [taint("dedicated")]
    cache = cluster(nodes, [pod("w1", labels={"app": "web"}, node_name="a1")])
    # Zone b is tainted: honoring taints drops it from the domains, so zone a (count 1, min 1) is fine.
    honor = pod("w2", labels={"app": "web"}, topologySpreadConstraints=[_spread(nodeTaintsPolicy="Honor")])
    assert _filter(PodTopologySpread(), cache, honor)["a2"] is None
    ignore = pod("w2", labels={"app": "web"}, topologySpreadConstraints=[_spread()])
    assert _filter(PodTopologySpread(), cache, ignore)["a2"] is not None
    # The pod's node selector excludes zone b: honoring it (the default) makes zone a the only domain.
    selected = pod("w2", labels={"app": "web"}, nodeSelector={"zone": "a"}, topologySpreadConstraints=[_spread()])
    assert _filter(PodTopologySpread(), cache, selected)["a2"] is None
    ignored = pod(
        "w2",
        labels={"app": "web"},
        nodeSelector={"zone": "a"},
        topologySpreadConstraints=[_spread(nodeAffinityPolicy="Ignore")],
    )
    assert _filter(PodTopologySpread(), cache, ignored)["a2"] is not None


def test_topology_spread_score_prefers_emptier_domains():
    cache = cluster(
        _zoned()[:3],
        [pod("w1", labels={"app": "web"}, node_name="a1"), pod("w2", labels={"app": "web"}, node_name="a2")],
    )
    raw = pod("w3", labels={"app": "web"}, topologySpreadConstraints=[_spread(when="ScheduleAnyway")])
    scores = _scores(PodTopologySpread(), cache, raw)
    assert scores is not None and scores["b1"] == 100 and scores["a1"] == scores["a2"] < 100


def test_default_constraints_spread_replicas_of_a_replicaset():
    cache = cluster([node("n1"), node("n2")])
    cache.set_workload(
        "ReplicaSet",
        {"metadata": {"name": "rs", "namespace": "default"}, "spec": {"selector": {"matchLabels": {"app": "web"}}}},
    )
    owned = pod("w", labels={"app": "web"}, node_name="n1")
    owned["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": "rs", "controller": True}]
    cache.add_pod(owned)
    newcomer = pod("w2", labels={"app": "web"})
    newcomer["metadata"]["ownerReferences"] = owned["metadata"]["ownerReferences"]
    scores = _scores(PodTopologySpread(), cache, newcomer)
    assert scores is not None and scores["n2"] > scores["n1"]
    assert _scores(PodTopologySpread(), cache, pod("loner")) is None


# --- SchedulingGates ---


def test_scheduling_gates():
    gated = PodInfo(pod("p", schedulingGates=[{"name": "a"}, {"name": "b"}]))
    status = SchedulingGates().pre_enqueue(gated)
    assert status is not None and status.message == "waiting for scheduling gates: [a b]"
    assert SchedulingGates().pre_enqueue(PodInfo(pod("p"))) is None


def test_node_infos_keep_insertion_order():
    cache = cluster([node("z"), node("a")])
    assert [n.name for n in cache.node_infos()] == ["z", "a"]
    assert _info(cache, "a").name == "a"
