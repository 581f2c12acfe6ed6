"""HTTP/1.1 upgrades to a raw byte stream (``Upgrade: SPDY/3.1``), from either end.

aiohttp speaks WebSocket upgrades only, so ``dial`` writes the request itself and reads the ``101``, and
``accept`` answers ``101`` on an aiohttp server connection and takes its bytes over (aiohttp's parser does
not treat a SPDY upgrade as one, but nothing follows the request until the client has seen the ``101``).
Both give a ``ByteStream``: read, write with back-pressure, close.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Mapping

from aiohttp import web

MAX_RESPONSE_HEAD = 64 * 1024


class UpgradeRefused(Exception):
    """The server answered the upgrade with something other than 101."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"upgrade refused with {status}: {body}")
        self.status = status
        self.body = body


class ByteStream:
    """A connection after the upgrade."""

    def __init__(self, reader: asyncio.StreamReader, write: asyncio.StreamWriter | web.StreamResponse) -> None:
        self.reader = reader
        self._writer = write

    async def read(self) -> bytes:
        """The next bytes; b"" at end of stream."""
        return await self.reader.read(65536)

    async def write(self, data: bytes) -> None:
        """Write and wait while the transport's buffer is full."""
        if isinstance(self._writer, asyncio.StreamWriter):
            self._writer.write(data)
            await self._writer.drain()
        else:
            await self._writer.write(data)

    async def close(self) -> None:
        """Close the connection."""
        if isinstance(self._writer, asyncio.StreamWriter):
            self._writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError, TimeoutError):
                await asyncio.wait_for(self._writer.wait_closed(), 5)


async def dial(host: str, port: int, path: str, headers: Mapping[str, str], *, tls: ssl.SSLContext | None,
               method: str = "POST", deadline: float = 10) -> tuple[ByteStream, dict[str, str]]:
    """Send an upgrade request; the stream and the 101's headers (lowercased names). ``deadline`` bounds the
    connect and the wait for the answer."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=tls, server_hostname=host if tls else None, limit=MAX_RESPONSE_HEAD),
        deadline)
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: Upgrade", "Content-Length: 0",
             *(f"{k}: {v}" for k, v in headers.items())]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), deadline)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        got = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)}
        if status != 101:
            length = int(got.get("content-length", "0") or 0)
            body = await asyncio.wait_for(reader.read(min(length, 4096)), deadline) if length else b""
            raise UpgradeRefused(status, body.decode(errors="replace").strip() or status_line)
    except BaseException:
        writer.close()
        raise
    return ByteStream(reader, writer), got


class _Feed:
    """What aiohttp's server protocol feeds connection bytes to once a handler takes the connection over."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.reader.feed_data(data)
        return False, b""

    def feed_eof(self) -> None:
        self.reader.feed_eof()


async def accept(request: web.Request, headers: Mapping[str, str]) -> tuple[web.StreamResponse, ByteStream]:
    """Answer ``101 Switching Protocols`` with ``headers`` and take the connection's bytes over."""
    reader = asyncio.StreamReader()
    protocol = request.protocol
    protocol.set_parser(_Feed(reader))  # type: ignore[arg-type]  # aiohttp types it for WebSocketReader only
    response = web.StreamResponse(status=101, headers={"Connection": "Upgrade", **headers})
    response.force_close()
    await response.prepare(request)
    return response, ByteStream(reader, response)
