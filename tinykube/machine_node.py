"""One node of a cluster whose nodes are machines (Vagrant VMs): `tinykube init` and `tinykube join`.

The same bring-up steps as `tinykube up` (tinykube/lifecycle.py), run on every machine with a supervisor
that makes this machine's components systemd units and leaves the other nodes' to them. What differs:
there is no network to make (the machines have one), every machine runs its own apiserver load
balancer and image registry on loopback (so losing any one machine loses neither), and the certificates
come from the first node: `init` generates them and serves them sealed with the join token
(tinykube/join_bundle.py), `join` fetches and opens them. Steps wait for peers that are still
booting by retrying until the bring-up deadline.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tinykube import join_bundle, lifecycle
from tinykube.cluster import Cluster, Options
from tinykube.steps import Step, StepError, run_steps
from tinykube.supervisor import Component
from tinykube.systemd_units import SystemdSupervisor
from tinykube.topology import Node, Topology, validate_name

JOIN_PORT = 10280
LOOPBACK = "127.0.0.1"
# `tinykube up` steps that make what machines already have.
NOT_ON_MACHINES = frozenset({"network"})


@dataclass(frozen=True)
class MachineTopology(Topology):
    """Nodes at given addresses; each machine's load balancer and registry answer on its own loopback."""

    @property
    def gateway_ip(self) -> str:
        return LOOPBACK


def machine_topology(name: str, ips: Sequence[str], control_plane_count: int) -> MachineTopology:
    validate_name(name)
    nodes = tuple(Node(index=i, name=f"node{i}", netns="", ip=ip, control_plane=i <= control_plane_count)
                  for i, ip in enumerate(ips, start=1))
    return MachineTopology(name=name, subnet=0, nodes=nodes)


def local_node(topology: Topology, name: str | None = None) -> Node:
    """This machine's node: by name, else the node whose address is on one of this machine's links."""
    if name:
        return topology.node(name)
    mine = set(subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split())
    for node in topology.nodes:
        if node.ip in mine:
            return node
    raise StepError(f"none of the node addresses ({', '.join(n.ip for n in topology.nodes)}) is on this machine",
                    "pass --node NAME")


def link_of(ip: str) -> str:
    """The network interface holding ``ip`` (the underlay the overlay tunnels over)."""
    out = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[3].split("/")[0] == ip:
            return fields[1]
    raise StepError(f"no interface on this machine has address {ip}")


# The components a machine runs whose command lines `--extra-arg` may extend.
COMPONENTS = frozenset({"store", "apiserver", "scheduler", "controller-manager", "kubelet", "runtime", "proxy",
                        "flanneld", "clusterdns"})


def with_extra_args(spec: Component, extra_args: Mapping[str, Sequence[str]]) -> Component:
    """``spec`` with the flags given for its component at the end of its command line (kubeadm's extraArgs).

    Last, they win over the defaults: slow machines (software-emulated VMs) take etcd's timings for slow
    environments and longer control-plane timeouts while a single machine keeps its own."""
    return dataclasses.replace(spec, argv=(*spec.argv, *extra_args.get(spec.name, ())))


class ExtraArgsSupervisor(SystemdSupervisor):
    """This machine's components as systemd units, their command lines extended by ``extra_args``."""

    def __init__(self, node: str, cluster: str, log_dir: Path, state_file: Path,
                 extra_args: Mapping[str, Sequence[str]]) -> None:
        super().__init__(node, cluster, log_dir, state_file)
        self.extra_args = extra_args

    def start(self, spec: Component) -> None:
        super().start(with_extra_args(spec, self.extra_args))


@dataclass
class JoinPlan:
    """What this machine does: initialise the cluster (``first``) or join it, and with which token."""

    node: Node
    first: Node
    token: str

    @property
    def initialises(self) -> bool:
        return self.node == self.first


def bundle_url(first: Node) -> str:
    return f"http://{first.ip}:{JOIN_PORT}/bundle"


async def serve_bundle(ctx: lifecycle.UpContext, plan: JoinPlan) -> None:
    """Seal the certificates with the token and serve them to the joining nodes."""
    cluster = ctx.cluster
    outbox = cluster.state_dir / "join"
    outbox.mkdir(parents=True, exist_ok=True)
    sealed = await asyncio.to_thread(join_bundle.seal, cluster.pki_dir, plan.token)
    (outbox / "bundle.tmp").write_bytes(sealed)
    (outbox / "bundle.tmp").replace(outbox / "bundle")
    ctx.supervisor.start(Component(plan.node.name, "join-server", (
        "/bin/busybox", "httpd", "-f", "-p", f"{plan.node.ip}:{JOIN_PORT}", "-h", str(outbox))))


def _download(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bytes(response.read())
    except (urllib.error.URLError, OSError):
        return None


async def fetch_bundle(ctx: lifecycle.UpContext, plan: JoinPlan) -> None:
    """The first node's certificates, opened with the token (existing files are kept)."""
    url = bundle_url(plan.first)
    sealed = await asyncio.to_thread(_download, url)
    if sealed is None:
        raise StepError(f"join bundle not available at {url} yet", f"is `tinykube init` running on {plan.first.name}?")
    try:
        join_bundle.open_into(sealed, plan.token, ctx.cluster.pki_dir)
    except join_bundle.BundleError as exc:
        raise StepError(str(exc), "pass the token `tinykube init` was given") from exc


def machine_steps(plan: JoinPlan) -> list[Step[lifecycle.UpContext]]:
    """`tinykube up`'s steps for one machine, with the certificates' hand-over after (or before) their making."""
    out: list[Step[lifecycle.UpContext]] = []
    for step in lifecycle.steps():
        if step.name in NOT_ON_MACHINES:
            continue
        if step.name == "certificates" and not plan.initialises:
            out.append(Step("join bundle", lambda ctx: fetch_bundle(ctx, plan)))
        out.append(Step(step.name, step.run))  # no undo: on a machine, `tinykube reset`-like removal is out of scope
        if step.name == "certificates" and plan.initialises:
            out.append(Step("join bundle", lambda ctx: serve_bundle(ctx, plan)))
    return out


def say(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", flush=True)


async def bring_up(ctx: lifecycle.UpContext, plan: JoinPlan, deadline: float) -> None:
    """Run the steps in order; a step whose peers are not there yet is retried until ``deadline`` (monotonic)."""
    def progress(step: str, state: str, seconds: float) -> None:
        if state != "start":
            say(f"{step}: {state} ({seconds:.1f}s)")

    for step in machine_steps(plan):
        while True:
            try:
                await run_steps([step], ctx, progress)
                break
            except StepError as exc:
                if time.monotonic() > deadline:
                    raise
                say(f"{step.name}: waiting ({exc}{'; ' + exc.hint if exc.hint else ''})")
                await asyncio.sleep(3)


def make_cluster(name: str, state_dir: Path, ips: Sequence[str], *, control_plane_count: int,
                 node_name: str | None, options: Options) -> tuple[Cluster, Node]:
    """The cluster as this machine sees it, and which of its nodes this machine is."""
    topology = machine_topology(name, ips, control_plane_count)
    node = local_node(topology, node_name)
    return Cluster(topology, state_dir, dataclasses.replace(options, underlay_iface=link_of(node.ip))), node


def run(cluster: Cluster, plan: JoinPlan, timeout: float, extra_args: Mapping[str, Sequence[str]]) -> None:
    """Bring this machine's part of the cluster up under systemd; returns when every node is Ready.

    ``extra_args``: flags appended to a component's command line, by component name (see COMPONENTS)."""
    cluster.state_dir.mkdir(parents=True, exist_ok=True)
    cluster.save()
    supervisor = ExtraArgsSupervisor(plan.node.name, cluster.name, cluster.log_dir, cluster.supervisor_state,
                                     extra_args)
    ctx = lifecycle.UpContext(cluster, supervisor)
    say(f"{'initialising' if plan.initialises else 'joining'} cluster {cluster.name!r} as {plan.node.name} "
        f"({plan.node.ip}, on {socket.gethostname()})")
    asyncio.run(bring_up(ctx, plan, time.monotonic() + timeout))
    say(f"{plan.node.name} is up; every node is Ready. Admin kubeconfig: {cluster.admin_kubeconfig}")
