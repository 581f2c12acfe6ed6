"""One WebSocket session relayed to another, message by message, both ways, the close handshake included.

The apiserver relays exec, attach and port-forward sessions to the kubelet, and the kubelet relays them
to the runtime's streaming server; the channel protocol (`v4`/`v5.channel.k8s.io`) passes through untouched.

aiohttp's ``close()`` sends a Close and then reads, and drops, whatever the peer still sends until the
peer's own Close comes back. Closing upstream as soon as the caller had closed therefore lost upstream's
last messages (the exit status on channel 3 comes last). So the caller's Close goes on to upstream as a bare
Close frame, upstream's messages are relayed until it answers, and only then is the caller answered. When
upstream closes first, all it sent has been relayed by then, and the caller gets upstream's close code.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct

import aiohttp
from aiohttp import web

FLUSH_SECONDS = 2.0
"""How long upstream may take to answer a close passed on from the caller, its last messages included."""

WebSocket = web.WebSocketResponse | aiohttp.ClientWebSocketResponse
Closing = tuple[int, str]
"""A Close frame's code and reason."""


async def _pump(src: WebSocket, dst: WebSocket) -> Closing | None:
    """Relay ``src``'s messages to ``dst`` until ``src`` closes; its Close, or None if it went away without one."""
    while True:
        msg = await src.receive()
        if msg.type == aiohttp.WSMsgType.BINARY:
            await dst.send_bytes(msg.data)
        elif msg.type == aiohttp.WSMsgType.TEXT:
            await dst.send_str(msg.data)
        elif msg.type == aiohttp.WSMsgType.CLOSE:
            # A Close without a code (aiohttp reports 0; RFC 6455 §7.1.5 calls it 1005) is a normal one.
            return int(msg.data) or aiohttp.WSCloseCode.OK, str(msg.extra or "")
        else:
            return None


def _closed_by(pump: asyncio.Task[Closing | None]) -> Closing | None:
    """The Close that ended ``pump``'s source; None if it has not, or ended without one."""
    if not pump.done() or pump.cancelled() or pump.exception() is not None:
        return None
    return pump.result()


async def relay(client: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse) -> None:
    """Relay both ways until both sides have closed; closes both.

    ``client`` must be prepared with ``autoclose=False``: aiohttp would otherwise answer the caller's Close
    at once and shut its connection before upstream's last messages could follow.
    """
    to_client = asyncio.create_task(_pump(upstream, client))
    to_upstream = asyncio.create_task(_pump(client, upstream))
    try:
        await asyncio.wait((to_client, to_upstream), return_when=asyncio.FIRST_COMPLETED)
        caller_closed = _closed_by(to_upstream)
        if caller_closed is not None and not to_client.done():
            code, reason = caller_closed
            with contextlib.suppress(ConnectionError):
                await upstream.send_frame(struct.pack("!H", code) + reason.encode(), aiohttp.WSMsgType.CLOSE)
                await asyncio.wait((to_client,), timeout=FLUSH_SECONDS)
    finally:
        for task in (to_client, to_upstream):
            task.cancel()
        await asyncio.wait((to_client, to_upstream))
        upstream_closed, caller_closed = _closed_by(to_client), _closed_by(to_upstream)
        # The caller hears how upstream closed (or its own Close echoed); an upstream gone without one is an error.
        code, reason = upstream_closed or caller_closed or (aiohttp.WSCloseCode.INTERNAL_ERROR, "")
        await upstream.close()
        await client.close(code=code, message=reason.encode())
