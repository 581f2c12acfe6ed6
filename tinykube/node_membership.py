"""Adding a worker to a running cluster and removing one, inside the supervising process.

Adding is `kubeadm join` on a fresh machine: the node gets the next index (its address and pod subnet
follow), its namespace and link, its serving certificate, a new bootstrap token; then its components
start under supervision and the kubelet asks for its client certificate through a CSR. Removing is
what Kubernetes' docs prescribe: drain (as ``kubectl drain --ignore-daemonsets --delete-emptydir-data
--force``), delete the Node, then take the machine away: its processes, containers, namespace and state.
Either way the node list saved in ``cluster.json`` changes, so `status`, `down` and a later `up` follow.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
from pathlib import Path

from client.errors import NotFound
from client.mapping import lookup
from tinykube import leftovers, lifecycle
from tinykube.cluster import Cluster
from tinykube.steps import StepError
from tinykube.topology import Node

DRAIN_TIMEOUT = "120s"


def _tkctl() -> str:
    """The kubectl-compatible CLI beside the running interpreter (the project's venv)."""
    return str(Path(sys.executable).parent / "tkctl")


def node_bootstrap_kubeconfig(cluster: Cluster, node: Node) -> Path:
    return cluster.node_dir(node) / "bootstrap-kubelet.kubeconfig"


async def add_worker(ctx: lifecycle.UpContext, name: str) -> str:
    """Join worker ``name``; returns once its Node is Ready. A failed join is undone."""
    grown = Cluster(ctx.cluster.topology.with_worker(name), ctx.cluster.state_dir, ctx.cluster.options)
    node = grown.topology.node(name)
    await asyncio.to_thread(grown.save)
    ctx.cluster = grown
    try:
        await lifecycle.generate_certs(grown)  # the new node's kubelet serving certificate; the rest exist
        await lifecycle.run_underlay(grown, "add-node", name)
        bootstrap = node_bootstrap_kubeconfig(grown, node)
        await lifecycle.write_bootstrap_kubeconfig(grown, bootstrap, f"tinykube node add {name}")
        async with lifecycle.admin_client(grown) as rest:
            await lifecycle.register_node(rest, node)
        lifecycle.start_agents_on(ctx, node, bootstrap)
        await lifecycle.wait_ready(grown, {name})
    except BaseException:
        with contextlib.suppress(Exception):
            await _take_away(ctx, node)
            await _delete_node_object(ctx.cluster, name)
        raise
    return f"added {name} ({node.ip}, pod subnet {node.pod_cidr}): Ready"


async def _drain(cluster: Cluster, name: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        _tkctl(), "--kubeconfig", str(cluster.admin_kubeconfig), "drain", name, "--ignore-daemonsets",
        "--delete-emptydir-data", "--force", f"--timeout={DRAIN_TIMEOUT}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    text = out.decode(errors="replace").strip()
    if proc.returncode != 0:
        raise StepError(f"draining {name}: {text.splitlines()[-1] if text else f'tkctl exited {proc.returncode}'}")
    return text


async def _take_away(ctx: lifecycle.UpContext, node: Node) -> None:
    """Stop the node's components and remove everything of it: containers, namespace, link, state, logs."""
    cluster = ctx.cluster
    await ctx.supervisor.forget(node.name)
    await asyncio.to_thread(leftovers.remove, f"{cluster.name}-{node.name}", cluster.node_dir(node))
    await asyncio.to_thread(lifecycle.kill_in_netns, node.netns)
    await lifecycle.run_underlay(cluster, "remove-node", node.name)
    shrunk = Cluster(cluster.topology.without_worker(node.name), cluster.state_dir, cluster.options)
    await asyncio.to_thread(shrunk.save)
    ctx.cluster = shrunk
    for path in (cluster.node_dir(node), cluster.log_dir / node.name):
        await asyncio.to_thread(shutil.rmtree, path, True)


async def _delete_node_object(cluster: Cluster, name: str) -> None:
    async with lifecycle.admin_client(cluster) as rest:
        with contextlib.suppress(NotFound):
            await rest.delete(lookup("nodes"), name)


async def remove_worker(ctx: lifecycle.UpContext, name: str) -> str:
    """Drain worker ``name``, take the node away, then delete its Node (PodGC removes what stayed bound to it).

    The Node goes last, as with `kubeadm reset` before `kubectl delete node`: a kubelet still running
    would register it again."""
    ctx.cluster.topology.without_worker(name)  # refuses unknown and control-plane nodes before anything changes
    node = ctx.cluster.topology.node(name)
    drained = await _drain(ctx.cluster, name)
    evicted = sum(1 for line in drained.splitlines() if line.startswith("evicting pod "))
    await _take_away(ctx, node)
    await _delete_node_object(ctx.cluster, name)
    return f"removed {name}: drained ({evicted} pods evicted); its processes, namespace, state and Node are gone"
