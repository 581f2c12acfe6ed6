"""The supervising process's answers to `tinykube node`: hard-stop and start a node (here), add and remove
a worker (``node_membership``).

A hard stop is a power cut as seen from the rest of the cluster: every component of the node is killed,
its containers and their network namespaces and mounts disappear, and its only link goes down. Its disk
(the state directory) survives, so starting it again is a reboot: the same components come back in the
order they first started, and the kubelet and runtime recover the node's pods from there.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tinykube import leftovers, lifecycle, node_membership
from tinykube.control import ControlError
from tinykube.steps import StepError
from tinykube.topology import TopologyError


async def stop_node(ctx: lifecycle.UpContext, name: str) -> str:
    cluster = ctx.cluster
    node = cluster.topology.node(name)
    running = ctx.supervisor.specs(name)
    if not running:
        return f"{name} is already stopped"
    for spec in reversed(running):
        await ctx.supervisor.stop(spec.node, spec.name, grace=0)
    await asyncio.to_thread(leftovers.remove, f"{cluster.name}-{name}", cluster.node_dir(node))
    await lifecycle.run_underlay(cluster, "link-down", name)
    return f"stopped {name}: killed {', '.join(s.name for s in running)}; its link is down"


async def start_node(ctx: lifecycle.UpContext, name: str) -> str:
    ctx.cluster.topology.node(name)
    stopped = ctx.supervisor.specs(name, stopped=True)
    if not stopped:
        return f"{name} is already running"
    await lifecycle.run_underlay(ctx.cluster, "link-up", name)
    for spec in stopped:
        ctx.supervisor.start(spec)
    return f"started {name}: {', '.join(s.name for s in stopped)}"


class NodeControl:
    """The control socket's node requests: ``{"op": "node-stop"|"node-start"|"node-add"|"node-remove",
    "node": NAME}``, one at a time (adding and removing change the cluster's node list)."""

    def __init__(self, ctx: lifecycle.UpContext) -> None:
        self.ctx = ctx
        self._lock = asyncio.Lock()

    async def handle(self, request: dict[str, Any]) -> str:
        op, node = request.get("op"), request.get("node")
        if not isinstance(node, str):
            raise ControlError("a node request names a node")
        actions = {"node-stop": stop_node, "node-start": start_node,
                   "node-add": node_membership.add_worker, "node-remove": node_membership.remove_worker}
        action = actions.get(str(op))
        if action is None:
            raise ControlError(f"unknown request {op!r}")
        async with self._lock:
            try:
                return await action(self.ctx, node)
            except TopologyError as exc:
                raise ControlError(str(exc)) from exc
            except StepError as exc:
                raise ControlError(f"{exc} ({exc.hint})" if exc.hint else str(exc)) from exc
