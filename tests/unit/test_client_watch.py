"""Watch streams and the reflector against the fake apiserver: resume, relist on 410, pagination."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from client.backoff import Backoff
from client.clock import FakeClock, RealClock
from client.errors import Gone, InternalError
from client.kubeconfig import ClientConfig
from client.rest import ResourceRef, RestClient
from client.watch import Reflector, WatchEvent, watch
from tests.support.fake_apiserver import FakeApiserver, FakeBackend, status

PODS = ResourceRef("", "v1", "pods", True, "Pod")


def pod(name: str, ns: str = "ns1") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns}, "spec": {}}


async def eventually(pred: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not pred():
            await asyncio.sleep(0.005)


def fast_backoff() -> Backoff:
    return Backoff(0.001, 0.01, clock=RealClock())


@pytest.fixture
async def api() -> AsyncIterator[FakeApiserver]:
    server = FakeApiserver()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def client(api: FakeApiserver) -> AsyncIterator[RestClient]:
    async with RestClient(ClientConfig(servers=[api.url])) as c:
        yield c


class Recorder:
    """A reflector sink that records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.state: dict[str, dict[str, Any]] = {}

    def replace(self, items: list[dict[str, Any]], resource_version: str) -> None:
        self.calls.append(("replace", ([i["metadata"]["name"] for i in items], resource_version)))
        self.state = {i["metadata"]["name"]: i for i in items}

    def add(self, obj: dict[str, Any]) -> None:
        self.calls.append(("add", obj["metadata"]["name"]))
        self.state[obj["metadata"]["name"]] = obj

    def update(self, obj: dict[str, Any]) -> None:
        self.calls.append(("update", obj["metadata"]["name"]))
        self.state[obj["metadata"]["name"]] = obj

    def delete(self, obj: dict[str, Any]) -> None:
        self.calls.append(("delete", obj["metadata"]["name"]))
        self.state.pop(obj["metadata"]["name"], None)

    def kinds(self) -> list[str]:
        return [c[0] for c in self.calls]


async def collect(stream: AsyncIterator[WatchEvent], n: int) -> list[WatchEvent]:
    out = []
    async for event in stream:
        out.append(event)
        if len(out) == n:
            break
    return out


async def test_watch_from_zero_replays_then_streams(api: FakeApiserver, client: RestClient):
    api.seed("pods", pod("a"))
    stream = watch(client, PODS, "ns1", timeout_seconds=30)
    first = await anext(stream)
    assert (first.type, first.object["metadata"]["name"]) == ("ADDED", "a")
    api.modify("pods", "ns1", "a", {"metadata": {"labels": {"x": "1"}}})
    api.remove("pods", "ns1", "a")
    rest = await collect(stream, 2)
    assert [(e.type, e.resource_version) for e in rest] == [("MODIFIED", "102"), ("DELETED", "103")]
    await stream.aclose()
    query = api.seen("GET", "/pods")[0].query
    assert query == {"watch": "1", "allowWatchBookmarks": "true", "timeoutSeconds": "30"}


async def test_watch_reassembles_large_events_across_chunks(api: FakeApiserver, client: RestClient):
    big = pod("big")
    big["metadata"]["annotations"] = {"blob": "x" * 1_200_000}
    api.seed("pods", big)
    api.seed("pods", pod("small"))
    events = await collect(watch(client, PODS, "ns1"), 2)
    assert [len(e.object["metadata"].get("annotations", {}).get("blob", "")) for e in events] == [1_200_000, 0]


async def test_watch_from_a_version_sends_only_later_changes_and_bookmarks(api: FakeApiserver, client: RestClient):
    api.seed("pods", pod("a"))
    api.seed("pods", pod("b"))
    stream = watch(client, PODS, "ns1", resource_version="101")
    event = await anext(stream)
    assert (event.type, event.object["metadata"]["name"]) == ("ADDED", "b")
    api.bookmark()
    bookmark = await anext(stream)
    assert (bookmark.type, bookmark.resource_version) == ("BOOKMARK", "102")
    await stream.aclose()


async def test_watch_error_event_410_raises_gone(api: FakeApiserver, client: RestClient):
    api.seed("pods", pod("a"))
    api.compact()
    with pytest.raises(Gone, match="too old resource version"):
        await collect(watch(client, PODS, "ns1", resource_version="100"), 1)
    pending = asyncio.ensure_future(anext(watch(client, PODS, "ns1", resource_version="101")))
    await eventually(lambda: len(api.watchers) == 1)
    api.send_error(500, "InternalError", "boom")
    with pytest.raises(InternalError, match="boom"):
        await pending


async def test_reflector_paginates_then_watches_from_the_list_version(api: FakeApiserver, client: RestClient):
    for name in "abcde":
        api.seed("pods", pod(name))
    sink = Recorder()
    reflector = Reflector(client, PODS, sink, namespace="ns1", page_size=2, backoff=fast_backoff())
    # Start from an empty relist version ("") so the list is paginated against the store.
    reflector._rv_unavailable = True
    task = asyncio.create_task(reflector.run())
    try:
        await eventually(lambda: reflector.watches == 1 and len(api.watchers) == 1)
        assert sink.calls[0] == ("replace", (list("abcde"), "105"))
        lists = [r.query for r in api.seen("GET", "/pods") if "watch" not in r.query]
        assert [q.get("limit") for q in lists] == ["2", "2", "2"]
        watch_query = next(r.query for r in api.seen("GET", "/pods") if "watch" in r.query)
        assert watch_query["resourceVersion"] == "105"
        assert watch_query["allowWatchBookmarks"] == "true"
        assert 300 <= int(watch_query["timeoutSeconds"]) < 600
        api.seed("pods", pod("f"))
        api.modify("pods", "ns1", "a", {"metadata": {"labels": {"v": "2"}}})
        api.remove("pods", "ns1", "b")
        await eventually(lambda: len(sink.calls) == 4)
        assert sink.calls[1:] == [("add", "f"), ("update", "a"), ("delete", "b")]
        assert reflector.last_sync_resource_version == "108"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_reflector_resumes_from_last_version_after_disconnect(api: FakeApiserver, client: RestClient):
    api.seed("pods", pod("a"))
    sink = Recorder()
    reflector = Reflector(client, PODS, sink, namespace="ns1", backoff=fast_backoff())
    task = asyncio.create_task(reflector.run())
    try:
        await eventually(lambda: len(api.watchers) == 1)
        first_list = api.seen("GET", "/pods")[0].query
        assert first_list == {"limit": "500", "resourceVersion": "0"}   # the informer's first list
        api.seed("pods", pod("b"))
        await eventually(lambda: ("add", "b") in sink.calls)
        api.drop_watches()
        api.seed("pods", pod("c"))              # written while no watch is open
        await eventually(lambda: ("add", "c") in sink.calls)
        watches = [r.query for r in api.seen("GET", "/pods") if "watch" in r.query]
        assert [w["resourceVersion"] for w in watches] == ["101", "102"]
        assert reflector.lists == 1                 # resumed, not relisted
        assert sink.kinds() == ["replace", "add", "add"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_reflector_relists_on_410_event_and_410_answer(api: FakeApiserver, client: RestClient):
    api.seed("pods", pod("a"))
    api.seed("pods", pod("b"))
    sink = Recorder()
    reflector = Reflector(client, PODS, sink, namespace="ns1", backoff=fast_backoff())
    task = asyncio.create_task(reflector.run())
    try:
        await eventually(lambda: len(api.watchers) == 1)
        # An ERROR event with 410 mid-stream: relist with the last version, then watch again.
        api.send_error(410, "Expired", "too old resource version")
        await eventually(lambda: reflector.lists == 2 and len(api.watchers) == 1)
        relist = [r.query for r in api.seen("GET", "/pods") if "watch" not in r.query][1]
        assert relist == {"resourceVersion": "102"}           # not-older-than, unpaginated
        # A 410 answer to the watch request itself (history compacted while disconnected).
        api.drop_watches()
        api.remove("pods", "ns1", "b")
        api.compact()
        await eventually(lambda: reflector.lists == 3 and len(api.watchers) == 1)
        assert sink.calls[-1] == ("replace", (["a"], "103"))
        assert sink.state.keys() == {"a"}
        api.fail_next("GET", "/pods", 410, status(410, "Expired", "too old"))
        api.drop_watches()
        await eventually(lambda: reflector.lists == 4 and len(api.watchers) == 1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_reflector_lists_latest_when_its_relist_version_is_gone(api: FakeApiserver, client: RestClient):
    api.seed("pods", pod("a"))
    sink = Recorder()
    reflector = Reflector(client, PODS, sink, namespace="ns1", backoff=fast_backoff())
    reflector.last_sync_resource_version = "50"
    api.fail_next("GET", "/pods", 410, status(410, "Expired", "too old resource version: 50 (101)"))
    task = asyncio.create_task(reflector.run())
    try:
        await eventually(lambda: reflector.lists == 1)
        lists = [r.query for r in api.seen("GET", "/pods") if "watch" not in r.query]
        assert lists[0] == {"resourceVersion": "50"}
        assert lists[1] == {"limit": "500"}              # latest, consistent, paginated
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_reflector_backs_off_while_the_apiserver_fails(api: FakeApiserver, client: RestClient):
    clock = FakeClock()
    sink = Recorder()
    backoff = Backoff(1.0, 8.0, jitter=0.0, clock=clock)
    reflector = Reflector(client, PODS, sink, namespace="ns1", backoff=backoff)
    api.fail_next("GET", "/pods", 500, status(500, "InternalError", "store down"), times=3)
    task = asyncio.create_task(reflector.run())
    try:
        waits = []
        for _ in range(3):
            await eventually(lambda: clock.pending() == 1)
            wait = clock.next_timer_in()
            assert wait is not None
            waits.append(wait)
            clock.advance(wait)
        assert waits == [1.0, 2.0, 4.0]
        await eventually(lambda: reflector.lists == 1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class CountingBackoff(Backoff):
    def __init__(self) -> None:
        super().__init__(0.001, 0.01, clock=RealClock())
        self.waits = 0

    async def wait(self) -> None:
        self.waits += 1
        await super().wait()


async def test_a_watch_closed_at_once_is_not_retried_in_a_hot_loop(api: FakeApiserver, client: RestClient):
    api.seed("pods", pod("a"))
    sink = Recorder()
    backoff = CountingBackoff()
    reflector = Reflector(client, PODS, sink, namespace="ns1", backoff=backoff)
    task = asyncio.create_task(reflector.run())
    try:
        await eventually(lambda: len(api.watchers) == 1)
        api.fail_next("GET", "/pods", 200)
        api.drop_watches()                      # the re-watch gets an empty 200: closed at once
        await eventually(lambda: reflector.lists == 2 and len(api.watchers) == 1)
        assert backoff.waits >= 2               # after the broken watch, and before relisting
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_reflector_fails_over_to_another_apiserver_without_relisting():
    backend = FakeBackend()
    first, second = FakeApiserver(backend=backend), FakeApiserver(backend=backend)
    await first.start()
    await second.start()
    backend.seed("pods", pod("a"))
    sink = Recorder()
    try:
        async with RestClient(ClientConfig(servers=[first.url, second.url])) as client:
            reflector = Reflector(client, PODS, sink, namespace="ns1", backoff=fast_backoff())
            task = asyncio.create_task(reflector.run())
            try:
                await eventually(lambda: len(first.watchers) == 1)
                await first.close()                          # the apiserver in use dies
                backend.seed("pods", pod("b"))               # a write through the surviving one
                await eventually(lambda: ("add", "b") in sink.calls)
                assert reflector.lists == 1                  # resumed from its version, no relist
                watch_on_second = next(r.query for r in second.seen("GET", "/pods") if "watch" in r.query)
                assert watch_on_second["resourceVersion"] == "101"
                assert client.current_server == second.url
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    finally:
        await first.close()
        await second.close()
