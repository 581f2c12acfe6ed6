"""A gRPC server over ``store.http2`` for asyncio servicers, registered by service descriptor (``add_service``)
or by grpcio's generated ``add_*Servicer_to_server``.

It hosts the same servicer objects as ``grpc.aio.server`` (unary and streaming, ``context.abort`` and
``context.invocation_metadata``) without loading grpcio itself, at a fraction of the CPU per call, which
is what bounds the store's write throughput (see ``store/http2.py``). Messages are never compressed (no
etcd client compresses); deadlines are left to the client, which resets the stream when one passes, and
a reset cancels the handler.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import ssl
import struct
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor

from process.log import get_logger
from store.grpc_status import StatusCode
from store.http2 import Connection, Stream, encode_int, literal

if TYPE_CHECKING:
    import grpc

log = get_logger("store.grpc_h2")

_PREFIX = struct.Struct(">BI")  # compressed flag, message length
_END = object()  # the end of a request stream
_RESPONSE_HEADERS = b"\x88" + literal(b"content-type", b"application/grpc")  # :status 200 (static index 8)
_OK_TRAILERS = literal(b"grpc-status", b"0")
_TRANSPORT_HEADERS = frozenset({"content-type", "te", "grpc-timeout", "grpc-encoding", "grpc-accept-encoding"})
_ROUTE_CACHE = 256  # routes remembered per connection (the header decoder remembers as many blocks)


class Code(Protocol):
    """A status code: ``store.grpc_status.StatusCode``, or grpcio's, whose members have the same values."""

    @property
    def value(self) -> tuple[int, str]: ...


class Method(Protocol):
    """One method's handler, as grpcio's ``RpcMethodHandler`` has it."""

    @property
    def request_streaming(self) -> bool: ...
    @property
    def response_streaming(self) -> bool: ...
    @property
    def request_deserializer(self) -> Any: ...
    @property
    def response_serializer(self) -> Any: ...
    @property
    def unary_unary(self) -> Any: ...
    @property
    def unary_stream(self) -> Any: ...
    @property
    def stream_unary(self) -> Any: ...
    @property
    def stream_stream(self) -> Any: ...


@dataclass(frozen=True)
class _ServiceMethod:
    """A servicer's coroutine (or async generator) for one method of a service descriptor."""

    request_streaming: bool
    response_streaming: bool
    request_deserializer: Callable[[bytes], Any]
    response_serializer: Callable[[Any], bytes]
    behavior: Callable[..., Any]

    @property
    def unary_unary(self) -> Callable[..., Any]:
        return self.behavior

    unary_stream = stream_unary = stream_stream = unary_unary


class Abort(Exception):  # grpcio's name for it (AbortError) is not what it is here either
    """Raised by ``context.abort``: ends the call with this status (handlers that catch errors re-raise it)."""

    def __init__(self, code: Code, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


class _CallDetails(NamedTuple):
    method: str
    invocation_metadata: Sequence[tuple[str, str | bytes]]


class Context:
    """The part of ``grpc.aio.ServicerContext`` the store's services (and grpcio's generated stubs) use."""

    __slots__ = ("_metadata", "code", "details")

    def __init__(self, metadata: tuple[tuple[str, str | bytes], ...]) -> None:
        self._metadata = metadata
        self.code: Code | None = None
        self.details = ""

    def set_code(self, code: Code) -> None:
        self.code = code

    def set_details(self, details: str) -> None:
        self.details = details

    def invocation_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        return self._metadata

    async def abort(self, code: Code, details: str = "") -> None:
        raise Abort(code, details)


def status_block(code: Code, message: str, *, trailers_only: bool) -> bytes:
    """The header block ending a call with ``code``; ``trailers_only`` when no response headers were sent."""
    block = _RESPONSE_HEADERS if trailers_only else b""
    block += literal(b"grpc-status", str(code.value[0]).encode())
    if message:
        block += literal(b"grpc-message", _percent_encode(message))
    return block


def _percent_encode(message: str) -> bytes:
    """grpc-message's encoding: printable ASCII but ``%`` as is, every other byte as ``%XX``."""
    return b"".join(bytes((b,)) if 0x20 <= b <= 0x7E and b != 0x25 else b"%%%02X" % b for b in message.encode())


Start = Callable[[Any], "asyncio.Future[Any] | None"]
Finish = Callable[["asyncio.Future[Any]"], Any]


class _Call:
    """One RPC in progress on a stream."""

    __slots__ = ("buffer", "headers_sent", "metadata", "method", "path", "request", "requests", "started", "stream",
                 "task")

    def __init__(self, stream: Stream, path: str, method: Method,
                 metadata: tuple[tuple[str, str | bytes], ...], started: tuple[Start, Finish] | None) -> None:
        self.stream = stream
        self.path = path
        self.method = method
        self.metadata = metadata
        self.started = started
        self.buffer = bytearray()
        self.requests: asyncio.Queue[Any] | None = asyncio.Queue() if method.request_streaming else None
        self.task: asyncio.Task[None] | None = None
        self.headers_sent = False
        self.request: Any = _END

    def messages(self, data: bytes, max_length: int) -> list[bytes]:
        """The messages ``data`` completes (the rest is kept for the next call); raises Abort on a bad or
        oversized one. A unary request usually comes whole in one DATA frame: it is then cut out of ``data``
        without going through the buffer."""
        buf = self.buffer
        if buf:
            buf += data
        source: bytes | bytearray = buf if buf else data
        out = []
        pos = 0
        while len(source) - pos >= 5:
            compressed, length = _PREFIX.unpack_from(source, pos)
            if compressed:
                raise Abort(StatusCode.UNIMPLEMENTED, "compressed messages are not supported")
            if length > max_length:
                raise Abort(StatusCode.RESOURCE_EXHAUSTED,
                             f"Received message larger than max ({length} vs. {max_length})")
            if len(source) - pos - 5 < length:
                break
            out.append(bytes(source[pos + 5:pos + 5 + length]))
            pos += 5 + length
        if source is buf:
            del buf[:pos]
        elif pos < len(data):
            buf += data[pos:]
        return out


class _Route(NamedTuple):
    """What a request's header block asks for: whether it is gRPC at all, the method's path, its handler
    (None: no such method) and the call's metadata."""

    headers: Sequence[tuple[str, str]]  # the decoded block, held so that its id stays its own
    grpc: bool
    path: str
    handler: Method | None
    metadata: tuple[tuple[str, str | bytes], ...]
    started: tuple[Start, Finish] | None  # see ``Server.add_started``


class _Handler:
    """Turns one connection's stream events into calls of the registered methods."""

    def __init__(self, server: Server, conn: Connection) -> None:
        self._server = server
        self._conn = conn
        # A client sends the same header block for every call of a method, and the connection's decoder
        # hands back the same tuple for it: its route is worked out once, keyed by the tuple's identity.
        self._routes: dict[int, _Route] = {}

    def _route(self, headers: Sequence[tuple[str, str]]) -> _Route:
        route = self._routes.get(id(headers))
        if route is not None and route.headers is headers:
            return route
        path = method = ""
        content_type = ""
        metadata: list[tuple[str, str | bytes]] = []
        for name, value in headers:
            if name == ":path":
                path = value
            elif name == ":method":
                method = value
            elif name == "content-type":
                content_type = value
            elif not name.startswith(":") and name not in _TRANSPORT_HEADERS:
                metadata.append((name, _binary(value) if name.endswith("-bin") else value))
        grpc_call = method == "POST" and content_type.startswith("application/grpc")
        handler = self._server.lookup(path, metadata) if grpc_call else None
        route = _Route(headers, grpc_call, path, handler, tuple(metadata), self._server.started.get(path))
        if len(self._routes) >= _ROUTE_CACHE:
            self._routes.clear()
        self._routes[id(headers)] = route
        return route

    def on_headers(self, stream: Stream, headers: Sequence[tuple[str, str]], end_stream: bool) -> None:
        call: _Call | None = stream.state  # type: ignore[assignment]
        if call is not None:  # trailers from a client: only END_STREAM matters
            if end_stream:
                self.on_data(stream, b"", True)
            return
        route = self._route(headers)
        conn = self._conn
        if not route.grpc:
            # Not gRPC: HTTP 415, as grpc-go answers.
            conn.send_headers(stream, b"\x00" + encode_int(7, 7) + b":status" + encode_int(3, 7) + b"415",
                              end_stream=True)
            return
        handler = route.handler
        if handler is None:
            conn.send_headers(stream, status_block(StatusCode.UNIMPLEMENTED, "Method not found!",
                                                   trailers_only=True), end_stream=True)
            return
        call = _Call(stream, route.path, handler, route.metadata, route.started)
        stream.state = call
        if handler.request_streaming:
            call.task = self._server.spawn(self._run(call))
        if end_stream:
            self.on_data(stream, b"", True)

    def on_data(self, stream: Stream, data: bytes, end_stream: bool) -> None:
        call: _Call | None = stream.state  # type: ignore[assignment]
        if call is None:
            return
        try:
            messages = call.messages(data, self._server.max_receive_message_length)
        except Abort as exc:
            self._fail(call, exc.code, exc.details)
            return
        deserialize = call.method.request_deserializer
        try:
            requests = list(map(deserialize, messages)) if deserialize else messages
        except Exception:
            self._fail(call, StatusCode.INTERNAL, "Exception deserializing request!")
            return
        if call.requests is not None:
            for request in requests:
                call.requests.put_nowait(request)
            if end_stream:
                call.requests.put_nowait(_END)
            return
        if requests:
            if call.request is not _END or len(requests) > 1:
                self._fail(call, StatusCode.UNIMPLEMENTED, "more than one request message in a unary call")
                return
            call.request = requests[0]
        if end_stream and call.task is None:
            if call.request is _END:
                self._fail(call, StatusCode.UNIMPLEMENTED, "no request message in a unary call")
                return
            if call.started is not None and self._start(call):
                return
            call.task = self._server.spawn(self._run(call))

    def _start(self, call: _Call) -> bool:
        """Start ``call`` without a task, as ``Server.add_started`` registered; whether it was."""
        assert call.started is not None
        try:
            outcome = call.started[0](call.request)
        except Exception:
            log.error("rpc start failed; handing the call to its handler", exc_info=True, path=call.path)
            return False
        if outcome is None:
            return False
        self._server.unanswered.add(outcome)
        outcome.add_done_callback(functools.partial(self._answer, call))
        return True

    def _answer(self, call: _Call, outcome: asyncio.Future[Any]) -> None:
        self._server.unanswered.discard(outcome)
        stream = call.stream
        stream.state = None  # unlinked, as ``_run`` leaves it
        if stream.closed:
            return  # reset by the client, or its connection is gone
        assert call.started is not None
        try:
            body = self._message(call, call.started[1](outcome))
        except Abort as exc:
            self._finish(call, exc.code, exc.details)
            return
        except Exception as exc:
            log.error("rpc handler failed", exc_info=True, path=call.path)
            self._finish(call, StatusCode.UNKNOWN, f"Unexpected {type(exc).__name__}: {exc}")
            return
        call.headers_sent = True
        self._conn.send_response(stream, _RESPONSE_HEADERS, body, _OK_TRAILERS)

    def on_reset(self, stream: Stream) -> None:
        call: _Call | None = stream.state  # type: ignore[assignment]
        if call is not None and call.task is not None:
            call.task.cancel()

    def _fail(self, call: _Call, code: Code, message: str) -> None:
        if call.task is not None:
            call.task.cancel()
        self._finish(call, code, message)

    def _finish(self, call: _Call, code: Code, message: str) -> None:
        block = status_block(code, message, trailers_only=not call.headers_sent)
        if call.headers_sent:
            self._conn.send_trailers(call.stream, block)
        else:
            self._conn.send_headers(call.stream, block, end_stream=True)

    @staticmethod
    def _message(call: _Call, response: Any) -> bytes:
        serialize = call.method.response_serializer
        data: bytes = serialize(response) if serialize else response
        return _PREFIX.pack(0, len(data)) + data

    def _send(self, call: _Call, response: Any) -> None:
        message = self._message(call, response)
        if not call.headers_sent:
            call.headers_sent = True
            self._conn.send_headers(call.stream, _RESPONSE_HEADERS)
        self._conn.send_data(call.stream, message)

    async def _requests(self, call: _Call) -> AsyncIterator[Any]:
        queue = call.requests
        assert queue is not None
        while (request := await queue.get()) is not _END:
            yield request

    async def _run(self, call: _Call) -> None:
        method = call.method
        context = Context(call.metadata)
        code: Code = StatusCode.OK
        message = ""
        try:
            # grpcio's handler types describe its sync API; with the asyncio servicers these are coroutines
            # (unary responses) or async generators (streaming responses).
            request: Any = self._requests(call) if method.request_streaming else call.request
            if not method.response_streaming:
                unary: Any = method.stream_unary if method.request_streaming else method.unary_unary
                body = self._message(call, await unary(request, context))
                call.headers_sent = True
                self._conn.send_response(call.stream, _RESPONSE_HEADERS, body, _OK_TRAILERS)
                return
            else:
                streaming: Any = method.stream_stream if method.request_streaming else method.unary_stream
                responses = streaming(request, context)
                try:
                    async for response in responses:
                        self._send(call, response)
                        await self._conn.drain(call.stream)
                finally:
                    await responses.aclose()
        except asyncio.CancelledError:
            return  # the client reset the stream (or the server is stopping): nobody to answer
        except Abort as exc:
            code, message = exc.code, exc.details
        except Exception as exc:
            if context.code is not None:  # e.g. grpcio's generated "Method not implemented!"
                code, message = context.code, context.details
            else:
                log.error("rpc handler failed", exc_info=True, path=call.path)
                code, message = StatusCode.UNKNOWN, f"Unexpected {type(exc).__name__}: {exc}"
        finally:
            # The stream and its call refer to each other: unlinked, both are freed by reference counting
            # once answered. Left as a cycle, every request was garbage for the cyclic collector, whose
            # young-generation passes then stalled the leader for 10-116 ms every second or two at 1,000 reads/s.
            call.stream.state = None
        if code.value[0] == 0 and call.headers_sent:
            self._conn.send_trailers(call.stream, _OK_TRAILERS)
        else:
            self._finish(call, code, message)


def _binary(value: str) -> bytes:
    return base64.b64decode(value + "=" * (-len(value) % 4))


class _ServerConnection(Connection):
    """A connection the server counts once it is established: over TLS, only after a successful handshake
    (a refused client never gets this far), and only when ALPN chose h2, as gRPC servers require."""

    def __init__(self, server: Server) -> None:
        super().__init__(lambda c: _Handler(server, c), server.connections.discard)
        self._server = server

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        tls: ssl.SSLObject | None = transport.get_extra_info("ssl_object")
        if tls is not None and tls.selected_alpn_protocol() != "h2":
            log.v(1, "refusing a TLS client that did not negotiate h2", peer=transport.get_extra_info("peername"))
            transport.close()
            return
        self._server.connections.add(self)
        super().connection_made(transport)


class Server:
    """Serves registered gRPC methods on TCP listeners, plain (``add_insecure_port``) or TLS
    (``add_secure_port``), like ``grpc.aio.Server``."""

    def __init__(self, *, max_receive_message_length: int) -> None:
        self.max_receive_message_length = max_receive_message_length
        self._methods: dict[str, Method] = {}
        self._generic: list[grpc.GenericRpcHandler[Any, Any]] = []
        self._addresses: list[tuple[str, int, ssl.SSLContext | None]] = []
        self._servers: list[asyncio.Server] = []
        self.connections: set[Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.started: dict[str, tuple[Start, Finish]] = {}
        self.unanswered: set[asyncio.Future[Any]] = set()  # outcomes of calls started without a task
        self._loop: asyncio.AbstractEventLoop | None = None  # asking asyncio for it costs a getpid() per call

    def add_service(self, service: ServiceDescriptor, servicer: object) -> None:
        """Serve each method of ``service`` that ``servicer`` has, as a coroutine (unary responses) or an
        async generator (streaming ones) taking the request (or an async iterator of them) and a Context."""
        for method in service.methods:
            behavior = getattr(servicer, method.name, None)
            if behavior is None:
                continue  # answered "Method not found!", as grpcio answers a method nobody registered
            request = message_factory.GetMessageClass(method.input_type)
            response = message_factory.GetMessageClass(method.output_type)
            self._methods[f"/{service.full_name}/{method.name}"] = _ServiceMethod(
                method.client_streaming, method.server_streaming, request.FromString, response.SerializeToString,
                behavior)

    # -- what grpcio's generated add_*Servicer_to_server calls --------------------------------------

    def add_generic_rpc_handlers(self, handlers: Iterable[grpc.GenericRpcHandler[Any, Any]]) -> None:
        self._generic.extend(handlers)

    def add_registered_method_handlers(self, service: str, handlers: Mapping[str, Method]) -> None:
        for name, handler in handlers.items():
            self._methods[f"/{service}/{name}"] = handler

    def add_started(self, path: str, start: Start, finish: Finish) -> None:
        """Let unary method ``path`` start without a task of its own.

        ``start(request)`` returns a future of the call's outcome, or None to leave the call to the method's
        registered coroutine; ``finish(outcome)`` returns the response or raises ``Abort``. For the calls
        that dominate a server's CPU: a task, and the chain of coroutines between request and answer, cost
        as much as a tenth of a store leader's CPU per write.
        """
        self.started[path] = (start, finish)

    def lookup(self, path: str, metadata: Sequence[tuple[str, str | bytes]]) -> Method | None:
        handler = self._methods.get(path)
        if handler is None:
            for generic in self._generic:
                handler = generic.service(_CallDetails(path, tuple(metadata)))  # type: ignore[arg-type]
                if handler is not None:
                    break
        return handler

    # -- lifecycle ------------------------------------------------------------------------------------

    def add_insecure_port(self, address: str) -> int:
        return self._add_port(address, None)

    def add_secure_port(self, address: str, context: ssl.SSLContext) -> int:
        """Serve ``address`` over TLS with ``context`` (which decides about client certificates and ALPN)."""
        return self._add_port(address, context)

    def _add_port(self, address: str, context: ssl.SSLContext | None) -> int:
        host, _, port = address.rpartition(":")
        self._addresses.append((host.strip("[]"), int(port), context))
        return int(port)

    async def start(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        for host, port, context in self._addresses:
            self._servers.append(await loop.create_server(lambda: _ServerConnection(self), host, port,
                                                          backlog=1024, ssl=context))

    def spawn(self, coro: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = (self._loop or asyncio.get_running_loop()).create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def stop(self, grace: float | None = None) -> None:
        """Refuse new calls, let calls in progress finish for up to ``grace`` seconds, then cancel them."""
        for server in self._servers:
            server.close()
        for conn in self.connections:
            conn.goaway()
        if (self._tasks or self.unanswered) and grace:
            await asyncio.wait(self._tasks | self.unanswered, timeout=grace)
        for task in set(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=1.0)
        for conn in list(self.connections):
            conn.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        self._servers.clear()

