"""Probe executors against real servers on loopback: HTTP (headers, redirects, status codes), TCP, gRPC health."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import grpc
import pytest
from aiohttp import web

from kubelet.probes import Result, grpc_probe, run_probe


@pytest.fixture
async def http_server(port: Callable[[], int]) -> AsyncIterator[int]:
    seen: list[dict[str, str]] = []

    async def ok(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        if request.headers.get("X-Token") != "t":
            return web.Response(status=403)
        return web.Response(text="fine")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(3)
        return web.Response(text="late")

    async def redirect_local(request: web.Request) -> web.Response:
        raise web.HTTPFound("/fail")

    async def redirect_away(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://example.invalid/")

    async def fail(request: web.Request) -> web.Response:
        return web.Response(status=500)

    app = web.Application()
    app.add_routes([web.get("/ok", ok), web.get("/slow", slow), web.get("/redirect", redirect_local),
                    web.get("/away", redirect_away), web.get("/fail", fail)])
    runner = web.AppRunner(app)
    await runner.setup()
    p = port()
    await web.TCPSite(runner, "127.0.0.1", p).start()
    try:
        yield p
    finally:
        await runner.cleanup()


async def _no_exec(container_id: str, argv: list[str], limit: int) -> tuple[int, bytes]:
    raise AssertionError("not an exec probe")


async def http(p: int, path: str, **extra: object) -> Result:
    probe = {"httpGet": {"path": path, "port": "web", **extra}, "timeoutSeconds": 1}
    container = {"name": "c", "ports": [{"name": "web", "containerPort": p}]}
    out = await run_probe(probe, container, container_id="c", pod_ip="127.0.0.1", exec_sync=_no_exec)
    return out.result


async def test_http_get(http_server: int) -> None:
    assert await http(http_server, "/ok", httpHeaders=[{"name": "X-Token", "value": "t"}]) is Result.SUCCESS
    assert await http(http_server, "/ok") is Result.FAILURE  # 403
    assert await http(http_server, "/fail") is Result.FAILURE
    assert await http(http_server, "/redirect") is Result.FAILURE  # followed to /fail on the same host
    assert await http(http_server, "/away") is Result.SUCCESS  # elsewhere: not followed, counted as success
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    assert await http(http_server, "/slow") is Result.FAILURE
    assert loop.time() - t0 < 2.5  # the 1 s timeout cut it short


async def test_tcp_socket(port: Callable[[], int]) -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    open_port = server.sockets[0].getsockname()[1]
    try:
        up = await run_probe({"tcpSocket": {"port": open_port}}, {}, container_id="c", pod_ip="127.0.0.1",
                             exec_sync=_no_exec)
        assert up.result is Result.SUCCESS
    finally:
        server.close()
        await server.wait_closed()
    down = await run_probe({"tcpSocket": {"port": port()}}, {}, container_id="c", pod_ip="127.0.0.1",
                           exec_sync=_no_exec)
    assert down.result is Result.FAILURE and "dial tcp" in down.output


async def test_exec_probe_uses_exit_code_and_timeout() -> None:
    calls: list[tuple[str, list[str], int]] = []

    async def exec_sync(container_id: str, argv: list[str], limit: int) -> tuple[int, bytes]:
        calls.append((container_id, argv, limit))
        if argv[0] == "hang":
            raise TimeoutError
        return (0 if argv[0] == "true" else 1), b"out"

    ok = await run_probe({"exec": {"command": ["true"]}, "timeoutSeconds": 4}, {}, container_id="cid",
                         pod_ip="", exec_sync=exec_sync)
    bad = await run_probe({"exec": {"command": ["false"]}}, {}, container_id="cid", pod_ip="", exec_sync=exec_sync)
    hung = await run_probe({"exec": {"command": ["hang"]}}, {}, container_id="cid", pod_ip="", exec_sync=exec_sync)
    assert (ok.result, bad.result, hung.result) == (Result.SUCCESS, Result.FAILURE, Result.FAILURE)
    assert calls[0] == ("cid", ["true"], 4) and "timed out" in hung.output


async def test_grpc_health(port: Callable[[], int]) -> None:
    statuses = {"": b"\x08\x01", "sick": b"\x08\x02"}

    def check(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        service = request[2:].decode() if request else ""
        return statuses.get(service, b"\x08\x03")

    handler = grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
        "Check": grpc.unary_unary_rpc_method_handler(check, request_deserializer=lambda b: b,
                                                     response_serializer=lambda b: b)})
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    p = port()
    server.add_insecure_port(f"127.0.0.1:{p}")
    await server.start()
    try:
        assert (await grpc_probe({"grpc": {"port": p}}, "127.0.0.1", 1)).result is Result.SUCCESS
        sick = await grpc_probe({"grpc": {"port": p, "service": "sick"}}, "127.0.0.1", 1)
        assert sick.result is Result.FAILURE and "NOT_SERVING" in sick.output
    finally:
        await server.stop(None)
    gone = await grpc_probe({"grpc": {"port": p}}, "127.0.0.1", 1)
    assert gone.result is Result.FAILURE
