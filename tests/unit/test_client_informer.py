"""The indexed cache, shared informers (handlers, tombstones, resync) and the informer factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from client.backoff import Backoff
from client.cache import DeletedFinalStateUnknown, Indexer, meta_namespace_key, split_key
from client.clock import FakeClock, RealClock
from client.informer import ResourceEventHandler, SharedInformer, SharedInformerFactory
from client.kubeconfig import ClientConfig
from client.rest import PatchType, ResourceRef, RestClient
from client.workqueue import WorkQueue, run_workers
from tests.support.fake_apiserver import FakeApiserver

PODS = ResourceRef("", "v1", "pods", True, "Pod")
NODES = ResourceRef("", "v1", "nodes", False, "Node")


def pod(name: str, ns: str = "ns1", node: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"nodeName": node} if node else {}
    return {"metadata": {"name": name, "namespace": ns, "resourceVersion": "1"}, "spec": spec}


def by_node(obj: dict[str, Any]) -> list[str]:
    node = obj.get("spec", {}).get("nodeName")
    return [node] if node else []


async def eventually(pred: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not pred():
            await asyncio.sleep(0.005)


# ---------------------------------------------------------------------------------------------
# Indexer


def test_keys():
    assert meta_namespace_key(pod("a", "ns")) == "ns/a"
    assert meta_namespace_key({"metadata": {"name": "node1"}}) == "node1"
    assert meta_namespace_key(DeletedFinalStateUnknown("ns/x", {})) == "ns/x"
    assert split_key("ns/a") == ("ns", "a")
    assert split_key("node1") == (None, "node1")
    with pytest.raises(KeyError):
        meta_namespace_key({"metadata": {}})


def test_indexer_keeps_indexes_current():
    idx = Indexer(indexers={"namespace": lambda o: [o["metadata"]["namespace"]], "node": by_node})
    idx.add(pod("a", "ns1", "n1"))
    idx.add(pod("b", "ns1", "n2"))
    idx.add(pod("c", "ns2", "n1"))
    assert [o["metadata"]["name"] for o in idx.by_index("node", "n1")] == ["a", "c"]
    assert idx.index_keys("namespace", "ns1") == ["ns1/a", "ns1/b"]
    assert idx.list_index_values("node") == ["n1", "n2"]
    idx.update(pod("a", "ns1", "n2"))                       # moves between index values
    assert idx.index_keys("node", "n1") == ["ns2/c"]
    assert idx.index_keys("node", "n2") == ["ns1/a", "ns1/b"]
    assert [o["metadata"]["name"] for o in idx.index("node", pod("x", "ns9", "n2"))] == ["a", "b"]
    idx.delete(pod("c", "ns2"))
    assert idx.list_index_values("node") == ["n2"]          # empty values disappear
    assert "ns2/c" not in idx and len(idx) == 2
    idx.add_indexers({"name": lambda o: [o["metadata"]["name"]]})   # indexes existing objects
    assert idx.index_keys("name", "b") == ["ns1/b"]
    with pytest.raises(ValueError, match="already registered"):
        idx.add_indexers({"node": by_node})
    with pytest.raises(KeyError, match="no index"):
        idx.by_index("missing", "x")
    idx.replace([pod("z", "ns3", "n3")])
    assert idx.list_keys() == ["ns3/z"]
    assert idx.list_index_values("node") == ["n3"]
    assert idx.get_by_name("ns3", "z") is not None
    assert idx.list_namespace("ns3")[0]["metadata"]["name"] == "z"


def test_default_namespace_index():
    idx = Indexer()
    idx.add(pod("a", "ns1"))
    idx.add({"metadata": {"name": "node1"}})
    assert idx.list_index_values("namespace") == ["ns1"]
    assert [o["metadata"]["name"] for o in idx.list_namespace("ns1")] == ["a"]


# ---------------------------------------------------------------------------------------------
# SharedInformer as a reflector sink (no network)


class Events:
    def __init__(self) -> None:
        self.log: list[tuple[str, Any]] = []

    def handler(self) -> ResourceEventHandler:
        return ResourceEventHandler(
            on_add=lambda o: self.log.append(("add", o["metadata"]["name"])),
            on_update=lambda old, new: self.log.append(("update", (old["metadata"]["resourceVersion"],
                                                                   new["metadata"]["resourceVersion"]))),
            on_delete=lambda o: self.log.append(("delete", o if isinstance(o, DeletedFinalStateUnknown)
                                                 else o["metadata"]["name"])))


def rv(obj: dict[str, Any], version: str) -> dict[str, Any]:
    return {**obj, "metadata": {**obj["metadata"], "resourceVersion": version}}


async def test_informer_sink_semantics_and_tombstones():
    async with RestClient(ClientConfig(servers=["http://127.0.0.1:9"])) as client:
        inf = SharedInformer(client, PODS)
        events = Events()
        inf.add_event_handler(events.handler())
        assert not inf.has_synced()
        inf.replace([pod("a"), pod("b")], "10")
        assert inf.has_synced()
        assert events.log == [("add", "a"), ("add", "b")]
        inf.update(rv(pod("a"), "11"))
        inf.add(pod("c"))
        inf.delete(pod("c"))
        assert events.log[2:] == [("update", ("1", "11")), ("add", "c"), ("delete", "c")]
        # A relist in which b is missing: its DELETED event was lost, so handlers get a tombstone.
        events.log.clear()
        inf.replace([rv(pod("a"), "12")], "20")
        assert events.log[0] == ("delete", DeletedFinalStateUnknown("ns1/b", pod("b")))
        assert events.log[1] == ("update", ("11", "12"))
        assert inf.get("b", "ns1") is None
        assert [o["metadata"]["name"] for o in inf.list("ns1")] == ["a"]
        # A handler added late first hears about everything already cached.
        late = Events()
        inf.add_event_handler(late.handler())
        assert late.log == [("add", "a")]


async def test_a_failing_handler_does_not_starve_the_others():
    async with RestClient(ClientConfig(servers=["http://127.0.0.1:9"])) as client:
        inf = SharedInformer(client, PODS)
        seen: list[str] = []

        def broken(obj: dict[str, Any]) -> None:
            raise RuntimeError("handler bug")

        inf.add_event_handler(on_add=broken)
        reg = inf.add_event_handler(on_add=lambda o: seen.append(o["metadata"]["name"]))
        inf.replace([pod("a")], "1")
        assert seen == ["a"]
        reg.remove()
        inf.add(pod("b"))
        assert seen == ["a"]


async def test_resync_redelivers_cached_objects_on_the_fake_clock():
    clock = FakeClock()
    async with RestClient(ClientConfig(servers=["http://127.0.0.1:9"])) as client:
        inf = SharedInformer(client, PODS, resync_period=30.0, clock=clock,
                             backoff=Backoff(3600.0, 3600.0, clock=clock))
        events = Events()
        inf.add_event_handler(events.handler())
        quiet = Events()
        inf.add_event_handler(quiet.handler(), resync_period=0)
        inf.start()       # its reflector cannot connect and waits on the fake clock's backoff
        try:
            await clock.settle()
            inf.replace([pod("a"), pod("b")], "5")
            events.log.clear()
            clock.advance(29.9)
            await clock.settle()
            assert events.log == []
            clock.advance(0.1)
            await clock.settle()
            assert events.log == [("update", ("1", "1")), ("update", ("1", "1"))]
            clock.advance(30)
            await clock.settle()
            assert len(events.log) == 4
            assert quiet.log == [("add", "a"), ("add", "b")]
        finally:
            await inf.stop()


# ---------------------------------------------------------------------------------------------
# Against the fake apiserver


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


async def test_informer_end_to_end_with_missed_delete(api: FakeApiserver, client: RestClient):
    api.seed("pods", pod("a", node="n1"))
    api.seed("pods", pod("b", node="n2"))
    factory = SharedInformerFactory(client, backoff_factory=lambda: Backoff(0.001, 0.01, clock=RealClock()))
    inf = factory.informer(PODS, indexers={"node": by_node})
    assert factory.informer(PODS) is inf                           # shared
    assert factory.informer(PODS, namespace="other") is not inf    # a different view is a different informer
    events = Events()
    inf.add_event_handler(events.handler())
    factory.start()
    try:
        assert await factory.wait_for_cache_sync(timeout_seconds=5)
        assert sorted(events.log) == [("add", "a"), ("add", "b")]
        assert [o["metadata"]["name"] for o in inf.indexer.by_index("node", "n2")] == ["b"]
        api.modify("pods", "ns1", "a", {"spec": {"nodeName": "n2"}})
        await eventually(lambda: len(events.log) == 3)
        assert events.log[2] == ("update", ("101", "103"))
        assert [o["metadata"]["name"] for o in inf.indexer.by_index("node", "n2")] == ["a", "b"]
        # The watch breaks; b is deleted and history compacted before the client is back: relist.
        await eventually(lambda: len(api.watchers) == 2)
        api.drop_watches()
        api.remove("pods", "ns1", "b")
        api.compact()
        await eventually(lambda: any(e[0] == "delete" for e in events.log))
        tomb = next(e[1] for e in events.log if e[0] == "delete")
        assert isinstance(tomb, DeletedFinalStateUnknown)
        assert tomb.key == "ns1/b"
        assert tomb.obj["metadata"]["resourceVersion"] == "102"
        assert inf.indexer.list_keys() == ["ns1/a"]
        # And live deletes are plain objects.
        api.remove("pods", "ns1", "a")
        await eventually(lambda: events.log[-1] == ("delete", "a"))
    finally:
        await factory.shutdown()
    assert not inf.running


async def test_forgotten_informer_stops_and_a_new_one_is_made_on_request(api: FakeApiserver, client: RestClient):
    api.seed("pods", pod("a", node="n1"))
    factory = SharedInformerFactory(client, backoff_factory=lambda: Backoff(0.001, 0.01, clock=RealClock()))
    old = factory.informer(PODS)
    factory.start()
    try:
        assert await factory.wait_for_cache_sync(timeout_seconds=5)
        await factory.forget(PODS)
        assert not old.running
        assert old not in factory.informers
        fresh = factory.informer(PODS)
        assert fresh is not old and fresh.running  # the factory is started: so is the new informer
        assert await fresh.wait_for_sync(timeout_seconds=5)
        await factory.forget(NODES)  # never made: nothing to do
    finally:
        await factory.shutdown()


async def test_wait_for_sync_times_out_when_the_apiserver_is_down():
    async with RestClient(ClientConfig(servers=["http://127.0.0.1:9"])) as client:
        factory = SharedInformerFactory(client, backoff_factory=lambda: Backoff(0.01, 0.01, clock=RealClock()))
        factory.informer(NODES)
        factory.start()
        try:
            assert not await factory.wait_for_cache_sync(timeout_seconds=0.1)
        finally:
            await factory.shutdown()


async def test_informer_queue_and_workers_make_a_controller(api: FakeApiserver, client: RestClient):
    """The shape every controller has: informer events enqueue keys, workers reconcile from the cache."""
    cms = ResourceRef("", "v1", "configmaps", True, "ConfigMap")
    for i in range(5):
        api.seed("configmaps", {"metadata": {"name": f"cm{i}", "namespace": "ns1"}})
    informer = SharedInformer(client, cms, backoff=Backoff(0.001, 0.01, clock=RealClock()))
    queue: WorkQueue[str] = WorkQueue("labeller")

    def enqueue(obj: dict[str, Any]) -> None:
        queue.add(meta_namespace_key(obj))

    informer.add_event_handler(on_add=enqueue, on_update=lambda old, new: enqueue(new))
    writes: list[str] = []

    async def reconcile(key: str) -> None:
        namespace, name = split_key(key)
        obj = informer.get(name, namespace)
        if obj is None or (obj["metadata"].get("labels") or {}).get("seen") == "yes":
            return
        writes.append(key)
        await client.patch(cms, name, {"metadata": {"labels": {"seen": "yes"}}}, namespace,
                           patch_type=PatchType.MERGE)

    informer.start()
    workers = asyncio.create_task(run_workers(queue, reconcile, workers=2))
    try:
        await eventually(lambda: all((o["metadata"].get("labels") or {}).get("seen") == "yes"
                                     for o in informer.list()) and len(informer.list()) == 5)
        api.seed("configmaps", {"metadata": {"name": "late", "namespace": "ns1"}})
        await eventually(lambda: (informer.get("late", "ns1") or {}).get("metadata", {}).get("labels") is not None)
        assert sorted(writes) == sorted([f"ns1/cm{i}" for i in range(5)] + ["ns1/late"])   # once each
    finally:
        queue.shutdown()
        await asyncio.wait_for(workers, 5)
        await informer.stop()
