"""The issue's seed scenarios at the algorithm level, through queue + framework + assume cache."""

from typing import Any

from scheduler.cache import Cache
from scheduler.events import ASSIGNED_POD_DELETE
from scheduler.framework import Framework
from scheduler.plugins.volume_binding import BindVolume
from scheduler.podinfo import PodInfo
from scheduler.queue import SchedulingQueue
from tests.unit.scheduler_fixtures import cluster, framework, node, pod, taint


class Driver:
    """What the async scheduler process will do, minus the I/O: pop, schedule, assume, bind or requeue."""

    def __init__(self, cache: Cache, fw: Framework | None = None) -> None:
        self.cache = cache
        self.fw = fw or framework()
        self.queue = SchedulingQueue(self.fw.events_by_plugin(), self.fw.run_pre_enqueue)
        self.fw.nominator = self.queue.nominator
        self.bound: dict[str, str] = {}
        self.messages: dict[str, str] = {}
        self.evicted: list[str] = []
        self.intents: list[Any] = []
        self.now = 0.0

    def submit(self, *raw: dict[str, Any]) -> None:
        for p in raw:
            self.queue.add(PodInfo(p), self.now)

    def run(self) -> None:
        while (qp := self.queue.pop(self.now)) is not None:
            info = qp.pod
            result = self.fw.schedule_one(info, self.cache)
            if result.node is None:
                self.messages[info.name] = result.message
                pre = result.preemption
                if pre is not None and pre.nominated_node:
                    self.queue.nominator.add(info, pre.nominated_node)
                    for victim in pre.victims:
                        self.evicted.append(victim.name)
                        self.cache.remove_pod(victim.key)
                        self.bound.pop(victim.name, None)
                        self.queue.move_on_event(ASSIGNED_POD_DELETE, self.now)
                self.queue.add_unschedulable(qp, sorted(result.diagnosis.unschedulable_plugins), self.now)
                continue
            assert self.fw.reserve(result.state, info, result.node, self.cache) is None
            self.cache.assume_pod(info, result.node)
            self.queue.done(qp.key)
            self.intents.extend(self.fw.pre_bind(result.state, info, result.node))
            binding = self.fw.bind(result.state, info, result.node)
            self.cache.finish_binding(info.key, self.now)
            bound = {**info.obj, "spec": {**info.spec, "nodeName": binding["target"]["name"]}}
            self.cache.add_pod(bound)
            self.queue.nominator.remove(info.key)
            self.bound[info.name] = result.node

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.run()


def test_node_selector():
    d = Driver(cluster([node("n1"), node("n2", labels={"disk": "ssd"}), node("n3")]))
    d.submit(pod("p", nodeSelector={"disk": "ssd"}))
    d.run()
    assert d.bound == {"p": "n2"}


def test_node_affinity_operators_choose_the_only_matching_node():
    d = Driver(
        cluster(
            [
                node("small", labels={"cores": "2", "tier": "gold"}),
                node("big", labels={"cores": "32", "tier": "gold"}),
                node("spot", labels={"cores": "64", "tier": "spot", "preemptible": "true"}),
            ]
        )
    )
    d.submit(
        pod(
            "p",
            affinity={
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": "cores", "operator": "Gt", "values": ["8"]},
                                    {"key": "tier", "operator": "NotIn", "values": ["spot"]},
                                    {"key": "preemptible", "operator": "DoesNotExist"},
                                ]
                            }
                        ]
                    }
                }
            },
        )
    )
    d.run()
    assert d.bound == {"p": "big"}


def test_anti_affinity_spreads_replicas_one_per_node():
    anti = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}
            ]
        }
    }
    d = Driver(cluster([node("n1"), node("n2"), node("n3")]))
    d.submit(*(pod(f"web-{i}", labels={"app": "web"}, affinity=anti) for i in range(4)))
    d.run()
    assert sorted(d.bound.values()) == ["n1", "n2", "n3"]
    assert "web-3" not in d.bound
    assert d.messages["web-3"] == (
        "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. "
        "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    )
    # Deleting one replica lets the parked one in.
    gone = next(name for name, n in d.bound.items() if n == "n2")
    d.cache.remove_pod(f"default/{gone}")
    del d.bound[gone]
    d.queue.move_on_event(ASSIGNED_POD_DELETE, d.now)
    d.advance(2)
    assert d.bound["web-3"] == "n2"


def test_taints_repel_pods_without_tolerations():
    d = Driver(cluster([node("gpu", taints=[taint("dedicated", "gpu")]), node("general")]))
    d.submit(*(pod(f"p{i}") for i in range(5)))
    d.submit(
        pod(
            "ml",
            tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}],
            nodeSelector={"kubernetes.io/hostname": "gpu"},
        )
    )
    d.run()
    assert {d.bound[f"p{i}"] for i in range(5)} == {"general"}
    assert d.bound["ml"] == "gpu"


def test_prefer_no_schedule_is_avoided_but_not_forbidden():
    d = Driver(cluster([node("soft", taints=[taint("meh", effect="PreferNoSchedule")]), node("clean")]))
    d.submit(pod("p"))
    d.run()
    assert d.bound == {"p": "clean"}
    full = Driver(cluster([node("soft", taints=[taint("meh", effect="PreferNoSchedule")]), node("clean", cpu="1")]))
    full.submit(pod("p", cpu="2"))
    full.run()
    assert full.bound == {"p": "soft"}


def test_resource_exhaustion_reports_a_clear_message():
    d = Driver(cluster([node("n1", cpu="2"), node("n2", cpu="2")]))
    d.submit(*(pod(f"p{i}", cpu="1", memory="100Mi") for i in range(5)))
    d.run()
    assert len(d.bound) == 4
    (left,) = set(d.messages)
    assert d.messages[left] == (
        "0/2 nodes are available: 2 Insufficient cpu. "
        "preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
    )
    assert d.queue.where(f"default/{left}") == "unschedulable"


def test_high_priority_pod_preempts_low_and_lands_once_room_appears():
    d = Driver(cluster([node("n1", cpu="2")]))
    d.submit(pod("low", cpu="2", priority=1))
    d.run()
    assert d.bound == {"low": "n1"}
    d.submit(pod("high", cpu="2", priority=1000))
    d.run()
    assert d.evicted == ["low"]
    assert "high" not in d.bound
    assert d.queue.nominator.node_of("default/high") == "n1"
    d.advance(1)  # after the backoff the nominated pod binds
    assert d.bound == {"high": "n1"}


def test_wait_for_first_consumer_local_volume():
    cache = cluster([node("n1"), node("n2")])
    cache.set_storage_class(
        {
            "metadata": {"name": "local"},
            "provisioner": "kubernetes.io/no-provisioner",
            "volumeBindingMode": "WaitForFirstConsumer",
        }
    )
    cache.set_pvc(
        {
            "metadata": {"name": "data", "namespace": "default", "uid": "u1"},
            "spec": {
                "storageClassName": "local",
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        }
    )
    cache.set_pv(
        {
            "metadata": {"name": "local-n2"},
            "spec": {
                "storageClassName": "local",
                "accessModes": ["ReadWriteOnce"],
                "capacity": {"storage": "5Gi"},
                "local": {"path": "/mnt"},
                "nodeAffinity": {
                    "required": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": "kubernetes.io/hostname", "operator": "In", "values": ["n2"]}
                                ]
                            }
                        ]
                    }
                },
            },
        }
    )
    d = Driver(cache)
    d.submit(pod("db", volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]))
    d.run()
    assert d.bound == {"db": "n2"}
    assert d.intents == [BindVolume("local-n2", "default", "data", "u1")]
