"""A watch reader for benchmarks: the raw chunked HTTP/1.1 stream over TLS, scanned only for what is timed.

Read through aiohttp with a full JSON decode per event, the bench's one Python process spent ~55 µs of CPU per
delivery, more than the apiserver spends sending it: at 1,000 watchers that client, not the apiserver, was
being measured. This reader is an asyncio Protocol that stamps the time bytes arrive and pulls out only the
names of the ADDED objects the bench created (events are whole JSON lines; no line is decoded).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from urllib.parse import urlsplit

TYPE_MARK = b'{"type":"'
NAME_MARK = b'"name":"'
ADDED = b'ADDED"'


class AddedNames:
    """Names of ADDED objects whose name starts with a prefix, from a watch stream fed in arbitrary pieces."""

    def __init__(self, prefix: str) -> None:
        self.mark = NAME_MARK + prefix.encode()
        self._partial = b""

    def feed(self, data: bytes) -> list[str]:
        """The names completed by `data` (an event counts once its line has ended)."""
        end = data.rfind(b"\n")
        if end < 0:
            self._partial += data
            return []
        lines, self._partial = self._partial + data[: end + 1], data[end + 1 :]
        names = []
        at = lines.find(self.mark)
        while at >= 0:
            start = at + len(NAME_MARK)
            close = lines.index(b'"', start)
            event = lines.rfind(TYPE_MARK, 0, at)
            if event >= 0 and lines.startswith(ADDED, event + len(TYPE_MARK)):
                names.append(lines[start:close].decode())
            at = lines.find(self.mark, close)
        return names


class WatchProtocol(asyncio.Protocol):
    """One watch response: `started` once its headers say 200, `on_name(name, arrival)` per created object seen,
    `finished` when `wanted` were seen or the connection ends."""

    def __init__(self, prefix: str, wanted: int, on_name: Callable[[str, float], None]) -> None:
        loop = asyncio.get_running_loop()
        self.started: asyncio.Future[None] = loop.create_future()
        self.finished: asyncio.Future[None] = loop.create_future()
        self.names = AddedNames(prefix)
        self.wanted = wanted
        self.on_name = on_name
        self._head = b""

    def data_received(self, data: bytes) -> None:
        arrival = time.perf_counter()
        if not self.started.done():
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                return
            head, data = self._head[:end], self._head[end + 4 :]
            status = head.split(b"\r\n", 1)[0]
            if status.split(b" ")[1:2] != [b"200"]:
                self.started.set_exception(RuntimeError(f"watch: {status.decode(errors='replace')}"))
                return
            self.started.set_result(None)
        for name in self.names.feed(data):
            self.on_name(name, arrival)
            self.wanted -= 1
            if self.wanted == 0 and not self.finished.done():
                self.finished.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        for future in (self.started, self.finished):
            if not future.done():
                future.set_exception(exc or ConnectionError("the watch ended early"))


async def open_watch(
    url: str, context: ssl.SSLContext, prefix: str, wanted: int, on_name: Callable[[str, float], None]
) -> tuple[asyncio.Transport, WatchProtocol]:
    """Start a watch at `url` (https, path and query) and return once its response has begun."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 443
    transport, protocol = await asyncio.get_running_loop().create_connection(
        lambda: WatchProtocol(prefix, wanted, on_name), host, port, ssl=context
    )
    request = f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: application/json\r\n\r\n"
    transport.write(request.encode())
    await protocol.started
    return transport, protocol
