"""A whole local cluster, measured: bring-up time, idle memory per component, pod startup latency, and
failover of the store, scheduler and controller-manager leaders under default and short lease settings.

Brings up a three-node cluster with `tinykube up -d` (as root) with Kubernetes' default leader-election
timings, measures, takes it down, then does the same with short timings (the peer: lease-based failover
should shrink with the lease; the store's Raft failover should not care). One cluster at a time.
Targets (issue 11): up ≤ 60 s, idle RSS ≤ 1.5 GiB for all three nodes, pod startup p99 ≤ 3 s for a
30-replica Deployment, store failover ≤ 2 s. Kubernetes' own SLO for pod startup is p99 ≤ 5 s.

Pod startup runs two 30-replica Deployments of busybox ``sleep``, one after the other, each timed by one
watch on its pods. "cold" is the first Deployment of a fresh cluster, as a user's first one: busybox
(``:latest``, so pull policy Always) is not on any node yet, so every node pulls it while its other pods wait
(the kubelet serializes pulls). "warm" comes next, with the image on every node and ``imagePullPolicy:
IfNotPresent``: the conditions of Kubernetes' pod startup SLI (image pulls excluded) and of the single-node
``pod_startup_bench``. Each reports a pod's time from its own creation to Running (the SLI; the creation time
is the pod's first watch event, finer than ``creationTimestamp``'s seconds) and from the Deployment's create
request (which adds the ReplicaSet's slow-start batches), the timeline of the round (pods created, bound,
Running) and the CPU each component spent per pod (the 2 cores carry the whole cluster: CPU per pod bounds
what latency can be; wall figures depend on the load printed with them).

    .venv/bin/python -m bench.cluster_bench [--replicas 30] [--name NAME] [--json FILE]
    .venv/bin/python -m bench.cluster_bench --memory-only   # one cluster: up, idle memory per process, down
    .venv/bin/python -m bench.cluster_bench --startup-only  # one cluster: up, pod startup rounds, down
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.proc_stat import cpu_seconds
from client.errors import ApiConnectionError, ApiError
from client.kubeconfig import load_client_config
from client.mapping import lookup
from client.rest import RestClient
from client.watch import watch
from tests.support.cleanup import Cleanup
from tests.support.tinykube_up import LocalCluster, up

# Short timings keep kube's invariants (lease > renew deadline > 1.2 * retry period).
SHORT_LEASE = ("--leader-elect-lease-duration=4s", "--leader-elect-renew-deadline=3s", "--leader-elect-retry-period=1s")
SETTLE_S = 10.0  # start-up work (image pulls, informer lists) settles before the cluster counts as idle


def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    rank = max(1, math.ceil(len(ordered) * p / 100))
    return ordered[min(rank, len(ordered)) - 1]


def _memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of ``pid``: PSS shares each page among the processes mapping it (libpython, OpenSSL,
    uvloop's code are in every component), so its sum is what the cluster really holds."""
    values = {"Rss:": 0, "Pss:": 0}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, *rest = line.split()
            if key in values:
                values[key] = int(rest[0])
    except (OSError, IndexError, ValueError):
        pass
    return values["Rss:"], values["Pss:"]


def _session_and_comm(pid: int) -> tuple[int, str]:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0, ""
    comm = stat[stat.index("(") + 1:stat.rindex(")")]
    return int(stat[stat.rindex(")") + 2:].split()[3]), comm


def cluster_pids(cluster: LocalCluster) -> set[int]:
    """Every process in the cluster's namespaces (nodes, infra, pods), and the supervising `tinykube up`."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.splitlines()
    pids: set[int] = set()
    for ns in (line.split()[0] for line in listed if line.startswith(f"{cluster.name}-")):
        pids.update(int(p) for p in subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                                                    text=True).stdout.split())
    supervisor = cluster.state / "supervisor.pid"
    if supervisor.exists():
        pids.add(int(supervisor.read_text()))
    return pids


def component_namer(cluster: LocalCluster) -> Callable[[int], str]:
    """Names a cluster process by its component (summed over nodes): the component whose session it is in
    (the supervisor starts each in its own); anything else (containers), by its command name."""
    supervised = json.loads((cluster.state / "supervisor.json").read_text())["components"]
    sessions = {c["pid"]: c["name"] for c in supervised if c["pid"]}
    supervisor_pid = int((cluster.state / "supervisor.pid").read_text())

    def name(pid: int) -> str:
        sid, comm = _session_and_comm(pid)
        return "supervisor (tinykube up)" if pid == supervisor_pid else sessions.get(sid, f"other: {comm}")

    return name


def memory_by_component(cluster: LocalCluster) -> dict[str, tuple[float, float, int]]:
    """MiB of RSS and of PSS, and process count, per component (summed over nodes)."""
    namer = component_namer(cluster)
    table: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for pid in cluster_pids(cluster):
        name = namer(pid)
        rss, pss = _memory_kib(pid)
        table[name][0] += rss
        table[name][1] += pss
        table[name][2] += 1
    return {name: (rss / 1024, pss / 1024, count) for name, (rss, pss, count) in table.items()}


def cpu_by_component(cluster: LocalCluster) -> dict[str, float]:
    """CPU seconds so far per component: each process's own and its reaped children's (CNI plugins, mounts),
    so work done in short-lived processes is charged to the component that ran them."""
    namer = component_namer(cluster)
    table: dict[str, float] = defaultdict(float)
    for pid in cluster_pids(cluster):
        with contextlib.suppress(OSError, IndexError, ValueError):  # exited meanwhile
            table[namer(pid)] += cpu_seconds(pid, reaped=True)
    return dict(table)


def deployment(name: str, replicas: int, pull_policy: str | None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": "busybox", "command": ["sleep", "3600"]}
    if pull_policy:
        container["imagePullPolicy"] = pull_policy
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}}}


async def pod_startup(rest: RestClient, cluster: LocalCluster, name: str, replicas: int,
                      pull_policy: str | None) -> dict[str, Any]:
    """One Deployment's pods timed by one watch: per pod, seconds after the Deployment's create request at
    which a watch event first showed it created, bound to a node and Running; and the CPU per pod of every
    component over the round."""
    pods = lookup("pods")
    listed = await rest.list(pods, "default")
    seen: dict[str, dict[str, float]] = {}

    async def observe() -> None:
        async for event in watch(rest, pods, "default", resource_version=listed["metadata"]["resourceVersion"],
                                 label_selector=f"app={name}"):
            if event.type == "BOOKMARK":
                continue
            at = time.monotonic() - started
            obj = event.object
            times = seen.setdefault(obj["metadata"]["name"], {"created": at})
            if obj.get("spec", {}).get("nodeName"):
                times.setdefault("bound", at)
            if obj.get("status", {}).get("phase") == "Running":
                times.setdefault("running", at)
            if sum("running" in t for t in seen.values()) >= replicas:
                return

    cpu_before = await asyncio.to_thread(cpu_by_component, cluster)
    load = os.getloadavg()
    started = time.monotonic()
    watcher = asyncio.create_task(observe())
    await rest.create(lookup("deployments.apps"), deployment(name, replicas, pull_policy), "default")
    await asyncio.wait_for(watcher, 180)
    wall = time.monotonic() - started
    cpu_after = await asyncio.to_thread(cpu_by_component, cluster)
    cpu = {k: v - cpu_before.get(k, 0.0) for k, v in cpu_after.items() if v - cpu_before.get(k, 0.0) > 0.005}
    return {"pods": seen, "wall_s": wall, "load": load[0], "cpu_s": cpu}


def summarize(round_: dict[str, Any]) -> dict[str, float]:
    """p50/p99 of a round: from each pod's creation (the SLI) and from the Deployment's, and its timeline."""
    pods = list(round_["pods"].values())
    startup = [t["running"] - t["created"] for t in pods]
    out = {"startup_p50_s": percentile(startup, 50), "startup_p99_s": percentile(startup, 99)}
    for name, start, end in (("scheduling", "created", "bound"), ("node", "bound", "running")):
        for p in (50, 99):
            out[f"{name}_p{p}_s"] = percentile([t[end] - t[start] for t in pods if end in t], p)
    for stage in ("created", "bound", "running"):
        for p in (50, 99):
            out[f"{stage}_p{p}_s"] = percentile([t[stage] for t in pods if stage in t], p)
    return out


async def startup_rounds(cluster: LocalCluster, replicas: int) -> dict[str, Any]:
    """The cold round, then the warm one (see the module's docstring)."""
    async with RestClient(load_client_config(cluster.kubeconfig), user_agent="cluster-bench", timeout=10) as rest:
        cold = await pod_startup(rest, cluster, "startup-cold", replicas, None)
        warm = await pod_startup(rest, cluster, "startup-warm", replicas, "IfNotPresent")
    return {"cold": {**cold, **summarize(cold)}, "warm": {**warm, **summarize(warm)}}


def _kill_leader(cluster: LocalCluster, component: str) -> float:
    """SIGKILL the leader; the wall-clock time of the kill as `tinykube chaos` stamped it (the command itself
    takes seconds under load, first finding the leader)."""
    for _ in range(100):  # "no leader right now" right after an earlier kill: ask again
        out = cluster.tk("chaos", "kill-leader", component)
        if out.returncode == 0:
            stamp = out.stdout.split()[0]
            return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.UTC).timestamp()
        time.sleep(0.2)
    raise RuntimeError(f"kill-leader {component}: {out.stderr.strip()}")


async def store_failover(rest: RestClient, cluster: LocalCluster) -> float:
    """SIGKILL the store leader; seconds until a write through the apiservers is acknowledged again."""
    configmaps = lookup("configmaps")
    killed = await asyncio.to_thread(_kill_leader, cluster, "store")
    for i in range(10_000):
        try:
            await rest.create(configmaps, {"metadata": {"name": f"failover-{time.time_ns()}-{i}"}, "data": {}},
                              "default")
            return time.time() - killed
        except (ApiError, ApiConnectionError):
            await asyncio.sleep(0.05)
    raise RuntimeError("no write acknowledged after killing the store leader")


async def lease_failover(rest: RestClient, cluster: LocalCluster, component: str, lease: str) -> float:
    """SIGKILL the leader of ``component``; seconds until another identity holds its Lease."""
    leases = lookup("leases.coordination.k8s.io")
    old = (await rest.get(leases, lease, "kube-system"))["spec"].get("holderIdentity")
    killed = await asyncio.to_thread(_kill_leader, cluster, component)
    while time.time() - killed < 120:
        try:
            holder = (await rest.get(leases, lease, "kube-system"))["spec"].get("holderIdentity")
        except (ApiError, ApiConnectionError):
            holder = None
        if holder and holder != old:
            return time.time() - killed
        await asyncio.sleep(0.05)
    raise RuntimeError(f"no new {lease} leader 120 s after killing {old}")


async def failovers(cluster: LocalCluster) -> dict[str, float]:
    async with RestClient(load_client_config(cluster.kubeconfig), user_agent="cluster-bench", timeout=5) as rest:
        return {"store": await store_failover(rest, cluster),
                "scheduler": await lease_failover(rest, cluster, "scheduler", "kube-scheduler"),
                "controller-manager": await lease_failover(rest, cluster, "controller-manager",
                                                           "kube-controller-manager")}


def run_cluster(name: str, workdir: Path, replicas: int | None, up_args: tuple[str, ...],
                *, memory_only: bool = False, startup_only: bool = False) -> dict[str, Any]:
    """Bring one cluster up, measure it, take it down (always); ``memory_only`` stops after idle memory,
    ``startup_only`` after pod startup."""
    cleanup = Cleanup()
    results: dict[str, Any] = {}
    try:
        t0 = time.monotonic()
        cluster = up(name, workdir / "state", cleanup, *up_args)
        results["up_s"] = time.monotonic() - t0
        if replicas is not None:
            time.sleep(SETTLE_S)
            results["memory"] = memory_by_component(cluster)
            if memory_only:
                return results
            results["startup"] = asyncio.run(startup_rounds(cluster, replicas))
            results["pods"] = replicas
            if startup_only:
                return results
        results["failover_s"] = asyncio.run(failovers(cluster))
    finally:
        cleanup.run()
    return results


def report_load(load: tuple[float, ...]) -> None:
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"after: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores, shared: figures are noisy)")


def startup_rows(default: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The summary rows of both startup rounds (the warm one is the SLI's conditions)."""
    rows = []
    for kind in ("cold", "warm"):
        r = default["startup"][kind]
        rows.append((f"pod startup p50, {kind} ({default['pods']} pods)", f"{r['startup_p50_s']:.2f} s", ""))
        rows.append((f"pod startup p99, {kind} ({default['pods']} pods)", f"{r['startup_p99_s']:.2f} s",
                     f"≤ 3 s; {r['startup_p99_s'] / 5:.2f}x Kubernetes' 5 s SLO" if kind == "warm" else
                     "first pull of busybox on every node included"))
    return rows


def report_startup(default: dict[str, Any]) -> None:
    """Each round's timeline and CPU per pod by component."""
    pods = default["pods"]
    for kind in ("cold", "warm"):
        r = default["startup"][kind]
        print(f"\npod startup, {kind} round: {pods}-replica Deployment, wall {r['wall_s']:.2f} s at load "
              f"{r['load']:.2f} (2 cores, shared)")
        print(f"  per pod, created → Running (SLI)       p50 {r['startup_p50_s']:5.2f} s   "
              f"p99 {r['startup_p99_s']:5.2f} s")
        print(f"  per pod, created → bound               p50 {r['scheduling_p50_s']:5.2f} s   "
              f"p99 {r['scheduling_p99_s']:5.2f} s   (scheduler, apiservers)")
        print(f"  per pod, bound → Running               p50 {r['node_p50_s']:5.2f} s   "
              f"p99 {r['node_p99_s']:5.2f} s   (watch to the kubelet, kubelet, runtime, CNI)")
        for stage, what in (("created", "pod created"), ("bound", "pod bound"), ("running", "pod Running")):
            print(f"  Deployment created → {what:17} p50 {r[f'{stage}_p50_s']:5.2f} s   "
                  f"p99 {r[f'{stage}_p99_s']:5.2f} s")
        total = sum(r["cpu_s"].values())
        print(f"  CPU per pod: {total / pods * 1000:.0f} ms in all (the round used "
              f"{total / r['wall_s']:.2f} cores of 2)")
        for name, seconds in sorted(r["cpu_s"].items(), key=lambda kv: -kv[1]):
            print(f"    {name:36} {seconds / pods * 1000:7.1f} ms")


def report_memory(memory: dict[str, tuple[float, float, int]]) -> tuple[float, float, int]:
    """Print the per-component table; the whole cluster's RSS and PSS in MiB and its process count."""
    print("\nidle memory per component (default-lease cluster, all nodes together):")
    print(f"  {'component':38} {'RSS MiB':>9} {'PSS MiB':>9}  processes")
    for name, (rss, pss, count) in sorted(memory.items(), key=lambda kv: -kv[1][0]):
        print(f"  {name:38} {rss:9.1f} {pss:9.1f}  {count:3}")
    total = sum(rss for rss, _, _ in memory.values())
    total_pss = sum(pss for _, pss, _ in memory.values())
    processes = sum(count for _, _, count in memory.values())
    print(f"  {'whole cluster':38} {total:9.1f} {total_pss:9.1f}  {processes:3}   (target: RSS ≤ 1536 MiB; "
          f"PSS {total_pss / total:.2f}x RSS)")
    return total, total_pss, processes


def report(default: dict[str, Any], short: dict[str, Any], load: tuple[float, ...]) -> None:
    report_load(load)
    total, total_pss, processes = report_memory(default["memory"])
    report_startup(default)
    rows = [("tinykube up → all nodes Ready (default leases)", f"{default['up_s']:.1f} s", "≤ 60 s"),
            ("tinykube up → all nodes Ready (short leases)", f"{short['up_s']:.1f} s", "≤ 60 s"),
            ("idle RSS, whole cluster", f"{total:.0f} MiB ({processes} processes)", "≤ 1536 MiB"),
            ("idle PSS, whole cluster (shared pages once)", f"{total_pss:.0f} MiB", f"{total_pss / total:.2f}x RSS"),
]
    rows += startup_rows(default)
    for component in ("store", "scheduler", "controller-manager"):
        d, s = default["failover_s"][component], short["failover_s"][component]
        target = "≤ 2 s" if component == "store" else ""
        rows.append((f"{component} failover, default leases (15s/10s/2s)", f"{d:.2f} s", target))
        rows.append((f"{component} failover, short leases (4s/3s/1s)", f"{s:.2f} s",
                     f"{s / d:.2f}x default" + (f"; {target}" if target else "")))
    print()
    for what, value, target in rows:
        print(f"{what:52} {value:>26}   {target}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--replicas", type=int, default=30)
    parser.add_argument("--name", default="tkbench")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--memory-only", action="store_true",
                        help="one cluster: bring-up time and idle memory per component, no pods or failovers")
    parser.add_argument("--startup-only", action="store_true",
                        help="one cluster: bring-up time, idle memory and pod startup, no failovers")
    opts = parser.parse_args()
    load = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="tk-clusterbench-"))
    try:
        if opts.memory_only:
            default = run_cluster(opts.name, workdir / "default", opts.replicas, (), memory_only=True)
            report_load(load)
            report_memory(default["memory"])
            print(f"\ntinykube up → all nodes Ready: {default['up_s']:.1f} s")
            if opts.json:
                Path(opts.json).write_text(json.dumps({"default": default}, indent=1))
            return 0
        if opts.startup_only:
            default = run_cluster(opts.name, workdir / "default", opts.replicas, (), startup_only=True)
            report_load(load)
            report_startup(default)
            print(f"\ntinykube up → all nodes Ready: {default['up_s']:.1f} s")
            for what, value, target in startup_rows(default):
                print(f"{what:52} {value:>26}   {target}")
            if opts.json:
                Path(opts.json).write_text(json.dumps({"default": default}, indent=1))
            return 0
        default = run_cluster(opts.name, workdir / "default", opts.replicas, ())
        short = run_cluster(opts.name, workdir / "short", None, SHORT_LEASE)
    except (AssertionError, RuntimeError, TimeoutError) as exc:
        print(f"cluster_bench: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report(default, short, load)
    if opts.json:
        Path(opts.json).write_text(json.dumps({"default": default, "short": short}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
