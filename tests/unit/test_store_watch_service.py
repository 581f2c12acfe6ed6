"""The Watch service's progress responses: never ahead of the events the stream still has to send."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path

from protos.etcd import rpc_pb2
from store.apply import Applier
from store.grpc_h2 import Context
from store.mvcc.kvstore import KVStore
from store.node import NodeConfig, StoreNode
from store.server import Core
from store.watch_service import WatchService

_PEER = "http://127.0.0.1:1"  # never dialled: the node is not started, it only fills response headers
_HANG_GUARD = 5.0


class _Client:
    """The request side of one Watch stream, which knows when the service has taken every request."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[rpc_pb2.WatchRequest] = asyncio.Queue()
        self._idle = asyncio.Event()

    async def requests(self) -> AsyncIterator[rpc_pb2.WatchRequest]:
        while True:
            if self._queue.empty():
                self._idle.set()
            request = await self._queue.get()
            yield request

    async def send(self, request: rpc_pb2.WatchRequest) -> None:
        """Queue ``request`` and return once the service has handled it and asks for the next one."""
        self._idle.clear()
        self._queue.put_nowait(request)
        await self._idle.wait()


def _service(tmp_path: Path) -> tuple[KVStore, WatchService]:
    kv = KVStore()
    applier = Applier(kv)
    node = StoreNode(NodeConfig(name="wsp", data_dir=tmp_path, initial_cluster={"wsp": [_PEER]},
                                listen_peer_urls=[_PEER]), applier)
    return kv, WatchService(Core(node, applier), kv.watch_hub)


def _open(service: WatchService, client: _Client) -> AsyncGenerator[rpc_pb2.WatchResponse]:
    """The service's side of a new stream; closing it is how the stream ends."""
    stream = service.Watch(client.requests(), Context(()))
    assert isinstance(stream, AsyncGenerator)
    return stream


def _create(key: bytes, start_revision: int = 0) -> rpc_pb2.WatchRequest:
    return rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=key, start_revision=start_revision))


_PROGRESS = rpc_pb2.WatchRequest(progress_request=rpc_pb2.WatchProgressRequest())


def _events_after_progress(responses: list[rpc_pb2.WatchResponse]) -> list[tuple[int, int]]:
    """(progress revision, event revision) for each event sent after a progress response that covered it."""
    late: list[tuple[int, int]] = []
    progress = 0
    for response in responses:
        if response.watch_id == -1 and not response.events:
            progress = max(progress, response.header.revision)
        late += [(progress, e.kv.mod_revision) for e in response.events if e.kv.mod_revision <= progress]
    return late


async def test_a_requested_progress_response_follows_the_events_queued_before_it(tmp_path: Path) -> None:
    kv, service = _service(tmp_path)
    client = _Client()
    stream = _open(service, client)
    try:
        created = asyncio.ensure_future(anext(stream))  # the stream starts reading requests on its first pull
        await client.send(_create(b"wsp/k"))
        assert (await created).created
        kv.put(b"wsp/k", b"1")
        kv.put(b"wsp/k", b"2")  # two revisions queued for the watcher, not yet sent
        await client.send(_PROGRESS)
        responses = [await asyncio.wait_for(anext(stream), _HANG_GUARD) for _ in range(3)]
    finally:
        await stream.aclose()

    assert [r.watch_id for r in responses].count(-1) == 1
    assert _events_after_progress(responses) == []
    assert [e.kv.mod_revision for r in responses for e in r.events] == [kv.revision - 1, kv.revision]
    assert responses[-1].header.revision == kv.revision


async def test_a_progress_request_made_while_a_watcher_catches_up_is_answered_once_it_has(tmp_path: Path) -> None:
    kv, service = _service(tmp_path)
    kv.put(b"wsp/other", b"1")  # history the new watcher must scan, with no event for it
    client = _Client()
    stream = _open(service, client)
    try:
        created = asyncio.ensure_future(anext(stream))
        await client.send(_create(b"wsp/k", start_revision=1))
        assert (await created).created
        await client.send(_PROGRESS)
        reply = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)  # the stream handles the request while its watcher is still unsynced
        service.start()  # the sync loop catches the watcher up without any event to send
        progress = await asyncio.wait_for(reply, _HANG_GUARD)
    finally:
        await stream.aclose()
        await service.stop()

    assert progress.watch_id == -1 and not progress.events
    assert progress.header.revision == kv.revision
