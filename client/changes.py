"""Turning informer events into "something changed": for components that recompute one whole state
(kube-proxy's rules, DNS records, the overlay's peers) rather than reconciling keys one by one.

A burst of events becomes one recomputation: handlers only set a flag, and the loop waits for the
flag (or for stop, or for a periodic resync), lets a short delay collect the rest of the burst, then
calls ``sync`` once with the caches already up to date.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from client.informer import SharedInformer
from process.log import get_logger

log = get_logger("client.changes")


class ChangeTrigger:
    """Set by any add/update/delete of the informers it watches."""

    def __init__(self, informers: Iterable[SharedInformer] = ()) -> None:
        self.changed = asyncio.Event()
        for informer in informers:
            self.watch(informer)

    def watch(self, informer: SharedInformer) -> None:
        informer.add_event_handler(on_add=self._set, on_update=lambda _old, _new: self.changed.set(),
                                   on_delete=self._set)

    def _set(self, _obj: object) -> None:
        self.changed.set()

    async def wait(self, stop: asyncio.Event, resync_after: float | None = None) -> bool:
        """Until a change (True), ``stop`` (False), or ``resync_after`` seconds (True: time for a resync)."""
        waiter, stopper = asyncio.create_task(self.changed.wait()), asyncio.create_task(stop.wait())
        try:
            await asyncio.wait([waiter, stopper], timeout=resync_after, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            stopper.cancel()
        return not stop.is_set()


async def sync_on_changes(trigger: ChangeTrigger, stop: asyncio.Event, sync: Callable[[], Awaitable[None]], *,
                          delay: float = 0.0, min_period: float = 0.0, period: float | None = None) -> None:
    """Call ``sync`` after every burst of changes (and every ``period`` seconds) until ``stop``.

    ``delay`` gathers a burst before syncing; ``min_period`` spaces syncs out. A failed sync is logged and
    retried at the next change or period, so a component keeps serving with its last good state.
    """
    trigger.changed.set()
    while await trigger.wait(stop, period):
        if delay:
            await asyncio.sleep(delay)
        trigger.changed.clear()
        try:
            await sync()
        except Exception as exc:
            log.error("sync failed; will retry", err=str(exc))
            trigger.changed.set()
        if min_period:
            await asyncio.sleep(min_period)


def slices_by_service(slices: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], list[Mapping[str, Any]]]:
    """EndpointSlices grouped by (namespace, Service name), from their ``kubernetes.io/service-name`` label."""
    out: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for eps in slices:
        meta = eps.get("metadata", {})
        name = (meta.get("labels") or {}).get("kubernetes.io/service-name")
        if name:
            out.setdefault((meta.get("namespace", ""), name), []).append(eps)
    return out
