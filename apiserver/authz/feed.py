"""Keeps in-memory authorization state current from the apiserver's watch caches (no store read per request).

Each feed takes a cache's whole state and subscribes to its changes in one synchronous step (so nothing
is missed or seen twice), then applies every event; when the cache restarts (store compaction, lost
watch) the state is taken again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from typing import Protocol

from api.schema import JSON
from apiserver.watch_cache import Event, WatchCaches


class Sink(Protocol):
    """State built from objects under some storage prefixes."""

    def replace(self, prefix: str, objs: Iterable[dict[str, JSON]]) -> None:
        """Forget what came from `prefix` and take these objects instead."""
        ...

    def apply(self, prefix: str, event: Event) -> None:
        """One change under `prefix`."""
        ...


def _everything(_: dict[str, JSON]) -> bool:
    return True


class Feeds:
    """One task per (prefix, sink); `ready` once every prefix has been taken at least once."""

    def __init__(self, caches: WatchCaches) -> None:
        self.caches = caches
        self.tasks: list[asyncio.Task[None]] = []
        self._pending: set[asyncio.Event] = set()
        self.ready = asyncio.Event()

    def follow(self, sink: Sink, prefixes: Sequence[str]) -> None:
        """Start feeding `sink` from the caches of `prefixes` (each ending in `/`)."""
        for prefix in prefixes:
            first = asyncio.Event()
            self._pending.add(first)
            self.tasks.append(asyncio.create_task(self._run(sink, prefix, first), name=f"authz-feed {prefix}"))

    async def _run(self, sink: Sink, prefix: str, first: asyncio.Event) -> None:
        cache = self.caches.get(prefix)
        while True:
            await cache.ready.wait()
            watcher = cache.subscribe(_everything, cache.revision)
            sink.replace(prefix, list(cache.state.values()))
            if not first.is_set():
                first.set()
                self._pending.discard(first)
                if not self._pending:
                    self.ready.set()
            try:
                while (event := await watcher.queue.get()) is not None:
                    sink.apply(prefix, event)
            finally:
                cache.unsubscribe(watcher)

    async def stop(self) -> None:
        """Cancel every feed."""
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
