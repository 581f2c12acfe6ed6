"""The overlay daemon's cost: CPU per peer sync against the kernel, and a running flanneld's idle memory
and CPU per node change (root).

1. In netns nodes this script creates: CPU (own and reaped children's) of ``VxlanDevice.sync`` with
   ``--peers`` peers, when nothing changed and when one peer's MAC flips. Peer reference measured in the
   same run: the three ``ip``/``bridge -json`` reads of the same state a CLI-driven sync would start.
2. With ``--cluster``: a ``tinykube up`` cluster; each flanneld's idle RSS/PSS, then the flanneld processes'
   CPU over ``--changes`` Node label patches (every one makes each flanneld resync), per change and process.

    .venv/bin/python -m bench.overlay_bench [--peers 50] [--rounds 40] [--cluster] [--changes 30]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.proc_stat import cpu_seconds
from cni.vxlan import Peer, VxlanDevice
from tests.support.cleanup import Cleanup
from tests.support.names import unique_prefix
from tests.support.netcluster import NetCluster
from tests.support.tinykube_up import LocalCluster, up

SETTLE_S = 10.0


def own_cpu() -> float:
    """This process's CPU and that of the children it reaped (``ip``/``bridge`` runs count)."""
    return sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))


def per_round(rounds: int, action: Callable[[int], object]) -> float:
    start = own_cpu()
    for i in range(rounds):
        action(i)
    return (own_cpu() - start) / rounds


def fake_peers(count: int, subnet_prefix: str, flip: bool = False) -> list[Peer]:
    """Peers on made-up subnets and underlay addresses (no traffic goes to them); ``flip`` changes the first MAC."""
    return [Peer(f"10.244.{100 + i}.0/24", f"0a:58:00:00:{i // 256:02x}:{i % 256:02x}" if i or not flip
                 else "0a:58:ff:ff:ff:ff", f"{subnet_prefix}.{100 + i}") for i in range(count)]


def bench_kernel(peers: int, rounds: int) -> dict[str, float]:
    prefix = unique_prefix()
    cleanup = Cleanup()
    workdir = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    try:
        net = NetCluster(prefix, cleanup, workdir, nodes=1)
        node = net.topo.nodes[0]
        device = VxlanDevice(node.ip, "eth0", node.pod_cidr, netns=node.netns)
        subnet_prefix = node.ip.rsplit(".", 1)[0]
        steady, flipped = fake_peers(peers, subnet_prefix), fake_peers(peers, subnet_prefix, flip=True)
        device.sync(steady)
        noop = per_round(rounds, lambda _: device.sync(steady))
        churn = per_round(rounds, lambda i: device.sync(flipped if i % 2 == 0 else steady))
        device.sync(steady)
        reads = (["ip", "-n", node.netns, "-json", "-4", "route", "show", "dev", "flannel.1"],
                 ["ip", "-n", node.netns, "-json", "-4", "neigh", "show", "dev", "flannel.1"],
                 ["bridge", "-n", node.netns, "-json", "fdb", "show", "dev", "flannel.1"])
        cli = per_round(rounds, lambda _: [json.loads(subprocess.run(argv, capture_output=True, check=True).stdout)
                                            for argv in reads])
        return {"noop_ms": noop * 1000, "churn_ms": churn * 1000, "cli_reads_ms": cli * 1000}
    finally:
        cleanup.run()
        shutil.rmtree(workdir, ignore_errors=True)


def _memory_mib(pid: int) -> tuple[float, float]:
    values = {"Rss:": 0, "Pss:": 0}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, *rest = line.split()
        if key in values:
            values[key] = int(rest[0])
    return values["Rss:"] / 1024, values["Pss:"] / 1024


def flanneld_pids(cluster: LocalCluster) -> list[int]:
    components = json.loads((cluster.state / "supervisor.json").read_text())["components"]
    return [c["pid"] for c in components if c["name"] == "flanneld" and c["pid"]]


def check_overlay(cluster: LocalCluster, nodes: int) -> None:
    """Every node routes the other nodes' pod subnets through flannel.1: the syncs measured really worked."""
    for i in range(1, nodes + 1):
        netns = f"{cluster.name}-node{i}"
        routes = json.loads(subprocess.run(["ip", "-n", netns, "-json", "-4", "route", "show", "dev", "flannel.1"],
                                           capture_output=True, text=True, check=True).stdout)
        if len(routes) != nodes - 1:
            raise RuntimeError(f"{netns} has {len(routes)} overlay routes, not {nodes - 1}: {routes}")


def bench_cluster(changes: int) -> dict[str, float]:
    cleanup = Cleanup()
    workdir = Path(tempfile.mkdtemp(prefix="tk-overlaybench-"))
    try:
        cluster = up(unique_prefix(), workdir / "state", cleanup)
        time.sleep(SETTLE_S)
        pids = flanneld_pids(cluster)
        memory = [_memory_mib(pid) for pid in pids]
        node = json.loads(cluster.kubectl("get", "nodes", "-o", "json"))["items"][0]["metadata"]["name"]
        idle_start = sum(cpu_seconds(pid, reaped=True) for pid in pids)
        started = time.monotonic()
        time.sleep(SETTLE_S)
        idle_rate = (sum(cpu_seconds(pid, reaped=True) for pid in pids) - idle_start) / (time.monotonic() - started)
        before = sum(cpu_seconds(pid, reaped=True) for pid in pids)
        started = time.monotonic()
        for i in range(changes):
            cluster.kubectl("label", "node", node, f"overlay-bench={i}", "--overwrite")
        time.sleep(1.0)  # the last change's syncs finish
        spent = sum(cpu_seconds(pid, reaped=True) for pid in pids) - before
        spent -= idle_rate * (time.monotonic() - started)
        check_overlay(cluster, len(pids))
        return {"processes": len(pids), "rss_mib": max(r for r, _ in memory), "pss_mib": max(p for _, p in memory),
                "cpu_per_change_ms": spent / changes / len(pids) * 1000, "idle_cpu_ms_per_s": idle_rate * 1000}
    finally:
        cleanup.run()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--peers", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--cluster", action="store_true", help="also measure flanneld in a `tinykube up` cluster")
    parser.add_argument("--changes", type=int, default=30)
    opts = parser.parse_args()
    load = os.getloadavg()
    try:
        report(opts)
    except (AssertionError, RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"overlay_bench: {exc}", file=sys.stderr)
        return 1
    print(f"load average before: {' '.join(f'{x:.2f}' for x in load)}; after: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores, shared: figures are noisy)")
    return 0


def report(opts: argparse.Namespace) -> None:
    """Measure and print; the cluster part only with ``--cluster``."""
    kernel = bench_kernel(opts.peers, opts.rounds)
    print(f"VxlanDevice.sync, {opts.peers} peers, CPU per sync (own + reaped children), {opts.rounds} rounds:")
    print(f"  nothing changed          {kernel['noop_ms']:7.2f} ms   "
          f"{kernel['noop_ms'] / kernel['cli_reads_ms']:.2f}x the ip/bridge -json reads")
    print(f"  one peer's MAC flipped   {kernel['churn_ms']:7.2f} ms")
    print(f"  peer: ip/bridge -json reads of the same state {kernel['cli_reads_ms']:7.2f} ms")
    if opts.cluster:
        cluster = bench_cluster(opts.changes)
        print(f"flanneld in a `tinykube up` cluster ({cluster['processes']:.0f} processes):")
        print(f"  idle RSS {cluster['rss_mib']:.1f} MiB, PSS {cluster['pss_mib']:.1f} MiB (largest process)")
        print(f"  CPU per Node change per flanneld {cluster['cpu_per_change_ms']:.2f} ms "
              f"(idle {cluster['idle_cpu_ms_per_s']:.2f} ms/s subtracted), {opts.changes} changes")


if __name__ == "__main__":
    sys.exit(main())
