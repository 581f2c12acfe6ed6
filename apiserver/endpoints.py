"""The `kubernetes` Service's Endpoints and EndpointSlice, kept to exactly the apiservers that are alive.

kube-apiserver's lease reconciler: each apiserver keeps a key `/registry/masterleases/<ip>:<port>`
under a store lease it renews; every few seconds it rewrites the Endpoints (and the EndpointSlice)
from the keys present. An apiserver that dies stops renewing, its key expires with the lease, and
the next reconcile by any survivor drops it. A clean stop revokes the lease at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Callable

from api.schema import JSON
from apiserver.errors import APIError
from apiserver.handlers import Handlers, Target
from process.log import get_logger
from store import client as store
from store.errors import EtcdError

log = get_logger("apiserver.endpoints")

LEASE_PREFIX = "/registry/masterleases/"
LEASE_TTL = 15
RECONCILE_SECONDS = 5.0
PORT_NAME = "https"


def desired_subsets(members: list[tuple[str, int]]) -> list[JSON]:
    """Endpoints subsets: addresses grouped by port, sorted so equal sets compare equal."""
    by_port: dict[int, list[str]] = {}
    for ip, port in members:
        by_port.setdefault(port, []).append(ip)
    return [
        {
            "addresses": [{"ip": ip} for ip in sorted(set(ips))],
            "ports": [{"name": PORT_NAME, "port": port, "protocol": "TCP"}],
        }
        for port, ips in sorted(by_port.items())
    ]


class EndpointReconciler:
    """Holds this apiserver's lease and rewrites the `kubernetes` endpoints from all live leases."""

    def __init__(self, handlers: Handlers, client: store.StoreClient, ip: str, port: int) -> None:
        self.handlers = handlers
        self.client = client
        self.key = f"{LEASE_PREFIX}{ip}:{port}"
        self.lease = 0

    async def _hold(self) -> None:
        if self.lease:
            try:
                await self.client.lease_keepalive_once(self.lease)
                return
            except EtcdError:
                self.lease = 0
        granted = await self.client.lease_grant(LEASE_TTL)
        await self.client.put(self.key, b"", lease=granted.ID)
        self.lease = granted.ID

    async def members(self) -> list[tuple[str, int]]:
        """The apiservers whose leases are alive."""
        resp = await self.client.range(LEASE_PREFIX, prefix=True, keys_only=True)
        out = []
        for kv in resp.kvs:
            ip, _, port = kv.key.decode()[len(LEASE_PREFIX) :].rpartition(":")
            if ip and port.isdigit():
                out.append((ip, int(port)))
        return out

    async def reconcile(self) -> None:
        """Make the Endpoints and EndpointSlice list exactly the live apiservers."""
        members = await self.members()
        if not members:
            return
        subsets = desired_subsets(members)

        def fill_endpoints(obj: dict[str, JSON]) -> None:
            obj["subsets"] = subsets

        await self._write("", "v1", "endpoints", fill_endpoints)
        first = subsets[0]
        slice_endpoints = [{"addresses": [a["ip"]], "conditions": {"ready": True}} for a in first["addresses"]]

        def fill_slice(obj: dict[str, JSON]) -> None:
            obj["endpoints"] = slice_endpoints
            obj["ports"] = first["ports"]

        await self._write("discovery.k8s.io", "v1", "endpointslices", fill_slice)

    async def _write(self, group: str, version: str, plural: str, change: Callable[[dict[str, JSON]], None]) -> None:
        kind = await self.handlers.kinds.resolve(group, version, plural)
        assert kind is not None
        target = Target(kind, "default", "kubernetes", None)
        for _ in range(5):
            current = await self.handlers.registry.get(target.key)
            if current is None:
                return  # bootstrap creates it; the next round fills it
            new = copy.deepcopy(current)
            change(new)
            try:
                await self.handlers.write_update(target, current, new, False)
                return
            except APIError as err:
                if err.body.get("reason") != "Conflict":
                    raise

    async def run(self, stop: asyncio.Event) -> None:
        """Renew and reconcile until `stop`; then give the lease up so the others drop this address at once."""
        while not stop.is_set():
            try:
                await self._hold()
                await self.reconcile()
            except (APIError, EtcdError, TimeoutError) as err:
                log.warning("endpoint reconcile failed; retrying", error=str(err))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RECONCILE_SECONDS)
        await self.release()

    async def release(self) -> None:
        """Revoke the lease and drop this apiserver from the endpoints (best effort: the TTL covers failures)."""
        if not self.lease:
            return
        try:
            await self.client.lease_revoke(self.lease)
            self.lease = 0
            await self.reconcile()
        except (APIError, EtcdError, TimeoutError) as err:
            log.warning("could not release the endpoint lease; it expires by itself", error=str(err))
