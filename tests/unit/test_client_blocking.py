"""client.blocking against a scripted HTTP server on loopback: failover, typed errors, Retry-After, streams."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from client.blocking import BlockingClient
from client.errors import ApiConnectionError, NotFound
from client.kubeconfig import ClientConfig
from client.refs import ResourceRef
from tests.support.ports import free_port

PODS = ResourceRef("", "v1", "pods", True, "Pod")


class _Handler(BaseHTTPRequestHandler):
    script: list[tuple[int, dict[str, str], bytes]] = []
    seen: list[tuple[str, str, list[str]]] = []

    def log_message(self, *args: object) -> None:
        pass

    protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is exercised

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.seen.append((self.command, self.path, self.headers.get_all("Impersonate-Group") or []))
        code, headers, body = self.script.pop(0)
        self.send_response(code)
        for k, v in headers.items():
            self.send_header(k, v)
        if headers.get("Transfer-Encoding") == "chunked":
            self.end_headers()
            for i in range(0, len(body), 7):  # chunks that split lines
                piece = body[i:i + 7]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_DELETE = _answer


@pytest.fixture
def server() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("H", (_Handler,), {"script": [], "seen": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()
    httpd.server_close()


def _status(code: int, reason: str, message: str) -> bytes:
    return json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason,
                       "message": message}).encode()


def test_an_unreachable_server_fails_over_and_the_next_one_stays_preferred(server: tuple[str, type[_Handler]]) -> None:
    url, handler = server
    handler.script += [(200, {}, b'{"kind": "Pod"}'), (200, {}, b'{"kind": "Pod"}')]
    dead = f"http://127.0.0.1:{free_port()}"
    with BlockingClient(ClientConfig(servers=[dead, url]), user_agent="t",
                        headers={"Impersonate-Group": ["a", "b"]}) as client:
        assert client.get(PODS, "p", "ns") == {"kind": "Pod"}
        assert client.current_server == url
        client.get(PODS, "p", "ns")
    assert [p for _, p, _ in handler.seen] == ["/api/v1/namespaces/ns/pods/p"] * 2
    assert handler.seen[0][2] == ["a", "b"]  # one header line per impersonated group


def test_status_answers_become_typed_errors(server: tuple[str, type[_Handler]]) -> None:
    url, handler = server
    handler.script.append((404, {"Content-Type": "application/json"}, _status(404, "NotFound", 'pods "p" not found')))
    with BlockingClient(ClientConfig(servers=[url]), user_agent="t") as client, pytest.raises(NotFound) as err:
        client.get(PODS, "p", "ns")
    assert err.value.message == 'pods "p" not found'


def test_too_many_requests_with_retry_after_is_repeated(server: tuple[str, type[_Handler]]) -> None:
    url, handler = server
    handler.script += [(429, {"Retry-After": "0"}, _status(429, "TooManyRequests", "slow down")),
                       (201, {}, b'{"kind": "Pod", "metadata": {"name": "p"}}')]
    with BlockingClient(ClientConfig(servers=[url]), user_agent="t") as client:
        created = client.create(PODS, {"metadata": {"name": "p"}}, "ns")
    assert created["metadata"]["name"] == "p"
    assert [m for m, _, _ in handler.seen] == ["POST", "POST"]


def test_no_server_reachable_is_a_connection_error() -> None:
    with BlockingClient(ClientConfig(servers=[f"http://127.0.0.1:{free_port()}"]), user_agent="t") as client, \
            pytest.raises(ApiConnectionError, match="no apiserver reachable"):
        client.get(PODS, "p", "ns")


def test_chunked_streams_yield_lines_and_the_connection_is_reused(server: tuple[str, type[_Handler]]) -> None:
    url, handler = server
    handler.script += [(200, {"Transfer-Encoding": "chunked"}, b'{"type":"ADDED"}\n{"type":"DELETED"}\n'),
                       (200, {"Transfer-Encoding": "chunked"}, b'{"kind": "PodList", "items": []}'),
                       (200, {}, b'{"kind": "PodList", "items": []}')]
    with BlockingClient(ClientConfig(servers=[url]), user_agent="t") as client:
        lines = list(client.stream_lines("/api/v1/pods", params={"watch": "true"}))
        assert client.list(PODS, "ns") == {"kind": "PodList", "items": []}
        assert client.list(PODS, "ns")["kind"] == "PodList"
    assert [json.loads(line)["type"] for line in lines] == ["ADDED", "DELETED"]
    assert handler.seen[0][1] == "/api/v1/pods?watch=true"
