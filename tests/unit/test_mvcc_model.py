"""Random operation sequences against a naive model of etcd's data model (key -> list of versions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.mvcc.errors import CompactedError, FutureRevisionError
from store.mvcc.kvstore import KVStore
from store.mvcc.types import (
    DeleteRangeRequest,
    Event,
    EventType,
    KeyValue,
    PutRequest,
    RangeRequest,
    RangeResponse,
)
from store.mvcc.watch_hub import Watcher

KEYS = [b"a", b"a\x00", b"ab", b"b", b"ba", b"c"]
ENDS = [b"", b"\0", b"a\x00", b"b", b"bb", b"d", b"a"]


def in_range(key: bytes, start: bytes, end: bytes) -> bool:
    if not end:
        return key == start
    if end == b"\0":
        return key >= start
    return start <= key < end


@dataclass
class Model:
    """The obvious implementation: every version of every key, scanned linearly."""

    revision: int = 1
    compacted: int = 0
    history: dict[bytes, list[KeyValue]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    def at(self, key: bytes, revision: int) -> KeyValue | None:
        found = None
        for kv in self.history.get(key, []):
            if kv.mod_revision <= revision:
                found = kv
        return found if found is not None and found.version else None

    def range(self, start: bytes, end: bytes, revision: int) -> list[KeyValue]:
        kvs = [self.at(k, revision) for k in sorted(self.history) if in_range(k, start, end)]
        return [kv for kv in kvs if kv is not None]

    def put(self, key: bytes, value: bytes, revision: int) -> None:
        prev = self.at(key, revision)
        if prev is None:
            kv = KeyValue(key, revision, revision, 1, value, 0)
        else:
            kv = KeyValue(key, prev.create_revision, revision, prev.version + 1, value, 0)
        self.history.setdefault(key, []).append(kv)
        self.events.append(Event(EventType.PUT, kv, prev))

    def delete(self, start: bytes, end: bytes, revision: int) -> int:
        live = self.range(start, end, revision)
        for prev in live:
            tomb = KeyValue(prev.key, 0, revision, 0, b"", 0)
            self.history[prev.key].append(tomb)
            self.events.append(Event(EventType.DELETE, tomb, prev))
        return len(live)


key_st = st.sampled_from(KEYS)
end_st = st.sampled_from(ENDS)
value_st = st.binary(max_size=3)
write_st = st.one_of(
    st.tuples(st.just("put"), key_st, value_st),
    st.tuples(st.just("delete"), key_st, end_st),
)
# Revisions stay small (a write is one op in two), so revision arguments are drawn from a small range
# to hit compacted, current and future revisions alike.
revision_st = st.integers(0, 16)
op_st = st.one_of(
    write_st,
    write_st,
    write_st,
    st.tuples(st.just("txn"), st.lists(write_st, max_size=4)),
    st.tuples(st.just("compact"), revision_st),
    st.tuples(st.just("range"), key_st, end_st, revision_st, st.integers(0, 3)),
    # A page of a paginated list: a limited read a few revisions back, as the apiserver does.
    st.tuples(st.just("page"), st.just(b"a"), st.just(b"\0"), st.integers(1, 2), st.integers(1, 3)),
    st.tuples(st.just("watch"), key_st, end_st, revision_st),
    st.tuples(st.just("sync"), st.integers(1, 4)),
)


def txn_writes_conflict(writes: list[tuple[str, bytes, bytes]]) -> bool:
    """Whether etcd would reject these writes as one txn branch (a put meeting another write)."""
    puts = [w[1] for w in writes if w[0] == "put"]
    deletes = [(w[1], w[2]) for w in writes if w[0] == "delete"]
    return len(set(puts)) < len(puts) or any(in_range(p, s, e) for p in puts for s, e in deletes)


EventTuple = tuple[EventType, KeyValue, KeyValue | None]


def model_events_for(model: Model, start: bytes, end: bytes, from_revision: int) -> list[EventTuple]:
    return [
        (e.type, e.kv, e.prev_kv)
        for e in model.events
        if e.kv.mod_revision >= from_revision and in_range(e.kv.key, start, end)
    ]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op_st, max_size=40))
def test_random_operations_match_the_model(ops: list[tuple[Any, ...]]) -> None:
    store = KVStore()
    model = Model()
    everything = store.watch_hub.watch(b"\0", b"\0", prev_kv=True)
    assert everything.synced
    late: list[tuple[Watcher, bytes, bytes, int]] = []
    for op in ops:
        kind = op[0]
        if kind == "put":
            _, key, value = op
            rev = store.put(key, value).revision
            model.revision += 1
            model.put(key, value, model.revision)
            assert rev == model.revision
        elif kind == "delete":
            _, key, end = op
            expected = model.delete(key, end, model.revision + 1)
            if expected:
                model.revision += 1
            deleted = store.delete_range(key, end)
            assert (deleted.deleted, deleted.revision) == (expected, model.revision)
        elif kind == "txn":
            writes = op[1]
            if txn_writes_conflict(writes):
                continue
            success = [PutRequest(w[1], w[2]) if w[0] == "put" else DeleteRangeRequest(w[1], w[2]) for w in writes]
            revision = model.revision + 1
            before = len(model.events)
            for w in writes:
                if w[0] == "put":
                    model.put(w[1], w[2], revision)
                else:
                    model.delete(w[1], w[2], revision)
            if len(model.events) > before:
                model.revision = revision
            txn = store.txn([], success, [])
            assert txn.succeeded and txn.revision == model.revision
        elif kind == "compact":
            target = op[1]
            if target <= model.compacted:
                with pytest.raises(CompactedError):
                    store.compact(target)
            elif target > model.revision:
                with pytest.raises(FutureRevisionError):
                    store.compact(target)
            else:
                store.compact(target)
                model.compacted = target
        elif kind in ("range", "page"):
            _, key, end, revision, limit = op
            if kind == "page":
                revision = max(model.revision - revision, model.compacted, 1)
            if revision > model.revision:
                with pytest.raises(FutureRevisionError):
                    store.range(key, end, revision=revision)
                continue
            if 0 < revision < model.compacted:
                with pytest.raises(CompactedError):
                    store.range(key, end, revision=revision)
                continue
            kvs = model.range(key, end, revision or model.revision)
            read = store.range(key, end, revision=revision, limit=limit)
            assert read.count == len(kvs)
            assert read.kvs == (kvs[:limit] if limit else kvs)
            assert read.more == (0 < limit < len(kvs))
            assert read.revision == model.revision
        elif kind == "watch":
            _, key, end, start = op
            watcher = store.watch_hub.watch(key, end, start, prev_kv=True)
            effective = start or model.revision + 1
            if effective < model.compacted:
                assert watcher.canceled and watcher.compact_revision == model.compacted
            else:
                late.append((watcher, key, end, effective))
        else:
            store.watch_hub.sync(max_events=op[1])
    while store.watch_hub.sync(max_events=3):
        pass
    got = [(e.type, e.kv, e.prev_kv) for batch in everything.drain() for e in batch.events]
    assert got == model_events_for(model, b"\0", b"\0", 1)
    for watcher, key, end, start in late:
        batches = watcher.drain()
        if watcher.canceled:
            # Compacted before it caught up: it must not have been fed anything past the compaction.
            assert watcher.compact_revision > start
            continue
        assert [b.revision for b in batches] == sorted({b.revision for b in batches})
        got = [(e.type, e.kv, e.prev_kv) for batch in batches for e in batch.events]
        assert got == model_events_for(model, key, end, start)
    restored = KVStore()
    restored.restore(store.snapshot())
    assert restored.snapshot() == store.snapshot()
    for revision in range(max(model.compacted, 1), model.revision + 1):
        assert restored.range(b"\0", b"\0", revision=revision).kvs == model.range(b"\0", b"\0", revision)
    assert [(e.type, e.kv, e.prev_kv) for e in restored.events_from(0)] == [
        (e.type, e.kv, e.prev_kv) for e in store.events_from(0)
    ]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["put", "delete", "txn-range"]), key_st, end_st), max_size=30))
def test_range_inside_a_txn_sees_the_txn_s_own_earlier_writes(ops: list[tuple[str, bytes, bytes]]) -> None:
    store = KVStore()
    model = Model()
    for kind, key, end in ops:
        if kind == "put":
            store.put(key, b"v")
            model.revision += 1
            model.put(key, b"v", model.revision)
        elif kind == "delete":
            if model.delete(key, end, model.revision + 1):
                model.revision += 1
            store.delete_range(key, end)
        else:
            # put key, then read the range, all in one txn
            response = store.txn([], [PutRequest(key, b"t"), RangeRequest(key, end)], [])
            model.revision += 1
            model.put(key, b"t", model.revision)
            inner = response.responses[1]
            assert isinstance(inner, RangeResponse)
            assert inner.kvs == model.range(key, end, model.revision)
            assert inner.revision == response.revision == model.revision
