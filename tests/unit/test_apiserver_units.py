"""The apiserver's pure parts: negotiation, continue tokens, watch cache semantics, allocation
choices and the gnostic OpenAPI v2 encoding."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import grpc
import pytest
import yaml

from api import openapi
from api.catalog import REGISTRY
from api.protobuf import fields_of
from apiserver import json_codec, openapi_proto, tables
from apiserver.allocators import Allocators, RangeFull
from apiserver.errors import APIError
from apiserver.read_barrier import ReadBarrier
from apiserver.registry import Registry, continue_token, parse_continue, scan
from apiserver.watch_cache import WATCHER_BACKLOG, Event, ResourceCache, Selection
from apiserver.watch_stream import WatchStream, shared_encoder
from protos.etcd import kv_pb2, rpc_pb2
from store.client import WatchUpdate
from store.errors import EtcdError

KUBECTL_GET = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)


def test_table_is_served_only_when_asked_for_first() -> None:
    assert tables.wants_table(KUBECTL_GET)
    assert not tables.wants_table("application/json")
    assert not tables.wants_table("application/json, application/json;as=Table;v=v1;g=meta.k8s.io")
    assert not tables.wants_table("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io")


def test_continue_tokens_round_trip_and_reject_foreign_ones() -> None:
    token = continue_token(42, b"/registry/pods/default/b\0")
    assert parse_continue(token, b"/registry/pods/") == (42, b"/registry/pods/default/b\0")
    for bad in ("garbage", continue_token(42, b"/registry/secrets/x")):
        with pytest.raises(APIError) as err:
            parse_continue(bad, b"/registry/pods/")
        assert err.value.code == 400


def _obj(name: str, rv: int, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "resourceVersion": str(rv), "labels": labels}}


def test_a_watcher_sees_objects_enter_and_leave_its_selection() -> None:
    view = Selection(lambda o: o["metadata"]["labels"].get("app") == "x").view
    seen = [
        view(Event("MODIFIED", _obj("a", 2, app="x"), 2, prev=_obj("a", 1, app="y"))),
        view(Event("MODIFIED", _obj("a", 3, app="z"), 3, prev=_obj("a", 2, app="x"))),
        view(Event("MODIFIED", _obj("b", 4, app="z"), 4, prev=_obj("b", 1, app="y"))),
    ]
    assert [(e.type, e.obj["metadata"]["name"]) for e in seen if e] == [("ADDED", "a"), ("DELETED", "a")]


def _kv(key: str, rev: int, created: int, value: dict[str, Any]) -> kv_pb2.KeyValue:
    return kv_pb2.KeyValue(
        key=key.encode(), mod_revision=rev, create_revision=created, value=json.dumps(value).encode()
    )


class FakeStore:
    """Range answers with two objects at revision 10; the watch then delivers what the test pushes."""

    def __init__(self) -> None:
        self.updates: asyncio.Queue[WatchUpdate] = asyncio.Queue()
        self.watched_from = 0
        self.reads: list[str] = []
        self.kvs = [
            _kv("/registry/cm/ns/a", 5, 5, {"metadata": {"name": "a"}}),
            _kv("/registry/cm/ns/b", 10, 10, {"metadata": {"name": "b"}}),
        ]

    async def range(
        self, key: bytes, range_end: bytes, *, limit: int, revision: int, keys_only: bool = False
    ) -> rpc_pb2.RangeResponse:
        self.reads.append("keys" if keys_only else "values")
        kvs = [kv_pb2.KeyValue(key=kv.key, mod_revision=kv.mod_revision) if keys_only else kv for kv in self.kvs]
        resp = rpc_pb2.RangeResponse(kvs=kvs)
        resp.header.revision = 10
        return resp

    async def watch(self, key: bytes, **kwargs: Any) -> AsyncGenerator[WatchUpdate, None]:
        self.watched_from = kwargs["start_revision"]
        while True:
            yield await self.updates.get()


@contextlib.asynccontextmanager
async def _ready_cache(fake: FakeStore) -> AsyncIterator[ResourceCache]:
    cache = ResourceCache(fake, "/registry/cm/")  # type: ignore[arg-type]
    cache.start()
    try:
        await cache.wait_ready(5)
        yield cache
    finally:
        await cache.stop()


async def _reached(cache: ResourceCache, revision: int) -> None:
    """Until the cache has applied `revision` (it takes the fake's updates in its own task)."""
    async with asyncio.timeout(5):
        while cache.revision < revision:
            await asyncio.sleep(0.01)


async def test_watch_cache_lists_then_replays_from_a_revision_and_refuses_older_ones() -> None:
    fake = FakeStore()
    async with _ready_cache(fake) as cache:
        assert fake.watched_from == 11
        items, revision = cache.snapshot(lambda o: True)
        assert [i["metadata"]["name"] for i in items] == ["a", "b"] and revision == 10
        put = kv_pb2.Event(type=kv_pb2.Event.PUT, kv=_kv("/registry/cm/ns/a", 11, 5, {"metadata": {"name": "a"}}))
        gone = kv_pb2.Event(type=kv_pb2.Event.DELETE, kv=kv_pb2.KeyValue(key=b"/registry/cm/ns/b", mod_revision=12))
        await fake.updates.put(WatchUpdate(12, [put, gone]))
        await _reached(cache, 12)
        replay = cache.subscribe(lambda o: True, 11)
        event = replay.queue.get_nowait()
        assert event is not None and (event.type, event.obj["metadata"]["resourceVersion"]) == ("DELETED", "12")
        fresh = cache.subscribe(lambda o: True, None)
        added = [fresh.queue.get_nowait() for _ in range(fresh.queue.qsize())]
        assert [(e.type, e.obj["metadata"]["name"]) for e in added if e is not None] == [("ADDED", "a")]
        with pytest.raises(APIError) as err:
            cache.subscribe(lambda o: True, 3)
        assert err.value.code == 410 and "too old resource version: 3" in str(err.value.body["message"])


async def test_store_lists_take_the_cached_object_of_the_same_version_instead_of_decoding_it() -> None:
    fake = FakeStore()
    async with _ready_cache(fake) as cache:
        (a, b), _ = cache.snapshot(lambda o: True)
        assert cache.decoded(b"/registry/cm/ns/a", 5) is a and cache.decoded(b"/registry/cm/ns/a", 6) is None
        registry = Registry(fake)  # type: ignore[arg-type]
        fake.reads.clear()
        page = await registry.list("/registry/cm/", decoded=cache.decoded)
        assert page.items == [a, b] and page.items[0] is a and fake.reads == ["keys"]  # no value was read
        fake.kvs[0] = _kv("/registry/cm/ns/a", 7, 5, {"metadata": {"name": "a2"}})  # newer than the cache
        fake.kvs[1].value = b"not json: decoding it would fail"
        fake.reads.clear()
        page = await registry.list("/registry/cm/", decoded=cache.decoded)
        assert page.items[0]["metadata"] == {"name": "a2", "resourceVersion": "7"} and page.items[1] is b
        assert fake.reads == ["keys", "values"]


class Recorder:
    """A subscriber that keeps what it is given."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.ended = False

    def deliver(self, event: Event) -> bool:
        self.events.append(event)
        return True

    def end(self) -> None:
        self.ended = True


async def test_watchers_of_one_selection_evaluate_its_predicate_once_per_change_and_share_the_bytes() -> None:
    fake = FakeStore()
    calls: list[str] = []

    def only_a(obj: dict[str, Any]) -> bool:
        calls.append(obj["metadata"]["name"])
        return bool(obj["metadata"]["name"] == "a")

    async with _ready_cache(fake) as cache:
        same, other = [Recorder() for _ in range(3)], Recorder()
        for sub in same:
            cache.attach(sub, only_a, 10, key="name=a")
        cache.attach(other, only_a, 10, key="another selection")
        put = kv_pb2.Event(type=kv_pb2.Event.PUT, kv=_kv("/registry/cm/ns/a", 11, 5, {"metadata": {"name": "a"}}))
        await fake.updates.put(WatchUpdate(11, [put]))
        await _reached(cache, 11)
        assert calls == ["a", "a", "a", "a"]  # new and previous object, once per selection (not per watcher)
        assert all(len(sub.events) == 1 and sub.events[0] is other.events[0] for sub in same)
        encode, encode_too = (shared_encoder("v1", lambda o: o) for _ in range(2))
        assert encode(other.events[0]) is encode_too(other.events[0])
        assert encode(other.events[0]).endswith(b'"name":"a","resourceVersion":"11"}}}\n\r\n')
        cache.unsubscribe(other)
        assert list(cache.selections) == ["name=a"]


async def test_a_watch_from_a_revision_the_cache_has_not_reached_starts_at_once_and_skips_what_precedes_it() -> None:
    fake = FakeStore()
    async with _ready_cache(fake) as cache:
        watcher = Recorder()  # from revision 12, as after a consistent list read while the cache was at 10
        assert cache.attach(watcher, lambda o: True, 12) == [] and cache.early == {watcher: 12}
        for rev in (11, 12, 13):
            put = kv_pb2.Event(type=kv_pb2.Event.PUT, kv=_kv("/registry/cm/ns/a", rev, 5, {"metadata": {"name": "a"}}))
            await fake.updates.put(WatchUpdate(rev, [put]))
        await _reached(cache, 13)
        assert [e.revision for e in watcher.events] == [13] and cache.early == {}


class FakeConnection:
    """A transport that records writes and whose buffer the test fills (writing_paused) or closes."""

    def __init__(self) -> None:
        self.transport = self
        self.writing_paused = False
        self.closed = False
        self.written: list[bytes] = []
        self.drained = asyncio.Event()

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.closed

    async def drain(self) -> None:
        await self.drained.wait()


def _event(name: str, rv: int) -> Event:
    return Event("ADDED", _obj(name, rv), rv)


async def test_a_watch_stream_writes_at_once_while_its_connection_keeps_up_and_queues_while_it_pushes_back() -> None:
    conn = FakeConnection()
    stream = WatchStream(conn, conn.drain, lambda e: e.obj["metadata"]["name"].encode())  # type: ignore[arg-type]
    stream.backfill([_event("a", 1), _event("b", 2)])
    assert stream.deliver(_event("c", 3)) and conn.written == []  # behind its initial events
    running = asyncio.create_task(stream.run(60, None))
    await asyncio.sleep(0)
    assert conn.written == [b"abc"]  # one write, then it waits for the connection to drain
    conn.drained.set()
    await asyncio.sleep(0)
    assert stream.deliver(_event("d", 4)) and conn.written == [b"abc", b"d"]  # written in the cache's own pass
    conn.writing_paused = True
    assert stream.deliver(_event("e", 5)) and stream.deliver(_event("f", 6)) and conn.written[-1] == b"d"
    conn.writing_paused = False
    await asyncio.sleep(0)
    assert conn.written == [b"abc", b"d", b"ef"]
    conn.closed = True
    assert not stream.deliver(_event("g", 7))  # the cache drops a watcher whose client is gone
    stream.end()
    await asyncio.wait_for(running, 5)


async def test_the_cache_drops_and_ends_a_watcher_that_falls_too_far_behind() -> None:
    fake = FakeStore()
    async with _ready_cache(fake) as cache:
        conn = FakeConnection()
        conn.writing_paused = True
        stream = WatchStream(conn, conn.drain, lambda e: b"x")  # type: ignore[arg-type]
        cache.attach(stream, lambda o: True, 10)
        stream.backlog = [_event("old", 1)] * WATCHER_BACKLOG
        put = kv_pb2.Event(type=kv_pb2.Event.PUT, kv=_kv("/registry/cm/ns/a", 11, 5, {"metadata": {"name": "a"}}))
        await fake.updates.put(WatchUpdate(11, [put]))
        await _reached(cache, 11)
        assert stream.ended and not cache.subscribers and not cache.selections


def test_json_is_compact_utf8_and_takes_integers_beyond_64_bits() -> None:
    assert json_codec.dumps({"a": [1, "é"], "b": None}) == '{"a":[1,"é"],"b":null}'.encode()
    assert json_codec.loads(json_codec.dumps({"n": 2**70})) == {"n": float(2**70)}
    with pytest.raises(ValueError):
        json_codec.loads(b"{NaN}")


async def test_allocator_skips_reserved_addresses_and_reports_full_ranges() -> None:
    alloc = Allocators(None, "10.0.0.0/29", "30000-30001")  # type: ignore[arg-type]
    assert alloc.first_ip == "10.0.0.1"
    picks = {alloc._pick_ip(set()) for _ in range(50)}
    assert picks <= {"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"} and picks
    with pytest.raises(RangeFull):
        alloc._pick_ip({"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"})
    assert alloc._pick_port({"30000"}) == 30001
    svc: dict[str, Any] = {
        "metadata": {"name": "s", "namespace": "d"},
        "spec": {"clusterIP": "10.9.9.9", "ports": [{"port": 80}]},
    }
    _, causes = await alloc.plan(svc)
    assert [c.field for c in causes] == ["spec.clusterIPs[0]"]


def test_openapi_v2_protobuf_carries_every_definition_with_its_kinds() -> None:
    doc = openapi.v2(REGISTRY).body
    encoded = openapi_proto.document(doc)
    top = {n: v for n, _, v in fields_of(encoded)}
    assert top[1] == b"2.0"
    definitions = [fields_of(v) for n, _, v in fields_of(top[9]) if n == 1]  # type: ignore[arg-type]
    names = {bytes(d[0][2]).decode() for d in definitions}
    assert names == set(doc["definitions"])
    quota = next(d for d in definitions if d[0][2] == b"io.k8s.api.core.v1.ResourceQuota")
    schema = fields_of(quota[1][2])  # type: ignore[arg-type]
    extensions = [fields_of(v) for n, _, v in schema if n == 31]  # type: ignore[arg-type]
    gvk = next(e for e in extensions if e[0][2] == b"x-kubernetes-group-version-kind")
    assert yaml.safe_load(fields_of(gvk[1][2])[0][2]) == [{"group": "", "kind": "ResourceQuota", "version": "v1"}]  # type: ignore[arg-type]


class BigValues:
    """A store whose answers exceed the message limit above 100 keys, as 10k pods in one range would."""

    def __init__(self) -> None:
        self.keys = [f"/registry/pods/ns/p{i:04d}".encode() for i in range(1000)]
        self.limits: list[int] = []

    async def range(
        self, key: bytes, range_end: bytes, *, limit: int, revision: int, keys_only: bool = False
    ) -> rpc_pb2.RangeResponse:
        self.limits.append(limit)
        if limit > 100:
            raise EtcdError(
                grpc.StatusCode.RESOURCE_EXHAUSTED, "Received message larger than max (9417812 vs. 2097152)"
            )
        chosen = [k for k in self.keys if key <= k < range_end][:limit]
        resp = rpc_pb2.RangeResponse(kvs=[_kv(k.decode(), 7, 7, {}) for k in chosen])
        resp.more = len([k for k in self.keys if key <= k < range_end]) > limit
        resp.header.revision = 7
        return resp


async def test_scans_shrink_their_reads_to_fit_the_message_limit() -> None:
    fake = BigValues()
    kvs, revision = await scan(fake, b"/registry/pods/")  # type: ignore[arg-type]
    assert [kv.key for kv in kvs] == fake.keys and revision == 7
    assert fake.limits[:4] == [500, 250, 125, 62]


class TxnStore(FakeStore):
    """Point reads and read-only transactions held at a gate the test opens, recording the keys each read."""

    def __init__(self) -> None:
        super().__init__()
        self.rounds: list[list[bytes]] = []
        self.gate = asyncio.Event()
        self.revision = 10

    async def _answer(self, keys: list[bytes]) -> tuple[int, list[list[kv_pb2.KeyValue]]]:
        self.rounds.append(keys)
        revision = self.revision
        await self.gate.wait()
        return revision, [[kv for kv in self.kvs if kv.key == key] for key in keys]

    async def range(
        self, key: bytes, range_end: bytes | None = None, *, limit: int = 0, revision: int = 0, keys_only: bool = False
    ) -> rpc_pb2.RangeResponse:
        if range_end is not None:  # the watch cache's list
            return await super().range(key, range_end, limit=limit, revision=revision, keys_only=keys_only)
        at, (found,) = await self._answer([key])
        resp = rpc_pb2.RangeResponse(kvs=found)
        resp.header.revision = at
        return resp

    async def txn(self, compare: list[rpc_pb2.Compare], success: list[rpc_pb2.RequestOp]) -> rpc_pb2.TxnResponse:
        at, answers = await self._answer([op.request_range.key for op in success])
        resp = rpc_pb2.TxnResponse(succeeded=True)
        resp.header.revision = at
        for found in answers:
            resp.responses.add().response_range.kvs.extend(found)
        return resp


async def _rounds(fake: TxnStore, count: int) -> None:
    """Until `count` rounds have reached the store."""
    async with asyncio.timeout(5):
        while len(fake.rounds) < count:
            await asyncio.sleep(0)


async def test_consistent_reads_asked_together_share_one_round_and_never_one_sent_before_them() -> None:
    fake = TxnStore()
    barrier = ReadBarrier(fake)  # type: ignore[arg-type]
    a, b = b"/registry/cm/ns/a", b"/registry/cm/ns/b"
    first = [asyncio.create_task(barrier.read(key)) for key in (a, b, a)]
    await _rounds(fake, 1)
    assert fake.rounds == [[a, b]]  # one transaction for the three
    fake.revision = 11  # a write acknowledged while that round is in flight
    later = [asyncio.create_task(barrier.read(b)), asyncio.create_task(barrier.read())]
    await _rounds(fake, 2)
    assert fake.rounds[1] == [b, b"/registry/"]  # a round of its own: the one in flight began before these reads
    fake.gate.set()
    (kv_a, rev_a), (kv_b, rev_b), (kv_a2, _) = await asyncio.gather(*first)
    assert kv_a is not None and kv_a2 is kv_a and kv_b is not None and rev_a == rev_b == 10
    (kv_b2, rev_b2), (probe, rev_probe) = await asyncio.gather(*later)
    assert kv_b2 is not None and probe is None and rev_b2 == rev_probe == 11


async def test_consistent_gets_take_the_cached_object_of_the_version_the_store_names() -> None:
    fake = TxnStore()
    fake.gate.set()
    async with _ready_cache(fake) as cache:
        (a, _), _ = cache.snapshot(lambda o: True)
        registry = Registry(fake)  # type: ignore[arg-type]
        assert await registry.get("/registry/cm/ns/a", cache.decoded) is a
        fake.kvs[0] = _kv("/registry/cm/ns/a", 12, 5, {"metadata": {"name": "a"}})  # newer than the cache
        newer = await registry.get("/registry/cm/ns/a", cache.decoded)
        assert newer is not None and newer is not a and newer["metadata"]["resourceVersion"] == "12"
        assert await registry.get("/registry/cm/ns/zz", cache.decoded) is None and len(fake.rounds) == 3
