"""A watch cache per resource prefix: one store watch feeding current state plus a ring of recent events.

Every `watch` and every `list?resourceVersion=0` of that resource is served from here, so thousands
of watchers cost one store watch. Watches starting from a revision replay the ring; below its
oldest entry they get kube-apiserver's 410 Expired. Built-in resources' caches start with the
apiserver (so any list it serves later is a valid watch start); custom resources' on first use, at the
revision that first watch asks for. A cache restarts from scratch if the store compacts past it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Protocol

from api import status
from api.schema import JSON
from apiserver.encryption import PLAINTEXT, Transformer
from apiserver.errors import APIError
from apiserver.registry import decode, scan
from process.log import get_logger
from protos.etcd import kv_pb2
from store import client as store
from store.client import WatchCompactedError
from store.errors import EtcdError

log = get_logger("apiserver.watch_cache")

CAPACITY = 10_000
"""Events kept per resource: enough for informers to resume after a short disconnect."""
WATCHER_BACKLOG = 10_000
"""Events a watcher may fall behind by before its stream is closed (it then re-watches)."""

Predicate = Callable[[dict[str, JSON]], bool]


@dataclass(slots=True)
class Event:
    """One change: the object after it (for DELETED: its last state at the deletion's revision)."""

    type: str
    obj: dict[str, JSON]
    revision: int
    prev: dict[str, JSON] | None = None
    encoded: dict[Hashable, bytes] | None = field(default=None, compare=False, repr=False)
    """The event as written to watchers, by encoding: serialized once and shared by every watcher that wants
    it that way (1,000 watchers must not mean 1,000 serializations)."""


class Subscriber(Protocol):
    """Where a watch's events go: `deliver` takes each event as this watcher sees it, in order, and answers
    False when the watcher fell too far behind (it is then dropped); `end` closes the stream."""

    def deliver(self, event: Event) -> bool:
        """Take one event now, without waiting."""
        ...

    def end(self) -> None:
        """No more events will come."""
        ...


class Selection:
    """The watchers of one predicate: what an event looks like to them is worked out once for all of them."""

    def __init__(self, predicate: Predicate) -> None:
        self.predicate = predicate
        self.subscribers: dict[Subscriber, None] = {}

    def view(self, event: Event) -> Event | None:
        """The event as these watchers see it: objects entering the selection are ADDED, leaving it DELETED."""
        now = self.predicate(event.obj)
        before = event.prev is not None and self.predicate(event.prev)
        if event.type == "DELETED":
            return event if now else None
        if now:
            return event if event.type == "ADDED" or before else Event("ADDED", event.obj, event.revision)
        if before:
            # An object leaving the selection is deleted from this watcher's point of view.
            return Event("DELETED", event.obj, event.revision)
        return None


@dataclass(eq=False)
class Watcher:
    """A subscriber that queues its events for a reader task; None ends the stream."""

    queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)

    def deliver(self, event: Event) -> bool:
        """Queue the event; False when the reader fell too far behind."""
        if self.queue.qsize() >= WATCHER_BACKLOG:
            return False
        self.queue.put_nowait(event)
        return True

    def end(self) -> None:
        """Tell the reader the stream is over."""
        self.queue.put_nowait(None)


class ResourceCache:
    """State and recent history of every object under one key prefix."""

    def __init__(
        self, client: store.StoreClient, prefix: str, start_revision: int = 0, transformer: Transformer = PLAINTEXT
    ) -> None:
        self.client = client
        self.transformer = transformer
        self.prefix = prefix.encode()
        self._start_revision = start_revision
        self.state: dict[bytes, dict[str, JSON]] = {}
        self.events: deque[Event] = deque(maxlen=CAPACITY)
        self.revision = 0
        self.oldest = 0
        """Watches may start at any revision >= oldest - 1's successor: the ring covers (oldest, revision]."""
        self.selections: dict[Hashable, Selection] = {}
        self.subscribers: dict[Subscriber, Hashable] = {}
        """Every subscriber and the key of its selection."""
        self.early: dict[Subscriber, int] = {}
        """Subscribers from a revision this cache has not reached yet (a consistent list's, read from the store
        a moment ago, or one past the last change of this quiet prefix), and that revision: the changes up to it
        reach the cache later but precede the watch, so they are not delivered. The watch starts at once instead
        of waiting for the cache to see that revision, which on a quiet prefix could take until the next change."""
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin listing and watching in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"watch-cache {self.prefix.decode()}")

    async def stop(self) -> None:
        """Stop the store watch and end every stream."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._close_all()

    def _close_all(self) -> None:
        subscribers = list(self.subscribers)
        self.selections.clear()
        self.subscribers.clear()
        self.early.clear()
        for sub in subscribers:
            sub.end()

    async def _run(self) -> None:
        while True:
            try:
                await self._list()
                async for update in self.client.watch(
                    self.prefix, prefix=True, start_revision=self.revision + 1, prev_kv=True, progress_notify=True
                ):
                    for ev in update.events:
                        self._apply(ev)
                    self.revision = max(
                        self.revision, update.revision if not update.events else update.events[-1].kv.mod_revision
                    )
                    if self.early:
                        self.early = {sub: since for sub, since in self.early.items() if since > self.revision}
            except WatchCompactedError:
                log.info("watch cache fell behind compaction; relisting", prefix=self.prefix.decode())
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.warning("watch cache failed; retrying", prefix=self.prefix.decode(), error=str(err))
                await asyncio.sleep(0.5)
            self.ready.clear()
            self._close_all()

    async def _list(self) -> None:
        # A cache started for a watch from revision N lists at N (if still retained), so that watch can be
        # served; any later (re)start lists the present.
        start, self._start_revision = self._start_revision, 0
        try:
            kvs, revision = await scan(self.client, self.prefix, start)
        except EtcdError:
            if not start:
                raise
            kvs, revision = await scan(self.client, self.prefix)
        self.state = {kv.key: decode(kv, transformer=self.transformer) for kv in kvs}
        self.revision = revision
        self.oldest = self.revision
        self.events.clear()
        self.ready.set()

    def _apply(self, ev: kv_pb2.Event) -> None:
        key = ev.kv.key
        prev = self.state.get(key)
        if ev.type == kv_pb2.Event.DELETE:
            if prev is None and ev.HasField("prev_kv"):
                prev = decode(ev.prev_kv, transformer=self.transformer)
            if prev is None:
                return
            self.state.pop(key, None)
            last = {**prev, "metadata": {**(prev.get("metadata") or {}), "resourceVersion": str(ev.kv.mod_revision)}}
            event = Event("DELETED", last, ev.kv.mod_revision, prev)
        else:
            obj = decode(ev.kv, transformer=self.transformer)
            self.state[key] = obj
            event = Event("ADDED" if prev is None else "MODIFIED", obj, ev.kv.mod_revision, prev)
        if len(self.events) == self.events.maxlen:
            self.oldest = self.events[0].revision
        self.events.append(event)
        lagging: list[Subscriber] = []
        early, revision = self.early, event.revision
        for selection in self.selections.values():
            seen = selection.view(event)
            if seen is not None:
                lagging += [
                    sub for sub in selection.subscribers if early.get(sub, 0) < revision and not sub.deliver(seen)
                ]
        for sub in lagging:
            self.unsubscribe(sub)
            sub.end()

    async def wait_ready(self, seconds: float) -> None:
        """Wait for the initial list; 504 if the store does not answer in time."""
        try:
            await asyncio.wait_for(self.ready.wait(), seconds)
        except TimeoutError:
            raise APIError(status.timeout("the watch cache is not ready: the store did not answer in time")) from None

    def decoded(self, key: bytes, mod_revision: int) -> dict[str, JSON] | None:
        """The cached object at `key` if it is the version written at `mod_revision` (shared: read only)."""
        obj = self.state.get(key)
        if obj is not None and obj["metadata"]["resourceVersion"] == str(mod_revision):
            return obj
        return None

    def snapshot(self, predicate: Predicate) -> tuple[list[dict[str, JSON]], int]:
        """Current objects (sorted by key, as the store lists them) and the revision they reflect."""
        return [obj for key, obj in sorted(self.state.items()) if predicate(obj)], self.revision

    def subscribe(self, predicate: Predicate, since: int | None) -> Watcher:
        """A queued watcher from `since` (replaying newer events), or with synthetic ADDED events for all objects."""
        w = Watcher()
        for event in self.attach(w, predicate, since):
            w.queue.put_nowait(event)
        return w

    def attach(
        self, sub: Subscriber, predicate: Predicate, since: int | None, key: Hashable | None = None
    ) -> list[Event]:
        """Deliver future changes to `sub`; returns what it must see first: the events after `since`, or
        synthetic ADDED events for every object. Subscribers with the same `key` share their predicate, so it
        is evaluated once per change for all of them. 410 Expired when `since` is older than the ring."""
        if since is None:
            first = [Event("ADDED", obj, self.revision) for _, obj in sorted(self.state.items()) if predicate(obj)]
        else:
            if since < self.oldest:
                raise APIError(status.too_old_resource_version(since, self.oldest + 1))
            view = Selection(predicate).view
            first = [seen for event in self.events if event.revision > since and (seen := view(event)) is not None]
        key = object() if key is None else key
        selection = self.selections.get(key)
        if selection is None:
            selection = self.selections[key] = Selection(predicate)
        selection.subscribers[sub] = None
        self.subscribers[sub] = key
        if since is not None and since > self.revision:
            self.early[sub] = since
        return first

    def unsubscribe(self, sub: Subscriber) -> None:
        """Stop delivering to `sub`."""
        key = self.subscribers.pop(sub, None)
        self.early.pop(sub, None)
        selection = self.selections.get(key) if key is not None else None
        if selection is not None:
            selection.subscribers.pop(sub, None)
            if not selection.subscribers:
                del self.selections[key]


class WatchCaches:
    """The caches of one apiserver, one per storage prefix, created when first needed."""

    def __init__(self, client: store.StoreClient, transformer: Transformer = PLAINTEXT) -> None:
        self.client = client
        self.transformer = transformer
        self.caches: dict[str, ResourceCache] = {}

    def get(self, prefix: str, since: int | None = None) -> ResourceCache:
        """The running cache for `prefix` (ending in `/`); a new one starts at `since` when given."""
        cache = self.caches.get(prefix)
        if cache is None:
            cache = self.caches[prefix] = ResourceCache(self.client, prefix, since or 0, self.transformer)
            cache.start()
        return cache

    async def stop(self) -> None:
        """Stop every cache."""
        for cache in self.caches.values():
            await cache.stop()
