"""Bringing a local cluster up and taking it down: the ordered steps, and the teardown that undoes them.

The process that runs `up` supervises the cluster's components for as long as it lives; `down` (or a
signal) makes it stop them, and then removes every namespace, link and process the cluster made.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.errors import AlreadyExists, ApiConnectionError
from client.kubeconfig import build_kubeconfig, load_client_config, write_kubeconfig
from client.mapping import lookup
from client.rest import RestClient
from process.log import get_logger
from tinykube import components, leftovers
from tinykube.addons import create_addons
from tinykube.cluster import Cluster
from tinykube.steps import Step, StepError, undo_steps
from tinykube.supervisor import Component, Supervisor
from tinykube.token_cmd import create_token
from tinykube.topology import REGISTRY_PORT, Node

log = get_logger("lifecycle")

BOOTSTRAP_TOKEN_TTL = 24 * 3600.0
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
REQUIRED_COMMANDS = ("ip", "nsenter", "iptables", "haproxy", "docker-registry", "etcdctl")


@dataclass
class UpContext:
    cluster: Cluster
    supervisor: Supervisor

    def log_hint(self, spec: Component) -> str:
        return f"see {self.supervisor.log_path(spec)}"


async def _wait(check: Callable[[], bool], seconds: float, what: str, hint: str = "") -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await asyncio.to_thread(check):
        if asyncio.get_running_loop().time() > deadline:
            raise StepError(f"{what} not ready after {seconds:.0f}s", hint)
        await asyncio.sleep(0.2)


async def check_prerequisites(ctx: UpContext) -> None:
    if os.geteuid() != 0:
        raise StepError("tinykube up needs root: nodes are network namespaces and pods are real containers",
                        "run it with sudo")
    missing = [c for c in REQUIRED_COMMANDS if shutil.which(c) is None]
    if missing:
        raise StepError(f"missing commands: {', '.join(missing)}", "run `make setup` (it installs them)")


def joins_by_bootstrap(node: Node) -> bool:
    """Kubelets join as kubeadm's do: the first node's kubelet gets its certificate made for it (kubeadm
    init), every other one asks for it with a bootstrap token (kubeadm join)."""
    return node.index > 1


async def generate_certs(cluster: Cluster) -> None:
    """Every certificate and kubeconfig of the cluster's nodes (generation skips what exists already), made
    by `tinykube certs` in a child process: cryptography (~7 MiB) never loads in the long-lived supervisor."""
    topo = cluster.topology
    nodes = [f"--node={n.name}={n.ip}{':control-plane' if n.control_plane else ''}"
             f"{':bootstrap' if joins_by_bootstrap(n) else ''}" for n in topo.nodes]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tinykube.cli", "certs", "--dir", str(cluster.pki_dir),
        "--apiserver-ips", ",".join([topo.gateway_ip, *(n.ip for n in topo.nodes)]),
        "--apiserver-names", ",".join(n.name for n in topo.nodes), "--server", topo.apiserver_url,
        "--cluster-name", topo.name, *nodes, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise StepError(f"certificates: {out.decode(errors='replace').strip()}")


async def make_certs(ctx: UpContext) -> None:
    """Every certificate and kubeconfig of the cluster, each component with its own identity (kubeadm's set)."""
    await generate_certs(ctx.cluster)
    admin = ctx.cluster.admin_kubeconfig
    if not admin.exists():
        admin.symlink_to(ctx.cluster.pki_dir / "admin.kubeconfig")


async def run_underlay(cluster: Cluster, action: str, node: str | None = None) -> None:
    """Network work happens in a child process (`tinykube underlay`, which says why), on the saved cluster."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tinykube.cli", "underlay", action, "--state-dir", str(cluster.state_dir),
        *(("--node", node) if node else ()), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise StepError(f"network {action}{f' of {node}' if node else ''}: {out.decode(errors='replace').strip()}")


async def make_underlay(ctx: UpContext) -> None:
    await run_underlay(ctx.cluster, "create")


async def remove_underlay(ctx: UpContext) -> None:
    await run_underlay(ctx.cluster, "destroy")


def _http_ok(url: str) -> bool:
    result = subprocess.run(["/bin/busybox", "wget", "-q", "-O", "/dev/null", url], capture_output=True)
    return result.returncode == 0


async def start_registry(ctx: UpContext) -> None:
    spec = components.registry(ctx.cluster)
    ctx.supervisor.start(spec)
    await _wait(lambda: _http_ok(f"http://{ctx.cluster.topology.gateway_ip}:{REGISTRY_PORT}/v2/"), 30,
                "image registry", ctx.log_hint(spec))


def store_leader(cluster: Cluster, timeout: float = 1.0) -> str | None:
    """The node whose store member leads, as the members themselves report it; None without a leader.

    Asked through etcdctl in a child process: gRPC's threads in the long-lived supervisor, which forks
    component processes all the time, crashed it (SIGSEGV) now and then.
    """
    ids: dict[int, str] = {}
    leader = 0
    for node in cluster.topology.control_plane:
        try:
            out = subprocess.run(["etcdctl", f"--endpoints={components.store_client_url(node)}",
                                  *components.etcdctl_tls(cluster),
                                  f"--command-timeout={timeout}s", "endpoint", "status", "-w", "json"],
                                 capture_output=True, text=True, timeout=timeout + 2,
                                 env={**os.environ, "ETCDCTL_API": "3"})
            [status] = json.loads(out.stdout)
        except (subprocess.TimeoutExpired, ValueError, KeyError):
            continue
        ids[int(status["Status"]["header"]["member_id"])] = node.name
        leader = int(status["Status"].get("leader", 0)) or leader
    return ids.get(leader)


async def start_store(ctx: UpContext) -> None:
    cluster = ctx.cluster
    existing = any((cluster.node_dir(n) / "store").exists() for n in cluster.topology.control_plane)
    for node in cluster.topology.control_plane:
        ctx.supervisor.start(components.store(cluster, node, "existing" if existing else "new"))
    first = components.store(cluster, cluster.topology.control_plane[0])
    await _wait(lambda: store_leader(cluster) is not None, 60, "store quorum", ctx.log_hint(first))


def apiserver_ready(cluster: Cluster, address: str) -> bool:
    """``/readyz`` at ``address`` answers 200 over TLS verified against the cluster CA."""
    context = ssl.create_default_context(cafile=str(cluster.pki_dir / "ca.crt"))
    try:
        with urllib.request.urlopen(f"https://{address}/readyz", context=context, timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, ValueError):
        return False


async def start_apiservers(ctx: UpContext) -> None:
    cluster = ctx.cluster
    for node in cluster.topology.control_plane:
        ctx.supervisor.start(components.apiserver(cluster, node))
    for node in cluster.topology.control_plane:
        await _wait(lambda n=node: apiserver_ready(cluster, f"{n.ip}:{components.APISERVER_PORT}"), 60,  # type: ignore[misc]
                    f"apiserver on {node.name}", ctx.log_hint(components.apiserver(cluster, node)))


async def start_haproxy(ctx: UpContext) -> None:
    spec = components.haproxy(ctx.cluster)
    ctx.supervisor.start(spec)
    await _wait(lambda: apiserver_ready(ctx.cluster, f"{ctx.cluster.topology.gateway_ip}:{components.APISERVER_PORT}"),
                30, "apiserver load balancer", ctx.log_hint(spec))


def kubeconfig_of(cluster: Cluster, stem: str) -> Path:
    return cluster.pki_dir / f"{stem}.kubeconfig"


def bootstrap_kubeconfig(cluster: Cluster) -> Path:
    return cluster.pki_dir / "bootstrap-kubelet.kubeconfig"


async def write_bootstrap_kubeconfig(cluster: Cluster, path: Path, description: str) -> None:
    """A fresh bootstrap token (kubeadm token create) in a kubeconfig a joining kubelet starts with."""
    async with admin_client(cluster) as rest:
        token = await create_token(rest, ttl_seconds=BOOTSTRAP_TOKEN_TTL, description=description)
    ca = (cluster.pki_dir / "ca.crt").read_bytes()
    await asyncio.to_thread(write_kubeconfig, path, build_kubeconfig(
        cluster=cluster.name, server=cluster.topology.apiserver_url, user="kubelet-bootstrap", ca_data=ca,
        token=token, context=cluster.name))


async def make_bootstrap_token(ctx: UpContext) -> None:
    await write_bootstrap_kubeconfig(ctx.cluster, bootstrap_kubeconfig(ctx.cluster), "tinykube up")


async def push_default_images(ctx: UpContext) -> None:
    """busybox and pause, built by `make setup`, into the cluster registry (where every runtime pulls from)."""
    images = Path(sys.executable).parent.parent / "images"
    if not images.exists():
        raise StepError(f"default images not found in {images}", "run `make setup` (it builds them)")
    store = ctx.cluster.infra_dir() / "images"
    registry = ctx.cluster.topology.registry

    async def image(*argv: str) -> None:
        proc = await asyncio.create_subprocess_exec(
            components.tinykube_bin(), "image", "--root", str(store), "--insecure-registry", registry, *argv,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            raise StepError(f"tinykube image {' '.join(argv)}: {out.decode(errors='replace').strip()}")

    await image("import", str(images))
    for name in ("busybox:latest", "pause:latest"):
        await image("tag", name, f"{registry}/{name}")
        await image("push", f"{registry}/{name}")


def admin_client(cluster: Cluster) -> RestClient:
    return RestClient(load_client_config(cluster.admin_kubeconfig), user_agent="tinykube-up")


async def register_node(rest: RestClient, node: Node) -> None:
    """A Node exists before its kubelet, with the pod subnet the topology assigned (its DNS address)."""
    # The role label is the admin's to set (NodeRestriction keeps kubelets from claiming roles).
    labels = {CONTROL_PLANE_LABEL: ""} if node.control_plane else {}
    body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node.name, "labels": labels},
            "spec": {"podCIDR": node.pod_cidr, "podCIDRs": [node.pod_cidr]}}
    with contextlib.suppress(AlreadyExists):  # a later `up` of a kept cluster
        await rest.create(lookup("nodes"), body)


async def register_nodes(ctx: UpContext) -> None:
    async with admin_client(ctx.cluster) as rest:
        for node in ctx.cluster.topology.nodes:
            await register_node(rest, node)


async def make_addons(ctx: UpContext) -> None:
    async with admin_client(ctx.cluster) as rest:
        await create_addons(ctx.cluster, rest)


def start_agents_on(ctx: UpContext, node: Node, bootstrap: Path) -> None:
    """Runtime, overlay, kubelet, proxy and DNS of one node; a joining kubelet starts from ``bootstrap``."""
    cluster = ctx.cluster
    (cluster.node_dir(node) / "manifests").mkdir(parents=True, exist_ok=True)
    ctx.supervisor.start(components.runtime(cluster, node))
    ctx.supervisor.start(components.flanneld(cluster, node, kubeconfig_of(cluster, "flanneld")))
    if joins_by_bootstrap(node):
        kubelet = components.kubelet(cluster, node, cluster.node_dir(node) / "kubelet" / "kubelet.kubeconfig",
                                     bootstrap)
    else:
        kubelet = components.kubelet(cluster, node, kubeconfig_of(cluster, f"kubelet-{node.name}"))
    ctx.supervisor.start(kubelet)
    ctx.supervisor.start(components.proxy(cluster, node, kubeconfig_of(cluster, "kube-proxy")))
    ctx.supervisor.start(components.clusterdns(cluster, node, kubeconfig_of(cluster, "clusterdns")))


async def start_node_agents(ctx: UpContext) -> None:
    for node in ctx.cluster.topology.nodes:
        start_agents_on(ctx, node, bootstrap_kubeconfig(ctx.cluster))


async def start_controllers(ctx: UpContext) -> None:
    cluster = ctx.cluster
    for node in cluster.topology.control_plane:
        ctx.supervisor.start(components.scheduler(cluster, node, kubeconfig_of(cluster, "scheduler")))
        ctx.supervisor.start(components.controller_manager(cluster, node, kubeconfig_of(cluster, "controller-manager")))


def _ready(node: dict[str, Any]) -> bool:
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


async def wait_ready(cluster: Cluster, want: set[str], seconds: float = 120) -> None:
    """Until every node in ``want`` reports Ready; StepError naming the others after ``seconds``."""
    deadline = asyncio.get_running_loop().time() + seconds
    async with admin_client(cluster) as rest:
        ready: set[str] = set()
        while True:
            with contextlib.suppress(ApiConnectionError):  # a slow answer under load: ask again until the deadline
                nodes = (await rest.list(lookup("nodes")))["items"]
                ready = {n["metadata"]["name"] for n in nodes if _ready(n)}
            if want <= ready:
                return
            if asyncio.get_running_loop().time() > deadline:
                missing = ", ".join(sorted(want - ready))
                raise StepError(f"nodes not Ready after {seconds:.0f}s: {missing}",
                                f"see {cluster.log_dir}/<node>/kubelet.log")
            await asyncio.sleep(0.5)


async def wait_nodes_ready(ctx: UpContext) -> None:
    await wait_ready(ctx.cluster, {n.name for n in ctx.cluster.topology.nodes})


def steps() -> list[Step[UpContext]]:
    """The bring-up, in dependency order. Components from later issues join this list."""
    return [
        Step("prerequisites", check_prerequisites),
        Step("certificates", make_certs),
        Step("network", make_underlay, remove_underlay),
        Step("image registry", start_registry),
        Step("store", start_store),
        Step("apiservers", start_apiservers),
        Step("apiserver load balancer", start_haproxy),
        Step("bootstrap token", make_bootstrap_token),
        Step("default images", push_default_images),
        Step("nodes", register_nodes),
        Step("add-ons", make_addons),
        Step("node agents", start_node_agents),
        Step("scheduler and controller-manager", start_controllers),
        Step("nodes ready", wait_nodes_ready),
    ]


def netns_pids(name: str) -> list[int]:
    out = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()] if out.returncode == 0 else []


def kill_in_netns(name: str) -> int:
    """SIGKILL every process in network namespace ``name``."""
    killed = 0
    for pid in netns_pids(name):
        try:
            os.kill(pid, signal.SIGKILL)
            killed += 1
        except ProcessLookupError:
            pass
    return killed


def kill_stragglers(cluster: Cluster) -> int:
    """SIGKILL whatever still runs in the cluster's namespaces (a crashed supervisor leaves such)."""
    names = [cluster.topology.infra_netns, *(n.netns for n in cluster.topology.nodes)]
    return sum(kill_in_netns(name) for name in names)


async def teardown(ctx: UpContext, keep_state: bool) -> list[str]:
    """Stop every component, remove what the cluster made, and (unless ``keep_state``) its state."""
    await ctx.supervisor.shutdown(grace=10)
    kill_stragglers(ctx.cluster)
    for node in ctx.cluster.topology.nodes:  # containers outlive their runtime on purpose: not past `down`
        await asyncio.to_thread(leftovers.remove, f"{ctx.cluster.name}-{node.name}", ctx.cluster.node_dir(node))
    failures = await undo_steps(steps(), ctx)
    ctx.cluster.pid_file.unlink(missing_ok=True)
    ready_marker(ctx.cluster).unlink(missing_ok=True)
    if not keep_state:
        shutil.rmtree(ctx.cluster.state_dir, ignore_errors=True)
    return failures


def ready_marker(cluster: Cluster) -> Path:
    return cluster.state_dir / "ready"


def failed_marker(cluster: Cluster) -> Path:
    return cluster.state_dir / "failed"


def running_supervisor(cluster: Cluster) -> int | None:
    """The pid of the live `tinykube up` supervising this cluster, if any."""
    try:
        pid = int(cluster.pid_file.read_text())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid
