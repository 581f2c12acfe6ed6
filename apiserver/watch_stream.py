"""The HTTP side of one watch: events from the watch cache written as chunks of JSON lines.

The cache hands each change to every watcher in one synchronous pass. A watcher whose connection keeps up
writes the event's chunk straight to its transport there and then, so fan-out to 1,000 watchers is 1,000
transport writes of the same bytes, not 1,000 tasks woken to serialize and write. Only a watcher whose
connection pushes back (or that has a backlog, such as its initial events) queues events for its own task,
which writes them in one chunk and waits for the connection to drain. Chunks follow HTTP/1.1 chunked
framing, the same as aiohttp's own writes on the same response.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Protocol

from api.schema import JSON
from apiserver import json_codec
from apiserver.watch_cache import WATCHER_BACKLOG, Event

BOOKMARK_SECONDS = 10.0


def chunk(data: bytes) -> bytes:
    """`data` as one HTTP/1.1 chunk."""
    return b"%x\r\n%b\r\n" % (len(data), data)


def event_line(event_type: str, obj: JSON) -> bytes:
    """One watch event as kube-apiserver streams it: a JSON object and a newline."""
    return json_codec.dumps({"type": event_type, "object": obj}) + b"\n"


Encoder = Callable[[Event], bytes]
"""An event as one chunk for this watcher."""


def shared_encoder(key: Hashable, serve: Callable[[dict[str, JSON]], JSON]) -> Encoder:
    """Chunks cached on the event under `key`: every watcher asking for the same encoding (same served
    apiVersion, not a Table) gets the very bytes the first one made."""

    def encode(event: Event) -> bytes:
        if event.encoded is None:
            event.encoded = {}
        data = event.encoded.get(key)
        if data is None:
            data = event.encoded[key] = chunk(event_line(event.type, serve(event.obj)))
        return data

    return encode


class Connection(Protocol):
    """What a stream needs of its HTTP connection (aiohttp's request protocol)."""

    transport: asyncio.Transport | None

    @property
    def writing_paused(self) -> bool:
        """The transport's buffer is above its high-water mark."""
        ...


class WatchStream:
    """One watch response fed by the watch cache (a `watch_cache.Subscriber`): events go to `connection`,
    with `drain` waiting for it to take more after a queued write."""

    def __init__(self, connection: Connection, drain: Callable[[], Awaitable[None]], encode: Encoder) -> None:
        self.protocol = connection
        self.drain = drain
        self.encode = encode
        self.backlog: list[Event] = []
        self.ended = False
        self.quiet = True
        """Nothing was delivered since the last bookmark check."""
        self._wake = asyncio.Event()

    def _open(self) -> asyncio.Transport | None:
        transport = self.protocol.transport
        return None if transport is None or transport.is_closing() else transport

    def deliver(self, event: Event) -> bool:
        """Write the event now if the connection takes it, else queue it; False when the client is gone or
        too far behind."""
        transport = self._open()
        if transport is None:
            return False
        self.quiet = False
        if not self.backlog and not self.protocol.writing_paused:
            transport.write(self.encode(event))
            return True
        if len(self.backlog) >= WATCHER_BACKLOG:
            return False
        self.backlog.append(event)
        self._wake.set()
        return True

    def backfill(self, events: list[Event]) -> None:
        """Queue what the watcher must see before any change (written by `run`, as one chunk)."""
        if events:
            self.backlog += events
            self._wake.set()

    def end(self) -> None:
        """The cache dropped this watcher (restart, or it fell behind): finish the response."""
        self.ended = True
        self._wake.set()

    async def _write(self, data: bytes) -> None:
        transport = self._open()
        if transport is not None:
            transport.write(data)
            await self.drain()

    async def _flush(self) -> None:
        while self.backlog and self._open() is not None:
            events, self.backlog = self.backlog, []
            await self._write(b"".join(self.encode(e) for e in events))

    async def _woken(self, seconds: float) -> bool:
        self._wake.clear()
        if self.backlog or self.ended:
            return True
        try:
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        except TimeoutError:
            return False
        return True

    async def run(self, seconds: float, bookmark: Callable[[], JSON] | None) -> None:
        """Serve for `seconds`, sending a BOOKMARK (if asked) after every `BOOKMARK_SECONDS` without events."""
        deadline = time.monotonic() + seconds
        while not self.ended:
            await self._flush()
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._open() is None:
                return
            if await self._woken(min(remaining, BOOKMARK_SECONDS)):
                continue
            if self.quiet and bookmark is not None:
                await self._write(chunk(event_line("BOOKMARK", bookmark())))
            self.quiet = True
        await self._flush()
