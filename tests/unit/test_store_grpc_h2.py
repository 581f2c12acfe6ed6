"""The gRPC server's request side without a socket: a request message split across DATA frames is put back
together, and calls are routed by their own header block even though routes are remembered per block."""

from __future__ import annotations

import asyncio
import struct

import hpack
import pytest

from protos.etcd import rpc_pb2
from store import grpc_h2
from store.http2 import (
    DATA,
    FLAG_END_HEADERS,
    FLAG_END_STREAM,
    FLAG_PADDED,
    FLAG_PRIORITY,
    HEADERS,
    PREFACE,
    SETTINGS,
    frame,
)

pytestmark = pytest.mark.unit


class Wire:
    """The transport side of a server connection: keeps what the server writes."""

    def __init__(self) -> None:
        self.out = bytearray()

    def write(self, data: bytes) -> None:
        self.out += data

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default

    def close(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False


class KV:
    async def Put(self, request: rpc_pb2.PutRequest, context: grpc_h2.Context) -> rpc_pb2.PutResponse:
        return rpc_pb2.PutResponse(header=rpc_pb2.ResponseHeader(revision=len(request.value)))


def call_headers(method: str) -> list[tuple[str, str]]:
    return [(":method", "POST"), (":scheme", "http"), (":path", f"/etcdserverpb.KV/{method}"),
            ("content-type", "application/grpc"), ("te", "trailers")]


def responses(out: bytes) -> dict[int, list[tuple[str, object]]]:
    """Per stream: ("headers", {name: value}) and ("message", bytes) in the order the server sent them."""
    decoder = hpack.Decoder()
    streams: dict[int, list[tuple[str, object]]] = {}
    pos = 0
    while pos < len(out):
        hi, lo, kind, _, sid = struct.unpack_from(">BHBBI", out, pos)
        payload = bytes(out[pos + 9:pos + 9 + ((hi << 16) | lo)])
        pos += 9 + len(payload)
        if kind == HEADERS:
            streams.setdefault(sid, []).append(("headers", dict(decoder.decode(payload))))
        elif kind == DATA:
            streams.setdefault(sid, []).append(("message", payload[5:]))
    return streams


async def test_split_requests_are_reassembled_and_each_block_keeps_its_route() -> None:
    server = grpc_h2.Server(max_receive_message_length=1 << 20)
    server.add_service(rpc_pb2.DESCRIPTOR.services_by_name["KV"], KV())
    await server.start()  # no listeners: it only learns its loop
    wire = Wire()
    conn = grpc_h2._ServerConnection(server)
    conn.connection_made(wire)  # type: ignore[arg-type]
    conn.data_received(PREFACE + frame(SETTINGS, 0, 0))
    encoder = hpack.Encoder()
    put, range_ = encoder.encode(call_headers("Put")), encoder.encode(call_headers("Range"))
    again = encoder.encode(call_headers("Put"))  # all indexed now: the block a client sends call after call
    body = rpc_pb2.PutRequest(key=b"k", value=b"v" * 3000).SerializeToString()
    message = struct.pack(">BI", 0, len(body)) + body
    conn.data_received(frame(HEADERS, FLAG_END_HEADERS, 1, put) + frame(DATA, 0, 1, message[:3]))  # split prefix
    conn.data_received(frame(DATA, 0, 1, message[3:1000]) + frame(DATA, FLAG_END_STREAM, 1, message[1000:]))
    conn.data_received(frame(HEADERS, FLAG_END_HEADERS, 3, range_) + frame(DATA, FLAG_END_STREAM, 3, message))
    conn.data_received(frame(HEADERS, FLAG_END_HEADERS, 5, again) + frame(DATA, FLAG_END_STREAM, 5, message))
    conn.data_received(frame(HEADERS, FLAG_END_HEADERS, 7, again) + frame(DATA, FLAG_END_STREAM, 7, message))
    for _ in range(5):
        await asyncio.sleep(0)
    got = responses(bytes(wire.out)[wire.out.index(frame(SETTINGS, 1, 0)) + 9:])
    answer = rpc_pb2.PutResponse(header=rpc_pb2.ResponseHeader(revision=3000)).SerializeToString()
    for sid in (1, 5, 7):
        assert [kind for kind, _ in got[sid]] == ["headers", "message", "headers"]
        assert got[sid][1][1] == answer and got[sid][2][1] == {"grpc-status": "0"}
    assert got[3] == [("headers", {":status": "200", "content-type": "application/grpc", "grpc-status": "12",
                                   "grpc-message": "Method not found!"})]
    await server.stop()


async def answers_to(chunks: list[bytes]) -> bytes:
    """What a server connection writes back, reads ``chunks`` given one ``data_received`` each."""
    server = grpc_h2.Server(max_receive_message_length=1 << 20)
    server.add_service(rpc_pb2.DESCRIPTOR.services_by_name["KV"], KV())
    await server.start()
    wire = Wire()
    conn = grpc_h2._ServerConnection(server)
    conn.connection_made(wire)  # type: ignore[arg-type]
    for chunk in chunks:
        conn.data_received(chunk)
    for _ in range(5):
        await asyncio.sleep(0)
    await server.stop()
    return bytes(wire.out)


async def test_frames_cut_anywhere_across_reads_mean_what_they_mean_whole() -> None:
    encoder = hpack.Encoder()
    put = encoder.encode(call_headers("Put"))
    again = encoder.encode(call_headers("Put"))
    body = rpc_pb2.PutRequest(key=b"k", value=b"v" * 700).SerializeToString()
    message = struct.pack(">BI", 0, len(body)) + body
    padded = bytes((4,)) + again + bytes(4)  # a padded block, and one with priority fields: the slow path
    stream = b"".join((
        PREFACE, frame(SETTINGS, 0, 0),
        frame(HEADERS, FLAG_END_HEADERS, 1, put), frame(DATA, FLAG_END_STREAM, 1, message),
        frame(HEADERS, FLAG_END_HEADERS | FLAG_PADDED, 3, padded), frame(DATA, FLAG_END_STREAM, 3, message),
        frame(HEADERS, FLAG_END_HEADERS | FLAG_PRIORITY, 5, bytes(5) + again), frame(DATA, 0, 5, message[:9]),
        frame(DATA, FLAG_END_STREAM, 5, message[9:]),
    ))
    whole = await answers_to([stream])
    assert len(responses(whole[whole.index(frame(SETTINGS, 1, 0)) + 9:])) == 3
    for size in (1, 5, 9, 10, 24, 33, 700, 1000):
        assert await answers_to([stream[i:i + size] for i in range(0, len(stream), size)]) == whole, size
