"""One WebSocket session relayed to another, message by message, both ways.

The apiserver relays exec, attach and port-forward sessions to the kubelet, and the kubelet relays them
to the runtime's streaming server; the channel protocol (`v4`/`v5.channel.k8s.io`) passes through untouched.
"""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

FLUSH_SECONDS = 2.0
"""How long the other direction may still flush once one side ended (the exit status on channel 3 comes last)."""

WebSocket = web.WebSocketResponse | aiohttp.ClientWebSocketResponse


async def _pump(src: WebSocket, dst: WebSocket) -> None:
    async for msg in src:
        if msg.type == aiohttp.WSMsgType.BINARY:
            await dst.send_bytes(msg.data)
        elif msg.type == aiohttp.WSMsgType.TEXT:
            await dst.send_str(msg.data)
        else:
            break
    await dst.close()


async def relay(client: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse) -> None:
    """Pump messages between the caller's session and the upstream one until either ends; closes both."""
    tasks = [asyncio.create_task(_pump(client, upstream)), asyncio.create_task(_pump(upstream, client))]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        await asyncio.wait(tasks, timeout=FLUSH_SECONDS)
    finally:
        for task in tasks:
            task.cancel()
        await upstream.close()
        await client.close()
