"""Pod startup latency on one real node: kubelet + runtime + tinykube-cni, against the same runtime driven
straight through CRI, in one run (root).

A store and one apiserver on loopback, one ``tinykube kubelet`` and ``tinykube runtime`` whose pods attach to
a bridge in a node network namespace through ``tinykube-cni``, served by the node's CNI plugin server as
flanneld serves it on a cluster node. For each pod count N (30, then 100):

1. kubelet: N pods (busybox ``sleep``, ``nodeName`` set, no scheduler) created at once through the API; each
   pod's time is from just before its create request to a watch event showing it ``Running``.
2. peer: the same runtime and plugin with no apiserver or kubelet: N x (RunPodSandbox, CreateContainer,
   StartContainer) at once over CRI with the kubelet's own request builders; each pod's time is from its first
   request to StartContainer's answer. The gap between the two is what the control path (apiserver, watch,
   kubelet sync, status reporting) adds.

Wall time on a shared machine says little on its own, so each round also reports the CPU seconds per pod
spent by each process tree (the kubelet; store + apiserver; the runtime with its CNI plugin calls and server,
zygote, shims and containers): on an idle 2-core node those bound what latency can be.

One untimed pod goes through each path first (it creates the QoS cgroup parent and warms the shim zygote).
For each N the peer runs first; every round is torn down before the next (the last one's pods go with the
node). "store+apiserver" CPU includes their idle work (Raft ticks, the node's lease and status), which grows
with a round's length. Kubernetes' SLO is p99 ≤ 5 s (image pull excluded; images are local here);
tinykube's target is p99 ≤ 2 s for 30 pods. The 1-minute load average is printed with the figures: the
machine may be shared, and both paths suffer it alike only roughly.

    .venv/bin/python -m bench.pod_startup_bench [--pods 30,100] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import grpc

from bench.proc_stat import cpu_split_and_parent
from client.errors import ApiError
from client.kubeconfig import load_client_config
from client.mapping import lookup
from client.rest import RestClient
from client.watch import watch
from kubelet.cgroups_plan import container_resources, pod_cgroup_parent
from kubelet.cri_config import ContainerInputs, DNSSettings, container_config, sandbox_config
from protos.cri import api_pb2 as cri
from protos.cri import api_pb2_grpc
from tests.support.apiserver_cluster import ApiserverCluster
from tests.support.kubelet_node import DEFAULT_IMAGES, plugin_socket, running_runtime
from tests.support.names import unique_prefix
from tests.support.netns import add_netns
from tests.support.ports import free_port
from tests.support.processes import Processes

NAMESPACE = "default"
IMAGE = "busybox:latest"
COMMAND = ["sleep", "3600"]
TARGET_P99_30 = 2.0
SLO_P99 = 5.0
ROUND_TIMEOUT = 600.0
MEMORY_CAPACITY = 8 * 1024**3  # only sets oom_score_adj, as the kubelet would


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: a value actually observed."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def process_cpu(pid: int) -> tuple[float, int]:
    """A process's CPU seconds, its own and its reaped children's, and its parent's pid. ``/proc/PID/stat``
    counts whole clock ticks per process, so each of the many short-lived shims and container inits would read
    as 0: the scheduler's own nanosecond sum per thread (``schedstat``) is used when it says more."""
    own, reaped, parent = cpu_split_and_parent(pid)
    with contextlib.suppress(OSError, ValueError, IndexError):
        threads = sum(int((task / "schedstat").read_text().split()[0]) for task in Path(f"/proc/{pid}/task").iterdir())
        own = max(own, threads / 1e9)
    return own + reaped, parent


def command_lines() -> Iterator[tuple[int, bytes]]:
    """Every live process's pid and command line (arguments joined by spaces)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                yield int(entry.name), (entry / "cmdline").read_bytes().replace(b"\0", b" ")


def shims(workdir: Path) -> list[int]:
    """This run's shims: detached (re-parented to init), each named ``runtime.shim <bundle>`` in its command line."""
    marker = f"runtime.shim {workdir}/".encode()
    return [pid for pid, line in command_lines() if line.startswith(marker)]


def tree_cpu(roots: Mapping[str, Sequence[int]]) -> dict[str, float]:
    """CPU seconds of each name's process trees (exited descendants count through their reaping parent)."""
    cpu: dict[int, float] = {}
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                pid = int(entry.name)
                cpu[pid], parent = process_cpu(pid)
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(pid)
    out: dict[str, float] = {}
    for name, tops in roots.items():
        total, todo, seen = 0.0, list(tops), set()
        while todo:
            pid = todo.pop()
            if pid in seen:  # a shim is a root and, while the zygote lives, one of its children too
                continue
            seen.add(pid)
            total += cpu.get(pid, 0.0)
            todo.extend(children.get(pid, []))
        if os.getpid() in tops:  # the bench's own work (creating, watching) is no component's
            own = os.times()
            total -= own.user + own.system
        out[name] = total
    return out


def cpu_delta(before: Mapping[str, float], after: Mapping[str, float], pods: int) -> dict[str, float]:
    """CPU seconds per pod by tree; "store+apiserver" is what the bench's children spent beyond the node's."""
    per = {name: (after[name] - before[name]) / pods for name in before}
    everything = per.pop("everything")
    per["store+apiserver"] = everything - sum(per.values())
    return per


def pid_naming(text: str) -> int:
    """The process whose command line names ``text`` (a socket): the runtime daemon, the CNI plugin server."""
    needle = text.encode()
    for pid, line in command_lines():
        if needle in line:
            return pid
    raise RuntimeError(f"no process serving {text}")


def pod_manifest(name: str, node: str, label: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"bench": label}},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "c", "image": IMAGE, "imagePullPolicy": "IfNotPresent",
                                     "command": COMMAND}]}}


async def kubelet_round(rest: RestClient, node: str, label: str, count: int) -> list[float]:
    """Create ``count`` pods at once; seconds from each create to a watch event showing it Running."""
    pods = lookup("pods")
    listed = await rest.list(pods, NAMESPACE)
    began: dict[str, float] = {}
    took: dict[str, float] = {}
    all_running = asyncio.Event()

    async def observe() -> None:
        async for event in watch(rest, pods, NAMESPACE, resource_version=listed["metadata"]["resourceVersion"],
                                 label_selector=f"bench={label}"):
            obj = event.object
            name = obj.get("metadata", {}).get("name", "")
            if obj.get("status", {}).get("phase") == "Running" and name in began and name not in took:
                took[name] = time.monotonic() - began[name]
                if len(took) == count:
                    all_running.set()
                    return

    async def create(name: str) -> None:
        began[name] = time.monotonic()
        await rest.create(pods, pod_manifest(name, node, label), NAMESPACE)

    watcher = asyncio.create_task(observe())
    await asyncio.sleep(0.2)  # the watch is established before the first create
    try:
        await asyncio.gather(*(create(f"{label}-{i:03d}") for i in range(count)))
        await asyncio.wait_for(all_running.wait(), ROUND_TIMEOUT)
    finally:
        watcher.cancel()
    return list(took.values())


async def delete_round(rest: RestClient, stub: api_pb2_grpc.RuntimeServiceAsyncStub, label: str) -> None:
    """Delete the round's pods and wait until the API and the runtime hold none of them."""
    pods = lookup("pods")
    await rest.delete_collection(pods, NAMESPACE, label_selector=f"bench={label}", grace_period_seconds=0)
    deadline = time.monotonic() + ROUND_TIMEOUT
    while time.monotonic() < deadline:
        left = (await rest.list(pods, NAMESPACE, label_selector=f"bench={label}"))["items"]
        sandboxes = (await stub.ListPodSandbox(cri.ListPodSandboxRequest(), timeout=ROUND_TIMEOUT)).items
        if not left and not sandboxes:
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"pods of round {label} still there after {ROUND_TIMEOUT:.0f}s")


def cri_pod(name: str) -> dict[str, Any]:
    pod = pod_manifest(name, "", "cri")
    pod["metadata"]["uid"] = str(uuid.uuid4())
    return pod


async def cri_start_pod(stub: api_pb2_grpc.RuntimeServiceAsyncStub, logs: Path, name: str) -> float:
    """RunPodSandbox + CreateContainer + StartContainer with the kubelet's request builders; seconds taken."""
    pod = cri_pod(name)
    uid = pod["metadata"]["uid"]
    log_dir = logs / f"{NAMESPACE}_{name}_{uid}"
    log_dir.mkdir(parents=True)
    t0 = time.monotonic()
    config = sandbox_config(pod, 0, dns=DNSSettings(), log_directory=str(log_dir),
                            cgroup_parent=pod_cgroup_parent(pod))
    sid = (await stub.RunPodSandbox(cri.RunPodSandboxRequest(config=config), timeout=ROUND_TIMEOUT)).pod_sandbox_id
    container = pod["spec"]["containers"][0]
    inputs = ContainerInputs(attempt=0, image_ref=IMAGE, command=COMMAND, args=(), env=(), mounts=(),
                             resources=container_resources(pod, container, MEMORY_CAPACITY), spec_hash="0",
                             log_path="c/0.log")
    cid = (await stub.CreateContainer(cri.CreateContainerRequest(
        pod_sandbox_id=sid, config=container_config(pod, container, inputs), sandbox_config=config),
        timeout=ROUND_TIMEOUT)).container_id
    await stub.StartContainer(cri.StartContainerRequest(container_id=cid), timeout=ROUND_TIMEOUT)
    return time.monotonic() - t0


async def cri_round(stub: api_pb2_grpc.RuntimeServiceAsyncStub, logs: Path, label: str, count: int) -> list[float]:
    return list(await asyncio.gather(*(cri_start_pod(stub, logs, f"{label}-{i:03d}") for i in range(count))))


async def cri_remove_all(stub: api_pb2_grpc.RuntimeServiceAsyncStub) -> None:
    for pod in (await stub.ListPodSandbox(cri.ListPodSandboxRequest(), timeout=ROUND_TIMEOUT)).items:
        await stub.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=pod.id), timeout=ROUND_TIMEOUT)
        await stub.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=pod.id), timeout=ROUND_TIMEOUT)


async def wait_node_ready(rest: RestClient, node: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            obj = await rest.get(lookup("nodes"), node)
            if any(c["type"] == "Ready" and c["status"] == "True" for c in obj["status"].get("conditions", [])):
                return
        except ApiError:  # not registered yet
            pass
        await asyncio.sleep(0.3)
    raise RuntimeError(f"node {node} not Ready after 60s")


async def measure(kubeconfig: Path, endpoint: str, node: str, workdir: Path, *, counts: Sequence[int],
                  trees: Callable[[], dict[str, list[int]]]) -> list[dict[str, Any]]:
    rest = RestClient(load_client_config(kubeconfig), user_agent="pod-startup-bench", timeout=60)
    channel = grpc.aio.insecure_channel(endpoint)
    stub = api_pb2_grpc.RuntimeServiceStub(channel)
    rows: list[dict[str, Any]] = []
    try:
        await wait_node_ready(rest, node)
        await kubelet_round(rest, node, "warm", 1)
        await delete_round(rest, stub, "warm")
        await cri_round(stub, workdir / "cri-logs", "warmcri", 1)
        await cri_remove_all(stub)
        for i, n in enumerate(counts):
            load = os.getloadavg()[0]
            cpu0 = tree_cpu(trees())
            peer = await cri_round(stub, workdir / "cri-logs", f"c{n}", n)
            cpu1 = tree_cpu(trees())
            await cri_remove_all(stub)
            cpu2 = tree_cpu(trees())
            kube = await kubelet_round(rest, node, f"k{n}", n)
            cpu3 = tree_cpu(trees())
            rows.append({"pods": n, "load1_before": load, "load1_after": os.getloadavg()[0],
                         "kubelet_p50_s": percentile(kube, 50), "kubelet_p99_s": percentile(kube, 99),
                         "cri_p50_s": percentile(peer, 50), "cri_p99_s": percentile(peer, 99),
                         "kubelet_cpu_per_pod_s": cpu_delta(cpu2, cpu3, n),
                         "cri_cpu_per_pod_s": cpu_delta(cpu0, cpu1, n)})
            print(render(rows[-1:]), flush=True)  # each round's figures as soon as it ends
            if i < len(counts) - 1:  # the last round's pods go with the node at teardown
                await delete_round(rest, stub, f"k{n}")
    finally:
        await channel.close(None)
        await rest.close()
    return rows


def run(counts: Sequence[int], workdir: Path) -> list[dict[str, Any]]:
    prefix = unique_prefix()
    node = f"{prefix}-node"
    control = Processes(workdir / "logs")
    node_procs = Processes(workdir / "node-logs")
    node_ns = add_netns(node)
    with running_runtime(workdir, prefix, node_procs, node_ns, cni_plugin="tinykube-cni") as endpoint:
        try:
            cluster = ApiserverCluster(control, free_port, workdir / "cluster", apiservers=1)
            cluster.start()
            kubelet = control.start("kubelet", [
                sys.executable, "-m", "tinykube.cli", "kubelet", "--kubeconfig", str(cluster.apiservers[0].kubeconfig),
                "--container-runtime-endpoint", endpoint, "--hostname-override", node, "--node-ip", "127.0.0.3",
                "--root-dir", str(workdir / "kubelet"), "--port", str(free_port())])
            node_daemons = [pid_naming(endpoint.removeprefix("unix://")), pid_naming(str(plugin_socket(workdir)))]

            def trees() -> dict[str, list[int]]:
                shim_pids = shims(workdir)  # not the bench's descendants: counted in "everything" too
                return {"kubelet": [kubelet.pid], "runtime": [*node_daemons, *shim_pids],
                        "everything": [os.getpid(), *shim_pids]}

            return asyncio.run(measure(cluster.apiservers[0].kubeconfig, endpoint, node, workdir, counts=counts,
                                       trees=trees))
        finally:
            control.stop_all()  # the kubelet first, so it recreates nothing while the runtime is emptied


def render(rows: Sequence[dict[str, Any]]) -> str:
    lines = [f"{'pods':>5} {'kubelet p50':>12} {'p99':>7} {'CRI-only p50':>13} {'p99':>7} {'p99 ratio':>10}"
             f" {'load1 before/after':>19}"]
    for r in rows:
        lines.append(f"{r['pods']:>5} {r['kubelet_p50_s']:>10.2f} s {r['kubelet_p99_s']:>5.2f} s"
                     f" {r['cri_p50_s']:>11.2f} s {r['cri_p99_s']:>5.2f} s"
                     f" {r['kubelet_p99_s'] / r['cri_p99_s']:>10.2f} {r['load1_before']:>9.2f}/{r['load1_after']:.2f}")
    lines.append("CPU seconds per pod (all cores), by process tree:")
    for r in rows:
        for path in ("kubelet", "cri"):
            spent = r[f"{path}_cpu_per_pod_s"]
            lines.append(f"{r['pods']:>5} {'via kubelet' if path == 'kubelet' else 'CRI only':>12}: "
                         + "  ".join(f"{name} {spent[name]:.3f}" for name in sorted(spent)))
    for r in rows:
        if r["pods"] == 30:
            verdict = "met" if r["kubelet_p99_s"] <= TARGET_P99_30 else "NOT met"
            lines.append(f"target p99 ≤ {TARGET_P99_30:.0f} s for 30 pods: {verdict}"
                         f" (Kubernetes SLO p99 ≤ {SLO_P99:.0f} s)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pods", default="30,100", help="comma-separated pod counts, one round each")
    parser.add_argument("--json", help="also write the figures to this file")
    opts = parser.parse_args(argv)
    try:
        counts = [int(n) for n in opts.pods.split(",")]
    except ValueError:
        parser.error(f"--pods: not a list of integers: {opts.pods!r}")
    if os.geteuid() != 0:
        print("pod_startup_bench: needs root (network namespaces, cgroups, containers)", file=sys.stderr)
        return 1
    if not (DEFAULT_IMAGES / "index.json").exists():
        print(f"pod_startup_bench: no default images at {DEFAULT_IMAGES} (make setup)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="tk-podstartup-") as tmp:
        rows = run(counts, Path(tmp))
    print("all rounds:")
    print(render(rows))
    if opts.json:
        Path(opts.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
