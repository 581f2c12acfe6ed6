"""Scheduling throughput through the real apiserver: fake Nodes and pending pods created beforehand, then the
scheduler's driver (in this process, as kube-scheduler's integration benchmark runs it) binds them all.

3 store members and two apiservers on loopback (the client uses the first); the scheduler watches, binds
through ``pods/binding`` and records a ``Scheduled`` event per pod, exactly as ``tinykube scheduler`` does.
Reports pods/s from the first cycle to the last binding, the queue → bound latency (p50/p99; every pod is
queued when scheduling starts), the per-pod attempt latency (cycle + binding round trip) and the wall time
of the scheduling algorithm per pod (waits for the CPU on a loaded machine included). The peer, measured
in the same run against the same apiserver, is the rate at which 64 concurrent clients create the pods;
next to it, the CPU seconds this process (scheduler and informers), the apiservers and the store members
used while the scheduler ran — in total and per bound pod, the primary figure on a shared machine, where
wall-clock rates follow the load average (reported before and after) — and how many events the
scheduler's bounded event queue dropped (as client-go's broadcaster does when full). `--nodes 1000
--pods 2000` is a quicker run for iterating.

    .venv/bin/python -m bench.scheduler_bench [--nodes 1000] [--pods 10000] [--mix] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop

from bench.apiserver_bench import Cluster, percentile
from bench.proc_stat import cpu_seconds
from client.errors import ApiConnectionError, ApiError
from client.events import EventRecorder
from client.informer import SharedInformerFactory
from client.kubeconfig import load_client_config
from client.mapping import lookup
from client.rest import RestClient
from process import log as process_log
from scheduler.driver import Scheduler
from scheduler.metrics import SchedulerMetrics
from scheduler.profile import profiles_from_configuration

ZONES = 10


class RecordingMetrics(SchedulerMetrics):
    """Keeps every attempt's latency, for exact percentiles."""

    def __init__(self) -> None:
        super().__init__()
        self.samples: list[float] = []

    def attempt(self, result: str, seconds: float) -> None:
        super().attempt(result, seconds)
        self.samples.append(seconds)


def node(i: int) -> dict[str, Any]:
    resources = {"cpu": "32", "memory": "128Gi", "pods": "110"}
    name = f"bench-node-{i:05d}"
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                  "topology.kubernetes.io/zone": f"zone-{i % ZONES}",
                                                  "tier": "a" if i % 2 else "b"}},
            "status": {"capacity": resources, "allocatable": resources,
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def pod(i: int, mix: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                                            "resources": {"requests": {"cpu": "100m", "memory": "100Mi"}}}]}
    labels = {"app": f"app-{i % 100}"}
    if mix:
        kind = i % 3
        if kind == 0:
            spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}]}]}}}
        elif kind == 1:
            spec["affinity"] = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                "weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                                   "labelSelector": {"matchLabels": labels}}}]}}
        else:
            spec["topologySpreadConstraints"] = [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                                  "whenUnsatisfiable": "ScheduleAnyway",
                                                  "labelSelector": {"matchLabels": labels}}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"bench-pod-{i:05d}", "labels": labels},
            "spec": spec}


def cluster_cpu(procs: list[subprocess.Popen[bytes]]) -> dict[str, float]:
    """CPU seconds so far, summed per component (argv[1]: store, apiserver), plus this process."""
    total = {"bench process (scheduler)": time.process_time()}
    for proc in procs:
        component = str(proc.args[1]) if isinstance(proc.args, list) else "?"
        total[component] = total.get(component, 0.0) + cpu_seconds(proc.pid)
    return total


async def wait_ready(client: RestClient) -> None:
    """Until the apiserver has written its bootstrap objects (a minute at most)."""
    async with asyncio.timeout(60):
        while True:
            try:
                await client.get(lookup("services"), "kubernetes", "default")
                return
            except (ApiError, ApiConnectionError):
                await asyncio.sleep(0.2)


async def create_all(client: RestClient, ref_name: str, bodies: list[dict[str, Any]], namespace: str | None,
                     concurrency: int = 64) -> float:
    """Create ``bodies`` with ``concurrency`` requests in flight; returns objects per second."""
    ref = lookup(ref_name)
    pending = iter(bodies)
    began = time.monotonic()

    async def worker() -> None:
        for body in pending:
            await client.create(ref, body, namespace)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(bodies) / (time.monotonic() - began)


async def run(nodes: int, pods: int, mix: bool) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="scheduler-bench-"))
    cluster = Cluster(workdir)
    cluster.start()
    try:
        config = load_client_config(workdir / "pki" / "admin.kubeconfig")
        config.servers = cluster.urls
        client = RestClient(config, user_agent="scheduler-bench")
        await wait_ready(client)
        node_rate = await create_all(client, "nodes", [node(i) for i in range(nodes)], None)
        pod_rate = await create_all(client, "pods", [pod(i, mix) for i in range(pods)], "default")
        print(f"created {nodes} nodes ({node_rate:.0f}/s) and {pods} pods ({pod_rate:.0f}/s)", flush=True)

        metrics = RecordingMetrics()
        sched = Scheduler(client, profiles_from_configuration(None),
                          recorder=EventRecorder(client, "default-scheduler"), metrics=metrics)
        factory = SharedInformerFactory(client)
        sched.watch(factory)
        bound_at: list[float] = []
        all_bound = asyncio.Event()

        def on_update(old: dict[str, Any], new: dict[str, Any]) -> None:
            if new["spec"].get("nodeName") and not old["spec"].get("nodeName"):
                bound_at.append(time.monotonic())
                if len(bound_at) == pods:
                    all_bound.set()

        factory.informer(lookup("pods")).add_event_handler(on_update=on_update)
        factory.start()
        await factory.wait_for_cache_sync()
        began = time.monotonic()
        load_before = round(os.getloadavg()[0], 2)
        cpu_before = cluster_cpu(cluster.procs)
        loop = asyncio.get_running_loop().create_task(sched.run())
        done_waiting = asyncio.get_running_loop().create_task(all_bound.wait())
        await asyncio.wait({loop, done_waiting}, return_when=asyncio.FIRST_COMPLETED)
        done_waiting.cancel()
        elapsed = (bound_at[-1] if bound_at else time.monotonic()) - began
        cpu = {k: v - cpu_before.get(k, 0.0) for k, v in cluster_cpu(cluster.procs).items()}
        loop.cancel()
        await sched.drain()
        await factory.shutdown()
        await client.close()
        queue_to_bound = [t - began for t in bound_at]
        pods_per_s = len(bound_at) / elapsed
        return {
            "nodes": nodes, "pods": pods, "mix": mix, "bound": len(bound_at),
            "pods_per_s": round(pods_per_s, 1),
            "peer_pod_creates_per_s": round(pod_rate, 1),
            "ratio_bound_to_created_per_s": round(pods_per_s / pod_rate, 2),
            "scheduling_s": round(elapsed, 1),
            "cpu_s_while_scheduling": {k: round(v, 1) for k, v in cpu.items()},
            "cpu_ms_per_bound_pod": {k: round(v * 1000 / max(len(bound_at), 1), 2) for k, v in cpu.items()},
            "load_average_1m_before_after": [load_before, round(os.getloadavg()[0], 2)],
            "events_dropped": sched.events.dropped,
            "queue_to_bound_p50_s": round(percentile(queue_to_bound, 0.5), 2),
            "queue_to_bound_p99_s": round(percentile(queue_to_bound, 0.99), 2),
            "attempt_p50_ms": round(percentile(metrics.samples, 0.5) * 1000, 1),
            "attempt_p99_ms": round(percentile(metrics.samples, 0.99) * 1000, 1),
            "algorithm_ms_per_pod": round(metrics.algorithm_seconds.sum / max(metrics.algorithm_seconds.count, 1)
                                          * 1000, 2),
            "attempts": dict(metrics.attempts),
        }
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--mix", action="store_true", help="node affinity, pod anti-affinity and topology spread")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    process_log.configure("scheduler-bench", 0)
    results = uvloop.run(run(args.nodes, args.pods, args.mix))
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
