"""Hard-stopping and starting a node of a running cluster, inside the supervising process.

A hard stop is a power cut as seen from the rest of the cluster: every component of the node is killed,
its containers and their network namespaces and mounts disappear, and its only link goes down. Its disk
(the state directory) survives, so starting it again is a reboot: the same components come back in the
order they first started, and the kubelet and runtime recover the node's pods from there.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from tinykube import leftovers
from tinykube.cluster import Cluster
from tinykube.control import ControlError
from tinykube.supervisor import Supervisor
from tinykube.topology import TopologyError


async def _link(cluster: Cluster, node: str, up: bool) -> None:
    """pyroute2 stays out of the supervisor (see underlay_cmd), so the link changes in a child process."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tinykube.cli", "underlay", "link-up" if up else "link-down",
        "--state-dir", str(cluster.state_dir), "--node", node,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise ControlError(f"link of {node}: {out.decode(errors='replace').strip()}")


async def stop_node(cluster: Cluster, supervisor: Supervisor, name: str) -> str:
    node = cluster.topology.node(name)
    running = supervisor.specs(name)
    if not running:
        return f"{name} is already stopped"
    for spec in reversed(running):
        await supervisor.stop(spec.node, spec.name, grace=0)
    await asyncio.to_thread(leftovers.remove, f"{cluster.name}-{name}", cluster.node_dir(node))
    await _link(cluster, name, up=False)
    return f"stopped {name}: killed {', '.join(s.name for s in running)}; its link is down"


async def start_node(cluster: Cluster, supervisor: Supervisor, name: str) -> str:
    cluster.topology.node(name)
    stopped = supervisor.specs(name, stopped=True)
    if not stopped:
        return f"{name} is already running"
    await _link(cluster, name, up=True)
    for spec in stopped:
        supervisor.start(spec)
    return f"started {name}: {', '.join(s.name for s in stopped)}"


async def handle(cluster: Cluster, supervisor: Supervisor, request: dict[str, Any]) -> str:
    """The control socket's requests: ``{"op": "node-stop"|"node-start", "node": NAME}``."""
    op, node = request.get("op"), request.get("node")
    if not isinstance(node, str):
        raise ControlError("a node request names a node")
    try:
        if op == "node-stop":
            return await stop_node(cluster, supervisor, node)
        if op == "node-start":
            return await start_node(cluster, supervisor, node)
    except TopologyError as exc:
        raise ControlError(str(exc)) from exc
    raise ControlError(f"unknown request {op!r}")
