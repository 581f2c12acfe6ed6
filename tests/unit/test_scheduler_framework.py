"""The scheduling cycle: node sampling, scoring and selection, diagnosis rendering, reserve/bind hooks."""

import random

import pytest

from scheduler.cache import Cache
from scheduler.framework import (
    Code,
    CycleState,
    Framework,
    PermitPlugin,
    ReservePlugin,
    ScorePlugin,
    Status,
    num_feasible_nodes_to_find,
    render_fit_error,
    unresolvable,
    unschedulable,
)
from scheduler.nodeinfo import NodeInfo
from scheduler.plugins.node_resources_fit import NodeResourcesFit
from scheduler.podinfo import PodInfo
from scheduler.profile import Profile
from scheduler.queue import Nominator
from tests.unit.scheduler_fixtures import cluster, framework, node, pod, schedule, taint


def test_failed_scheduling_message_matches_kubernetes():
    cache = cluster(
        [
            node(
                "cp",
                labels={"node-role.kubernetes.io/control-plane": ""},
                taints=[taint("node-role.kubernetes.io/control-plane")],
            ),
            node("w1", cpu="2"),
            node("w2", cpu="2"),
        ]
    )
    result = schedule(cache, pod("big", cpu="8"))
    assert result.node is None
    assert result.message == (
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
        "2 Insufficient cpu. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )
    assert result.diagnosis.unschedulable_plugins == {"TaintToleration", "NodeResourcesFit"}


def test_histogram_counts_every_reason_and_sorts_as_strings():
    statuses = [
        unschedulable("Insufficient cpu", "Insufficient memory"),
        unschedulable("Insufficient cpu"),
        unresolvable("node(s) didn't match Pod's node affinity/selector"),
    ]
    assert render_fit_error(3, statuses) == (
        "0/3 nodes are available: 1 Insufficient memory, 1 node(s) didn't match Pod's node affinity/selector, "
        "2 Insufficient cpu."
    )
    assert render_fit_error(2, statuses, pre_filter_msg='persistentvolumeclaim "data" not found') == (
        '0/2 nodes are available: persistentvolumeclaim "data" not found.'
    )


def test_prefilter_rejection_is_reported_once_not_per_node():
    cache = cluster([node("n1"), node("n2")])
    raw = pod("p", volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}])
    result = schedule(cache, raw)
    assert result.node is None
    assert result.message == (
        '0/2 nodes are available: persistentvolumeclaim "data" not found. '
        "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    )


def test_no_nodes_at_all():
    result = schedule(cluster([]), pod("p"))
    assert result.node is None
    assert result.message == "0/0 nodes are available:"


def test_percentage_of_nodes_to_score_default_formula():
    assert num_feasible_nodes_to_find(50, 0) == 50
    assert num_feasible_nodes_to_find(99, 10) == 99
    assert num_feasible_nodes_to_find(1000, 0) == 420  # 50 - 1000/125 = 42%
    assert num_feasible_nodes_to_find(5000, 0) == 500  # 50 - 40 = 10%
    assert num_feasible_nodes_to_find(6000, 0) == 300  # adaptive floor of 5%
    assert num_feasible_nodes_to_find(200, 10) == 100  # never fewer than 100
    assert num_feasible_nodes_to_find(1000, 100) == 1000


def test_filtering_stops_at_enough_feasible_nodes_and_rotates_its_start():
    cache = cluster([node(f"n{i:03}") for i in range(300)])
    fw = framework(Profile(percentage_of_nodes_to_score=40))
    first = fw.schedule_one(PodInfo(pod("a")), cache)
    assert (first.evaluated_nodes, first.feasible_nodes) == (120, 120)
    assert fw.next_start_index == 120
    fw.schedule_one(PodInfo(pod("b")), cache)
    assert fw.next_start_index == 240
    fw.schedule_one(PodInfo(pod("c")), cache)
    assert fw.next_start_index == 60  # wrapped around


def test_sampling_counts_feasible_nodes_only_and_rotates_past_the_rejected_ones():
    # Odd nodes are cordoned: the 120th feasible node (40% of 300) is n238, the 239th evaluated.
    cache = cluster([node(f"n{i:03}", unschedulable=i % 2 == 1) for i in range(300)])
    fw = framework(Profile(percentage_of_nodes_to_score=40))
    first = fw.schedule_one(PodInfo(pod("a")), cache)
    assert (first.evaluated_nodes, first.feasible_nodes) == (239, 120)
    assert len(first.diagnosis.node_statuses) == 119, "the rejected nodes it met, no more"
    assert fw.next_start_index == 239
    # From n239: 30 feasible up to n299, then 90 more from n000 to n178.
    second = fw.schedule_one(PodInfo(pod("b")), cache)
    assert (second.evaluated_nodes, second.feasible_nodes) == (61 + 179, 120)
    assert fw.next_start_index == 179


def test_adaptive_sampling_by_default_and_every_node_below_a_hundred():
    fw = framework()
    big = fw.schedule_one(PodInfo(pod("a")), cluster([node(f"n{i:04}") for i in range(1000)]))
    assert (big.evaluated_nodes, big.feasible_nodes) == (420, 420)  # 50 - 1000/125 = 42%
    small = framework().schedule_one(PodInfo(pod("b")), cluster([node(f"n{i:02}") for i in range(99)]))
    assert small.evaluated_nodes == small.feasible_nodes == 99


def test_cordon_and_taint_filters_follow_node_updates():
    cache = cluster([node("free"), node("cordoned", unschedulable=True), node("tainted", taints=[taint("k")])])
    result = schedule(cache, pod("a"))
    assert result.feasible_nodes == 1 and result.node == "free"
    cache.update_node(node("cordoned"))
    cache.update_node(node("tainted"))
    cache.remove_node("free")
    assert (cache.unschedulable_nodes, cache.hard_tainted_nodes) == (0, 0)
    assert schedule(cache, pod("b")).feasible_nodes == 2
    cache.update_node(node("tainted", taints=[taint("k")]))
    assert schedule(cache, pod("c")).node == "cordoned"


def test_node_affinity_and_topology_domains_follow_relabelled_nodes():
    cache = cluster([node("n1", labels={"zone": "a"}), node("n2", labels={"zone": "b"})])
    fw = framework()
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}}
    assert schedule(cache, pod("a", affinity=affinity), fw).node == "n1"
    cache.update_node(node("n1", labels={"zone": "b"}))
    cache.update_node(node("n2", labels={"zone": "a"}))
    assert schedule(cache, pod("b", affinity=affinity), fw).node == "n2"
    spread = [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
               "labelSelector": {"matchLabels": {"app": "x"}}}]
    cache.add_pod(pod("x1", labels={"app": "x"}, node_name="n1"))
    assert cache.topology_values("zone") == {"n1": "b", "n2": "a"}
    assert schedule(cache, pod("c", labels={"app": "x"}, topologySpreadConstraints=spread), fw).node == "n2"
    cache.add_node(node("n3", labels={"zone": "c"}))
    assert cache.topology_values("zone") == {"n1": "b", "n2": "a", "n3": "c"}


def test_least_allocated_prefers_the_emptier_node():
    cache = cluster([node("busy"), node("idle")], [pod("x", cpu="3", memory="6Gi", node_name="busy")])
    assert schedule(cache, pod("p", cpu="100m")).node == "idle"


def test_most_allocated_strategy_packs():
    config = {
        "schedulerName": "packer",
        "pluginConfig": [{"name": "NodeResourcesFit", "args": {"scoringStrategy": {"type": "MostAllocated"}}}],
        "plugins": {"score": {"disabled": [{"name": "NodeResourcesBalancedAllocation"}]}},
    }
    cache = cluster([node("busy"), node("idle")], [pod("x", cpu="2", memory="4Gi", node_name="busy")])
    assert schedule(cache, pod("p", cpu="100m"), framework(Profile.from_config(config))).node == "busy"


def test_ties_are_broken_by_the_injected_random_source_deterministically():
    cache = cluster([node(f"n{i}") for i in range(8)])
    picks = {framework(seed=s).schedule_one(PodInfo(pod("p")), cache).node for s in range(20)}
    assert len(picks) > 1  # ties really are randomized
    again = [framework(seed=7).schedule_one(PodInfo(pod("p")), cache).node for _ in range(3)]
    assert len(set(again)) == 1


class _Fixed(ScorePlugin):
    name = "Fixed"

    def __init__(self, scores: dict[str, int]) -> None:
        self.scores = scores

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return self.scores[node.name]


def test_weighted_scores_add_up():
    cheap = _Fixed({"a": 100, "b": 0})
    cheap.name = "Cheap"  # type: ignore[misc]
    heavy = _Fixed({"a": 0, "b": 60})
    fw = Framework("s", [cheap, heavy], {"Cheap": 1, "Fixed": 2}, rng=random.Random(0))
    assert fw.schedule_one(PodInfo(pod("p")), cluster([node("a"), node("b")])).node == "b"
    fw = Framework("s", [cheap, heavy], {"Cheap": 3, "Fixed": 2}, rng=random.Random(0))
    assert fw.schedule_one(PodInfo(pod("p")), cluster([node("a"), node("b")])).node == "a"


def test_nominated_node_is_tried_first():
    cache = cluster([node("a"), node("b")], [pod("x", cpu="3", node_name="b")])
    raw = pod("p", cpu="100m")
    raw["status"]["nominatedNodeName"] = "b"
    result = schedule(cache, raw)
    assert result.node == "b" and result.evaluated_nodes == 1


def test_nominated_higher_priority_pods_hold_their_room():
    cache = cluster([node("a", cpu="2"), node("b", cpu="2")])
    nominator = Nominator()
    nominator.add(PodInfo(pod("holder", cpu="2", priority=100)), "a")
    fw = Profile().build(rng=random.Random(0), nominator=nominator)
    assert fw.schedule_one(PodInfo(pod("p", cpu="1", priority=10)), cache).node == "b"
    # An even more important pod ignores the lower-priority nomination.
    assert (
        fw.schedule_one(
            PodInfo(pod("q", cpu="2", priority=1000, nodeSelector={"kubernetes.io/hostname": "a"})), cache
        ).node
        == "a"
    )


def test_reserve_permit_and_bind_hooks():
    cache = cluster([node("n1")])
    fw = framework()
    info = PodInfo(pod("p"))
    result = fw.schedule_one(info, cache)
    assert result.node == "n1"
    assert fw.reserve(result.state, info, "n1", cache) is None
    assert fw.permit(result.state, info, "n1") is None
    assert fw.pre_bind(result.state, info, "n1") == []
    assert fw.bind(result.state, info, "n1") == {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "p", "namespace": "default", "uid": "uid-default-p"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"},
    }


def test_status_helpers():
    status = Status(Code.UNSCHEDULABLE, ("a", "b"))
    assert status.message == "a, b" and status.rejected
    assert status.with_plugin("X").plugin == "X"
    assert not Status(Code.SKIP).rejected


def test_plugin_weights_of_default_profile():
    fw = framework()
    weights = {p.name: w for p, w in fw.scorers}
    assert weights == {
        "TaintToleration": 3,
        "NodeAffinity": 2,
        "NodeResourcesFit": 1,
        "PodTopologySpread": 2,
        "InterPodAffinity": 2,
        "NodeResourcesBalancedAllocation": 1,
        "ImageLocality": 1,
    }
    assert [p.name for p in fw.filters] == [
        "NodeUnschedulable",
        "NodeName",
        "TaintToleration",
        "NodeAffinity",
        "NodePorts",
        "NodeResourcesFit",
        "VolumeBinding",
        "PodTopologySpread",
        "InterPodAffinity",
    ]
    assert isinstance(fw.plugin("NodeResourcesFit"), NodeResourcesFit)


def test_daemonset_style_pod_pinned_by_match_fields():
    cache = cluster([node("n1"), node("n2", pods=1), node("n3")], [pod("x", node_name="n2")])
    pinned = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}]
            }
        }
    }
    result = schedule(cache, pod("ds-n2", affinity=pinned))
    assert result.evaluated_nodes == 1
    assert result.message == (
        "0/3 nodes are available: 1 Too many pods, 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. "
        "preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, "
        "2 Preemption is not helpful for scheduling."
    )
    gone = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["missing"]}]}
                ]
            }
        }
    }
    assert schedule(cache, pod("ds-missing", affinity=gone)).message.startswith(
        "0/3 nodes are available: 3 node(s) didn't satisfy plugin(s) [NodeAffinity]."
    )
    contradictory = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchFields": [
                            {"key": "metadata.name", "operator": "In", "values": ["n1"]},
                            {"key": "metadata.name", "operator": "In", "values": ["n3"]},
                        ]
                    }
                ]
            }
        }
    }
    assert schedule(cache, pod("nowhere", affinity=contradictory)).diagnosis.pre_filter_msg == (
        "node(s) didn't satisfy plugin NodeAffinity"
    )


class _Recorder(ReservePlugin, PermitPlugin):
    name = "Recorder"

    def __init__(self, log: list[str], fail: bool = False) -> None:
        self.log = log
        self.fail = fail

    def reserve(self, state: CycleState, pod: PodInfo, node: str, snapshot: Cache) -> Status | None:
        self.log.append(f"reserve {self.name}")
        return unschedulable("no room in the ledger") if self.fail else None

    def unreserve(self, state: CycleState, pod: PodInfo, node: str, snapshot: Cache) -> None:
        self.log.append(f"unreserve {self.name}")

    def permit(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        return unschedulable("denied") if self.fail else None


def test_failed_reserve_unreserves_in_reverse_and_permit_can_deny():
    log: list[str] = []
    first, second = _Recorder(log), _Recorder(log, fail=True)
    second.name = "Second"  # type: ignore[misc]
    fw = Framework("s", [first, second], {}, rng=random.Random(0))
    cache = cluster([node("n1")])
    info = PodInfo(pod("p"))
    status = fw.reserve(CycleState(), info, "n1", cache)
    assert status is not None and status.plugin == "Second" and status.message == "no room in the ledger"
    assert log == ["reserve Recorder", "reserve Second", "unreserve Second", "unreserve Recorder"]
    denied = fw.permit(CycleState(), info, "n1")
    assert denied is not None and denied.plugin == "Second"
    with pytest.raises(LookupError, match="no Bind plugin"):
        fw.bind(CycleState(), info, "n1")
