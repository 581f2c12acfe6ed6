"""Controller-manager at scale on fake nodes: a Deployment scaled 0 → N replicas, and Services whose
EndpointSlices must follow their pods.

Real processes on loopback: 3 store members, one apiserver, ``tinykube scheduler``, ``tinykube
controller-manager`` (deployment, replicaset, endpointslice) and the fake kubelets of ``bench.fake_nodes``
(one process playing every node: it reports bound pods Running and sends no heartbeats, so the nodes cost
next to nothing and the controllers are what is measured). This process only creates objects and watches
the results through informers.

1. Deployment: created with 0 replicas, then scaled to ``--replicas``. Times from the scale to: every pod
   created, every pod bound, and ``status.availableReplicas`` = N (the fake kubelets report pods Running).
2. Services: ``--services`` x ``--endpoints`` bare pods are bound straight to the nodes and left to run; then
   the Services are created. Time from the first Service to every Service having EndpointSlices holding
   exactly its pods' IPs, all ready.

The peer measured in the same run is the raw create rate of this process through the same apiserver (64
requests in flight): the ReplicaSet controller's pods/s and the EndpointSlice controller's Services/s are
printed as ratios to it. There is no kube-controller-manager on this machine to run as a peer, so the figures
are also printed next to Kubernetes' published reference points (and say so): the pod startup latency SLO
(p99 ≤ 5 s per pod, sig-scalability), and the write-rate floor that kube-controller-manager's default client
limits (``--kube-api-qps=20``, ``--kube-api-burst=30``) put on creating N pods or N EndpointSlices; the ratio
printed is that floor over our time (> 1: faster than upstream at its defaults could be), and the SLO over our
p99 pod startup (creation → Running as seen by a watch; > 1: inside the SLO).

    .venv/bin/python -m bench.controller_bench [--nodes 1000] [--replicas 5000] [--services 1000]
        [--endpoints 10] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import uvloop
import yaml

from bench.apiserver_bench import TINYKUBE, Cluster, percentile
from bench.proc_stat import cpu_seconds
from bench.scheduler_bench import create_all, wait_ready
from client.informer import SharedInformerFactory
from client.kubeconfig import load_client_config
from client.mapping import lookup
from client.rest import PatchType, RestClient
from process import log as process_log

UPSTREAM_QPS, UPSTREAM_BURST = 20.0, 30
"""kube-controller-manager's default client rate limits (--kube-api-qps, --kube-api-burst)."""
POD_STARTUP_SLO_S = 5.0
"""sig-scalability's pod startup latency SLO: 99th percentile per cluster-day ≤ 5 s."""
NAMESPACE = "default"
DEPLOYMENT = "bench-web"
NODE_PREFIX = "fake"


def upstream_floor(writes: int) -> float:
    """Seconds kube-controller-manager needs at least for ``writes`` requests at its default client limits."""
    return max(0.0, (writes - UPSTREAM_BURST) / UPSTREAM_QPS)


def upstream_ratio(writes: int, ours: float) -> float | None:
    """The upstream floor over our time; None when the burst alone covers the writes (no floor to compare)."""
    floor = upstream_floor(writes)
    return round(floor / max(ours, 0.001), 2) if floor > 0 else None


COMPONENT_OF: dict[int, str] = {}
"""pid -> component name of the processes this bench started beyond the store and apiservers."""


def _start(cluster: Cluster, name: str, argv: list[str]) -> None:
    with (cluster.workdir / f"{name}.log").open("ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    cluster.procs.append(proc)
    COMPONENT_OF[proc.pid] = name.rstrip("0123456789")


def component_cpu(cluster: Cluster) -> dict[str, float]:
    """CPU seconds so far per component, and this process (informers)."""
    total = {"bench process": time.process_time()}
    for proc in cluster.procs:
        name = COMPONENT_OF.get(proc.pid) or (str(proc.args[1]) if isinstance(proc.args, list) else "?")
        total[name] = total.get(name, 0.0) + cpu_seconds(proc.pid)
    return total


def _kubeconfig(cluster: Cluster) -> Path:
    """The admin kubeconfig pointed at the first apiserver, for the child components."""
    config = yaml.safe_load((cluster.workdir / "pki" / "admin.kubeconfig").read_text())
    config["clusters"][0]["cluster"]["server"] = cluster.urls[0]
    path = cluster.workdir / "bench.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def start_components(cluster: Cluster, nodes: int) -> list[str]:
    """The fake nodes (one process for all), the scheduler and the controller-manager; the node names."""
    kubeconfig = str(_kubeconfig(cluster))
    _start(cluster, "fake-kubelets", [sys.executable, "-m", "bench.fake_nodes", "--kubeconfig", kubeconfig,
                                      "--nodes", str(nodes), "--prefix", NODE_PREFIX])
    common = ["--kubeconfig", kubeconfig, "--secure-port", "0", "--leader-elect=false"]
    _start(cluster, "scheduler", [str(TINYKUBE), "scheduler", *common])
    _start(cluster, "controller-manager", [str(TINYKUBE), "controller-manager", *common,
                                           "--controllers", "deployment,replicaset,endpointslice"])
    return [f"{NODE_PREFIX}-{i}" for i in range(nodes)]


async def wait_nodes_ready(client: RestClient, names: list[str], limit_s: float) -> float:
    """Seconds until every fake node reports Ready."""
    began = time.monotonic()
    wanted = set(names)
    async with asyncio.timeout(limit_s):
        while True:
            listed = await client.list(lookup("nodes"))
            ready = {n["metadata"]["name"] for n in listed.get("items") or []
                     if any(c.get("type") == "Ready" and c.get("status") == "True"
                            for c in (n.get("status") or {}).get("conditions") or [])}
            if wanted <= ready:
                return time.monotonic() - began
            await asyncio.sleep(1.0)


async def deployment_scale(client: RestClient, factory: SharedInformerFactory, replicas: int,
                           limit_s: float) -> dict[str, Any]:
    """Scale a 0-replica Deployment to ``replicas``; seconds to all created, bound and available."""
    pods = factory.informer(lookup("pods"))
    deployments = factory.informer(lookup("deployments"))
    created: dict[str, float] = {}
    bound: dict[str, float] = {}
    running: dict[str, float] = {}
    available = asyncio.Event()
    done = {"created": asyncio.Event(), "bound": asyncio.Event()}

    def seen(pod: dict[str, Any]) -> None:
        labels = pod["metadata"].get("labels") or {}
        if labels.get("app") != DEPLOYMENT:
            return
        name = pod["metadata"]["name"]
        now = time.monotonic()
        created.setdefault(name, now)
        if pod["spec"].get("nodeName"):
            bound.setdefault(name, now)
        if (pod.get("status") or {}).get("phase") == "Running":
            running.setdefault(name, now)
        if len(created) >= replicas:
            done["created"].set()
        if len(bound) >= replicas:
            done["bound"].set()

    def deployment_seen(d: dict[str, Any]) -> None:
        if d["metadata"]["name"] == DEPLOYMENT and (d.get("status") or {}).get("availableReplicas") == replicas:
            available.set()

    pods.add_event_handler(on_add=seen, on_update=lambda _o, n: seen(n))
    deployments.add_event_handler(on_add=deployment_seen, on_update=lambda _o, n: deployment_seen(n))
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": DEPLOYMENT},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": DEPLOYMENT}},
                     "template": {"metadata": {"labels": {"app": DEPLOYMENT}},
                                  "spec": {"containers": [{"name": "web", "image": "registry.k8s.io/pause:3.10"}]}}}}
    await client.create(lookup("deployments"), body, NAMESPACE)
    await asyncio.sleep(2.0)  # the ReplicaSet exists with 0 replicas: the timer measures only the scale-up
    began = time.monotonic()
    await client.patch(lookup("deployments"), DEPLOYMENT, {"spec": {"replicas": replicas}}, NAMESPACE,
                       patch_type=PatchType.MERGE)
    out: dict[str, Any] = {"replicas": replicas}
    try:
        async with asyncio.timeout(limit_s):
            await done["created"].wait()
            out["all_created_s"] = round(max(created.values()) - began, 1)
            await done["bound"].wait()
            out["all_bound_s"] = round(max(bound.values()) - began, 1)
            await available.wait()
            out["all_available_s"] = round(time.monotonic() - began, 1)
    except TimeoutError:
        out["timed_out_after_s"] = limit_s
        out["created"], out["bound"] = len(created), len(bound)
    if "all_created_s" in out:
        out["pods_created_per_s"] = round(replicas / max(out["all_created_s"], 0.001), 1)
        out["upstream_default_qps_floor_s"] = round(upstream_floor(replicas), 1)
        out["ratio_upstream_floor_to_ours"] = upstream_ratio(replicas, out["all_created_s"])
    startup = [running[n] - created[n] for n in running if n in created]
    if startup:
        p99 = percentile(startup, 0.99)
        out.update({"pod_startup_p50_s": round(percentile(startup, 0.5), 2), "pod_startup_p99_s": round(p99, 2),
                    "ratio_startup_slo_to_our_p99": round(POD_STARTUP_SLO_S / max(p99, 0.001), 2)})
    return out


async def services_endpoints(client: RestClient, factory: SharedInformerFactory, nodes: list[str], *,
                             services: int, per_service: int, limit_s: float) -> dict[str, Any]:
    """Pods first (bound to the nodes, left to run), then Services; seconds until every slice is right."""
    pods = factory.informer(lookup("pods"))
    slices = factory.informer(lookup("endpointslices"))
    ips: dict[str, set[str]] = defaultdict(set)  # service -> its pods' IPs once Running
    running = asyncio.Event()
    total = services * per_service

    def pod_seen(pod: dict[str, Any]) -> None:
        svc = (pod["metadata"].get("labels") or {}).get("bench-svc")
        ip = (pod.get("status") or {}).get("podIP")
        if svc and ip and (pod.get("status") or {}).get("phase") == "Running":
            ips[svc].add(ip)
            if sum(len(v) for v in ips.values()) >= total:
                running.set()

    pods.add_event_handler(on_add=pod_seen, on_update=lambda _o, n: pod_seen(n))
    bodies = [{"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": f"bench-ep-{s:04d}-{e:02d}", "labels": {"bench-svc": f"bench-svc-{s:04d}"}},
               "spec": {"nodeName": nodes[(s * per_service + e) % len(nodes)],
                        "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                                        "ports": [{"containerPort": 8080, "name": "http"}]}]}}
              for s in range(services) for e in range(per_service)]
    began_pods = time.monotonic()
    pod_create_rate = await create_all(client, "pods", bodies, NAMESPACE)
    async with asyncio.timeout(limit_s):
        await running.wait()
    pods_running_s = time.monotonic() - began_pods

    correct: set[str] = set()
    all_correct = asyncio.Event()
    finished_at: list[float] = []

    def check(svc: str) -> None:
        got = {a for s in slices.indexer.list()
               if (s["metadata"].get("labels") or {}).get("kubernetes.io/service-name") == svc
               for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready")
               for a in e.get("addresses") or []}
        if got == ips[svc]:
            correct.add(svc)
            if len(correct) == services:
                finished_at.append(time.monotonic())
                all_correct.set()
        else:
            correct.discard(svc)

    def slice_seen(s: dict[str, Any]) -> None:
        svc = (s["metadata"].get("labels") or {}).get("kubernetes.io/service-name", "")
        if svc.startswith("bench-svc-"):
            check(svc)

    slices.add_event_handler(on_add=slice_seen, on_update=lambda _o, n: slice_seen(n))
    svc_bodies = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"bench-svc-{s:04d}"},
                   "spec": {"selector": {"bench-svc": f"bench-svc-{s:04d}"},
                            "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}
                  for s in range(services)]
    began = time.monotonic()
    create_rate = await create_all(client, "services", svc_bodies, NAMESPACE)
    out: dict[str, Any] = {"services": services, "endpoints_per_service": per_service,
                           "pods_running_s": round(pods_running_s, 1),
                           "peer_pod_creates_per_s": round(pod_create_rate, 1),
                           "peer_service_creates_per_s": round(create_rate, 1)}
    try:
        async with asyncio.timeout(limit_s):
            await all_correct.wait()
        elapsed = finished_at[0] - began
        out.update({"all_slices_correct_s": round(elapsed, 1),
                    "ratio_slices_per_s_to_peer_service_creates_per_s": round(services / elapsed / create_rate, 2),
                    "upstream_default_qps_floor_s": round(upstream_floor(services), 1),
                    "ratio_upstream_floor_to_ours": upstream_ratio(services, elapsed)})
    except TimeoutError:
        out.update({"timed_out_after_s": limit_s, "services_correct": len(correct)})
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="controller-bench-"))
    cluster = Cluster(workdir, modes=("AlwaysAllow",))
    cluster.start()
    try:
        config = load_client_config(workdir / "pki" / "admin.kubeconfig")
        config.servers = cluster.urls[:1]
        client = RestClient(config, user_agent="controller-bench", connect_timeout=30.0)
        async with asyncio.timeout(args.timeout):
            while True:  # wait_ready gives up after a minute: a loaded machine may need longer
                with contextlib.suppress(TimeoutError):
                    await wait_ready(client)
                    break
        names = start_components(cluster, args.nodes)
        nodes_ready_s = await wait_nodes_ready(client, names, args.timeout)
        print(f"{args.nodes} fake nodes Ready in {nodes_ready_s:.1f}s", flush=True)
        factory = SharedInformerFactory(client)
        factory.informer(lookup("pods"))
        factory.informer(lookup("deployments"))
        factory.informer(lookup("endpointslices"))
        factory.start()
        await factory.wait_for_cache_sync()
        cpu_before = component_cpu(cluster)
        deployment = await deployment_scale(client, factory, args.replicas, args.timeout)
        print(f"deployment: {json.dumps(deployment)}", flush=True)
        endpoints = await services_endpoints(client, factory, names, services=args.services,
                                             per_service=args.endpoints, limit_s=args.timeout)
        cpu = {k: round(v - cpu_before.get(k, 0.0), 1) for k, v in component_cpu(cluster).items()}
        if "pods_created_per_s" in deployment:
            deployment["ratio_to_peer_pod_creates_per_s"] = round(
                deployment["pods_created_per_s"] / endpoints["peer_pod_creates_per_s"], 2)
        await factory.shutdown()
        await client.close()
        return {
            "nodes": args.nodes, "nodes_ready_s": round(nodes_ready_s, 1),
            "deployment_scale": deployment, "service_endpoints": endpoints,
            "cpu_s": cpu,
            "reference": {
                "in_run_peer": "this process's raw creates through the same apiserver (64 in flight)",
                "upstream": "no kube-controller-manager on this machine: Kubernetes' published reference points",
                "upstream_client_limits": f"kube-controller-manager --kube-api-qps={UPSTREAM_QPS:g} "
                                          f"--kube-api-burst={UPSTREAM_BURST} (defaults): at least "
                                          "(writes - burst) / qps seconds for that many creates",
                "pod_startup_slo": f"sig-scalability pod startup latency SLO: p99 <= {POD_STARTUP_SLO_S:g}s per pod",
            },
        }
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--nodes", type=int, default=1000, help="fake nodes")
    parser.add_argument("--replicas", type=int, default=5000, help="the Deployment's replicas after the scale")
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--endpoints", type=int, default=10, help="pods (endpoints) per Service")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds each phase may take at most")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    process_log.configure("controller-bench", 0)
    results = uvloop.run(run(args))
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
