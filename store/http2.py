"""HTTP/2 (RFC 9113) as gRPC uses it, on an asyncio protocol: frames, settings, flow control; and its server side.

Why not grpcio's server: on this machine its asyncio server spends ~230 µs of CPU per unary call, more
than the whole Raft write path; this connection parses frames straight from ``data_received`` and writes
each loop iteration's output with one ``write``. It implements what gRPC clients (grpc-go's etcdctl,
grpcio's C core) send: HEADERS/CONTINUATION (HPACK via ``hpack``), DATA, SETTINGS, PING, WINDOW_UPDATE,
RST_STREAM, GOAWAY, PRIORITY (ignored). Server push is never used. What to do with a stream is the
``StreamHandler``'s business (``store.grpc_h2``). ``FramedConnection`` holds what the server and the
client side (``store.http2_client``) do alike.

Flow control: we advertise large receive windows and replenish them once half is consumed; we send
DATA only within the peer's connection and stream windows, queueing the rest until WINDOW_UPDATE.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar, cast

import hpack

from process.log import get_logger

log = get_logger("store.http2")

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
FLAG_END_STREAM = 0x1
FLAG_ACK = 0x1
FLAG_END_HEADERS = 0x4
FLAG_PADDED = 0x8
FLAG_PRIORITY = 0x20

SETTINGS_HEADER_TABLE_SIZE = 0x1
SETTINGS_MAX_CONCURRENT_STREAMS = 0x3
SETTINGS_INITIAL_WINDOW_SIZE = 0x4
SETTINGS_MAX_FRAME_SIZE = 0x5
SETTINGS_MAX_HEADER_LIST_SIZE = 0x6

NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR = 0x0, 0x1, 0x2, 0x3
STREAM_CLOSED, FRAME_SIZE_ERROR, COMPRESSION_ERROR = 0x5, 0x6, 0x9

DEFAULT_WINDOW = 65_535
RECV_WINDOW = 1 << 24  # what we let a peer send ahead, per stream and per connection
MAX_WINDOW = (1 << 31) - 1
MAX_CONCURRENT_STREAMS = 10_000
MAX_HEADER_LIST = 16 * 1024
MAX_RECV_FRAME = 16_384  # the default; we never raise it
HEADER_CACHE_BLOCKS = 256  # distinct header blocks remembered per connection (see ``Connection._decode``)

_FRAME_HEAD = struct.Struct(">HBBBI")  # length as 16 + 8 bits, type, flags, stream id
_SETTING = struct.Struct(">HI")
_U32 = struct.Struct(">I")


class ProtocolError(Exception):
    """A connection-level protocol violation: GOAWAY with ``code``, then close."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    """One HTTP/2 frame."""
    n = len(payload)
    return _FRAME_HEAD.pack(n >> 8, n & 0xFF, kind, flags, stream_id) + payload


def encode_int(value: int, prefix_bits: int, first: int = 0) -> bytes:
    """HPACK integer representation (RFC 7541 §5.1) with ``first``'s high bits set in the first byte."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((first | value,))
    out = bytearray((first | limit,))
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def literal(name: bytes, value: bytes) -> bytes:
    """A header as a literal without indexing and a new name (no Huffman): no dynamic-table state to share."""
    return b"\x00" + encode_int(len(name), 7) + name + encode_int(len(value), 7) + value


class HeaderDecoder:
    """HPACK decoding (``hpack``) for one connection, remembering header blocks that are sent again and again.

    A peer sends the same block for every call of a method (or every response) once its headers are
    indexed, and decoding it anew took ~15% of the leader's event-loop CPU at 64 concurrent writes. Such a
    block decodes the same while the dynamic table is unchanged, so any block that changes the table
    empties the cache.
    """

    def __init__(self) -> None:
        self.hpack = hpack.Decoder()
        self.hpack.max_header_list_size = MAX_HEADER_LIST
        self.hpack.max_allowed_table_size = 4096
        self._decoded: dict[bytes, tuple[tuple[str, str], ...]] = {}

    def decode(self, block: bytes) -> tuple[tuple[str, str], ...]:
        """The headers of ``block``; raises ``hpack.HPACKError`` on a bad one."""
        headers = self._decoded.get(block)
        if headers is not None:
            return headers
        table = self.hpack.header_table
        entries = table.dynamic_entries
        size, maxsize, newest = len(entries), table.maxsize, entries[0] if entries else None
        headers = tuple(cast(list[tuple[str, str]], self.hpack.decode(block)))  # str names and values
        if len(entries) != size or table.maxsize != maxsize or (entries[0] if entries else None) is not newest:
            self._decoded.clear()
        elif len(self._decoded) < HEADER_CACHE_BLOCKS:
            self._decoded[block] = headers
        return headers


class StreamHandler(Protocol):
    """What the connection calls for stream events; runs on the event loop, must not block."""

    def on_headers(self, stream: Stream, headers: Sequence[tuple[str, str]], end_stream: bool) -> None: ...
    def on_data(self, stream: Stream, data: bytes, end_stream: bool) -> None: ...
    def on_reset(self, stream: Stream) -> None: ...


@dataclass(eq=False, slots=True)
class FramedStream:
    """What both ends keep of a stream: its send window and output waiting for window."""

    id: int
    send_window: int
    remote_closed: bool = False
    closed: bool = False
    outbox: bytearray = field(default_factory=bytearray)
    final: bytes | None = None  # the frame that ends our side, sent once ``outbox`` is out
    drained: asyncio.Event | None = None


S = TypeVar("S", bound=FramedStream)


class FramedConnection(asyncio.Protocol, Generic[S]):
    """What both ends of a connection do alike: frames in and out, header blocks, settings, PING, flow control.

    Subclasses say what the frames that open, end and reset streams mean for their side.
    """

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._decoder = HeaderDecoder()
        self.streams: dict[int, S] = {}
        self._headers_block: tuple[int, int, bytearray] | None = None  # stream id, flags, fragments so far
        self._out: list[bytes] = []
        self._flush_pending = False
        self._blocked: set[S] = set()  # streams with data waiting for window, so a WINDOW_UPDATE visits only them
        self._send_window = DEFAULT_WINDOW
        self._peer_initial_window = DEFAULT_WINDOW
        self._peer_max_frame = 16_384
        self._recv_unacked = 0
        self.closed = False
        self._writable: asyncio.Event = asyncio.Event()
        self._writable.set()

    # -- what a side decides ----------------------------------------------------------------------------

    def _frames_start(self, buf: bytes | bytearray) -> int | None:
        """Where frames start in the first bytes received (after a preface); None while more are needed."""
        return 0

    def _on_header_block(self, sid: int, flags: int, block: bytes) -> None:
        raise NotImplementedError

    def _on_stream_data(self, sid: int, data: bytes, end_stream: bool) -> None:
        raise NotImplementedError

    def _on_rst_stream(self, sid: int, code: int) -> None:
        raise NotImplementedError

    def _on_goaway(self, last_stream: int, code: int, debug: bytes) -> None:
        raise NotImplementedError

    def _on_protocol_error(self, exc: ProtocolError) -> None:
        raise NotImplementedError

    def _ended_locally(self, stream: S) -> None:
        """Our side of ``stream`` has ended (END_STREAM sent)."""
        raise NotImplementedError

    def _settings_received(self) -> None:
        """The peer's SETTINGS (not an ACK) were applied."""

    # -- asyncio.Protocol ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._writable.set()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        # Frames usually arrive whole: then they are cut straight out of ``data`` (one copy each, as
        # ``bytes`` of a bytes slice is that slice), and only a partial frame at its end is kept.
        source: bytes | bytearray = data
        if buf:
            buf += data
            source = buf
        try:
            pos = self._frames_start(source)
            if pos is None:
                if source is data:
                    buf += data
                return
            end = len(source)
            while end - pos >= 9:
                hi, lo, kind, flags, sid = _FRAME_HEAD.unpack_from(source, pos)
                length = (hi << 8) | lo
                if length > MAX_RECV_FRAME:
                    raise ProtocolError(FRAME_SIZE_ERROR, f"a {length}-byte frame exceeds our maximum")
                if end - pos - 9 < length:
                    break
                payload = bytes(source[pos + 9:pos + 9 + length])
                pos += 9 + length
                self._on_frame(kind, flags, sid & 0x7FFFFFFF, payload)
                if self.closed:
                    return
            if source is buf:
                del buf[:pos]
            elif pos < end:
                buf += data[pos:]
        except ProtocolError as exc:
            self._on_protocol_error(exc)
        except hpack.HPACKError as exc:
            self._on_protocol_error(ProtocolError(COMPRESSION_ERROR, f"bad header block: {exc}"))

    # -- receiving ------------------------------------------------------------------------------------

    def _on_frame(self, kind: int, flags: int, sid: int, payload: bytes) -> None:
        if self._headers_block is not None and kind != CONTINUATION:
            raise ProtocolError(PROTOCOL_ERROR, "expected a CONTINUATION frame")
        if kind == DATA:
            self._on_data(flags, sid, payload)
        elif kind == WINDOW_UPDATE:  # second to DATA: a client acknowledges what every response sent
            self._on_window_update(sid, payload)
        elif kind == HEADERS:
            if (flags & (FLAG_PADDED | FLAG_PRIORITY | FLAG_END_HEADERS)) == FLAG_END_HEADERS:
                self._on_header_block(sid, flags, payload)  # the usual whole, unpadded block: no copies
                return
            pad = 0
            start = 0
            if flags & FLAG_PADDED:
                pad, start = payload[0], 1
            if flags & FLAG_PRIORITY:
                start += 5
            if start + pad > len(payload):
                raise ProtocolError(PROTOCOL_ERROR, "padding exceeds the frame")
            block = bytearray(payload[start:len(payload) - pad])
            if flags & FLAG_END_HEADERS:
                self._on_header_block(sid, flags, bytes(block))
            else:
                self._headers_block = (sid, flags, block)
        elif kind == CONTINUATION:
            pending = self._headers_block
            if pending is None or pending[0] != sid:
                raise ProtocolError(PROTOCOL_ERROR, "CONTINUATION without its HEADERS")
            pending[2].extend(payload)
            if len(pending[2]) > 4 * MAX_HEADER_LIST:
                raise ProtocolError(PROTOCOL_ERROR, "header block too large")
            if flags & FLAG_END_HEADERS:
                self._headers_block = None
                self._on_header_block(sid, pending[1], bytes(pending[2]))
        elif kind == SETTINGS:
            if not flags & FLAG_ACK:
                self._on_settings(payload)
        elif kind == PING:
            if len(payload) != 8:
                raise ProtocolError(FRAME_SIZE_ERROR, "PING payload is not 8 bytes")
            if not flags & FLAG_ACK:
                self.write(frame(PING, FLAG_ACK, 0, payload))
        elif kind == RST_STREAM:
            if len(payload) != 4:
                raise ProtocolError(FRAME_SIZE_ERROR, "RST_STREAM payload is not 4 bytes")
            self._on_rst_stream(sid, _U32.unpack(payload)[0])
        elif kind == GOAWAY:
            if len(payload) < 8:
                raise ProtocolError(FRAME_SIZE_ERROR, "GOAWAY payload is shorter than 8 bytes")
            self._on_goaway(_U32.unpack_from(payload)[0] & 0x7FFFFFFF, _U32.unpack_from(payload, 4)[0], payload[8:])
        elif kind == PUSH_PROMISE:
            raise ProtocolError(PROTOCOL_ERROR, "PUSH_PROMISE is not allowed on this connection")
        # PRIORITY and unknown frame types are ignored, as RFC 9113 says.

    def _on_data(self, flags: int, sid: int, payload: bytes) -> None:
        n = len(payload)
        self._recv_unacked += n
        if self._recv_unacked >= RECV_WINDOW // 2:
            self.write(frame(WINDOW_UPDATE, 0, 0, _U32.pack(self._recv_unacked)))
            self._recv_unacked = 0
        if flags & FLAG_PADDED:
            if not payload or payload[0] >= n:
                raise ProtocolError(PROTOCOL_ERROR, "padding exceeds the frame")
            payload = payload[1:n - payload[0]]
        self._on_stream_data(sid, payload, bool(flags & FLAG_END_STREAM))

    def _on_settings(self, payload: bytes) -> None:
        if len(payload) % 6:
            raise ProtocolError(FRAME_SIZE_ERROR, "SETTINGS payload is not a multiple of 6")
        for pos in range(0, len(payload), 6):
            key, value = _SETTING.unpack_from(payload, pos)
            if key == SETTINGS_INITIAL_WINDOW_SIZE:
                if value > MAX_WINDOW:
                    raise ProtocolError(FLOW_CONTROL_ERROR, "initial window size too large")
                delta = value - self._peer_initial_window
                self._peer_initial_window = value
                for stream in self.streams.values():
                    stream.send_window += delta
            elif key == SETTINGS_MAX_FRAME_SIZE:
                if not 16_384 <= value <= (1 << 24) - 1:
                    raise ProtocolError(PROTOCOL_ERROR, "invalid max frame size")
                self._peer_max_frame = value
            # HEADER_TABLE_SIZE only bounds the peer's decoder table, which our encoder never uses; our
            # streams stay far below any MAX_CONCURRENT_STREAMS a peer announces.
        self.write(frame(SETTINGS, FLAG_ACK, 0))
        self._settings_received()
        self._flush_streams()

    def _on_window_update(self, sid: int, payload: bytes) -> None:
        if len(payload) != 4:
            raise ProtocolError(FRAME_SIZE_ERROR, "WINDOW_UPDATE payload is not 4 bytes")
        increment = _U32.unpack(payload)[0] & 0x7FFFFFFF
        if sid == 0:
            self._send_window += increment
            if self._send_window > MAX_WINDOW:
                raise ProtocolError(FLOW_CONTROL_ERROR, "connection window overflow")
            self._flush_streams()
            return
        stream = self.streams.get(sid)
        if stream is not None:
            stream.send_window += increment
            if stream.outbox:  # an empty one has no final frame waiting either (see ``_flush_stream``)
                self._flush_stream(stream)

    # -- sending --------------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Queue bytes for the socket; everything queued in one loop iteration goes out in one write."""
        if self.closed:
            return
        self._out.append(data)
        if not self._flush_pending:
            self._flush_pending = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> bool:
        """Write what is queued; whether anything went to the socket."""
        self._flush_pending = False
        out, self._out = self._out, []
        if self.transport is not None and not self.closed and out:
            self.transport.write(b"".join(out))
            return True
        return False

    def send_data(self, stream: S, data: bytes, end_stream: bool = False) -> None:
        """Send ``data`` on ``stream`` as the windows allow; the rest waits in its outbox for WINDOW_UPDATE."""
        if stream.closed:
            return
        if not stream.outbox and len(data) <= min(stream.send_window, self._send_window, self._peer_max_frame):
            stream.send_window -= len(data)
            self._send_window -= len(data)
            self.write(frame(DATA, FLAG_END_STREAM if end_stream else 0, stream.id, data))
            if end_stream:
                self._ended_locally(stream)
            return
        stream.outbox += data
        self._blocked.add(stream)
        if end_stream:
            stream.final = frame(DATA, FLAG_END_STREAM, stream.id)
        self._flush_stream(stream)

    async def drain(self, stream: S) -> None:
        """Wait until ``stream``'s queued data is out (flow control) and the socket takes more."""
        while stream.outbox and not stream.closed:
            stream.drained = asyncio.Event()
            await stream.drained.wait()
        if not self._writable.is_set():
            await self._writable.wait()

    def _flush_streams(self) -> None:
        if not self._blocked:
            return
        for stream in sorted(self._blocked, key=lambda s: s.id):  # in stream order, as they were opened
            if stream.closed or self.streams.get(stream.id) is not stream:
                self._blocked.discard(stream)
            elif stream.outbox:
                self._flush_stream(stream)
            if self._send_window <= 0:
                return

    def _flush_stream(self, stream: S) -> None:
        box = stream.outbox
        sent = 0
        with memoryview(box) as view:
            while sent < len(box) and not stream.closed:
                n = min(len(box) - sent, stream.send_window, self._send_window, self._peer_max_frame)
                if n <= 0:
                    break
                self.write(frame(DATA, 0, stream.id, bytes(view[sent:sent + n])))
                sent += n
                stream.send_window -= n
                self._send_window -= n
        del box[:sent]
        if box:
            return
        self._blocked.discard(stream)
        if stream.drained is not None:
            stream.drained.set()
        if stream.final is not None and not stream.closed:
            final, stream.final = stream.final, None
            self.write(final)
            self._ended_locally(stream)

    def close(self) -> None:
        """Flush what is queued and close the socket."""
        if self.transport is not None and not self.closed:
            self._flush()
            self.transport.close()
        self.closed = True


@dataclass(eq=False, slots=True)
class Stream(FramedStream):
    """One request stream on the server, and whatever its handler keeps."""

    recv_unacked: int = 0
    state: object = None  # the handler's per-stream object


class Connection(FramedConnection[Stream]):
    """One client connection to a server; see the module docstring."""

    def __init__(self, handler_factory: Callable[[Connection], StreamHandler],
                 on_close: Callable[[Connection], None]) -> None:
        super().__init__()
        self._handler = handler_factory(self)
        self._on_close = on_close
        self._preface = False
        self._last_stream = 0
        self._goaway_sent = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        settings = b"".join(_SETTING.pack(k, v) for k, v in (
            (SETTINGS_MAX_CONCURRENT_STREAMS, MAX_CONCURRENT_STREAMS),
            (SETTINGS_INITIAL_WINDOW_SIZE, RECV_WINDOW),
            (SETTINGS_MAX_HEADER_LIST_SIZE, MAX_HEADER_LIST)))
        self.write(frame(SETTINGS, 0, 0, settings))
        self.write(frame(WINDOW_UPDATE, 0, 0, _U32.pack(RECV_WINDOW - DEFAULT_WINDOW)))

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        for stream in list(self.streams.values()):
            self._reset_by_peer(stream)
        self.streams.clear()
        self._on_close(self)

    def _frames_start(self, buf: bytes | bytearray) -> int | None:
        if self._preface:
            return 0
        if len(buf) < len(PREFACE):
            if not PREFACE.startswith(bytes(buf)):
                raise ProtocolError(PROTOCOL_ERROR, "not an HTTP/2 connection preface")
            return None
        if buf[:len(PREFACE)] != PREFACE:
            raise ProtocolError(PROTOCOL_ERROR, "not an HTTP/2 connection preface")
        self._preface = True
        return len(PREFACE)

    def _on_protocol_error(self, exc: ProtocolError) -> None:
        log.v(1, "closing a client connection", err=str(exc))
        self.goaway(exc.code, b"bad header block" if exc.code == COMPRESSION_ERROR else str(exc).encode())
        self.close()

    # -- receiving ------------------------------------------------------------------------------------

    def _on_header_block(self, sid: int, flags: int, block: bytes) -> None:
        if sid == 0 or sid % 2 == 0:
            raise ProtocolError(PROTOCOL_ERROR, "HEADERS on a stream a client may not open")
        headers = self._decoder.decode(block)
        stream = self.streams.get(sid)
        end_stream = bool(flags & FLAG_END_STREAM)
        if stream is None:
            if sid <= self._last_stream:
                raise ProtocolError(PROTOCOL_ERROR, f"stream {sid} reused or opened out of order")
            self._last_stream = sid
            if self._goaway_sent:
                self.write(frame(RST_STREAM, 0, sid, _U32.pack(7)))  # REFUSED_STREAM
                return
            stream = Stream(sid, self._peer_initial_window)
            self.streams[sid] = stream
        elif stream.remote_closed:
            raise ProtocolError(STREAM_CLOSED, f"HEADERS on half-closed stream {sid}")
        stream.remote_closed = end_stream
        self._handler.on_headers(stream, headers, end_stream)

    def _on_stream_data(self, sid: int, data: bytes, end_stream: bool) -> None:
        stream = self.streams.get(sid)
        if stream is None or stream.remote_closed:
            if sid > self._last_stream or sid == 0:
                raise ProtocolError(PROTOCOL_ERROR, f"DATA on idle stream {sid}")
            return  # a stream we already finished or reset: its data is dropped (the window was counted)
        stream.remote_closed = end_stream
        if not end_stream:
            stream.recv_unacked += len(data)
            if stream.recv_unacked >= RECV_WINDOW // 2:
                self.write(frame(WINDOW_UPDATE, 0, sid, _U32.pack(stream.recv_unacked)))
                stream.recv_unacked = 0
        self._handler.on_data(stream, data, end_stream)

    def _on_rst_stream(self, sid: int, code: int) -> None:
        stream = self.streams.pop(sid, None)
        if stream is not None:
            self._reset_by_peer(stream)

    def _on_goaway(self, last_stream: int, code: int, debug: bytes) -> None:
        pass  # the client sends no new streams; those open finish, then it closes the connection

    def _reset_by_peer(self, stream: Stream) -> None:
        stream.closed = True
        if stream.drained is not None:
            stream.drained.set()
        self._handler.on_reset(stream)

    # -- sending --------------------------------------------------------------------------------------

    def send_headers(self, stream: Stream, block: bytes, end_stream: bool = False) -> None:
        """Send a header block (at most one frame's worth: ours are small) on ``stream``."""
        if stream.closed:
            return
        self.write(frame(HEADERS, FLAG_END_HEADERS | (FLAG_END_STREAM if end_stream else 0), stream.id, block))
        if end_stream:
            self._ended_locally(stream)

    def send_response(self, stream: Stream, headers: bytes, data: bytes, trailers: bytes) -> None:
        """A whole response (a header block, ``data``, a trailing block) in one write when the windows allow."""
        n = len(data)
        if stream.closed or stream.outbox or n > min(stream.send_window, self._send_window, self._peer_max_frame):
            self.send_headers(stream, headers)
            self.send_data(stream, data)
            self.send_trailers(stream, trailers)
            return
        stream.send_window -= n
        self._send_window -= n
        sid = stream.id
        head = _FRAME_HEAD.pack  # three frames built in place: half the CPU of three ``frame`` calls
        h, t = len(headers), len(trailers)
        self.write(b"".join((head(h >> 8, h & 0xFF, HEADERS, FLAG_END_HEADERS, sid), headers,
                             head(n >> 8, n & 0xFF, DATA, 0, sid), data,
                             head(t >> 8, t & 0xFF, HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, sid), trailers)))
        self._ended_locally(stream)

    def send_trailers(self, stream: Stream, block: bytes) -> None:
        """End ``stream`` with a trailing header block, after any data still waiting for window."""
        if stream.closed:
            return
        if stream.outbox:
            stream.final = frame(HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, stream.id, block)
        else:
            self.send_headers(stream, block, end_stream=True)

    def _ended_locally(self, stream: Stream) -> None:
        if not stream.remote_closed and not stream.closed:
            # We answered before the client finished sending (an error, or the end of a watch): tell it to stop.
            self.write(frame(RST_STREAM, 0, stream.id, _U32.pack(NO_ERROR)))
        stream.closed = stream.remote_closed = True
        if stream.drained is not None:
            stream.drained.set()
        self.streams.pop(stream.id, None)

    def goaway(self, code: int = NO_ERROR, debug: bytes = b"") -> None:
        """Tell the client no stream after the last one it opened will be served."""
        if not self._goaway_sent:
            self._goaway_sent = True
            self.write(frame(GOAWAY, 0, 0, _U32.pack(self._last_stream) + _U32.pack(code) + debug))
