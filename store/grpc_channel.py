"""gRPC calls to one server (unary and bidirectional streams) over one multiplexed HTTP/2 connection.

The channel connects when first used and again after the connection is lost or the server sends
GOAWAY; a call waits for the server's SETTINGS before it sends anything, so a failure to connect
proves the request never left. Messages are serialized protobuf bytes, never compressed (no etcd
member compresses unasked). Deadlines are the client's: when one passes the stream is reset (the
server cancels the call) and the call fails with DEADLINE_EXCEEDED. No grpcio here: see
``store.http2_client`` for why.
"""

from __future__ import annotations

import asyncio
import math
import ssl
import struct
from collections import deque
from collections.abc import Sequence
from urllib.parse import unquote

from store.grpc_status import StatusCode
from store.http2 import literal
from store.http2_client import ClientConnection, ClientStream, StreamClosed

CONNECT_TIMEOUT = 3.0  # a member that accepts TCP but never speaks HTTP/2 (stopped) is given up on after this

_PREFIX = struct.Struct(">BI")  # compressed flag, message length
# What a server (ours, grpc-go) sends before and after an answer that succeeds: recognised whole, without
# building a dict of them.
_OK_HEADERS = ((":status", "200"), ("content-type", "application/grpc"))
_OK_TRAILERS = (("grpc-status", "0"),)
_CANCELLED_BY_SERVER = 0x8


class RpcError(Exception):
    """A call that ended with a non-OK status. ``never_sent``: the server provably did not see the request."""

    def __init__(self, code: StatusCode, details: str, *, never_sent: bool = False) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details
        self.never_sent = never_sent


class _Call:
    """One call's response side: messages as they complete, then the status from the trailers."""

    __slots__ = ("_buffer", "_conn", "_max", "_waiter", "ended", "error", "headers_seen", "messages", "stream")

    def __init__(self, conn: ClientConnection, max_message: int) -> None:
        self._conn = conn
        self._max = max_message
        self._buffer = bytearray()
        self._waiter: asyncio.Future[None] | None = None
        self.stream: ClientStream | None = None
        self.messages: deque[bytes] = deque()
        self.headers_seen = False
        self.ended = False
        self.error: RpcError | None = None

    # -- StreamListener ---------------------------------------------------------------------------------

    def on_headers(self, headers: Sequence[tuple[str, str]], end_stream: bool) -> None:
        if self.headers_seen:
            if end_stream and headers == _OK_TRAILERS:
                self._end(None)
                return
        elif not end_stream and headers == _OK_HEADERS:
            self.headers_seen = True
            return
        fields = dict(headers)
        if not self.headers_seen:
            self.headers_seen = True
            status = fields.get(":status", "")
            if status != "200":
                code = StatusCode.from_http_status(int(status)) if status.isdigit() else StatusCode.UNKNOWN
                self._end(RpcError(code, f"the server answered HTTP status {status or '(none)'}"))
                return
            if not fields.get("content-type", "").startswith("application/grpc"):
                self._end(RpcError(StatusCode.UNKNOWN, f"not a gRPC response: {fields.get('content-type')!r}"))
                return
        if not end_stream:
            return
        grpc_status = fields.get("grpc-status")
        if grpc_status is None or not grpc_status.isdigit():
            self._end(RpcError(StatusCode.INTERNAL, "the server ended the call without a grpc-status"))
        elif grpc_status == "0":
            self._end(None)
        else:
            self._end(RpcError(StatusCode.from_number(int(grpc_status)), unquote(fields.get("grpc-message", ""))))

    def on_data(self, data: bytes, end_stream: bool) -> None:
        if self.ended:
            return
        buf = self._buffer
        buf += data
        pos = 0
        while len(buf) - pos >= 5:
            compressed, length = _PREFIX.unpack_from(buf, pos)
            if length > self._max:
                self._fail_locally(RpcError(StatusCode.RESOURCE_EXHAUSTED,
                                            f"Received message larger than max ({length} vs. {self._max})"))
                return
            if compressed:
                self._fail_locally(RpcError(StatusCode.INTERNAL, "compressed messages are not supported"))
                return
            if len(buf) - pos - 5 < length:
                break
            self.messages.append(bytes(buf[pos + 5:pos + 5 + length]))
            pos += 5 + length
        if pos:
            del buf[:pos]
            self._wake()
        if end_stream:
            self._end(RpcError(StatusCode.INTERNAL, "the server ended the call without trailers"))

    def on_closed(self, error: StreamClosed) -> None:
        if error.reset_code == _CANCELLED_BY_SERVER:
            self._end(RpcError(StatusCode.CANCELLED, str(error), never_sent=error.never_sent))
        else:
            self._end(RpcError(StatusCode.UNAVAILABLE, str(error), never_sent=error.never_sent))

    # -- the caller's side ----------------------------------------------------------------------------

    async def read(self) -> bytes | None:
        """The next response message; None once the call ended with OK. Raises RpcError otherwise."""
        while not self.messages and not self.ended:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        if self.messages:
            message = self.messages.popleft()
            if self.stream is not None:
                self._conn.consumed(self.stream, len(message) + 5)
            return message
        if self.error is not None:
            raise self.error
        return None

    def expire(self) -> None:
        """The deadline passed: reset the stream and fail the call."""
        self._fail_locally(RpcError(StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded"))

    def cancel(self) -> None:
        """The caller is done with the call: reset its stream unless both sides have ended it.

        The call and its stream refer to each other (``stream.listener``); dropping the call's side here
        frees both by reference counting when the call returns. Left as a cycle, every store request was
        garbage only the cyclic collector could free: it filled the young generation, so collections ran
        often, and their pauses stalled every request in flight."""
        stream, self.stream = self.stream, None
        if stream is not None and not stream.closed:
            self._conn.reset(stream)
        if not self.ended:
            self._end(RpcError(StatusCode.CANCELLED, "Locally cancelled"))

    def _fail_locally(self, error: RpcError) -> None:
        if self.stream is not None and not self.stream.closed:
            self._conn.reset(self.stream)
        self._end(error)

    def _end(self, error: RpcError | None) -> None:
        if self.ended:
            return
        self.ended = True
        self.error = error
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class StreamCall:
    """A bidirectional streaming call: ``write`` requests, ``read`` responses, ``cancel`` when done with it."""

    def __init__(self, call: _Call, conn: ClientConnection, stream: ClientStream) -> None:
        self._call = call
        self._conn = conn
        self._stream = stream

    async def write(self, message: bytes) -> None:
        """Send one request message (waits while flow control holds it back)."""
        if self._call.ended:
            raise self._call.error or RpcError(StatusCode.INTERNAL, "write after the server ended the call")
        self._conn.send_data(self._stream, _PREFIX.pack(0, len(message)) + message)
        await self._conn.drain(self._stream)

    async def read(self) -> bytes | None:
        """The next response message; None once the server ended the call with OK."""
        return await self._call.read()

    def cancel(self) -> None:
        self._call.cancel()


class Channel:
    """Calls to one server address (``host:port``, ``unix:PATH`` or ``unix:///PATH``), over TLS when given a context."""

    def __init__(self, target: str, *, ssl_context: ssl.SSLContext | None, max_message: int) -> None:
        self.target = target
        self._ssl = ssl_context
        self._max = max_message
        self._conn: ClientConnection | None = None
        self._connecting: asyncio.Task[ClientConnection] | None = None
        self._blocks: dict[tuple[str, tuple[tuple[str, str], ...]], bytes] = {}
        self._closed = False
        # Unary calls' deadlines, watched by one timer set for the earliest: a timer per call (uvloop's
        # call_at and cancel) cost ~2.5 µs, an eighth of a call's CPU.
        self._deadlines: dict[_Call, float] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf

    async def unary(self, path: str, request: bytes, budget: float) -> bytes:
        """Call ``path`` with one request message and ``budget`` seconds to answer; its one response message."""
        self._check_size(request)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget
        conn = self._conn
        if conn is None or not conn.usable:
            conn = await self._connection(budget)
        call = _Call(conn, self._max)
        call.stream = conn.open(self._block(path, ()), call, _PREFIX.pack(0, len(request)) + request)
        self._deadlines[call] = deadline
        if deadline < self._timer_at:
            self._watch(loop, deadline)
        try:
            response = await call.read()
            if response is not None and not call.ended:
                await call.read()  # the trailers
        finally:
            del self._deadlines[call]
            call.cancel()
        if call.error is not None:
            raise call.error
        if response is None:
            raise RpcError(StatusCode.INTERNAL, "the server sent no response message")
        return response

    async def stream(self, path: str, metadata: Sequence[tuple[str, str]] = (),
                     connect_budget: float = CONNECT_TIMEOUT) -> StreamCall:
        """Open a streaming call to ``path``, connecting within ``connect_budget`` seconds if need be."""
        conn = await self._connection(connect_budget)
        call = _Call(conn, self._max)
        call.stream = conn.open(self._block(path, tuple(metadata)), call)
        return StreamCall(call, conn, call.stream)

    async def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        if self._connecting is not None:
            self._connecting.cancel()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _watch(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(deadline, self._expire, loop)
        self._timer_at = deadline

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        """Fail the calls whose deadline has passed, and watch for the next one."""
        self._timer, self._timer_at = None, math.inf
        now = loop.time()
        earliest = math.inf
        for call, deadline in list(self._deadlines.items()):
            if deadline <= now:
                call.expire()
            else:
                earliest = min(earliest, deadline)
        if earliest < math.inf:
            self._watch(loop, earliest)

    # -- connections ------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    async def _connection(self, budget: float) -> ClientConnection:
        conn = self._conn
        if conn is not None and conn.usable:
            return conn
        if self._closed:
            raise RpcError(StatusCode.CANCELLED, "the channel is closed", never_sent=True)
        if self._connecting is None:
            self._connecting = asyncio.get_running_loop().create_task(self._connect())
            # Every waiter may have given up (deadline) before it fails: its error is then nobody's.
            self._connecting.add_done_callback(lambda task: task.cancelled() or task.exception())
        connecting = self._connecting
        try:
            return await asyncio.wait_for(asyncio.shield(connecting), budget)
        except TimeoutError:
            raise RpcError(StatusCode.DEADLINE_EXCEEDED, f"Deadline Exceeded while connecting to {self.target}",
                           never_sent=True) from None

    async def _connect(self) -> ClientConnection:
        loop = asyncio.get_running_loop()
        conn = ClientConnection(self._lost)
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                if self.target.startswith("unix:"):  # gRPC's unix:PATH and unix:///ABSOLUTE-PATH
                    path = self.target.removeprefix("unix://") if self.target.startswith("unix://") else self.target[5:]
                    await loop.create_unix_connection(lambda: conn, path, ssl=self._ssl,
                                                      server_hostname="localhost" if self._ssl else None)
                else:
                    host, _, port = self.target.rpartition(":")
                    host = host.strip("[]")
                    await loop.create_connection(lambda: conn, host, int(port), ssl=self._ssl,
                                                 server_hostname=host if self._ssl is not None else None)
                await conn.ready
        except (OSError, ssl.SSLError, ConnectionError, TimeoutError, ValueError) as exc:
            conn.close()
            raise RpcError(StatusCode.UNAVAILABLE, f"failed to connect to {self.target}: {exc or type(exc).__name__}",
                           never_sent=True) from exc
        finally:
            self._connecting = None
        if self._closed:
            conn.close()
            raise RpcError(StatusCode.CANCELLED, "the channel is closed", never_sent=True)
        self._conn = conn
        return conn

    def _lost(self, conn: ClientConnection) -> None:
        if self._conn is conn:
            self._conn = None

    # -- requests ---------------------------------------------------------------------------------

    def _check_size(self, request: bytes) -> None:
        if len(request) > self._max:
            raise RpcError(StatusCode.RESOURCE_EXHAUSTED,
                           f"Sent message larger than max ({len(request)} vs. {self._max})", never_sent=True)

    def _block(self, path: str, metadata: tuple[tuple[str, str], ...]) -> bytes:
        """The request header block: the same bytes for every call of a method, so servers decode it once."""
        block = self._blocks.get((path, metadata))
        if block is None:
            # :method POST and :scheme http/https from HPACK's static table (indices 3, 6, 7); the rest as
            # literals that leave the server's dynamic table alone.
            block = (b"\x83" + (b"\x87" if self._ssl is not None else b"\x86")
                     + literal(b":path", path.encode()) + literal(b":authority", self.target.encode())
                     + literal(b"content-type", b"application/grpc") + literal(b"te", b"trailers")
                     + b"".join(literal(k.encode(), v.encode()) for k, v in metadata))
            self._blocks[(path, metadata)] = block
        return block
