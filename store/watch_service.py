"""etcd's Watch service: many watchers per bidirectional stream, fed by the data model's watch hub.

The hub queues each watcher's batches (whole revisions) and calls back when a queue fills; this
service wakes the owning stream, which sends control responses first (``created``, ``canceled``)
and then each ready watcher's batches, oldest first. One task per stream reads requests, one
writes responses, and they share a single ordered outbox so that a watcher's ``created`` response
always precedes its events and nothing follows its ``canceled`` response.

A progress response promises the client that every event up to its header revision has been sent,
so it goes out only once every watcher of the stream is synced and has nothing left to send; until
then a requested one waits (etcd's deferred progress) rather than overtaking queued events.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator

from process.log import get_logger
from protos.etcd import rpc_pb2
from store import errors
from store.convert import event_to_pb
from store.grpc_h2 import Context
from store.mvcc.types import WatchFilter
from store.mvcc.watch_hub import Watcher, WatchHub
from store.server import Core

log = get_logger("store.watch")

PROGRESS_INTERVAL = 600.0  # etcd's default progress-notify interval (10 minutes)
REQUIRE_LEADER_KEY = "hasleader"  # etcd's gRPC metadata key for "end this stream if there is no leader"
LEADER_CHECK_INTERVAL = 0.25
SYNC_INTERVAL = 0.1  # etcd's watchable store resyncs slow watchers every 100 ms
_ALL_PROGRESS = -1  # etcd's watch id for a progress response meant for every watcher of the stream


_FILTERS = (rpc_pb2.WatchCreateRequest.NOPUT, rpc_pb2.WatchCreateRequest.NODELETE)


class _Stream:
    """One client Watch stream: its watchers by id, and what is waiting to be sent."""

    def __init__(self) -> None:
        self.watchers: dict[int, Watcher] = {}
        self.ids: dict[Watcher, int] = {}
        self.outbox: deque[rpc_pb2.WatchResponse | Watcher] = deque()
        self.ready: dict[Watcher, None] = {}
        self.progress_requested = False  # requests that arrive before the reply share it, as in etcd
        self.wakeup = asyncio.Event()
        self.next_id = 0

    def wake(self) -> None:
        self.wakeup.set()


class WatchService:
    """Serves Watch streams from the hub of this member's data model."""

    def __init__(self, core: Core, hub: WatchHub, *, progress_interval: float = PROGRESS_INTERVAL,
                 no_leader_grace: float = 3.0) -> None:
        self.core = core
        self.hub = hub
        self._no_leader_grace = no_leader_grace
        self._owners: dict[Watcher, _Stream] = {}
        self._awaiting_progress: dict[_Stream, None] = {}
        hub.on_ready = self._on_ready
        self._sync_wanted = asyncio.Event()
        self._progress_interval = progress_interval
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._progress_loop()), asyncio.create_task(self._sync_loop())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _on_ready(self, watcher: Watcher) -> None:
        stream = self._owners.get(watcher)
        if stream is not None:
            stream.ready[watcher] = None
            stream.wake()

    async def _sync_loop(self) -> None:
        """Catch up unsynced watchers in steps, yielding between steps. Besides new watchers from a past
        revision, a snapshot restore makes every watcher unsynced, so the loop also looks every 100 ms."""
        while True:
            if self.hub.unsynced_count:
                self.hub.sync()
                # A watcher can turn synced without an event to wake its stream; a deferred reply may be due.
                for stream in self._awaiting_progress:
                    stream.wake()
                await asyncio.sleep(0)
                continue
            self._sync_wanted.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sync_wanted.wait(), SYNC_INTERVAL)

    async def _progress_loop(self) -> None:
        while True:
            await asyncio.sleep(self._progress_interval)
            for watcher in self.hub.progress_due():
                stream = self._owners.get(watcher)
                if stream is not None:
                    stream.outbox.append(watcher)
                    stream.wake()

    async def Watch(self, request_iterator: AsyncIterator[rpc_pb2.WatchRequest],
                    context: Context) -> AsyncIterator[rpc_pb2.WatchResponse]:
        stream = _Stream()
        reader = asyncio.create_task(self._read(stream, request_iterator))
        # etcd's "require leader" (clientv3.WithRequireLeader, set by etcdctl): a member cut off from the
        # leader ends the stream, so the client resumes on a member that still receives events.
        metadata = context.invocation_metadata() or ()
        require_leader = any(k == REQUIRE_LEADER_KEY and v == "true" for k, v in metadata)
        loop = asyncio.get_running_loop()
        leaderless_since: float | None = None
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stream.wakeup.wait(), LEADER_CHECK_INTERVAL if require_leader else None)
                stream.wakeup.clear()
                if reader.done() and reader.exception() is not None:
                    return  # the request side broke; a client that only half-closed keeps its watches
                if require_leader:
                    if self.core.node.leader_id:
                        leaderless_since = None
                    elif leaderless_since is None:
                        leaderless_since = loop.time()
                    elif loop.time() - leaderless_since > self._no_leader_grace:
                        await context.abort(errors.NO_LEADER.code, errors.NO_LEADER.message)
                async for response in self._pending(stream):
                    yield response
        finally:
            self._awaiting_progress.pop(stream, None)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            for watcher in stream.watchers.values():
                self.hub.cancel(watcher)
                self._owners.pop(watcher, None)

    async def _read(self, stream: _Stream, requests: AsyncIterator[rpc_pb2.WatchRequest]) -> None:
        try:
            async for request in requests:
                which = request.WhichOneof("request_union")
                if which == "create_request":
                    self._create(stream, request.create_request)
                elif which == "cancel_request":
                    self._cancel(stream, request.cancel_request.watch_id)
                elif which == "progress_request":
                    stream.progress_requested = True
                    self._awaiting_progress[stream] = None
                stream.wake()
        finally:
            stream.wake()

    def _create(self, stream: _Stream, create: rpc_pb2.WatchCreateRequest) -> None:
        watch_id = create.watch_id
        if (watch_id and watch_id in stream.watchers) or watch_id < 0:  # 0 asks for the next free id
            stream.outbox.append(rpc_pb2.WatchResponse(
                header=self.core.header(), watch_id=watch_id, created=True, canceled=True,
                cancel_reason="mvcc: duplicate watch ID provided on the WatchStream"))
            return
        if not watch_id:
            while stream.next_id in stream.watchers:
                stream.next_id += 1
            watch_id = stream.next_id
            stream.next_id += 1
        filters = [WatchFilter(f) for f in create.filters if f in _FILTERS]
        watcher = self.hub.watch(create.key, create.range_end, create.start_revision, prev_kv=create.prev_kv,
                                 filters=filters, progress_notify=create.progress_notify)
        stream.outbox.append(rpc_pb2.WatchResponse(header=self.core.header(), watch_id=watch_id, created=True))
        stream.watchers[watch_id] = watcher
        stream.ids[watcher] = watch_id
        self._owners[watcher] = stream
        if watcher.canceled:
            stream.ready[watcher] = None
        elif not watcher.synced:
            self._sync_wanted.set()

    def _cancel(self, stream: _Stream, watch_id: int) -> None:
        watcher = stream.watchers.pop(watch_id, None)
        if watcher is None:
            return
        self.hub.cancel(watcher)
        self._owners.pop(watcher, None)
        stream.ids.pop(watcher, None)
        stream.ready.pop(watcher, None)
        stream.outbox.append(rpc_pb2.WatchResponse(header=self.core.header(), watch_id=watch_id, canceled=True))

    async def _pending(self, stream: _Stream) -> AsyncIterator[rpc_pb2.WatchResponse]:
        """Everything sendable now: control responses first, then each ready watcher's batches, then a
        requested progress response if the stream has caught up.

        Each progress check and its header are taken in one step with no await between them, so the
        header revision never exceeds what the stream has already sent.
        """
        while True:
            if stream.outbox:
                item = stream.outbox.popleft()
                if isinstance(item, rpc_pb2.WatchResponse):
                    yield item
                elif item in stream.ids and _caught_up(item) and item not in stream.ready:
                    yield rpc_pb2.WatchResponse(header=self.core.header(), watch_id=stream.ids[item])
                continue
            if not stream.ready:
                if stream.progress_requested and all(map(_caught_up, stream.watchers.values())):
                    stream.progress_requested = False
                    del self._awaiting_progress[stream]
                    yield rpc_pb2.WatchResponse(header=self.core.header(), watch_id=_ALL_PROGRESS)
                    continue
                return
            watcher = next(iter(stream.ready))
            del stream.ready[watcher]
            watch_id = stream.ids.get(watcher)
            if watch_id is None:
                continue
            for batch in watcher.drain():
                if watcher.canceled and not watcher.compact_revision:
                    break  # cancelled by the client meanwhile: nothing may follow its canceled response
                events = [event_to_pb(e, prev_kv=watcher.prev_kv) for e in batch.events]
                yield rpc_pb2.WatchResponse(header=self.core.header(), watch_id=watch_id, events=events)
            if watcher.canceled and watcher.compact_revision and watch_id in stream.watchers:
                del stream.watchers[watch_id]
                stream.ids.pop(watcher, None)
                self._owners.pop(watcher, None)
                yield rpc_pb2.WatchResponse(header=self.core.header(), watch_id=watch_id, canceled=True,
                                            compact_revision=watcher.compact_revision,
                                            cancel_reason=errors.COMPACTED.message)


def _caught_up(watcher: Watcher) -> bool:
    """Whether ``watcher`` has been handed every event up to the current revision."""
    return watcher.synced and not watcher.has_pending
