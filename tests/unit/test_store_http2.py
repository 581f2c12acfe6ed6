"""The HTTP/2 connection's header decoding: a repeated block is decoded once, yet every block means what
HPACK says it means when the dynamic table changes under it (the same bytes can name other headers)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import hpack
import pytest

from store.http2 import FLAG_END_HEADERS, HEADERS, PREFACE, Connection, Stream, frame

pytestmark = pytest.mark.unit


class Recorder:
    """A stream handler that keeps the headers of every stream opened."""

    def __init__(self) -> None:
        self.headers: list[list[tuple[str, str]]] = []

    def on_headers(self, stream: Stream, headers: Sequence[tuple[str, str]], end_stream: bool) -> None:
        self.headers.append(list(headers))

    def on_data(self, stream: Stream, data: bytes, end_stream: bool) -> None:
        pass

    def on_reset(self, stream: Stream) -> None:
        pass


async def test_repeated_blocks_decode_as_a_fresh_decoder_does() -> None:
    recorder = Recorder()
    conn = Connection(lambda _: recorder, lambda _: None)
    conn.data_received(PREFACE)
    encoder = hpack.Encoder()
    call = [(":method", "POST"), (":path", "/etcdserverpb.KV/Put"), ("grpc-timeout", "30S")]
    first = encoder.encode(call)  # literals with indexing: the table grows
    again = encoder.encode(call)  # all indexed: the table is unchanged
    other = encoder.encode([(":method", "POST"), (":path", "/etcdserverpb.KV/Range"), ("grpc-timeout", "5S")])
    # After ``other`` the indices ``again`` uses name other entries; a client may send these bytes again.
    blocks = [first, again, again, other, again, again]
    reference = hpack.Decoder()
    expected = [[(str(n), str(v)) for n, v in reference.decode(block)] for block in blocks]
    decodes = 0
    decode = conn._decoder.hpack.decode

    def counting(data: bytes, raw: bool = False) -> Iterable[hpack.HeaderTuple]:
        nonlocal decodes
        decodes += 1
        return decode(data, raw)

    conn._decoder.hpack.decode = counting  # type: ignore[method-assign]
    for sid, block in enumerate(blocks):
        conn.data_received(frame(HEADERS, FLAG_END_HEADERS, 2 * sid + 1, block))
    assert recorder.headers == expected
    assert expected[2] == call and expected[4] != call
    assert decodes == 4  # the second ``again`` of each run came from the cache
