"""A few fixed GET endpoints (``/health``, ``/metrics``) over plain HTTP/1.1 on asyncio streams.

For processes that serve nothing else over HTTP (the store): aiohttp's server kept ~10 MiB in each such
process for two short text answers. Requests are read head-first and answered one at a time per
connection (keep-alive as HTTP/1.1 wants, closed on ``Connection: close``, HTTP/1.0, or idleness);
``parse_head`` is the I/O-free part.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Final

MAX_HEAD: Final = 16 * 1024
IDLE_TIMEOUT: Final = 75.0  # aiohttp's keep-alive default: scrapers that keep the connection keep working


@dataclass(frozen=True)
class Reply:
    """One answer: status, body and its media type, and any further headers."""

    status: int
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...] = ()


Handler = Callable[[], Awaitable[Reply]]


@dataclass(frozen=True)
class Head:
    """What the server needs of a request head: method, path (query dropped), whether to keep the connection,
    and how many body bytes follow (read and ignored)."""

    method: str
    path: str
    keep_alive: bool
    body_length: int


class BadRequest(ValueError):
    """A request head that is not HTTP/1.x."""


def parse_head(raw: bytes) -> Head:
    """The request line and headers of one request (``raw`` ends with the blank line)."""
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(f"bad request line {lines[0]!r}")
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise BadRequest(f"bad header line {line!r}")
        headers[name.strip().lower()] = value.strip()
    connection = headers.get("connection", "").lower()
    keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError as err:
        raise BadRequest(f"bad content-length {headers['content-length']!r}") from err
    if length < 0:
        raise BadRequest(f"bad content-length {length}")
    return Head(method, target.split("?", 1)[0], keep_alive, length)


def _encode(reply: Reply, keep_alive: bool, with_body: bool) -> bytes:
    reason = HTTPStatus(reply.status).phrase
    headers = [("Content-Type", reply.content_type), ("Content-Length", str(len(reply.body))),
               ("Connection", "keep-alive" if keep_alive else "close"), *reply.headers]
    head = f"HTTP/1.1 {reply.status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return head.encode("latin-1") + (reply.body if with_body else b"")


def _text(status: HTTPStatus, *headers: tuple[str, str]) -> Reply:
    return Reply(status, f"{status.value}: {status.phrase}".encode(), "text/plain; charset=utf-8", headers)


class EndpointServer:
    """Serves ``routes`` (path -> handler) for GET and HEAD on every address it is started on."""

    def __init__(self, routes: Mapping[str, Handler]) -> None:
        self._routes = dict(routes)
        self._servers: list[asyncio.Server] = []
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> None:
        self._servers.append(await asyncio.start_server(self._accept, host, port, limit=MAX_HEAD))

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            async with asyncio.timeout(IDLE_TIMEOUT):
                raw = await reader.readuntil(b"\r\n\r\n")
            try:
                head = parse_head(raw)
            except BadRequest:
                writer.write(_encode(_text(HTTPStatus.BAD_REQUEST), False, True))
                await writer.drain()
                return
            if head.body_length:
                await reader.readexactly(head.body_length)
            handler = self._routes.get(head.path)
            if head.method not in ("GET", "HEAD"):
                reply = _text(HTTPStatus.METHOD_NOT_ALLOWED, ("Allow", "GET, HEAD"))
            elif handler is None:
                reply = _text(HTTPStatus.NOT_FOUND)
            else:
                reply = await handler()
            writer.write(_encode(reply, head.keep_alive, head.method != "HEAD"))
            await writer.drain()
            if not head.keep_alive:
                return
