"""client.wsrelay between real aiohttp WebSocket endpoints on loopback: nothing sent before a close is lost."""

from __future__ import annotations

import json
import struct
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web

from client import wsrelay

STDIN, STDOUT = b"\x00", b"\x01"
STATUS = b"\x03" + json.dumps({"status": "Failure", "reason": "NonZeroExitCode",
                               "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}}).encode()

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def relayed() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """Call with an upstream handler: the URL of a relay in front of it, as the apiserver and kubelet relay."""
    session = aiohttp.ClientSession()
    runners: list[web.AppRunner] = []

    async def serve(handler: Handler) -> str:
        app = web.Application()
        app.router.add_get("/", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return f"ws://127.0.0.1:{runner.addresses[0][1]}/"

    async def relay_to(upstream_handler: Handler) -> str:
        upstream_url = await serve(upstream_handler)

        async def relay(request: web.Request) -> web.StreamResponse:
            upstream = await session.ws_connect(upstream_url)
            client = web.WebSocketResponse(autoclose=False)
            await client.prepare(request)
            await wsrelay.relay(client, upstream)
            return client

        return await serve(relay)

    try:
        yield relay_to
    finally:
        await session.close()
        for runner in runners:
            await runner.cleanup()


async def _until_close(ws: aiohttp.ClientWebSocketResponse) -> tuple[list[bytes], int, str]:
    """Every binary message up to the Close, and the Close's code and reason."""
    got: list[bytes] = []
    while (msg := await ws.receive()).type == aiohttp.WSMsgType.BINARY:
        got.append(msg.data)
    assert msg.type == aiohttp.WSMsgType.CLOSE, msg
    return got, int(msg.data), str(msg.extra)


async def test_what_upstream_sends_after_the_callers_close_reaches_the_caller_before_the_answer(relayed):
    """The caller closes after its input (RFC 6455 lets it read on until the answer); upstream, told of the
    close, still sends its output and exit status first. The relay used to close upstream at once, and
    aiohttp's close() dropped both."""
    upstream_got = []

    async def exec_after_input(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoclose=False)
        await ws.prepare(request)
        async for msg in ws:  # ends at the Close the relay passes on
            upstream_got.append(msg.data)
        await ws.send_bytes(STDOUT + b"done\n")
        await ws.send_bytes(STATUS)
        await ws.close()
        return ws

    url = await relayed(exec_after_input)
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(url, autoclose=False)
        await ws.send_bytes(STDIN + b"input")
        await ws.send_frame(struct.pack("!H", aiohttp.WSCloseCode.OK), aiohttp.WSMsgType.CLOSE)
        got, code, _ = await _until_close(ws)
    assert upstream_got == [STDIN + b"input"]
    assert (got, code) == ([STDOUT + b"done\n", STATUS], aiohttp.WSCloseCode.OK)


async def test_the_caller_gets_upstreams_last_messages_then_its_close_code(relayed):
    async def exec_then_close(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_bytes(STDOUT + b"out\n")
        await ws.send_bytes(STATUS)
        await ws.close(code=4000, message=b"runtime gone")
        return ws

    url = await relayed(exec_then_close)
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(url)
        assert await _until_close(ws) == ([STDOUT + b"out\n", STATUS], 4000, "runtime gone")
