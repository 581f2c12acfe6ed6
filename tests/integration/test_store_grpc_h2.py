"""The store's own HTTP/2 gRPC server, driven by grpcio's client: unary and streaming calls, statuses,
metadata, flow control with messages larger than the windows, oversized requests, cancellation, and calls
started without a task."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc import aio

from protos.etcd import kv_pb2, rpc_pb2, rpc_pb2_grpc
from store import grpc_channel, grpc_h2
from store.grpc_h2 import Server
from store.grpc_status import StatusCode
from tests.support.ports import free_port

MAX = 2 * 1024 * 1024


class KV(rpc_pb2_grpc.KVServicer):
    """Put echoes the value's size as the revision; Range answers with ``limit`` KiB of value, or fails."""

    async def Put(self, request: rpc_pb2.PutRequest, context: Any) -> rpc_pb2.PutResponse:
        return rpc_pb2.PutResponse(header=rpc_pb2.ResponseHeader(revision=len(request.value)))

    async def Range(self, request: rpc_pb2.RangeRequest, context: Any) -> rpc_pb2.RangeResponse:
        if request.key == b"abort":
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "etcdserver: 100% wrong — ünicode")
        if request.key == b"raise":
            raise RuntimeError("boom")
        if request.key == b"metadata":
            meta = dict(context.invocation_metadata())
            return rpc_pb2.RangeResponse(kvs=[kv_pb2.KeyValue(key=b"m", value=meta["x-test"].encode())])
        return rpc_pb2.RangeResponse(kvs=[kv_pb2.KeyValue(key=request.key, value=b"v" * 1024 * request.limit)])


class Watch(rpc_pb2_grpc.WatchServicer):
    """Answers every request with a response carrying 256 KiB; records when a stream is cancelled."""

    def __init__(self) -> None:
        self.cancelled = asyncio.Event()

    async def Watch(self, request_iterator: AsyncIterator[rpc_pb2.WatchRequest],
                    context: Any) -> AsyncIterator[rpc_pb2.WatchResponse]:
        try:
            async for request in request_iterator:
                watch_id = request.create_request.start_revision
                yield rpc_pb2.WatchResponse(watch_id=watch_id, events=[
                    kv_pb2.Event(kv=kv_pb2.KeyValue(key=b"k", value=b"e" * 256 * 1024))])
        except asyncio.CancelledError:
            self.cancelled.set()
            raise


@pytest.fixture
async def served() -> AsyncIterator[tuple[aio.Channel, Watch]]:
    server = Server(max_receive_message_length=MAX)
    watch = Watch()
    rpc_pb2_grpc.add_KVServicer_to_server(KV(), server)  # type: ignore[arg-type, abstract]  # Compact stays unimplemented
    rpc_pb2_grpc.add_WatchServicer_to_server(watch, server)  # type: ignore[arg-type]
    port = free_port()
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    channel = aio.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.max_send_message_length", 4 * MAX),
                                                                  ("grpc.max_receive_message_length", 4 * MAX)])
    try:
        yield channel, watch
    finally:
        await channel.close(None)
        await server.stop(grace=0.5)


async def test_answered_calls_are_freed_without_the_cyclic_collector() -> None:
    """A call and its stream refer to each other on both ends; left as cycles, every store request was
    garbage only the cyclic collector frees, and its pauses stalled every request in flight."""
    server = Server(max_receive_message_length=MAX)
    rpc_pb2_grpc.add_KVServicer_to_server(KV(), server)  # type: ignore[arg-type, abstract]
    port = free_port()
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    channel = grpc_channel.Channel(f"127.0.0.1:{port}", ssl_context=None, max_message=MAX)
    gc.collect()
    gc.disable()
    calls = (grpc_channel._Call, grpc_h2._Call)
    before = {id(o) for o in gc.get_objects() if type(o) in calls}  # open elsewhere in this process (a watch)
    try:
        for size in range(20):
            request = rpc_pb2.PutRequest(key=b"k", value=b"x" * size).SerializeToString()
            reply = await channel.unary("/etcdserverpb.KV/Put", request, 10.0)
            assert rpc_pb2.PutResponse.FromString(reply).header.revision == size
        for _ in range(3):  # the server's task ends, then its done-callbacks run
            await asyncio.sleep(0)
        left = [type(o).__module__ for o in gc.get_objects() if type(o) in calls and id(o) not in before]
    finally:
        gc.enable()
        await channel.close()
        await server.stop(grace=0.5)
    assert left == []


async def test_many_concurrent_unary_calls_are_answered(served: tuple[aio.Channel, Watch]) -> None:
    kv = rpc_pb2_grpc.KVStub(served[0])
    sizes = [i * 997 % 70_000 for i in range(200)]
    responses = await asyncio.gather(*(kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"x" * n)) for n in sizes))
    assert [r.header.revision for r in responses] == sizes


async def test_a_response_larger_than_the_client_window_arrives_whole(served: tuple[aio.Channel, Watch]) -> None:
    resp = await rpc_pb2_grpc.KVStub(served[0]).Range(rpc_pb2.RangeRequest(key=b"big", limit=1500), timeout=30)
    assert resp.kvs[0].value == b"v" * 1500 * 1024


async def test_abort_and_failures_carry_their_status(served: tuple[aio.Channel, Watch]) -> None:
    kv = rpc_pb2_grpc.KVStub(served[0])
    with pytest.raises(aio.AioRpcError) as err:
        await kv.Range(rpc_pb2.RangeRequest(key=b"abort"))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert err.value.details() == "etcdserver: 100% wrong — ünicode"
    with pytest.raises(aio.AioRpcError) as err:
        await kv.Range(rpc_pb2.RangeRequest(key=b"raise"))
    assert err.value.code() == grpc.StatusCode.UNKNOWN and "boom" in (err.value.details() or "")
    with pytest.raises(aio.AioRpcError) as err:  # registered by the generated code, not implemented
        await kv.Compact(rpc_pb2.CompactionRequest())
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    with pytest.raises(aio.AioRpcError) as err:
        await rpc_pb2_grpc.LeaseStub(served[0]).LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=5))
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_a_malformed_request_fails_the_call_not_the_connection(served: tuple[aio.Channel, Watch]) -> None:
    raw = served[0].unary_unary("/etcdserverpb.KV/Put", None, None)  # bytes in and out
    with pytest.raises(aio.AioRpcError) as err:
        await raw(b"\xff\xff\xff", timeout=30)
    assert err.value.code() == grpc.StatusCode.INTERNAL
    resp = await rpc_pb2_grpc.KVStub(served[0]).Put(rpc_pb2.PutRequest(key=b"k", value=b"abc"), timeout=30)
    assert resp.header.revision == 3


async def test_metadata_reaches_the_handler(served: tuple[aio.Channel, Watch]) -> None:
    resp = await rpc_pb2_grpc.KVStub(served[0]).Range(rpc_pb2.RangeRequest(key=b"metadata"),
                                                      metadata=(("x-test", "hello"),))
    assert resp.kvs[0].value == b"hello"


async def test_an_oversized_request_is_refused_and_the_connection_serves_on(served: tuple[aio.Channel, Watch]) -> None:
    kv = rpc_pb2_grpc.KVStub(served[0])
    with pytest.raises(aio.AioRpcError) as err:
        await kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"x" * (MAX + 1)))
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert (await kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"ok"))).header.revision == 2


async def test_bidi_stream_with_flow_control_and_cancellation(served: tuple[aio.Channel, Watch]) -> None:
    channel, watch = served
    requests: asyncio.Queue[rpc_pb2.WatchRequest] = asyncio.Queue()

    async def outgoing() -> AsyncIterator[rpc_pb2.WatchRequest]:
        while True:
            yield await requests.get()

    call = rpc_pb2_grpc.WatchStub(channel).Watch(outgoing())
    for i in range(1, 41):  # 10 MiB of responses: far beyond the initial HTTP/2 windows
        requests.put_nowait(rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(start_revision=i)))
    ids = []
    for _ in range(40):
        resp = await asyncio.wait_for(call.read(), 30)
        assert isinstance(resp, rpc_pb2.WatchResponse)
        assert len(resp.events[0].kv.value) == 256 * 1024
        ids.append(resp.watch_id)
    assert ids == list(range(1, 41))
    call.cancel()
    await asyncio.wait_for(watch.cancelled.wait(), 10)



async def test_a_call_started_without_a_task_is_answered_from_its_future() -> None:
    server = Server(max_receive_message_length=MAX)
    rpc_pb2_grpc.add_KVServicer_to_server(KV(), server)  # type: ignore[arg-type, abstract]
    loop = asyncio.get_running_loop()
    started: dict[bytes, asyncio.Future[bytes]] = {}

    def start(request: rpc_pb2.PutRequest) -> asyncio.Future[bytes] | None:
        if request.key == b"declined":
            return None  # the servicer's coroutine answers
        started[request.key] = loop.create_future()
        return started[request.key]

    def finish(outcome: asyncio.Future[bytes]) -> rpc_pb2.PutResponse:
        if outcome.result() == b"refuse":
            raise grpc_h2.Abort(StatusCode.FAILED_PRECONDITION, "refused")
        return rpc_pb2.PutResponse(header=rpc_pb2.ResponseHeader(revision=len(outcome.result())))

    async def begun(key: bytes) -> asyncio.Future[bytes]:
        while key not in started:
            await asyncio.sleep(0.01)
        return started[key]

    server.add_started("/etcdserverpb.KV/Put", start, finish)
    port = free_port()
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    channel = aio.insecure_channel(f"127.0.0.1:{port}")
    kv = rpc_pb2_grpc.KVStub(channel)
    try:
        assert (await kv.Put(rpc_pb2.PutRequest(key=b"declined", value=b"abc"), timeout=30)).header.revision == 3

        call = kv.Put(rpc_pb2.PutRequest(key=b"a"), timeout=30)
        (await begun(b"a")).set_result(b"12345")
        assert (await call).header.revision == 5

        call = kv.Put(rpc_pb2.PutRequest(key=b"b"), timeout=30)
        (await begun(b"b")).set_result(b"refuse")
        with pytest.raises(aio.AioRpcError) as err:
            await call
        assert (err.value.code(), err.value.details()) == (grpc.StatusCode.FAILED_PRECONDITION, "refused")

        call = kv.Put(rpc_pb2.PutRequest(key=b"c"), timeout=30)
        (await begun(b"c")).set_exception(RuntimeError("boom"))
        with pytest.raises(aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.UNKNOWN and "boom" in (err.value.details() or "")

        call = kv.Put(rpc_pb2.PutRequest(key=b"d"), timeout=30)  # reset by the client before its outcome
        outcome = await begun(b"d")
        call.cancel()
        await asyncio.sleep(0.1)
        outcome.set_result(b"late")  # answered to nobody: the stream is gone
        await asyncio.sleep(0)
        assert not server.unanswered

        call = kv.Put(rpc_pb2.PutRequest(key=b"e"), timeout=30)  # a graceful stop waits for it
        outcome = await begun(b"e")
        stopping = asyncio.create_task(server.stop(grace=10))
        await asyncio.sleep(0.2)
        assert not stopping.done()
        outcome.set_result(b"xy")
        assert (await call).header.revision == 2
        await asyncio.wait_for(stopping, 10)
    finally:
        await channel.close(None)
        await server.stop(grace=0)
