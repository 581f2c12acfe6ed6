"""Keeping the Node object current: registration, status heartbeats and the node Lease in ``kube-node-lease``.

The Lease is the cheap heartbeat (renewed every 10 s, as upstream); the status carries conditions,
allocatable and images, so the node lifecycle controller and the scheduler see the same node the kubelet sees.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final

from client.backoff import Backoff
from client.errors import AlreadyExists, ApiConnectionError, ApiError, Conflict, NotFound
from client.rest import PatchType, ResourceRef, RestClient
from process.log import get_logger

log = get_logger("kubelet.node_sync")

NODES: Final = ResourceRef("", "v1", "nodes", False, "Node")
LEASES: Final = ResourceRef("coordination.k8s.io", "v1", "leases", True, "Lease")
LEASE_NAMESPACE: Final = "kube-node-lease"


def micro_time(epoch: float) -> str:
    """metav1.MicroTime text."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease_body(node: str, node_uid: str, duration_seconds: int, now: float,
               existing: dict[str, Any] | None = None) -> dict[str, Any]:
    """The node's Lease, owned by its Node so it is garbage-collected with it."""
    meta: dict[str, Any] = {"name": node, "namespace": LEASE_NAMESPACE}
    if node_uid:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node, "uid": node_uid}]
    if existing is not None:
        meta = {**existing.get("metadata", {}), **meta}
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
            "spec": {"holderIdentity": node, "leaseDurationSeconds": duration_seconds, "renewTime": micro_time(now)}}


async def register(rest: RestClient, node: dict[str, Any]) -> dict[str, Any]:
    """Create the Node, or adopt the existing one (keeping its spec, refreshing labels and status)."""
    name = node["metadata"]["name"]
    try:
        return await rest.create(NODES, node)
    except AlreadyExists:
        pass
    existing = await rest.get(NODES, name)
    labels = {**(existing["metadata"].get("labels") or {}), **node["metadata"]["labels"]}
    await rest.patch(NODES, name, {"metadata": {"labels": labels}}, patch_type=PatchType.MERGE)
    return await rest.patch(NODES, name, {"status": node["status"]}, patch_type=PatchType.MERGE,
                            subresource="status")


async def register_until_done(rest: RestClient, node: dict[str, Any],
                              sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> dict[str, Any]:
    """``register``, retried with backoff (0.1 s doubling to 7 s) as upstream's kubelet does.

    An apiserver that is still starting or briefly unreachable (a slow machine, a restart of the control
    plane) must not make the kubelet exit: it would only be restarted to wait again.
    """
    backoff = Backoff(0.1, 7.0, jitter=0.0)
    while True:
        try:
            return await register(rest, node)
        except (ApiError, ApiConnectionError) as err:
            delay = backoff.next_delay()
            log.warning("unable to register the node, will retry", node=node["metadata"]["name"], error=str(err),
                        retry_in=delay)
        await sleep(delay)


async def renew_lease_forever(rest: RestClient, node: str, node_uid: Callable[[], str], duration_seconds: int,
                              interval: float) -> None:
    """Renew the node Lease every ``interval`` seconds, creating it when missing; errors only delay it."""
    while True:
        try:
            try:
                current = await rest.get(LEASES, node, LEASE_NAMESPACE)
            except NotFound:
                await rest.create(LEASES, lease_body(node, node_uid(), duration_seconds, time.time()),
                                  LEASE_NAMESPACE)
            else:
                await rest.update(LEASES, lease_body(node, node_uid(), duration_seconds, time.time(), current),
                                  LEASE_NAMESPACE)
        except (Conflict, AlreadyExists):
            continue  # raced with ourselves (a previous kubelet run): read again at once
        except (ApiError, ApiConnectionError) as err:
            log.warning("lease renewal failed", node=node, error=str(err))
        await asyncio.sleep(interval)


async def update_status_forever(rest: RestClient, node: str, status: Callable[[], Awaitable[dict[str, Any]]],
                                interval: float) -> None:
    """Patch ``nodes/status`` with a fresh status every ``interval`` seconds."""
    while True:
        try:
            body = await status()
            await rest.patch(NODES, node, {"status": body}, patch_type=PatchType.MERGE, subresource="status")
        except (ApiError, ApiConnectionError) as err:
            log.warning("node status update failed", node=node, error=str(err))
        await asyncio.sleep(interval)
