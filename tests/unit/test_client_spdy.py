"""SPDY/3.1: frame layouts byte for byte, header compression against bytes kubectl 1.32 sent, the session's
streams and flow control between two in-memory ends, and malformed input (always a clear error, never a hang
or another exception)."""

from __future__ import annotations

import contextlib
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client.spdy.dictionary import SPDY3_DICTIONARY
from client.spdy.frames import (
    DataFrame,
    Frame,
    FrameDecoder,
    FrameEncoder,
    GoAway,
    HeadersFrame,
    Ping,
    RstStatus,
    RstStream,
    Settings,
    SynReply,
    SynStream,
    WindowUpdate,
)
from client.spdy.headers import HeaderBlockDecoder, HeaderBlockEncoder, SpdyProtocolError, pack_headers
from client.spdy.portforward import PortForwardRequestError, StreamPairing, request_headers
from client.spdy.session import (
    DEFAULT_WINDOW,
    Session,
    SessionEnded,
    StreamData,
    StreamEnded,
    StreamOpened,
    StreamReplied,
    StreamReset,
)

# The first bytes `kubectl port-forward` (1.32) sent on a session: two SYN_STREAMs sharing one zlib stream
# (the zlib header names the dictionary by its Adler-32, e3c6a7c2), the second split across two reads.
KUBECTL_SYN_STREAMS = [bytes.fromhex(
    "80030001000000400000000100000000000078f9e3c6a7c202253a703a2b294a4dcc851625aca9a0808614cb45a024cc6a6860"
    "6064c6c0c0c0590489c74c50fa663400000000ffff80030001000000130000000300000000"),
    bytes.fromhex("0000a248b721000000ffff")]


def test_the_dictionary_is_the_one_kubectl_names() -> None:
    assert len(SPDY3_DICTIONARY) == 1423
    assert zlib.adler32(SPDY3_DICTIONARY) == 0xE3C6A7C2
    assert SPDY3_DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert SPDY3_DICTIONARY.endswith(b"charset=iso-8859-1,utf-,*,enq=0.")


def test_decodes_what_kubectl_sent() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(KUBECTL_SYN_STREAMS[0]) == [SynStream(1, (("streamtype", "error"), ("port", "10026"),
                                                                  ("requestid", "0")))]
    assert decoder.feed(KUBECTL_SYN_STREAMS[1]) == [SynStream(3, (("streamtype", "error"), ("port", "10026"),
                                                                  ("requestid", "1")))]


@pytest.mark.parametrize(("frame", "wire"), [
    (DataFrame(5, b"hi", fin=True), "00000005 01000002 6869"),
    (DataFrame(0x7FFFFFFF, b""), "7fffffff 00000000"),
    (RstStream(3, RstStatus.CANCEL), "80030003 00000008 00000003 00000005"),
    (Settings({7: 65536}), "80030004 0000000c 00000001 00000007 00010000"),
    (Ping(1), "80030006 00000004 00000001"),
    (GoAway(7, 1), "80030007 00000008 00000007 00000001"),
    (WindowUpdate(0, 1000), "80030009 00000008 00000000 000003e8"),
])
def test_frame_layouts(frame: Frame, wire: str) -> None:
    encoded = FrameEncoder().encode(frame)
    assert encoded == bytes.fromhex(wire.replace(" ", ""))
    assert FrameDecoder().feed(encoded) == [frame]


def test_header_frames_round_trip_through_one_compression_context_byte_by_byte() -> None:
    frames: list[Frame] = [
        SynStream(1, (("streamtype", "data"), ("port", "80"), ("requestid", "0")), priority=3, fin=True),
        SynReply(1, (), fin=False), HeadersFrame(1, (("x", "a\x00b"),), fin=True),
        SynStream(3, (("streamtype", "data"), ("port", "80"), ("requestid", "1")), unidirectional=True)]
    encoder, decoder = FrameEncoder(), FrameDecoder()
    wire = b"".join(encoder.encode(f) for f in frames)
    out: list[Frame] = []
    for i in range(len(wire)):
        out += decoder.feed(wire[i:i + 1])
    assert out == frames
    # The second block reuses the first's context: it is far shorter than the first.
    assert len(encoder.encode(frames[0])) < len(FrameEncoder().encode(frames[0]))


def test_unknown_control_frames_are_skipped() -> None:
    unknown = bytes.fromhex("8003000a 00000002 abcd".replace(" ", ""))  # CREDENTIAL, gone in 3.1
    assert FrameDecoder().feed(unknown + FrameEncoder().encode(Ping(2))) == [Ping(2)]


@pytest.mark.parametrize(("wire", "message"), [
    ("80020006 00000004 00000001", "unsupported SPDY version 2"),
    ("80030006 00000003 000000", "PING frame of 3 bytes"),
    ("80030003 00000008 00000000 00000001", "RST_STREAM on stream 0"),
    ("80030004 00000008 00000002 00000007", "SETTINGS declares 2 entries in 4 bytes"),
    ("80030009 00000008 00000001 00000000", "zero delta"),
    ("80030002 00000008 00000001 deadbeef", "header block does not decompress"),
])
def test_malformed_frames_say_what_is_wrong(wire: str, message: str) -> None:
    with pytest.raises(SpdyProtocolError, match=message):
        FrameDecoder().feed(bytes.fromhex(wire.replace(" ", "")))


def test_oversized_frames_and_header_bombs_are_refused() -> None:
    with pytest.raises(SpdyProtocolError, match="exceeds the limit"):
        FrameDecoder(max_frame=1024).feed(bytes.fromhex("00000001 00100000".replace(" ", "")))
    raw = zlib.compressobj(zdict=SPDY3_DICTIONARY)
    bomb = raw.compress(pack_headers((("a", "x" * 1_000_000),))) + raw.flush(zlib.Z_SYNC_FLUSH)
    assert len(bomb) < 4096
    with pytest.raises(SpdyProtocolError):
        HeaderBlockDecoder(limit=4096).decode(bomb)


def test_header_blocks_reject_bad_names() -> None:
    block = HeaderBlockEncoder().encode((("port", "1"),))
    assert HeaderBlockDecoder().decode(block) == (("port", "1"),)
    raw = zlib.compressobj(zdict=SPDY3_DICTIONARY)
    dup = raw.compress(bytes.fromhex("00000002") + (b"\x00\x00\x00\x01a\x00\x00\x00\x01b" * 2))
    with pytest.raises(SpdyProtocolError, match="repeated"):
        HeaderBlockDecoder().decode(dup + raw.flush(zlib.Z_SYNC_FLUSH))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_decode_or_fail_cleanly(data: bytes) -> None:
    with contextlib.suppress(SpdyProtocolError):
        FrameDecoder(max_frame=4096).feed(data)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=200), st.integers(min_value=0, max_value=255), st.booleans())
def test_mutated_kubectl_bytes_decode_or_fail_cleanly(position: int, value: int, truncate: bool) -> None:
    wire = bytearray(b"".join(KUBECTL_SYN_STREAMS))
    wire[position % len(wire)] = value
    if truncate:
        del wire[position % len(wire):]
    session = Session(client=False)
    try:
        session.receive(bytes(wire))
    except SpdyProtocolError:
        assert FrameDecoder().feed(session.take_output())[-1] == GoAway(0, 1) or session.closed


# ---- sessions ------------------------------------------------------------------------------------


def pump(a: Session, b: Session) -> tuple[list[object], list[object]]:
    """Deliver each side's output to the other until both are quiet; the events each side saw."""
    seen_a: list[object] = []
    seen_b: list[object] = []
    while True:
        out_a, out_b = a.take_output(), b.take_output()
        if not out_a and not out_b:
            return seen_a, seen_b
        seen_b += b.receive(out_a)
        seen_a += a.receive(out_b)


def test_a_stream_opens_carries_data_both_ways_and_closes() -> None:
    client, server = Session(client=True), Session(client=False)
    sid = client.open_stream((("streamtype", "data"),))
    _, at_server = pump(client, server)
    assert at_server == [StreamOpened(sid, (("streamtype", "data"),))]
    server.reply(sid)
    client.send_data(sid, b"ping", fin=True)
    at_client, at_server = pump(client, server)
    assert at_client == [StreamReplied(sid, ())]
    assert at_server == [StreamData(sid, b"ping"), StreamEnded(sid)]
    server.send_data(sid, b"pong", fin=True)
    at_client, _ = pump(client, server)
    assert at_client == [StreamData(sid, b"pong"), StreamEnded(sid)]
    assert client.open_streams() == [] and server.open_streams() == []
    with pytest.raises(KeyError):
        server.send_data(sid, b"late")


def test_resets_pings_and_goaway() -> None:
    client, server = Session(client=True), Session(client=False)
    sid = client.open_stream(())
    pump(client, server)
    client.reset(sid)
    assert client.ping() == 1
    assert server.receive(client.take_output()) == [StreamReset(sid, RstStatus.CANCEL)]
    assert FrameDecoder().feed(server.take_output()) == [Ping(1)]  # echoed; a ping of its own parity is not
    assert client.receive(FrameEncoder().encode(Ping(1))) == [] and client.take_output() == b""
    server.goaway()
    at_client, _ = pump(client, server)
    assert at_client == [SessionEnded(sid, 0)]
    assert client.closed


def test_flow_control_with_a_peer_that_keeps_windows() -> None:
    """A receiver with a 16 KiB window: the sender never has more than that outstanding, and everything
    arrives once the receiver reports what it consumed."""
    client, server = Session(client=True, window=16 * 1024), Session(client=False)
    sid = client.open_stream(())
    pump(client, server)
    assert server.peer_flow_control
    payload = bytes(range(256)) * 1000  # 256 000 bytes
    server.send_data(sid, payload, fin=True)
    received = b""
    while True:
        wire = server.take_output()
        events = client.receive(wire)
        chunk = b"".join(e.data for e in events if isinstance(e, StreamData))
        assert len(chunk) <= 16 * 1024
        received += chunk
        if any(isinstance(e, StreamEnded) for e in events):
            break
        assert chunk, "the sender stalled"
        client.consumed(sid, len(chunk))
        server.receive(client.take_output())
    assert received == payload


def test_a_peer_that_ignores_flow_control_is_not_throttled() -> None:
    """spdystream (kubectl) never sends WINDOW_UPDATE: data beyond 64 KiB must still flow, both ways."""
    client, server = Session(client=True), Session(client=False)
    sid = client.open_stream(())
    pump(client, server)
    server.send_data(sid, b"x" * (4 * DEFAULT_WINDOW))
    assert server.queued(sid) == 0
    events = client.receive(server.take_output())
    assert sum(len(e.data) for e in events if isinstance(e, StreamData)) == 4 * DEFAULT_WINDOW


def test_stream_errors_reset_only_the_stream() -> None:
    server = Session(client=False)
    encoder = FrameEncoder()
    events = server.receive(encoder.encode(DataFrame(9, b"who?")))
    assert events == [] and FrameDecoder().feed(server.take_output()) == [RstStream(9, RstStatus.INVALID_STREAM)]
    events = server.receive(encoder.encode(SynStream(1, (), fin=True)) + encoder.encode(DataFrame(1, b"late")))
    assert events == [StreamOpened(1, ()), StreamEnded(1), StreamReset(1, RstStatus.STREAM_ALREADY_CLOSED)]


def test_session_errors_end_the_session() -> None:
    server = Session(client=False)
    with pytest.raises(SpdyProtocolError, match="wrong parity"):
        server.receive(FrameEncoder().encode(SynStream(2, ())))
    assert FrameDecoder().feed(server.take_output()) == [GoAway(0, 1)]


# ---- port-forward requests ------------------------------------------------------------------------


def test_port_forward_streams_pair_by_request_id_in_either_order() -> None:
    pairing = StreamPairing()
    assert pairing.add(1, request_headers("error", 8080, 0)) is None
    assert pairing.add(5, request_headers("data", 9090, 1)) is None
    first = pairing.add(3, request_headers("data", 8080, 0))
    second = pairing.add(7, request_headers("error", 9090, 1))
    assert first is not None and (first.port, first.data_stream, first.error_stream) == (8080, 3, 1)
    assert second is not None and (second.port, second.data_stream, second.error_stream) == (9090, 5, 7)


@pytest.mark.parametrize(("headers", "message"), [
    ((("streamtype", "data"), ("port", "http"), ("requestid", "0")), "invalid port 'http'"),
    ((("streamtype", "data"), ("port", "70000"), ("requestid", "0")), "invalid port"),
    ((("streamtype", "stdin"), ("port", "80"), ("requestid", "0")), "invalid stream type"),
    ((("streamtype", "data"), ("port", "80")), "requestid"),
])
def test_bad_port_forward_streams(headers: tuple[tuple[str, str], ...], message: str) -> None:
    with pytest.raises(PortForwardRequestError, match=message):
        StreamPairing().add(1, headers)
