"""The REST client against in-process fake apiservers on loopback: verbs, paths, errors, retries, failover."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from client.clock import RealClock
from client.errors import (
    AlreadyExists,
    ApiConnectionError,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
)
from client.kubeconfig import ClientConfig, TLSConfig, TokenSource
from client.rest import PatchType, ResourceRef, RestClient
from tests.support.fake_apiserver import FakeApiserver, issue_cert, make_ca, server_ssl_context, status

PODS = ResourceRef("", "v1", "pods", True, "Pod")
NODES = ResourceRef("", "v1", "nodes", False, "Node")
DEPLOYMENTS = ResourceRef("apps", "v1", "deployments", True, "Deployment")


class RecordingClock(RealClock):
    """Real time, except that sleeps are recorded and skipped."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    async def sleep(self, delay: float) -> None:
        self.slept.append(delay)


def dead_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
async def api() -> AsyncIterator[FakeApiserver]:
    server = FakeApiserver()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def api2() -> AsyncIterator[FakeApiserver]:
    server = FakeApiserver()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def client(api: FakeApiserver) -> AsyncIterator[RestClient]:
    async with RestClient(ClientConfig(servers=[api.url], token=TokenSource(token="tok"), namespace="ns1"),
                          timeout=5) as c:
        yield c


def pod(name: str, ns: str = "ns1", **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def test_resource_paths():
    assert PODS.path("ns", "p", "status") == "/api/v1/namespaces/ns/pods/p/status"
    assert PODS.path() == "/api/v1/pods"
    assert DEPLOYMENTS.path("ns") == "/apis/apps/v1/namespaces/ns/deployments"
    assert NODES.path("ignored", "n1") == "/api/v1/nodes/n1"
    assert DEPLOYMENTS.api_version == "apps/v1"
    with pytest.raises(ValueError, match="namespaced"):
        PODS.path(None, "p")
    with pytest.raises(ValueError, match="needs an object name"):
        PODS.path("ns", None, "status")


async def test_crud_round_trip_with_headers(api: FakeApiserver, client: RestClient):
    created = await client.create(PODS, pod("a"), field_manager="tester")
    assert created["metadata"]["resourceVersion"] == "101"
    post = api.seen("POST")[0]
    assert post.path == "/api/v1/namespaces/ns1/pods"
    assert post.query == {"fieldManager": "tester"}
    assert post.headers["Authorization"] == "Bearer tok"
    assert post.headers["Content-Type"] == "application/json"
    assert post.headers["User-Agent"].startswith("tinykube/")
    got = await client.get(PODS, "a", "ns1")
    assert got["metadata"]["uid"] == created["metadata"]["uid"]
    got["metadata"]["labels"] = {"x": "y"}
    updated = await client.update(PODS, got)
    assert updated["metadata"]["labels"] == {"x": "y"}
    assert api.seen("PUT")[0].path == "/api/v1/namespaces/ns1/pods/a"
    await client.delete(PODS, "a", "ns1", propagation_policy="Foreground", grace_period_seconds=0)
    assert api.seen("DELETE")[0].body == {"kind": "DeleteOptions", "apiVersion": "v1",
                                          "propagationPolicy": "Foreground", "gracePeriodSeconds": 0}
    with pytest.raises(NotFound) as info:
        await client.get(PODS, "a", "ns1")
    assert info.value.code == 404
    assert info.value.details["name"] == "a"


async def test_cluster_scoped_and_group_paths(api: FakeApiserver, client: RestClient):
    await client.create(NODES, {"metadata": {"name": "node1"}})
    assert api.seen("POST")[0].path == "/api/v1/nodes"
    await client.create(DEPLOYMENTS, {"metadata": {"name": "web"}}, "prod")
    assert api.seen("POST")[1].path == "/apis/apps/v1/namespaces/prod/deployments"
    assert [n["metadata"]["name"] for n in (await client.list(NODES))["items"]] == ["node1"]


async def test_typed_errors_carry_status(api: FakeApiserver, client: RestClient):
    await client.create(PODS, pod("a"))
    with pytest.raises(AlreadyExists) as exists:
        await client.create(PODS, pod("a"))
    assert isinstance(exists.value, Conflict)
    assert exists.value.reason == "AlreadyExists"
    stale = await client.get(PODS, "a", "ns1")
    await client.patch(PODS, "a", {"metadata": {"labels": {"v": "2"}}}, "ns1")
    with pytest.raises(Conflict) as conflict:
        await client.update(PODS, stale)
    assert not isinstance(conflict.value, AlreadyExists)
    with pytest.raises(Invalid) as invalid:
        await client.create(PODS, {"metadata": {}})
    assert invalid.value.causes[0]["field"] == "metadata.name"
    api.fail_next("GET", "/pods/a", 403, status(403, "Forbidden", 'pods "a" is forbidden: User "x" cannot get'))
    with pytest.raises(Forbidden, match="cannot get"):
        await client.get(PODS, "a", "ns1")
    with pytest.raises(Conflict, match="precondition"):
        await client.delete(PODS, "a", "ns1", preconditions={"resourceVersion": "1"})


async def test_error_without_a_status_body(api: FakeApiserver, client: RestClient):
    api.fail_next("POST", "/pods", 503)
    with pytest.raises(ServiceUnavailable) as info:
        await client.create(PODS, pod("a"))
    assert info.value.code == 503
    assert "503" in info.value.message


async def test_patch_types_and_apply(api: FakeApiserver, client: RestClient):
    await client.create(PODS, pod("a"))
    await client.patch(PODS, "a", {"metadata": {"labels": {"m": "1"}}}, "ns1", patch_type=PatchType.MERGE)
    await client.patch(PODS, "a", [{"op": "replace", "path": "/spec", "value": {"containers": []}}], "ns1",
                       patch_type=PatchType.JSON)
    applied = await client.apply(PODS, pod("b"), field_manager="me", force=True)
    assert applied["metadata"]["name"] == "b"
    patches = api.seen("PATCH")
    assert [p.headers["Content-Type"] for p in patches] == [
        "application/merge-patch+json", "application/json-patch+json", "application/apply-patch+yaml"]
    assert patches[2].query == {"fieldManager": "me", "force": "true"}
    assert (await client.get(PODS, "a", "ns1"))["spec"] == {"containers": []}
    with pytest.raises(ValueError, match="field_manager"):
        await client.patch(PODS, "a", {}, "ns1", patch_type=PatchType.APPLY)


async def test_subresources(api: FakeApiserver, client: RestClient):
    await client.create(PODS, pod("a"))
    await client.create(PODS, {"kind": "Binding", "metadata": {"name": "a"},
                               "target": {"kind": "Node", "name": "node1"}}, name="a", subresource="binding")
    assert api.seen("POST", "/binding")[0].path == "/api/v1/namespaces/ns1/pods/a/binding"
    current = await client.get(PODS, "a", "ns1")
    assert current["spec"]["nodeName"] == "node1"
    current["status"] = {"phase": "Running"}
    await client.update(PODS, current, subresource="status")
    assert (await client.get(PODS, "a", "ns1"))["status"] == {"phase": "Running"}
    assert await client.pod_log("a", "ns1", container="c", tail_lines=2) == "log of a\nline 2\n"
    assert api.seen("GET", "/log")[0].query == {"container": "c", "tailLines": "2"}
    assert [line async for line in client.follow_log("a", "ns1", container="c")] == [b"log of a", b"line 2"]
    assert api.seen("GET", "/log")[1].query == {"container": "c", "follow": "true"}
    await client.create(DEPLOYMENTS, {"metadata": {"name": "web"}}, "ns1")
    scale = await client.get(DEPLOYMENTS, "web", "ns1", subresource="scale")
    await client.update(DEPLOYMENTS, scale, "ns1", subresource="scale")
    assert api.seen("PUT")[-1].path == "/apis/apps/v1/namespaces/ns1/deployments/web/scale"
    await client.create(PODS, {"kind": "Eviction", "metadata": {"name": "a"}}, name="a", subresource="eviction")
    with pytest.raises(NotFound):
        await client.get(PODS, "a", "ns1")


async def test_pagination_follows_continue_and_410_on_stale_token(api: FakeApiserver, client: RestClient):
    for i in range(7):
        api.seed("pods", pod(f"p{i}"))
    full = await client.list_all(PODS, "ns1", page_size=3)
    assert [p["metadata"]["name"] for p in full["items"]] == [f"p{i}" for i in range(7)]
    assert full["metadata"]["resourceVersion"] == "107"
    assert "continue" not in full["metadata"]
    lists = api.seen("GET", "/pods")
    assert [r.query.get("limit") for r in lists] == ["3", "3", "3"]
    assert "continue" not in lists[0].query and "continue" in lists[1].query
    pages = client.list_pages(PODS, "ns1", page_size=3)
    first = await anext(pages)
    assert len(first["items"]) == 3
    api.seed("pods", pod("late"))
    api.compact()
    with pytest.raises(Gone) as gone:
        await anext(pages)
    assert gone.value.reason == "Expired"


async def test_list_selectors_and_delete_collection(api: FakeApiserver, client: RestClient):
    api.seed("pods", pod("a", app="web"))
    api.seed("pods", pod("b", app="db"))
    web_pods = await client.list(PODS, "ns1", label_selector="app=web")
    assert [p["metadata"]["name"] for p in web_pods["items"]] == ["a"]
    await client.delete_collection(PODS, "ns1", label_selector="app=db", propagation_policy="Background")
    assert api.seen("DELETE")[0].query == {"labelSelector": "app=db"}
    assert [p["metadata"]["name"] for p in (await client.list(PODS, "ns1"))["items"]] == ["a"]


# ---------------------------------------------------------------------------------------------
# retries and failover


async def test_failover_from_a_dead_apiserver_for_every_verb(api: FakeApiserver):
    dead = dead_url()
    async with RestClient(ClientConfig(servers=[dead, api.url])) as c:
        await c.create(PODS, pod("a"), "ns1")              # connection refused: safe even for POST
        assert c.current_server == api.url
        assert (await c.get(PODS, "a", "ns1"))["metadata"]["name"] == "a"
    async with RestClient(ClientConfig(servers=[dead, dead_url()])) as c:
        with pytest.raises(ApiConnectionError, match="no apiserver reachable"):
            await c.get(PODS, "a", "ns1")


async def test_dropped_connection_retries_reads_but_not_writes(api: FakeApiserver, api2: FakeApiserver):
    api2.seed("pods", pod("a"))
    async with RestClient(ClientConfig(servers=[api.url, api2.url])) as c:
        # aiohttp itself repeats an idempotent request once on a dropped connection; drop both
        api.fail_next("GET", "/pods/a", 0, drop=True, times=2)
        assert (await c.get(PODS, "a", "ns1"))["metadata"]["name"] == "a"   # answered by api2
        assert c.current_server == api2.url
    async with RestClient(ClientConfig(servers=[api.url, api2.url])) as c:
        api.fail_next("POST", "/pods", 0, drop=True)
        with pytest.raises(ApiConnectionError, match="not idempotent"):
            await c.create(PODS, pod("b"), "ns1")
        assert len(api.seen("POST")) == 1
        assert api2.seen("POST") == []                                      # never repeated anywhere


async def test_truncated_answers_are_read_again_elsewhere_for_reads_only(api: FakeApiserver, api2: FakeApiserver):
    api2.seed("pods", pod("a"))
    async with RestClient(ClientConfig(servers=[api.url, api2.url])) as c:
        api.fail_next("GET", "/pods", 200, truncate=True)
        assert [p["metadata"]["name"] for p in (await c.list(PODS, "ns1"))["items"]] == ["a"]
        api2.fail_next("POST", "/pods", 200, truncate=True)
        with pytest.raises(ApiConnectionError, match="cut short"):
            await c.create(PODS, pod("b"), "ns1")
        assert api.seen("POST") == []


async def test_hung_apiserver_times_out_and_reads_fail_over(api: FakeApiserver):
    accepted: list[asyncio.StreamWriter] = []

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    hung = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    hung_url = f"http://127.0.0.1:{hung.sockets[0].getsockname()[1]}"
    api.seed("pods", pod("a"))
    try:
        async with RestClient(ClientConfig(servers=[hung_url, api.url]), timeout=0.3) as c:
            assert (await c.get(PODS, "a", "ns1"))["metadata"]["name"] == "a"
        async with RestClient(ClientConfig(servers=[hung_url, api.url]), timeout=0.3) as c:
            with pytest.raises(ApiConnectionError, match="timed out"):
                await c.delete(PODS, "a", "ns1")
        assert api.seen("DELETE") == []
    finally:
        for w in accepted:
            w.close()
        hung.close()
        await hung.wait_closed()


async def test_retry_after_is_honoured(api: FakeApiserver):
    clock = RecordingClock()
    async with RestClient(ClientConfig(servers=[api.url]), clock=clock) as c:
        api.fail_next("POST", "/pods", 429, status(429, "TooManyRequests", "slow down"),
                      headers={"Retry-After": "3"}, times=2)
        await c.create(PODS, pod("a"), "ns1")
        assert clock.slept == [3.0, 3.0]
        assert len(api.seen("POST")) == 3
        # a 5xx with Retry-After is repeated for reads only
        api.fail_next("GET", "/pods/a", 503, status(503, "ServiceUnavailable", "busy"), headers={"Retry-After": "1"})
        assert (await c.get(PODS, "a", "ns1"))["metadata"]["name"] == "a"
        api.fail_next("POST", "/pods", 503, status(503, "ServiceUnavailable", "busy"), headers={"Retry-After": "1"})
        with pytest.raises(ServiceUnavailable):
            await c.create(PODS, pod("b"), "ns1")
    async with RestClient(ClientConfig(servers=[api.url]), clock=clock, max_retry_after=2) as c:
        api.fail_next("GET", "/pods/a", 429, status(429, "TooManyRequests", "slow down"),
                      headers={"Retry-After": "1"}, times=5)
        with pytest.raises(TooManyRequests) as info:
            await c.get(PODS, "a", "ns1")
        assert info.value.retry_after == 1.0


async def test_unavailable_apiserver_fails_over_for_reads(api: FakeApiserver, api2: FakeApiserver):
    api2.seed("pods", pod("a"))
    async with RestClient(ClientConfig(servers=[api.url, api2.url])) as c:
        api.fail_next("GET", "/pods/a", 503, status(503, "ServiceUnavailable", "store unavailable"))
        assert (await c.get(PODS, "a", "ns1"))["metadata"]["name"] == "a"
        api.fail_next("GET", "/pods", 503, status(503, "ServiceUnavailable", "store unavailable"))
        api2.fail_next("GET", "/pods", 503, status(503, "ServiceUnavailable", "store unavailable"))
        with pytest.raises(ServiceUnavailable, match="store unavailable"):
            await c.list(PODS, "ns1")


# ---------------------------------------------------------------------------------------------
# TLS and credentials end to end


async def test_https_with_client_certificate(tmp_path):
    ca = make_ca()
    serving = issue_cert(ca, "kube-apiserver", ips=("127.0.0.1",), server=True)
    admin = issue_cert(ca, "admin", orgs=("system:masters",))
    server = FakeApiserver(server_ssl_context(ca, serving, tmp_path, require_client_cert=True))
    await server.start()
    try:
        cfg = ClientConfig(servers=[server.url], tls=TLSConfig(ca_data=ca.cert_pem, cert_data=admin.cert_pem,
                                                                key_data=admin.key_pem))
        async with RestClient(cfg) as c:
            await c.create(NODES, {"metadata": {"name": "n"}})
        assert server.client_cns == ["admin"]
        untrusted = ClientConfig(servers=[server.url], tls=TLSConfig(ca_data=make_ca("evil").cert_pem))
        async with RestClient(untrusted) as c:
            with pytest.raises(ApiConnectionError, match="no apiserver reachable"):
                await c.get(NODES, "n")
    finally:
        await server.close()


async def test_tls_server_name_verifies_a_certificate_without_the_ip(tmp_path):
    ca = make_ca()
    serving = issue_cert(ca, "kube-apiserver", dns=("apiserver.internal",), server=True)   # no IP SAN
    server = FakeApiserver(server_ssl_context(ca, serving, tmp_path))
    await server.start()
    try:
        named = ClientConfig(servers=[server.url], tls=TLSConfig(ca_data=ca.cert_pem, server_name="apiserver.internal"),
                             token=TokenSource(token="secret"))
        async with RestClient(named) as c:
            await c.create(NODES, {"metadata": {"name": "n"}})
        assert server.seen("POST")[0].headers["Authorization"] == "Bearer secret"
        async with RestClient(ClientConfig(servers=[server.url], tls=TLSConfig(ca_data=ca.cert_pem))) as c:
            with pytest.raises(ApiConnectionError, match="Certificate"):
                await c.get(NODES, "n")
    finally:
        await server.close()


async def test_requests_in_flight_are_bounded_but_streams_are_not():
    """A bursty client's one-shot requests share a few connections; a watch open at the same time is not
    one of them (it would hold a slot for its whole life)."""
    held = asyncio.Event()
    in_flight: list[int] = [0]
    peak = [0]

    async def slow(request: web.Request) -> web.Response:
        in_flight[0] += 1
        peak[0] = max(peak[0], in_flight[0])
        await held.wait()
        in_flight[0] -= 1
        return web.json_response({"kind": "Pod", "metadata": {"name": request.match_info["name"]}})

    async def stream(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        await resp.write(b'{"type":"ADDED","object":{}}\n')
        await held.wait()
        return resp

    app = web.Application()
    app.router.add_get("/api/v1/namespaces/ns1/pods/{name}", slow)
    app.router.add_get("/api/v1/pods", stream)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with RestClient(ClientConfig(servers=[f"http://127.0.0.1:{port}"]), timeout=5,
                              max_requests_in_flight=2) as c, c.stream("/api/v1/pods") as watch:
            assert (await watch.content.readline()).startswith(b'{"type":"ADDED"')
            gets = [asyncio.create_task(c.get(PODS, f"p{i}", "ns1")) for i in range(6)]
            while in_flight[0] < 2:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)  # room for a third request to arrive, were it let through
            assert in_flight[0] == 2
            held.set()
            names = [(await g)["metadata"]["name"] for g in gets]
        assert names == [f"p{i}" for i in range(6)]
        assert peak[0] == 2
    finally:
        held.set()
        await runner.cleanup()
