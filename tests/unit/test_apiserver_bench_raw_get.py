"""The apiserver bench's lean GET client reads whole answers, keeps its connections, and survives their closing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from bench.raw_get import RawGetter

Handler = Callable[[web.Request], Awaitable[web.Response]]


async def _serve(handler: Handler) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def test_answers_come_back_whole_on_kept_connections() -> None:
    peers: set[tuple[str, int]] = set()

    async def handler(request: web.Request) -> web.Response:
        peers.add(request.transport.get_extra_info("peername"))  # type: ignore[union-attr]
        if request.path == "/missing":
            return web.json_response({"reason": "NotFound"}, status=404)
        return web.Response(body=b"x" * int(request.query["size"]), content_type="application/json")

    runner, url = await _serve(handler)
    getter = RawGetter(url, None)
    try:
        for size in (0, 1, 70_000):
            assert await getter.get(f"/obj?size={size}") == (200, b"x" * size)
        assert await getter.get("/missing") == (404, b'{"reason": "NotFound"}')
        assert len(peers) == 1  # one connection, kept alive between GETs
        answers = await asyncio.gather(*(getter.get(f"/obj?size={i}") for i in range(8)))
        assert answers == [(200, b"x" * i) for i in range(8)]
        assert len(peers) == 8  # concurrent GETs each took a connection: the idle one and seven new
    finally:
        await getter.close()
        await runner.cleanup()


async def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    async def handler(request: web.Request) -> web.Response:
        resp = web.Response(body=request.path.encode())
        if request.path == "/last":
            resp.force_close()  # as the server's keep-alive timeout does to an idle connection
        return resp

    runner, url = await _serve(handler)
    getter = RawGetter(url, None)
    try:
        assert await getter.get("/last") == (200, b"/last")
        assert await getter.get("/next") == (200, b"/next")  # the pooled connection is closed: a new one
    finally:
        await getter.close()
        await runner.cleanup()
