"""process.http_endpoints: the request-head parser, and the server answering real HTTP clients on loopback."""

from __future__ import annotations

import asyncio
import http.client
from collections.abc import AsyncIterator, Callable

import pytest

from process.http_endpoints import BadRequest, EndpointServer, Reply, parse_head


def test_head_of_a_keep_alive_get_drops_the_query():
    head = parse_head(b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n")
    assert (head.method, head.path, head.keep_alive, head.body_length) == ("GET", "/metrics", True, 3)


@pytest.mark.parametrize(("raw", "keep_alive"), [
    (b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", False),
    (b"GET / HTTP/1.0\r\n\r\n", False),
    (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", True),
])
def test_connection_header_and_version_decide_keep_alive(raw: bytes, keep_alive: bool):
    assert parse_head(raw).keep_alive is keep_alive


@pytest.mark.parametrize("raw", [
    b"GET /\r\n\r\n", b"HELLO\r\n\r\n", b"GET / SPDY/3\r\n\r\n", b"GET / HTTP/1.1\r\nno colon\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
])
def test_malformed_heads_are_refused(raw: bytes):
    with pytest.raises(BadRequest):
        parse_head(raw)


@pytest.fixture
async def served(port: Callable[[], int]) -> AsyncIterator[int]:
    """The port of a server with one route, ``/health``."""
    async def health() -> Reply:
        return Reply(503, b'{"health": "false"}', "application/json", (("X-Why", "test"),))

    server = EndpointServer({"/health": health})
    number = port()
    await server.start("127.0.0.1", number)
    yield number
    await server.close()


def _requests(port: int, *calls: tuple[str, str]) -> list[tuple[int, dict[str, str], bytes]]:
    """Each call on one kept-alive connection: (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    answers = []
    for method, path in calls:
        conn.request(method, path)
        resp = conn.getresponse()
        answers.append((resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()))
    conn.close()
    return answers


async def test_routes_head_unknown_paths_and_other_methods_on_one_connection(served: int):
    calls = (("GET", "/health"), ("HEAD", "/health"), ("GET", "/nope"), ("POST", "/health"), ("GET", "/health?x"))
    (get, head, missing, post, query) = await asyncio.to_thread(_requests, served, *calls)
    assert get == (503, {"content-type": "application/json", "content-length": "19", "connection": "keep-alive",
                         "x-why": "test"}, b'{"health": "false"}')
    assert head[:2] == get[:2] and head[2] == b""
    assert missing[0] == 404
    assert post[0] == 405 and post[1]["allow"] == "GET, HEAD"
    assert query == get


async def test_a_bad_request_is_answered_400_and_closed(served: int):
    reader, writer = await asyncio.open_connection("127.0.0.1", served)
    writer.write(b"NONSENSE\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 5)  # read() returns only once the server closes
    writer.close()
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"Connection: close\r\n" in answer
