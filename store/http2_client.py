"""The client side of HTTP/2 (RFC 9113) as gRPC uses it, on an asyncio protocol: many calls on one connection.

Why not grpcio's client or ``h2``: grpcio's asyncio client cost about half of the apiserver's CPU per
write, and ``h2`` spends ~200 µs of CPU per call in its state machine alone; this connection shares the
server side's framing (``store.http2.FramedConnection``: frames parsed straight from ``data_received``,
each loop iteration's output written with one ``write``). What a stream carries is its
``StreamListener``'s business (``store.grpc_channel``).

Flow control: we advertise large receive windows; the connection window is replenished as data
arrives, a stream's once its listener has consumed half of it (so a slow reader holds its server back).
A stream records whether any of its frames went to the socket, so a caller can tell a request that
provably never left (refused, GOAWAY'd, or lost before it was written) from one whose fate is unknown.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from store.http2 import (
    DEFAULT_WINDOW,
    FLAG_END_HEADERS,
    FLAG_END_STREAM,
    GOAWAY,
    HEADERS,
    MAX_HEADER_LIST,
    MAX_WINDOW,
    PREFACE,
    PROTOCOL_ERROR,
    RECV_WINDOW,
    RST_STREAM,
    SETTINGS,
    SETTINGS_INITIAL_WINDOW_SIZE,
    SETTINGS_MAX_HEADER_LIST_SIZE,
    WINDOW_UPDATE,
    FramedConnection,
    FramedStream,
    ProtocolError,
    frame,
)

SETTINGS_ENABLE_PUSH = 0x2
REFUSED_STREAM = 0x7
CANCEL = 0x8

_SETTING = struct.Struct(">HI")
_U32 = struct.Struct(">I")


class StreamClosed(Exception):
    """A stream ended without its response: reset, refused, or its connection lost.

    ``never_sent``: the server provably did not process the request (no frame of it left us, or the
    server refused it: RST_STREAM REFUSED_STREAM, or GOAWAY naming an earlier last stream).
    """

    def __init__(self, message: str, *, never_sent: bool, reset_code: int | None = None) -> None:
        super().__init__(message)
        self.never_sent = never_sent
        self.reset_code = reset_code


class StreamListener(Protocol):
    """What the connection calls for a stream's events; runs on the event loop, must not block."""

    def on_headers(self, headers: Sequence[tuple[str, str]], end_stream: bool) -> None: ...
    def on_data(self, data: bytes, end_stream: bool) -> None: ...
    def on_closed(self, error: StreamClosed) -> None: ...


@dataclass(eq=False, slots=True)
class ClientStream(FramedStream):
    """One call's stream, and what listens to it."""

    listener: StreamListener | None = None
    sent: bool = False  # some frame of this stream was handed to the socket
    local_closed: bool = False
    consumed_unacked: int = 0  # data the listener took since the last stream WINDOW_UPDATE


class ClientConnection(FramedConnection[ClientStream]):
    """One connection to a server; see the module docstring. ``ready`` resolves on the server's SETTINGS."""

    def __init__(self, on_close: Callable[[ClientConnection], None]) -> None:
        super().__init__()
        self._on_close = on_close
        self.ready: asyncio.Future[None] = self._loop.create_future()
        self._next_id = 1
        self._unsent: list[ClientStream] = []  # streams with frames queued, marked sent when they are written
        self.goaway_received = False

    @property
    def usable(self) -> bool:
        """Whether new streams may be opened here."""
        return not self.closed and not self.goaway_received and self._next_id < MAX_WINDOW

    # -- the connection -------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        settings = b"".join(_SETTING.pack(k, v) for k, v in (
            (SETTINGS_ENABLE_PUSH, 0), (SETTINGS_INITIAL_WINDOW_SIZE, RECV_WINDOW),
            (SETTINGS_MAX_HEADER_LIST_SIZE, MAX_HEADER_LIST)))
        self.write(PREFACE + frame(SETTINGS, 0, 0, settings)
                   + frame(WINDOW_UPDATE, 0, 0, _U32.pack(RECV_WINDOW - DEFAULT_WINDOW)))

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"connection closed before the server's settings: {exc}"))
            self.ready.exception()  # retrieved here: the caller may have given up waiting already
        streams, self.streams = list(self.streams.values()), {}
        for stream in streams:
            self._closed(stream, StreamClosed(f"connection lost: {exc or 'closed by the server'}",
                                              never_sent=not stream.sent))
        self._on_close(self)

    def _settings_received(self) -> None:
        if not self.ready.done():
            self.ready.set_result(None)

    def _on_protocol_error(self, exc: ProtocolError) -> None:
        self.write(frame(GOAWAY, 0, 0, _U32.pack(0) + _U32.pack(exc.code) + str(exc).encode()[:200]))
        self.close()

    # -- receiving ------------------------------------------------------------------------------------

    def _on_header_block(self, sid: int, flags: int, block: bytes) -> None:
        headers = self._decoder.decode(block)  # always: the HPACK table must follow every block
        stream = self.streams.get(sid)
        if stream is None or stream.listener is None:
            if sid % 2 == 0 or sid >= self._next_id:
                raise ProtocolError(PROTOCOL_ERROR, f"HEADERS on stream {sid}, which we did not open")
            return  # a stream we reset or finished
        end_stream = bool(flags & FLAG_END_STREAM)
        if end_stream:
            self._remote_end(stream)
        stream.listener.on_headers(headers, end_stream)

    def _on_stream_data(self, sid: int, data: bytes, end_stream: bool) -> None:
        stream = self.streams.get(sid)
        if stream is None or stream.listener is None:
            if sid % 2 == 0 or sid >= self._next_id:
                raise ProtocolError(PROTOCOL_ERROR, f"DATA on stream {sid}, which we did not open")
            return  # a stream we reset or finished: its data is dropped (the window was counted)
        if end_stream:
            self._remote_end(stream)
        stream.listener.on_data(data, end_stream)

    def consumed(self, stream: ClientStream, n: int) -> None:
        """The listener has taken ``n`` bytes of ``stream``'s data: the server may send that much more."""
        stream.consumed_unacked += n
        if stream.consumed_unacked >= RECV_WINDOW // 2 and not stream.closed and not stream.remote_closed:
            self.write(frame(WINDOW_UPDATE, 0, stream.id, _U32.pack(stream.consumed_unacked)))
            stream.consumed_unacked = 0

    def _on_rst_stream(self, sid: int, code: int) -> None:
        stream = self.streams.pop(sid, None)
        if stream is not None:
            self._closed(stream, StreamClosed(f"stream reset by the server (code {code})",
                                              never_sent=code == REFUSED_STREAM, reset_code=code))

    def _on_goaway(self, last_stream: int, code: int, debug: bytes) -> None:
        self.goaway_received = True
        # Streams above ``last_stream`` were not and will not be processed: they may be sent elsewhere.
        for sid in [s for s in self.streams if s > last_stream]:
            self._closed(self.streams.pop(sid), StreamClosed(
                f"the server is going away (code {code}: {debug.decode(errors='replace')})", never_sent=True))
        if not self.streams:
            self.close()

    def _remote_end(self, stream: ClientStream) -> None:
        stream.remote_closed = True
        if stream.local_closed:
            self._forget(stream)

    def _closed(self, stream: ClientStream, error: StreamClosed) -> None:
        stream.closed = True
        if stream.drained is not None:
            stream.drained.set()
        if stream.listener is not None:
            stream.listener.on_closed(error)

    def _forget(self, stream: ClientStream) -> None:
        stream.closed = True
        if stream.drained is not None:
            stream.drained.set()
        self.streams.pop(stream.id, None)
        if self.goaway_received and not self.streams:
            self.close()

    # -- sending --------------------------------------------------------------------------------------

    def open(self, block: bytes, listener: StreamListener, body: bytes | None = None) -> ClientStream:
        """Start a stream with request header block ``block`` (one frame's worth); with ``body``, also send it
        and end the stream (a unary call) in the same write."""
        if not self.usable:
            raise StreamClosed("the connection takes no new streams", never_sent=True)
        stream = ClientStream(self._next_id, self._peer_initial_window, listener=listener)
        self._next_id += 2
        self.streams[stream.id] = stream
        self._unsent.append(stream)
        self.write(frame(HEADERS, FLAG_END_HEADERS, stream.id, block))
        if body is not None:
            self.send_data(stream, body, end_stream=True)
        return stream

    def reset(self, stream: ClientStream, code: int = CANCEL) -> None:
        """Abandon ``stream`` (a deadline passed, or the caller went away)."""
        if stream.closed:
            return
        if self.streams.pop(stream.id, None) is not None and not self.closed:
            self.write(frame(RST_STREAM, 0, stream.id, _U32.pack(code)))
        self._forget(stream)

    def _ended_locally(self, stream: ClientStream) -> None:
        stream.local_closed = True
        if stream.remote_closed:
            self._forget(stream)

    def _flush(self) -> bool:
        unsent, self._unsent = self._unsent, []
        if not super()._flush():
            return False
        for stream in unsent:
            stream.sent = True
        return True
