"""Snapshots carry the whole state: every readable revision, the event log, compaction and leases."""

from __future__ import annotations

import msgpack  # type: ignore[import-untyped]
import pytest

from store.mvcc.errors import CompactedError
from store.mvcc.kvstore import KVStore
from store.mvcc.types import DeleteRangeRequest, PutRequest


def busy_store() -> KVStore:
    store = KVStore()
    store.lessor.grant(3, 100, now=0.0)
    for i in range(30):
        store.put(b"k/%02d" % (i % 7), b"v%d" % i, lease=3 if i % 5 == 0 else 0)
        if i % 4 == 0:
            store.delete_range(b"k/%02d" % (i % 3))
    store.txn([], [PutRequest(b"t/1", b"a"), DeleteRangeRequest(b"k/00", b"k/02"), PutRequest(b"t/0", b"b")], [])
    store.compact(20)
    store.put(b"k/01", b"after")
    return store


def test_round_trip_is_equal_at_every_readable_revision() -> None:
    store = busy_store()
    restored = KVStore()
    restored.restore(store.snapshot())
    assert (restored.revision, restored.compact_revision) == (store.revision, store.compact_revision)
    assert restored.size_bytes == store.size_bytes
    assert restored.key_count == store.key_count
    for revision in range(store.compact_revision, store.revision + 1):
        assert restored.range(b"\0", b"\0", revision=revision) == store.range(b"\0", b"\0", revision=revision)
    with pytest.raises(CompactedError):
        restored.range(b"k/", b"k0", revision=store.compact_revision - 1)
    assert list(restored.events_from(0)) == list(store.events_from(0))
    assert restored.lessor.export() == store.lessor.export()
    assert restored.snapshot() == store.snapshot()


def test_restored_store_keeps_evolving_identically() -> None:
    store = busy_store()
    restored = KVStore()
    restored.restore(store.snapshot())
    for target in (store, restored):
        target.put(b"k/03", b"x")
        target.delete_range(b"k/", b"k0")
        target.compact(target.revision - 1)
        target.lease_revoke(3)
    assert restored.snapshot() == store.snapshot()


def test_an_unknown_format_is_refused() -> None:
    data = msgpack.packb([99, 1, 0, [], [], []], use_bin_type=True)
    with pytest.raises(ValueError, match="format 99"):
        KVStore().restore(data)


def test_empty_store_round_trip() -> None:
    restored = KVStore()
    restored.put(b"stale", b"x")
    restored.restore(KVStore().snapshot())
    assert restored.revision == 1
    assert restored.range(b"\0", b"\0").kvs == []
    assert restored.size_bytes == 0


def test_a_chain_of_deltas_restores_the_same_state_as_a_whole_snapshot() -> None:
    store = KVStore()
    store.lessor.grant(3, 100, now=0.0)
    base = store.snapshot()
    deltas = []
    since = store.revision
    for round_ in range(4):
        for i in range(12):
            store.put(b"k/%02d" % ((i * 5 + round_) % 9), b"v%d-%d" % (round_, i), lease=3 if i % 4 == 0 else 0)
            if i % 5 == 0:
                store.delete_range(b"k/%02d" % ((i + round_) % 9))
        if round_ == 2:
            store.compact(since + 1)  # compacting up to the last snapshot's revision keeps every later event
        assert store.can_extend(since)
        deltas.append(store.snapshot(since))
        since = store.revision
    restored = KVStore()
    restored.put(b"stale", b"x")
    restored.restore(base, deltas)
    whole = KVStore()
    whole.restore(store.snapshot())
    assert restored.snapshot() == whole.snapshot() == store.snapshot()
    assert restored.size_bytes == store.size_bytes
    assert restored.lessor.export() == store.lessor.export()
    for revision in range(store.compact_revision, store.revision + 1):
        assert restored.range(b"\0", b"\0", revision=revision) == store.range(b"\0", b"\0", revision=revision)


def test_no_delta_once_compaction_dropped_events_after_its_start() -> None:
    store = busy_store()
    since = store.revision
    store.put(b"a", b"1")
    store.put(b"a", b"2")
    assert store.can_extend(since)
    store.compact(since + 2)
    assert not store.can_extend(since)


def test_a_delta_that_does_not_follow_the_chain_is_refused() -> None:
    store = busy_store()
    base = store.snapshot()
    store.put(b"a", b"1")
    since = store.revision
    store.put(b"a", b"2")
    with pytest.raises(ValueError, match="chain ends at"):
        KVStore().restore(base, [store.snapshot(since)])
