"""A whole local cluster, measured: bring-up time, idle memory, pod startup latency, store failover.

Brings up a fresh three-node cluster with `tinykube up -d` (as root), measures, and takes it down.
Targets (issue 11): up ≤ 60 s, idle RSS ≤ 1.5 GiB for all three nodes, pod startup p99 ≤ 3 s for a
30-replica Deployment, store failover ≤ 2 s. Kubernetes' own SLO for pod startup is p99 ≤ 5 s.

    .venv/bin/python -m bench.cluster_bench [--replicas 30] [--name NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from client.errors import ApiConnectionError, ApiError
from client.kubeconfig import load_client_config
from client.mapping import lookup
from client.rest import RestClient
from client.watch import watch

TINYKUBE = Path(sys.executable).parent / "tinykube"


def tk(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TINYKUBE), *argv], capture_output=True, text=True, timeout=300)


def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    rank = max(1, math.ceil(len(ordered) * p / 100))
    return ordered[min(rank, len(ordered)) - 1]


def cluster_rss(name: str) -> tuple[float, int]:
    """MiB of RSS summed over every process in the cluster's namespaces (components, shims' containers)."""
    netns = [n.split()[0] for n in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                                   text=True).stdout.splitlines() if n.startswith(f"{name}-")]
    pids: set[int] = set()
    for ns in netns:
        out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout
        pids.update(int(p) for p in out.split())
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024, len(pids)


async def pod_startup(rest: RestClient, replicas: int) -> list[float]:
    """Seconds from the Deployment's creation to each of its pods being Running, observed by a watch."""
    pods = lookup("pods")
    listed = await rest.list(pods, "default")
    started = time.monotonic()
    running: dict[str, float] = {}

    async def observe() -> None:
        async for event in watch(rest, pods, "default", resource_version=listed["metadata"]["resourceVersion"],
                                 label_selector="app=startup"):
            obj = event.object
            if obj.get("status", {}).get("phase") == "Running":
                running.setdefault(obj["metadata"]["name"], time.monotonic() - started)
            if len(running) >= replicas:
                return

    watcher = asyncio.create_task(observe())
    await rest.create(lookup("deployments.apps"), {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "startup", "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "startup"}},
                 "template": {"metadata": {"labels": {"app": "startup"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox",
                                                       "command": ["sleep", "3600"]}]}}}}, "default")
    await asyncio.wait_for(watcher, 180)
    return sorted(running.values())


async def store_failover(rest: RestClient, args: list[str]) -> float:
    """SIGKILL the store leader; seconds until a write through the apiservers is acknowledged again."""
    configmaps = lookup("configmaps")
    out = tk("chaos", *args, "kill-leader", "store")
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    t0 = time.monotonic()
    for i in range(10_000):
        try:
            await rest.create(configmaps, {"metadata": {"name": f"failover-{i}"}, "data": {}}, "default")
            return time.monotonic() - t0
        except (ApiError, ApiConnectionError):
            await asyncio.sleep(0.05)
    raise RuntimeError("no write acknowledged after killing the store leader")


async def measure(state: Path, args: list[str], replicas: int) -> dict[str, Any]:
    rest = RestClient(load_client_config(state / "admin.kubeconfig"), user_agent="cluster-bench", timeout=10)
    try:
        startup = await pod_startup(rest, replicas)
        failover = await store_failover(rest, args)
    finally:
        await rest.close()
    return {"pod_startup_p50_s": percentile(startup, 50), "pod_startup_p99_s": percentile(startup, 99),
            "pods": len(startup), "store_failover_s": failover}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--replicas", type=int, default=30)
    parser.add_argument("--name", default="tkbench")
    parser.add_argument("--json", help="also write the figures to this file")
    opts = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="tk-clusterbench-"))
    args = ["--name", opts.name, "--state-dir", str(state / "state")]
    results: dict[str, Any] = {}
    try:
        t0 = time.monotonic()
        up = tk("up", *args, "-d")
        if up.returncode != 0:
            print(f"cluster_bench: bring-up failed: {up.stderr.strip()}", file=sys.stderr)
            return 1
        results["up_s"] = time.monotonic() - t0
        time.sleep(10)  # let start-up work settle before calling the cluster idle
        results["idle_rss_mib"], results["processes"] = cluster_rss(opts.name)
        results.update(asyncio.run(measure(state / "state", args, opts.replicas)))
    finally:
        tk("down", *args)
        shutil.rmtree(state, ignore_errors=True)
    rows = [("tinykube up → all nodes Ready", f"{results['up_s']:.1f} s", "≤ 60 s"),
            ("idle RSS, whole cluster", f"{results['idle_rss_mib']:.0f} MiB ({results['processes']} processes)",
             "≤ 1536 MiB"),
            (f"pod startup p50 ({results['pods']} pods)", f"{results['pod_startup_p50_s']:.2f} s", ""),
            (f"pod startup p99 ({results['pods']} pods)", f"{results['pod_startup_p99_s']:.2f} s",
             "≤ 3 s (Kubernetes SLO: 5 s)"),
            ("store failover (kill -9 leader → next write)", f"{results['store_failover_s']:.2f} s", "≤ 2 s")]
    for what, value, target in rows:
        print(f"{what:46} {value:>28}   {target}")
    if opts.json:
        Path(opts.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
