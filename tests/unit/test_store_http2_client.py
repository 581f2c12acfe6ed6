"""store.http2_client and a gRPC call on a fake transport: what proves a request never left, flow control, errors."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Sequence

import pytest

from store.grpc_channel import Channel, RpcError, _Call
from store.grpc_status import StatusCode
from store.http2 import (
    DATA,
    FLAG_END_HEADERS,
    FLAG_END_STREAM,
    GOAWAY,
    HEADERS,
    RECV_WINDOW,
    RST_STREAM,
    SETTINGS,
    SETTINGS_INITIAL_WINDOW_SIZE,
    WINDOW_UPDATE,
    frame,
    literal,
)
from store.http2_client import CANCEL, REFUSED_STREAM, ClientConnection, StreamClosed

pytestmark = pytest.mark.unit

_U32 = struct.Struct(">I")
_RESPONSE = b"\x88" + literal(b"content-type", b"application/grpc")  # :status 200 from the static table
_TRAILERS = literal(b"grpc-status", b"0")


class Recorder:
    def __init__(self) -> None:
        self.headers: list[tuple[tuple[tuple[str, str], ...], bool]] = []
        self.data: list[tuple[bytes, bool]] = []
        self.closed: list[StreamClosed] = []

    def on_headers(self, headers: Sequence[tuple[str, str]], end_stream: bool) -> None:
        self.headers.append((tuple(headers), end_stream))

    def on_data(self, data: bytes, end_stream: bool) -> None:
        self.data.append((data, end_stream))

    def on_closed(self, error: StreamClosed) -> None:
        self.closed.append(error)


class FakeTransport:
    def __init__(self) -> None:
        self.written = bytearray()
        self.is_closed = False

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.is_closed = True

    def get_extra_info(self, name: str) -> None:
        return None

    def frames(self) -> list[tuple[int, int, int, bytes]]:
        """(type, flags, stream, payload) of everything written after the preface, then forgotten."""
        out, pos = [], 0
        buf = bytes(self.written)
        if buf.startswith(b"PRI * HTTP/2.0"):
            pos = 24
        while pos < len(buf):
            length, end = int.from_bytes(buf[pos:pos + 3], "big"), pos + 9
            out.append((buf[pos + 3], buf[pos + 4], _U32.unpack(buf[pos + 5:end])[0], buf[end:end + length]))
            pos = end + length
        self.written.clear()
        return out


async def _connected(initial_window: int | None = None) -> tuple[ClientConnection, FakeTransport]:
    lost: list[ClientConnection] = []
    conn = ClientConnection(lost.append)
    transport = FakeTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    settings = b"" if initial_window is None else struct.pack(">HI", SETTINGS_INITIAL_WINDOW_SIZE, initial_window)
    conn.data_received(frame(SETTINGS, 0, 0, settings))
    await asyncio.sleep(0)  # the loop iteration that writes what was queued
    assert conn.ready.done()
    transport.frames()
    return conn, transport


async def test_goaway_refuses_only_the_streams_the_server_never_took() -> None:
    conn, transport = await _connected()
    first, second = Recorder(), Recorder()
    one = conn.open(b"block", first, b"request")
    three = conn.open(b"block", second, b"request")
    await asyncio.sleep(0)
    assert one.sent and three.sent
    conn.data_received(frame(GOAWAY, 0, 0, _U32.pack(one.id) + _U32.pack(0) + b"bye"))
    assert not conn.usable
    assert [e.never_sent for e in second.closed] == [True] and not first.closed
    # The stream the server took still gets its answer; then the connection closes.
    conn.data_received(frame(HEADERS, FLAG_END_HEADERS, one.id, _RESPONSE) + frame(DATA, 0, one.id, b"reply")
                       + frame(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, one.id, _TRAILERS))
    assert first.data == [(b"reply", False)] and first.headers[-1] == ((("grpc-status", "0"),), True)
    assert transport.is_closed


async def test_a_lost_connection_tells_written_requests_from_queued_ones() -> None:
    conn, _ = await _connected()
    written, queued = Recorder(), Recorder()
    conn.open(b"block", written, b"request")
    await asyncio.sleep(0)
    conn.open(b"block", queued, b"request")  # still waiting for the loop's next write
    conn.connection_lost(ConnectionResetError("reset"))
    assert [e.never_sent for e in written.closed] == [False]
    assert [e.never_sent for e in queued.closed] == [True]
    with pytest.raises(StreamClosed) as refused:
        conn.open(b"block", Recorder(), b"request")
    assert refused.value.never_sent


async def test_only_a_refused_reset_proves_the_request_was_not_processed() -> None:
    conn, _ = await _connected()
    refused, cancelled = Recorder(), Recorder()
    a = conn.open(b"block", refused, b"request")
    b = conn.open(b"block", cancelled, b"request")
    await asyncio.sleep(0)
    conn.data_received(frame(RST_STREAM, 0, a.id, _U32.pack(REFUSED_STREAM))
                       + frame(RST_STREAM, 0, b.id, _U32.pack(CANCEL)))
    assert [(e.never_sent, e.reset_code) for e in refused.closed] == [(True, REFUSED_STREAM)]
    assert [(e.never_sent, e.reset_code) for e in cancelled.closed] == [(False, CANCEL)]
    assert conn.usable and not conn.streams


async def test_request_data_waits_for_the_servers_window() -> None:
    conn, transport = await _connected(initial_window=10)
    body = bytes(range(25))
    stream = conn.open(b"block", Recorder(), body)
    await asyncio.sleep(0)
    sent = transport.frames()
    assert [(k, f) for k, f, _, _ in sent] == [(HEADERS, FLAG_END_HEADERS), (DATA, 0)] and sent[1][3] == body[:10]
    conn.data_received(frame(WINDOW_UPDATE, 0, stream.id, _U32.pack(100)))
    await asyncio.sleep(0)
    rest = transport.frames()
    assert [(k, f, p) for k, f, _, p in rest] == [(DATA, 0, body[10:]), (DATA, FLAG_END_STREAM, b"")]
    assert stream.local_closed


async def test_the_connection_window_releases_waiting_streams_in_the_order_they_opened() -> None:
    conn, transport = await _connected(initial_window=1 << 20)
    bodies = [bytes(60_000), bytes(range(200)) * 100, bytes(range(100)) * 100]  # above the 65,535-byte window
    streams = [conn.open(b"block", Recorder(), body) for body in bodies]
    await asyncio.sleep(0)
    sent = [(sid, len(p)) for k, _, sid, p in transport.frames() if k == DATA]
    first, second, third = (s.id for s in streams)
    assert sent == [(first, 16_384), (first, 16_384), (first, 16_384), (first, 10_848), (first, 0),
                    (second, 5_535)]  # the rest of the second and all of the third wait for the window
    conn.data_received(frame(WINDOW_UPDATE, 0, 0, _U32.pack(1 << 20)))
    await asyncio.sleep(0)
    rest = [(sid, p) for k, _, sid, p in transport.frames() if k == DATA]
    assert [sid for sid, _ in rest] == [second, second, third, third]
    assert b"".join(p for sid, p in rest if sid == second) == bodies[1][5_535:]
    assert b"".join(p for sid, p in rest if sid == third) == bodies[2]
    conn.data_received(frame(WINDOW_UPDATE, 0, 0, _U32.pack(100)))
    await asyncio.sleep(0)
    assert transport.frames() == []  # nothing is left to send


async def test_a_streams_window_reopens_as_its_reader_consumes() -> None:
    conn, transport = await _connected()
    listener = Recorder()
    stream = conn.open(b"block", listener)
    await asyncio.sleep(0)
    transport.frames()
    conn.consumed(stream, RECV_WINDOW // 2 - 1)
    await asyncio.sleep(0)
    assert transport.frames() == []  # not yet half the window
    conn.consumed(stream, 1)
    await asyncio.sleep(0)
    assert transport.frames() == [(WINDOW_UPDATE, 0, stream.id, _U32.pack(RECV_WINDOW // 2))]


async def test_a_call_fails_on_a_non_grpc_answer_and_resets_its_stream() -> None:
    conn, transport = await _connected()
    call = _Call(conn, max_message=1024)
    stream = call.stream = conn.open(b"block", call, b"request")
    await asyncio.sleep(0)
    transport.frames()
    conn.data_received(frame(HEADERS, FLAG_END_HEADERS, stream.id, b"\x8e"))  # :status 500, stream open
    with pytest.raises(RpcError) as err:
        await call.read()
    assert err.value.code == StatusCode.UNKNOWN and "500" in err.value.details
    call.cancel()  # what a caller does when it is done: the server must stop sending
    await asyncio.sleep(0)
    assert transport.frames() == [(RST_STREAM, 0, stream.id, _U32.pack(CANCEL))] and not conn.streams


async def test_a_call_refuses_an_oversized_message_and_reads_percent_encoded_errors() -> None:
    conn, transport = await _connected()
    big = _Call(conn, max_message=1024)
    big.stream = conn.open(b"block", big, b"request")
    failed = _Call(conn, max_message=1024)
    failed.stream = conn.open(b"block", failed, b"request")
    await asyncio.sleep(0)
    transport.frames()
    conn.data_received(frame(HEADERS, FLAG_END_HEADERS, big.stream.id, _RESPONSE)
                       + frame(DATA, 0, big.stream.id, struct.pack(">BI", 0, 4096))
                       + frame(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, failed.stream.id,
                               _RESPONSE + literal(b"grpc-status", b"9")
                               + literal(b"grpc-message", b"etcdserver: 100%25 wrong")))
    with pytest.raises(RpcError) as too_big:
        await big.read()
    assert too_big.value.code == StatusCode.RESOURCE_EXHAUSTED
    assert too_big.value.details == "Received message larger than max (4096 vs. 1024)"
    with pytest.raises(RpcError) as precondition:
        await failed.read()
    assert (precondition.value.code, precondition.value.details) == (StatusCode.FAILED_PRECONDITION,
                                                                     "etcdserver: 100% wrong")
    await asyncio.sleep(0)
    assert transport.frames() == [(RST_STREAM, 0, big.stream.id, _U32.pack(CANCEL))]


async def test_unary_deadlines_fire_in_their_order_whatever_order_the_calls_began() -> None:
    conn, _ = await _connected()
    channel = Channel("127.0.0.1:1", ssl_context=None, max_message=1024)
    channel._conn = conn  # connected: the calls go out on this fake transport
    loop = asyncio.get_running_loop()
    began = loop.time()
    slow = asyncio.create_task(channel.unary("/svc/Slow", b"", 30.0))
    await asyncio.sleep(0)
    answered = asyncio.create_task(channel.unary("/svc/Answered", b"", 0.2))
    quick = asyncio.create_task(channel.unary("/svc/Quick", b"", 0.3))  # a later deadline than one pending
    await asyncio.sleep(0)
    streams = sorted(conn.streams)
    conn.data_received(frame(HEADERS, FLAG_END_HEADERS, streams[1], _RESPONSE)
                       + frame(DATA, 0, streams[1], struct.pack(">BI", 0, 2) + b"ok")
                       + frame(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, streams[1], _TRAILERS))
    assert await answered == b"ok"
    with pytest.raises(RpcError) as err:
        await asyncio.wait_for(quick, 5)
    assert err.value.code == StatusCode.DEADLINE_EXCEEDED
    assert 0.25 < loop.time() - began < 5  # its own deadline, not the 30 s one set first
    assert not slow.done()
    slow.cancel()
    await channel.close()
