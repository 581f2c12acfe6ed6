"""DefaultPreemption: candidate nodes, minimal victims, PDBs, node choice and the reported messages."""

import random
from typing import Any

from scheduler.podinfo import PodInfo
from scheduler.preemption import Candidate, pick_candidate
from scheduler.profile import Profile
from scheduler.queue import Nominator
from tests.unit.scheduler_fixtures import cluster, node, pod, schedule


def _victim_names(result: Any) -> list[str]:
    assert result.preemption is not None
    return [v.name for v in result.preemption.victims]


def test_high_priority_pod_preempts_the_low_priority_one():
    cache = cluster([node("n1", cpu="2")], [pod("low", cpu="2", priority=1, node_name="n1")])
    result = schedule(cache, pod("high", cpu="2", priority=1000))
    assert result.node is None
    assert result.preemption is not None and result.preemption.nominated_node == "n1"
    assert _victim_names(result) == ["low"]
    assert result.message == "0/1 nodes are available: 1 Insufficient cpu."


def test_preemption_policy_never():
    cache = cluster([node("n1", cpu="2")], [pod("low", cpu="2", priority=1, node_name="n1")])
    result = schedule(cache, pod("high", cpu="2", priority=1000, preemptionPolicy="Never"))
    assert result.preemption is None
    assert result.message == (
        "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."
    )


def test_equal_or_higher_priority_pods_are_never_victims():
    cache = cluster(
        [node("n1", cpu="2"), node("n2", cpu="2")],
        [pod("same", cpu="2", priority=5, node_name="n1"), pod("more", cpu="2", priority=9, node_name="n2")],
    )
    result = schedule(cache, pod("p", cpu="2", priority=5))
    assert result.preemption is not None and result.preemption.nominated_node is None
    assert result.message == (
        "0/2 nodes are available: 2 Insufficient cpu. "
        "preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
    )


def test_only_as_many_victims_as_needed_lowest_priority_first():
    pods = [
        pod("v1", cpu="1", priority=1, node_name="n1", start_time="2026-01-01T00:00:01Z"),
        pod("v2", cpu="1", priority=2, node_name="n1", start_time="2026-01-01T00:00:02Z"),
        pod("v3", cpu="1", priority=3, node_name="n1", start_time="2026-01-01T00:00:03Z"),
    ]
    cache = cluster([node("n1", cpu="3")], pods)
    result = schedule(cache, pod("p", cpu="1", priority=10))
    assert _victim_names(result) == ["v1"]
    result = schedule(cache, pod("p", cpu="2", priority=10))
    assert _victim_names(result) == ["v2", "v1"]


def test_pdb_protected_pods_are_spared_when_another_node_works():
    cache = cluster(
        [node("n1", cpu="1"), node("n2", cpu="1")],
        [
            pod("guarded", cpu="1", priority=1, labels={"app": "db"}, node_name="n1"),
            pod("free", cpu="1", priority=1, labels={"app": "batch"}, node_name="n2"),
        ],
    )
    cache.set_pdb(
        {
            "metadata": {"name": "db", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "db"}}},
            "status": {"disruptionsAllowed": 0},
        }
    )
    for _ in range(5):  # whatever node the random offset starts from
        result = schedule(cache, pod("p", cpu="1", priority=10))
        assert result.preemption is not None and result.preemption.nominated_node == "n2"


def test_pdb_is_violated_when_nothing_else_helps():
    cache = cluster([node("n1", cpu="1")], [pod("guarded", cpu="1", priority=1, labels={"app": "db"}, node_name="n1")])
    cache.set_pdb(
        {
            "metadata": {"name": "db", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "db"}}},
            "status": {"disruptionsAllowed": 0},
        }
    )
    assert _victim_names(schedule(cache, pod("p", cpu="1", priority=10))) == ["guarded"]


def test_unresolvable_nodes_are_not_candidates():
    cache = cluster(
        [node("tainted", cpu="1", taints=[{"key": "k", "effect": "NoSchedule"}]), node("n2", cpu="1")],
        [pod("a", cpu="1", priority=1, node_name="tainted"), pod("b", cpu="1", priority=1, node_name="n2")],
    )
    result = schedule(cache, pod("p", cpu="1", priority=10))
    assert result.preemption is not None and result.preemption.nominated_node == "n2"


def test_evicting_an_anti_affine_pod_makes_room():
    anti = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "noisy"}}, "topologyKey": "kubernetes.io/hostname"}
            ]
        }
    }
    cache = cluster([node("n1")], [pod("noisy", labels={"app": "noisy"}, priority=1, node_name="n1")])
    result = schedule(cache, pod("quiet", priority=10, affinity=anti))
    assert result.message.startswith("0/1 nodes are available: 1 node(s) didn't match pod anti-affinity rules.")
    assert _victim_names(result) == ["noisy"]


def test_lower_priority_pods_nominated_to_the_node_lose_their_nomination():
    cache = cluster([node("n1", cpu="1")], [pod("low", cpu="1", priority=1, node_name="n1")])
    nominator = Nominator()
    nominator.add(PodInfo(pod("waiting", cpu="1", priority=5)), "n1")
    fw = Profile().build(rng=random.Random(0), nominator=nominator)
    result = fw.schedule_one(PodInfo(pod("p", cpu="1", priority=10)), cache)
    assert result.preemption is not None
    assert [p.name for p in result.preemption.clear_nominations] == ["waiting"]


def _candidate(node_name: str, *victims: tuple[int, str], violations: int = 0) -> Candidate:
    infos = [PodInfo(pod(f"{node_name}-{i}", priority=p, start_time=t)) for i, (p, t) in enumerate(victims)]
    return Candidate(node_name, infos, violations)


def test_pick_candidate_criteria_in_order():
    t1, t2 = "2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z"
    assert pick_candidate([_candidate("a", (1, t1), violations=1), _candidate("b", (5, t1))]).node == "b"
    assert pick_candidate([_candidate("a", (5, t1)), _candidate("b", (1, t1), (4, t1))]).node == "b"
    assert pick_candidate([_candidate("a", (3, t1), (3, t1)), _candidate("b", (3, t1), (1, t1))]).node == "b"
    assert pick_candidate([_candidate("a", (3, t1), (-5, t1)), _candidate("b", (3, t1))]).node == "b"
    assert pick_candidate([_candidate("a", (3, t1)), _candidate("b", (3, t2))]).node == "b"  # started later
    assert pick_candidate([_candidate("a", (3, t1)), _candidate("b")]).node == "b"  # needs no victims
    assert pick_candidate([_candidate("a", (3, t1)), _candidate("b", (3, t1))]).node == "a"


def test_topology_spread_state_follows_simulated_evictions():
    spread = [
        {
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "web"}},
        }
    ]
    cache = cluster(
        [node("n1"), node("n2", cpu="1")],
        [
            pod("w1", labels={"app": "web"}, priority=1, node_name="n1"),
            pod("w2", labels={"app": "web"}, priority=1, node_name="n1"),
            pod("vip", cpu="1", priority=1000, node_name="n2"),
        ],
    )
    result = schedule(
        cache, pod("w3", cpu="100m", labels={"app": "web"}, priority=100, topologySpreadConstraints=spread)
    )
    assert result.message.startswith(
        "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match pod topology spread constraints."
    )
    assert result.preemption is not None and result.preemption.nominated_node == "n1"
    assert sorted(_victim_names(result)) == ["w1", "w2"]


def test_no_second_preemption_while_victims_on_the_nominated_node_terminate():
    terminating = pod("low", cpu="2", priority=1, node_name="n1")
    terminating["metadata"]["deletionTimestamp"] = "2026-01-01T00:01:00Z"
    cache = cluster(
        [node("n1", cpu="2"), node("n2", cpu="2")], [terminating, pod("other", cpu="2", priority=1, node_name="n2")]
    )
    raw = pod("high", cpu="2", priority=1000)
    raw["status"]["nominatedNodeName"] = "n1"
    result = schedule(cache, raw)
    assert result.preemption is None
    assert result.message.endswith("preemption: not eligible due to a terminating pod on the nominated node.")
