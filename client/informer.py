"""Shared informers: one reflector per resource feeding one indexed cache and many event handlers.

Everything runs on one event loop, so the reflector writes the cache and calls the handlers
directly (client-go needs a DeltaFIFO and goroutines for the same effect). Handlers are plain
functions and should only enqueue work (``queue.add(key)``); the cache is up to date when they
run. ``SharedInformerFactory`` hands every component of a process the same informer per
resource, so a controller manager watches pods once, not once per controller.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from client.backoff import Backoff
from client.cache import DeletedFinalStateUnknown, Indexer, IndexFunc, Obj, meta_namespace_key
from client.clock import Clock
from client.rest import ResourceRef, RestClient
from client.watch import Reflector
from process.log import get_logger

log = get_logger("client.informer")

AddFunc = Callable[[Obj], None]
UpdateFunc = Callable[[Obj, Obj], None]
DeleteFunc = Callable[[Obj | DeletedFinalStateUnknown], None]


@dataclass
class ResourceEventHandler:
    """Callbacks for one consumer; any may be None. ``on_delete`` may get a ``DeletedFinalStateUnknown``."""

    on_add: AddFunc | None = None
    on_update: UpdateFunc | None = None
    on_delete: DeleteFunc | None = None


class HandlerRegistration:
    """What ``add_event_handler`` returns: remove the handler again, or ask whether it has seen the initial list."""

    def __init__(self, informer: SharedInformer, handler: ResourceEventHandler, resync_period: float) -> None:
        self._informer = informer
        self.handler = handler
        self.resync_period = resync_period
        self._resync_task: asyncio.Task[None] | None = None

    def has_synced(self) -> bool:
        return self._informer.has_synced()

    def remove(self) -> None:
        self._informer._remove(self)
        if self._resync_task is not None:
            self._resync_task.cancel()
            self._resync_task = None


class SharedInformer:
    """A cache of one resource kept current by list+watch, notifying handlers of every change."""

    def __init__(self, client: RestClient, ref: ResourceRef, *, namespace: str | None = None,
                 label_selector: str | None = None, field_selector: str | None = None,
                 resync_period: float = 0.0, indexers: dict[str, IndexFunc] | None = None,
                 clock: Clock | None = None, backoff: Backoff | None = None, page_size: int = 500) -> None:
        self.ref = ref
        self.namespace = namespace
        self.resync_period = resync_period
        self.clock = clock or client.clock
        self.indexer = Indexer(meta_namespace_key, indexers)
        self.reflector = Reflector(client, ref, self, namespace=namespace, label_selector=label_selector,
                                   field_selector=field_selector, page_size=page_size,
                                   backoff=backoff or Backoff(clock=self.clock))
        self._registrations: list[HandlerRegistration] = []
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Begin listing and watching in a background task (idempotent)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.reflector.run(),
                                                               name=f"reflector {self.reflector.name}")
            for reg in self._registrations:
                self._start_resync(reg)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        """Stop the reflector and resync timers; the cache keeps its last contents."""
        tasks = [t for t in [self._task] + [r._resync_task for r in self._registrations] if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = None
        for reg in self._registrations:
            reg._resync_task = None

    def has_synced(self) -> bool:
        """True once the first complete list is in the cache (and has been announced to handlers)."""
        return self._synced.is_set()

    async def wait_for_sync(self, timeout_seconds: float | None = None) -> bool:
        """Wait for ``has_synced``; False if ``timeout_seconds`` pass first."""
        try:
            async with asyncio.timeout(timeout_seconds):
                await self._synced.wait()
        except TimeoutError:
            return False
        return True

    @property
    def last_sync_resource_version(self) -> str:
        return self.reflector.last_sync_resource_version

    # --- handlers and indexes -----------------------------------------------------------------

    def add_event_handler(self, handler: ResourceEventHandler | None = None, *, on_add: AddFunc | None = None,
                          on_update: UpdateFunc | None = None, on_delete: DeleteFunc | None = None,
                          resync_period: float | None = None) -> HandlerRegistration:
        """Register callbacks; a late handler first gets ``on_add`` for every object already cached.

        ``resync_period`` (default: the informer's) re-delivers every cached object as ``on_update(obj, obj)``
        that often, so level-triggered consumers re-check state they may have failed to act on.
        """
        handler = handler or ResourceEventHandler(on_add, on_update, on_delete)
        reg = HandlerRegistration(self, handler, self.resync_period if resync_period is None else resync_period)
        self._registrations.append(reg)
        if handler.on_add is not None:
            for obj in self.indexer.list():
                self._call(handler.on_add, obj)
        if self._task is not None:
            self._start_resync(reg)
        return reg

    def add_indexers(self, indexers: dict[str, IndexFunc]) -> None:
        self.indexer.add_indexers(indexers)

    def _remove(self, reg: HandlerRegistration) -> None:
        with contextlib.suppress(ValueError):
            self._registrations.remove(reg)

    def _start_resync(self, reg: HandlerRegistration) -> None:
        if reg.resync_period > 0 and reg._resync_task is None:
            reg._resync_task = asyncio.get_running_loop().create_task(self._resync_loop(reg))

    async def _resync_loop(self, reg: HandlerRegistration) -> None:
        while True:
            await self.clock.sleep(reg.resync_period)
            on_update = reg.handler.on_update
            if self.has_synced() and on_update is not None:
                for obj in self.indexer.list():
                    self._call(on_update, obj, obj)

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        # One broken consumer must not starve the others or kill the reflector: report and go on.
        try:
            fn(*args)
        except Exception:
            log.error("event handler failed", exc_info=True, informer=self.reflector.name)

    def _notify_add(self, obj: Obj) -> None:
        for reg in list(self._registrations):
            if reg.handler.on_add is not None:
                self._call(reg.handler.on_add, obj)

    def _notify_update(self, old: Obj, new: Obj) -> None:
        for reg in list(self._registrations):
            if reg.handler.on_update is not None:
                self._call(reg.handler.on_update, old, new)

    def _notify_delete(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        for reg in list(self._registrations):
            if reg.handler.on_delete is not None:
                self._call(reg.handler.on_delete, obj)

    # --- reflector sink -----------------------------------------------------------------------

    def replace(self, items: builtins.list[Obj], resource_version: str) -> None:
        """A fresh list: deletions we missed become tombstones, the rest adds or updates."""
        fresh = {meta_namespace_key(o): o for o in items}
        for key, old in self.indexer.items():
            if key not in fresh:
                self.indexer.delete_key(key)
                self._notify_delete(DeletedFinalStateUnknown(key, old))
        for key, obj in fresh.items():
            old_obj = self.indexer.get_by_key(key)
            self.indexer.update(obj)
            if old_obj is None:
                self._notify_add(obj)
            else:
                self._notify_update(old_obj, obj)
        self._synced.set()

    def add(self, obj: Obj) -> None:
        self.update(obj)

    def update(self, obj: Obj) -> None:
        old = self.indexer.get(obj)
        self.indexer.update(obj)
        if old is None:
            self._notify_add(obj)
        else:
            self._notify_update(old, obj)

    def delete(self, obj: Obj) -> None:
        self.indexer.delete(obj)
        self._notify_delete(obj)

    # --- reads (the lister) -------------------------------------------------------------------

    def get(self, name: str, namespace: str | None = None) -> Obj | None:
        """The cached object, or None."""
        return self.indexer.get_by_name(namespace if self.ref.namespaced else None, name)

    def list(self, namespace: str | None = None) -> builtins.list[Obj]:
        """Cached objects, of one namespace if given."""
        return self.indexer.list_namespace(namespace) if namespace else self.indexer.list()


@dataclass(frozen=True)
class _InformerKey:
    ref: ResourceRef
    namespace: str | None
    label_selector: str | None
    field_selector: str | None


class SharedInformerFactory:
    """One informer per (resource, namespace, selectors) for a whole process."""

    def __init__(self, client: RestClient, *, namespace: str | None = None, default_resync: float = 0.0,
                 clock: Clock | None = None, backoff_factory: Callable[[], Backoff] | None = None) -> None:
        self.client = client
        self.namespace = namespace
        self.default_resync = default_resync
        self.clock = clock or client.clock
        self._backoff_factory = backoff_factory
        self._informers: dict[_InformerKey, SharedInformer] = {}
        self._started = False

    def informer(self, ref: ResourceRef, *, namespace: str | None = None, label_selector: str | None = None,
                 field_selector: str | None = None, resync_period: float | None = None,
                 indexers: dict[str, IndexFunc] | None = None) -> SharedInformer:
        """The shared informer for ``ref`` (created on first request); extra ``indexers`` are added to it."""
        key = _InformerKey(ref, namespace or self.namespace, label_selector, field_selector)
        inf = self._informers.get(key)
        if inf is None:
            inf = SharedInformer(self.client, ref, namespace=key.namespace, label_selector=label_selector,
                                 field_selector=field_selector,
                                 resync_period=self.default_resync if resync_period is None else resync_period,
                                 clock=self.clock,
                                 backoff=self._backoff_factory() if self._backoff_factory else None)
            self._informers[key] = inf
            if self._started:
                inf.start()
        if indexers:
            missing = {n: f for n, f in indexers.items() if not inf.indexer.has_index(n)}
            if missing:
                inf.add_indexers(missing)
        return inf

    async def forget(self, ref: ResourceRef, *, namespace: str | None = None, label_selector: str | None = None,
                     field_selector: str | None = None) -> None:
        """Stop and drop the informer for ``ref`` (its resource went away, e.g. a deleted CRD); asking
        for it again later makes a fresh one."""
        inf = self._informers.pop(_InformerKey(ref, namespace or self.namespace, label_selector, field_selector),
                                  None)
        if inf is not None:
            await inf.stop()

    @property
    def informers(self) -> builtins.list[SharedInformer]:
        return list(self._informers.values())

    def start(self) -> None:
        """Start every informer made so far, and any made later."""
        self._started = True
        for inf in self._informers.values():
            inf.start()

    async def wait_for_cache_sync(self, timeout_seconds: float | None = None) -> bool:
        """Wait until every informer has synced; False if ``timeout_seconds`` pass first."""
        try:
            async with asyncio.timeout(timeout_seconds):
                await asyncio.gather(*(inf.wait_for_sync() for inf in self._informers.values()))
        except TimeoutError:
            return False
        return True

    async def shutdown(self) -> None:
        """Stop every informer (the factory can be started again)."""
        self._started = False
        await asyncio.gather(*(inf.stop() for inf in self._informers.values()))
