"""Recording core/v1 Events about objects (``FailedScheduling``, ``Pulled``, ``SuccessfulCreate``), as client-go's
``record.EventRecorder`` does.

Events are best-effort: recording never blocks the caller's work and a failure to record is
logged, not raised. A repeat of the same event for the same object (same type, reason and
message) bumps ``count`` and ``lastTimestamp`` on the existing Event instead of creating another,
so a pod failing to schedule every second produces one Event, not thousands.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from client.clock import Clock
from client.errors import ApiConnectionError, ApiError, NotFound
from client.rest import PatchType, ResourceRef, RestClient
from process.log import get_logger

log = get_logger("client.events")

EVENTS = ResourceRef("", "v1", "events", True, "Event")
NORMAL, WARNING = "Normal", "Warning"
_CACHE_SIZE = 4096


@dataclass
class _Seen:
    name: str
    namespace: str
    count: int


class EventRecorder:
    """Records Events from one component (and host) through a RestClient."""

    def __init__(self, rest: RestClient, component: str, host: str = "", clock: Clock | None = None) -> None:
        self.rest = rest
        self.component = component
        self.host = host
        self.clock = clock or rest.clock
        self._seen: OrderedDict[tuple[str, ...], _Seen] = OrderedDict()
        self._pending: set[asyncio.Task[None]] = set()
        self._last_ns = 0

    def event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        """Record in the background (the caller does not wait); ``flush`` waits for what is pending."""
        task = asyncio.get_running_loop().create_task(self._record(obj, type_, reason, message))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def flush(self) -> None:
        """Wait until every event recorded so far has been written (or given up on)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    def _unique_ns(self) -> int:
        # client-go names events <object>.<unix nanoseconds>; never reuse one within this recorder.
        ns = int(self.clock.wall().timestamp() * 1_000_000) * 1000
        self._last_ns = max(ns, self._last_ns + 1)
        return self._last_ns

    async def _record(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        try:
            await self.emit(obj, type_, reason, message)
        except (ApiError, ApiConnectionError) as exc:
            log.warning("could not record event", reason=reason, object=_describe(obj), error=str(exc))

    async def emit(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> dict[str, Any]:
        """Record now and return the Event as stored (new, or the existing one with its count bumped)."""
        if type_ not in (NORMAL, WARNING):
            raise ValueError(f"event type must be {NORMAL} or {WARNING}, not {type_!r}")
        involved = involved_object(obj)
        key = (involved.get("uid", ""), involved["kind"], involved.get("namespace", ""), involved["name"],
               type_, reason, message)
        now = self.clock.wall().strftime("%Y-%m-%dT%H:%M:%SZ")
        seen = self._seen.get(key)
        if seen is not None:
            try:
                stored = await self.rest.patch(EVENTS, seen.name, {"count": seen.count + 1, "lastTimestamp": now},
                                               seen.namespace, patch_type=PatchType.MERGE)
            except NotFound:
                pass  # the old Event expired (events have a TTL): record a fresh one
            else:
                seen.count += 1
                self._seen.move_to_end(key)
                return stored
        namespace = involved.get("namespace") or "default"  # events about cluster-scoped objects live in default
        body = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{involved['name']}.{self._unique_ns():x}", "namespace": namespace},
            "involvedObject": involved, "reason": reason, "message": message, "type": type_,
            "source": {"component": self.component, **({"host": self.host} if self.host else {})},
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "reportingComponent": self.component, "reportingInstance": self.host,
        }
        stored = await self.rest.create(EVENTS, body, namespace)
        self._seen[key] = _Seen(stored["metadata"]["name"], namespace, 1)
        while len(self._seen) > _CACHE_SIZE:
            self._seen.popitem(last=False)
        return stored


def involved_object(obj: dict[str, Any]) -> dict[str, Any]:
    """The ``ObjectReference`` an Event points at."""
    meta = obj.get("metadata") or {}
    if not obj.get("kind") or not meta.get("name"):
        raise ValueError("an event needs an object with kind and metadata.name")
    ref = {"kind": obj["kind"], "name": meta["name"], "apiVersion": obj.get("apiVersion", "v1")}
    for src, dst in (("namespace", "namespace"), ("uid", "uid"), ("resourceVersion", "resourceVersion")):
        if meta.get(src):
            ref[dst] = meta[src]
    return ref


def _describe(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind', '?')} {meta.get('namespace', '')}/{meta.get('name', '?')}".replace(" /", " ")
