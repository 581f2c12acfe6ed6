"""In-process scheduler micro-benchmark: `python -m tests.unit.scheduler_bench [nodes] [pods]`.

Runs the pure core the way the driver will (queue pop, schedule_one, reserve, assume, the informer's
bound-pod confirmation) with no I/O, and prints pods/s for plain pods and for a mix with node affinity,
pod anti-affinity and topology spread. A helper to run by hand, not a timed assertion.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from typing import Any

from scheduler.cache import Cache
from scheduler.podinfo import PodInfo
from scheduler.profile import Profile
from scheduler.queue import SchedulingQueue
from tests.unit.scheduler_fixtures import node, pod

ZONES = 10


def build_cluster(nodes: int) -> Cache:
    cache = Cache()
    for i in range(nodes):
        cache.add_node(
            node(
                f"node-{i:05}",
                cpu="32",
                memory="128Gi",
                pods=110,
                labels={"topology.kubernetes.io/zone": f"zone-{i % ZONES}"},
            )
        )
    return cache


def plain_pod(i: int) -> dict[str, Any]:
    return pod(f"plain-{i}", cpu="100m", memory="100Mi", labels={"app": f"plain-{i % 50}"})


def mixed_pod(i: int) -> dict[str, Any]:
    kind = i % 3
    group = f"g{i // 30}"
    if kind == 0:
        return pod(
            f"aff-{i}",
            cpu="100m",
            memory="100Mi",
            labels={"app": group},
            affinity={
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": "topology.kubernetes.io/zone", "operator": "NotIn", "values": ["zone-0"]}
                                ]
                            }
                        ]
                    },
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 10,
                            "preference": {
                                "matchExpressions": [
                                    {
                                        "key": "topology.kubernetes.io/zone",
                                        "operator": "In",
                                        "values": ["zone-1", "zone-2"],
                                    }
                                ]
                            },
                        }
                    ],
                }
            },
        )
    if kind == 1:
        return pod(
            f"anti-{i}",
            cpu="100m",
            memory="100Mi",
            labels={"anti": group},
            affinity={
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {"labelSelector": {"matchLabels": {"anti": group}}, "topologyKey": "kubernetes.io/hostname"}
                    ]
                }
            },
        )
    return pod(
        f"spread-{i}",
        cpu="100m",
        memory="100Mi",
        labels={"spread": group},
        topologySpreadConstraints=[
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"spread": group}},
            }
        ],
    )


def run(nodes: int, pods: int, make: Callable[[int], dict[str, Any]]) -> tuple[int, float, float]:
    """Schedule `pods` pods onto `nodes` nodes; returns (scheduled, wall seconds, CPU seconds)."""
    cache = build_cluster(nodes)
    fw = Profile().build(rng=random.Random(1))
    queue = SchedulingQueue(fw.events_by_plugin(), fw.run_pre_enqueue)
    fw.nominator = queue.nominator
    raw = [make(i) for i in range(pods)]
    start, cpu_start = time.perf_counter(), time.process_time()
    for p in raw:
        queue.add(PodInfo(p), 0.0)
    scheduled = 0
    while (qp := queue.pop(0.0)) is not None:
        result = fw.schedule_one(qp.pod, cache)
        if result.node is None:
            queue.add_unschedulable(qp, sorted(result.diagnosis.unschedulable_plugins), 0.0)
            continue
        fw.reserve(result.state, qp.pod, result.node, cache)
        cache.assume_pod(qp.pod, result.node)
        queue.done(qp.key)
        cache.add_pod({**qp.pod.obj, "spec": {**qp.pod.spec, "nodeName": result.node}})
        scheduled += 1
    return scheduled, time.perf_counter() - start, time.process_time() - cpu_start


def main(argv: list[str]) -> None:
    nodes = int(argv[1]) if len(argv) > 1 else 1000
    pods = int(argv[2]) if len(argv) > 2 else 10000
    for label, make in (("plain", plain_pod), ("mixed", mixed_pod)):
        scheduled, wall, cpu = run(nodes, pods, make)
        print(
            f"{label}: {scheduled}/{pods} pods on {nodes} nodes in {wall:.2f}s wall, {cpu:.2f}s CPU: "
            f"{scheduled / wall:.0f} pods/s ({scheduled / cpu:.0f} pods/s per CPU second)"
        )


if __name__ == "__main__":
    main(sys.argv)
