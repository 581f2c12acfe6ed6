"""Frames round-trip, and a peer announcing an oversized or truncated frame is refused, not buffered."""

from __future__ import annotations

import asyncio
import struct

import pytest

from store.raft.messages import ConfState, Entry, Message, MessageType, Snapshot, SnapshotMeta, decode, encode
from store.transport import FRAME_PROPOSE, FRAME_RAFT, FrameError, frame, parse_url, read_frame


def reader_of(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def test_frames_round_trip_in_sequence():
    msg = Message(MessageType.APP, to=2, from_=1, term=3, index=7, log_term=3, commit=6,
                  entries=[Entry(3, 8, data=b"x" * 1500 * 1024)])
    snap = Message(MessageType.SNAP, to=2, from_=1, term=3,
                   snapshot=Snapshot(SnapshotMeta(9, 3, ConfState((1, 2, 3))), b"state"))
    reader = reader_of(frame(FRAME_RAFT, encode(msg)) + frame(FRAME_PROPOSE, b"req") + frame(FRAME_RAFT, encode(snap)))
    kind, payload = await read_frame(reader)
    assert kind == FRAME_RAFT and decode(payload) == msg
    assert await read_frame(reader) == (FRAME_PROPOSE, b"req")
    kind, payload = await read_frame(reader)
    assert decode(payload) == snap
    with pytest.raises(asyncio.IncompleteReadError):
        await read_frame(reader)


async def test_oversized_frame_is_refused_before_reading_its_body():
    reader = reader_of(struct.pack(">IB", 10_000, FRAME_RAFT))
    with pytest.raises(FrameError, match="above the 4096-byte limit"):
        await read_frame(reader, max_frame=4096)


async def test_truncated_frame_is_an_incomplete_read():
    reader = reader_of(frame(FRAME_RAFT, b"0123456789")[:-3])
    with pytest.raises(asyncio.IncompleteReadError):
        await read_frame(reader)


def test_peer_urls_parse_with_or_without_scheme():
    assert parse_url("http://127.0.0.1:2380") == ("127.0.0.1", 2380)
    assert parse_url("https://localhost:12380") == ("localhost", 12380)
    assert parse_url("127.0.0.1:7") == ("127.0.0.1", 7)
    with pytest.raises(ValueError, match="needs a host and a port"):
        parse_url("http://127.0.0.1")
