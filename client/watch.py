"""Watch streams and the reflector that turns list + watch into a complete, self-healing feed.

``watch()`` is one ``?watch=1`` request: newline-delimited JSON events until the server ends the
stream. ``Reflector`` is client-go's: list (paginated), hand the snapshot to a sink, watch from
the list's resourceVersion, re-watch from the last seen version when a stream ends or breaks,
and relist when the server says that version is gone (410, as an HTTP answer or an ERROR event).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import orjson

from client.backoff import Backoff
from client.errors import ApiConnectionError, ApiError, Gone, error_from_status
from client.rest import ResourceRef, RestClient, iter_lines, query
from process.log import get_logger

log = get_logger("client.watch")

ADDED, MODIFIED, DELETED, BOOKMARK, ERROR = "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"


@dataclass(frozen=True)
class WatchEvent:
    """One watch event: its type and the object (for BOOKMARK, only ``metadata.resourceVersion``)."""

    type: str
    object: dict[str, Any]

    @property
    def resource_version(self) -> str:
        return str((self.object.get("metadata") or {}).get("resourceVersion") or "")


async def watch(client: RestClient, ref: ResourceRef, namespace: str | None = None, *,
                resource_version: str | None = None, allow_bookmarks: bool = True,
                label_selector: str | None = None, field_selector: str | None = None,
                timeout_seconds: int | None = None) -> AsyncGenerator[WatchEvent, None]:
    """Events of one watch request until the server closes it.

    An ERROR event raises its typed error (``Gone`` for 410 Expired); a broken connection raises
    ``ApiConnectionError``. Without ``resource_version`` (or with ``"0"``) the server starts
    with a synthetic ADDED per existing object; with one, only changes after it.
    """
    params = query(watch=1, resourceVersion=resource_version, allowWatchBookmarks=allow_bookmarks or None,
                   labelSelector=label_selector, fieldSelector=field_selector, timeoutSeconds=timeout_seconds)
    # The server is silent while nothing changes: only a whole watch period without a byte is a dead link.
    read_timeout = timeout_seconds + 30.0 if timeout_seconds else None
    path = ref.path(namespace)
    async with client.stream(path, params=params, read_timeout=read_timeout) as resp:
        lines = iter_lines(resp)
        while True:
            try:
                line = await anext(lines)
            except StopAsyncIteration:
                return
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise ApiConnectionError(f"watch {path} broke: {type(exc).__name__}: {exc}") from exc
            try:
                raw = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise ApiConnectionError(f"watch {path}: undecodable event {line[:200]!r}") from exc
            event = WatchEvent(str(raw.get("type")), raw.get("object") or {})
            if event.type == ERROR:
                raise error_from_status(event.object)
            yield event


class ReflectorSink(Protocol):
    """Where a reflector delivers what it learns; the informer's store implements it."""

    def replace(self, items: list[dict[str, Any]], resource_version: str) -> None:
        """A complete snapshot (after every list): objects absent from it are gone."""
        ...

    def add(self, obj: dict[str, Any]) -> None: ...

    def update(self, obj: dict[str, Any]) -> None: ...

    def delete(self, obj: dict[str, Any]) -> None: ...


class Reflector:
    """Keeps a sink equal to the server's state of one resource (optionally one namespace, selectors)."""

    def __init__(self, client: RestClient, ref: ResourceRef, sink: ReflectorSink, *, namespace: str | None = None,
                 label_selector: str | None = None, field_selector: str | None = None, page_size: int = 500,
                 min_watch_timeout: int = 300, backoff: Backoff | None = None,
                 rng: random.Random | None = None) -> None:
        self.client = client
        self.ref = ref
        self.sink = sink
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.page_size = page_size
        self.min_watch_timeout = min_watch_timeout
        self.backoff = backoff or Backoff(clock=client.clock)
        self._rng = rng or random.Random()
        self.last_sync_resource_version = ""
        self._rv_unavailable = False
        self.lists = 0
        self.watches = 0

    @property
    def name(self) -> str:
        return f"{self.ref.api_version}/{self.ref.resource}" + (f" in {self.namespace}" if self.namespace else "")

    async def run(self) -> None:
        """List and watch until cancelled; every failure is retried with backoff, never raised."""
        while True:
            try:
                await self.list_once()
            except Gone:
                # Even our relist version is too old for the server: ask for the latest state instead.
                if self._rv_unavailable:
                    await self.backoff.wait()
                self._rv_unavailable = True
                log.v(2, "relist version gone, listing latest", reflector=self.name)
                continue
            except (ApiError, ApiConnectionError) as exc:
                log.warning("list failed", reflector=self.name, error=str(exc))
                await self.backoff.wait()
                continue
            if await self.watch_until_relist():
                await self.backoff.wait()

    async def list_once(self) -> None:
        """Take a full snapshot and hand it to the sink."""
        rv = "" if self._rv_unavailable else (self.last_sync_resource_version or "0")
        try:
            items, list_rv = await self._list(rv)
        except Gone:
            if rv in ("", "0"):
                # A continue token expired between pages: read everything in one consistent request.
                items, list_rv = await self._list("", paginate=False)
            else:
                raise
        self.lists += 1
        self.sink.replace(items, list_rv)
        self.last_sync_resource_version = list_rv
        self._rv_unavailable = False

    async def _list(self, rv: str, paginate: bool = True) -> tuple[list[dict[str, Any]], str]:
        if rv not in ("", "0") or not paginate:
            # A specific version means "not older than": served whole from the watch cache.
            whole = await self.client.list(self.ref, self.namespace, resource_version=rv or None,
                                           label_selector=self.label_selector, field_selector=self.field_selector)
            return list(whole.get("items") or []), _list_rv(whole)
        items: list[dict[str, Any]] = []
        list_rv = ""
        async for page in self.client.list_pages(self.ref, self.namespace, page_size=self.page_size,
                                                 resource_version=rv or None, label_selector=self.label_selector,
                                                 field_selector=self.field_selector):
            items.extend(page.get("items") or [])
            list_rv = list_rv or _list_rv(page)
        return items, list_rv

    async def watch_until_relist(self) -> bool:
        """Watch from the last synced version until a relist is needed; True if it should back off first."""
        while True:
            timeout = self.min_watch_timeout + int(self._rng.random() * self.min_watch_timeout)
            self.watches += 1
            started = asyncio.get_running_loop().time()
            events = 0
            try:
                async for event in watch(self.client, self.ref, self.namespace,
                                         resource_version=self.last_sync_resource_version, allow_bookmarks=True,
                                         label_selector=self.label_selector, field_selector=self.field_selector,
                                         timeout_seconds=timeout):
                    self._apply(event)
                    events += 1
                    self.backoff.reset()
                if events == 0 and asyncio.get_running_loop().time() - started < 1.0:
                    # A server that closes every watch at once would otherwise be re-watched in a hot loop.
                    log.warning("very short watch: closed within a second without events", reflector=self.name)
                    return True
            except Gone:
                log.v(2, "watch version expired, relisting", reflector=self.name,
                      resource_version=self.last_sync_resource_version)
                return False
            except ApiConnectionError as exc:
                # The apiserver went away or the link broke: re-watch from where we were, after a pause.
                log.v(2, "watch broke, re-watching", reflector=self.name, error=str(exc))
                await self.backoff.wait()
                continue
            except ApiError as exc:
                log.warning("watch failed, relisting", reflector=self.name, error=str(exc))
                return True

    def _apply(self, event: WatchEvent) -> None:
        if event.type == ADDED:
            self.sink.add(event.object)
        elif event.type == MODIFIED:
            self.sink.update(event.object)
        elif event.type == DELETED:
            self.sink.delete(event.object)
        elif event.type != BOOKMARK:
            log.warning("unknown watch event type", reflector=self.name, type=event.type)
            return
        if event.resource_version:
            self.last_sync_resource_version = event.resource_version


def _list_rv(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")
