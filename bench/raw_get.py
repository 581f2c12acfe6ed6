"""A GET client for benchmarks: keep-alive HTTP/1.1 over TLS on asyncio streams, bodies returned as bytes.

Through aiohttp's client session the bench spent 0.15-0.25 ms of CPU per GET, half of what the apiserver
answering it spent, on the same two cores: the closed-loop GET rows partly measured the load generator's
share of the machine (kubectl and client-go run elsewhere). This client spends 0.04-0.09 ms: it sends a
fixed request and reads the status line, Content-Length and body, nothing else, over a pool of idle
connections per server. It understands only what the apiserver answers a plain GET with (a Content-Length
body, no gzip).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from urllib.parse import urlsplit

HEAD_END = b"\r\n\r\n"
LENGTH = b"\ncontent-length:"


class RawGetter:
    """GETs against one `https://host:port` server (`http://` without a TLS context), each on an idle pooled
    connection or a new one."""

    def __init__(self, server: str, context: ssl.SSLContext | None) -> None:
        url = urlsplit(server)
        assert url.hostname is not None and url.port is not None
        self.host, self.port, self.context = url.hostname, url.port, context
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._request_head = f"Host: {url.netloc}\r\nAccept: application/json\r\n\r\n".encode()

    async def get(self, path: str) -> tuple[int, bytes]:
        """The status code and body of `GET path` (again on a new connection if the server closed an idle one)."""
        while self._idle:
            try:
                return await self._exchange(*self._idle.pop(), path)
            except (asyncio.IncompleteReadError, ConnectionError):
                continue  # closed while idle (the server's keep-alive timeout); a GET is safe to send again
        return await self._exchange(*await asyncio.open_connection(self.host, self.port, ssl=self.context), path)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str
    ) -> tuple[int, bytes]:
        try:
            writer.write(b"GET " + path.encode() + b" HTTP/1.1\r\n" + self._request_head)
            head = await reader.readuntil(HEAD_END)
            at = head.lower().find(LENGTH)
            if at < 0:
                raise RuntimeError(f"GET {path}: answer without Content-Length: {head[:200]!r}")
            end = head.index(b"\r", at)
            body = await reader.readexactly(int(head[at + len(LENGTH) : end]))
        except BaseException:
            writer.close()
            raise
        self._idle.append((reader, writer))
        return int(head[9:12]), body

    async def close(self) -> None:
        """Close every idle connection."""
        idle, self._idle = self._idle, []
        for _, writer in idle:
            writer.close()
        for _, writer in idle:
            with contextlib.suppress(ConnectionError, ssl.SSLError):  # the server may have closed it first
                await writer.wait_closed()
