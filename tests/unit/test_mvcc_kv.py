"""etcd's Range / Put / DeleteRange / Compact semantics on the key-value state machine."""

from __future__ import annotations

import pytest

from store.mvcc.errors import (
    CompactedError,
    EmptyKeyError,
    FutureRevisionError,
    KeyNotFoundError,
    LeaseNotFoundError,
    LeaseProvidedError,
    MVCCError,
    ValueProvidedError,
)
from store.mvcc.index import ENTRY_OVERHEAD, KeyIndex
from store.mvcc.kvstore import KVStore
from store.mvcc.types import KeyValue, SortOrder, SortTarget


def keys(kvs: list[KeyValue]) -> list[bytes]:
    return [kv.key for kv in kvs]


@pytest.fixture
def store() -> KVStore:
    return KVStore()


def test_an_empty_store_is_at_revision_1_and_the_first_write_gets_2(store: KVStore) -> None:
    assert store.revision == 1
    assert store.range(b"a").revision == 1
    assert store.put(b"a", b"1").revision == 2
    assert store.revision == 2


def test_versions_and_revisions_follow_each_write(store: KVStore) -> None:
    store.put(b"a", b"1")
    store.put(b"b", b"x")
    store.put(b"a", b"2")
    (kv,) = store.range(b"a").kvs
    assert (kv.create_revision, kv.mod_revision, kv.version, kv.value) == (2, 4, 2, b"2")


def test_delete_then_recreate_resets_version_and_create_revision(store: KVStore) -> None:
    store.put(b"a", b"1")
    store.put(b"a", b"2")
    assert store.delete_range(b"a").revision == 4
    store.put(b"a", b"3")
    (kv,) = store.range(b"a").kvs
    assert (kv.create_revision, kv.mod_revision, kv.version) == (5, 5, 1)


def test_deleting_nothing_takes_no_revision(store: KVStore) -> None:
    store.put(b"a", b"1")
    response = store.delete_range(b"b", b"c")
    assert (response.deleted, response.revision, store.revision) == (0, 2, 2)
    store.delete_range(b"a")
    assert store.delete_range(b"a").revision == 3


def test_delete_range_returns_count_and_prev_kvs_only_when_asked(store: KVStore) -> None:
    for k in (b"a", b"b", b"c"):
        store.put(k, k)
    response = store.delete_range(b"a", b"c", prev_kv=True)
    assert response.deleted == 2
    assert keys(response.prev_kvs) == [b"a", b"b"]
    assert response.prev_kvs[0].value == b"a"
    store.put(b"a", b"again")
    assert store.delete_range(b"a", prev_kv=False).prev_kvs == []
    assert keys(store.range(b"a", b"\0").kvs) == [b"c"]


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (b"b", b"", [b"b"]),  # empty range_end: the single key
        (b"b", b"\0", [b"b", b"b/1", b"b/2", b"c"]),  # "\0": every key >= key
        (b"b/", b"b0", [b"b/1", b"b/2"]),  # prefix: key + 1 on the last byte
        (b"\0", b"\0", [b"a", b"b", b"b/1", b"b/2", b"c"]),  # everything
        (b"b", b"b/2", [b"b", b"b/1"]),  # end is exclusive
        (b"c", b"a", []),  # end before start
        (b"zz", b"", []),  # missing key
    ],
)
def test_range_end_conventions(store: KVStore, start: bytes, end: bytes, expected: list[bytes]) -> None:
    for k in (b"a", b"b", b"b/1", b"b/2", b"c"):
        store.put(k, b"v")
    response = store.range(start, end)
    assert keys(response.kvs) == expected
    assert response.count == len(expected)


def test_limit_sets_more_and_count_ignores_limit(store: KVStore) -> None:
    for i in range(10):
        store.put(b"k%d" % i, b"v")
    response = store.range(b"k", b"l", limit=3)
    assert keys(response.kvs) == [b"k0", b"k1", b"k2"]
    assert response.more
    assert response.count == 10
    exact = store.range(b"k", b"l", limit=10)
    assert len(exact.kvs) == 10
    assert not exact.more


def test_count_only_returns_no_kvs(store: KVStore) -> None:
    for i in range(5):
        store.put(b"k%d" % i, b"v")
    store.delete_range(b"k1")
    response = store.range(b"k", b"l", count_only=True)
    assert (response.kvs, response.count, response.more) == ([], 4, False)
    old = store.range(b"k", b"l", count_only=True, revision=6)
    assert (old.kvs, old.count) == ([], 5)


def test_keys_only_drops_values_but_keeps_metadata(store: KVStore) -> None:
    store.put(b"a", b"value")
    (kv,) = store.range(b"a", keys_only=True).kvs
    assert (kv.key, kv.value, kv.version, kv.mod_revision) == (b"a", b"", 1, 2)
    assert store.range(b"a").kvs[0].value == b"value"


def test_range_at_an_old_revision_sees_that_revision(store: KVStore) -> None:
    store.put(b"a", b"1")  # 2
    store.put(b"b", b"1")  # 3
    store.put(b"a", b"2")  # 4
    store.delete_range(b"b")  # 5
    at3 = store.range(b"a", b"\0", revision=3)
    assert [(kv.key, kv.value) for kv in at3.kvs] == [(b"a", b"1"), (b"b", b"1")]
    assert at3.revision == 5  # the header carries the current revision
    assert keys(store.range(b"a", b"\0", revision=5).kvs) == [b"a"]
    assert store.range(b"a", revision=1).kvs == []
    limited = store.range(b"a", b"\0", revision=3, limit=1)
    assert (keys(limited.kvs), limited.more, limited.count) == ([b"a"], True, 2)


def test_future_and_compacted_revisions_are_errors(store: KVStore) -> None:
    for i in range(5):
        store.put(b"a", b"%d" % i)  # revisions 2..6
    with pytest.raises(FutureRevisionError) as future:
        store.range(b"a", revision=7)
    assert future.value.message == "mvcc: required revision is a future revision"
    store.compact(4)
    with pytest.raises(CompactedError) as compacted:
        store.range(b"a", revision=3)
    assert compacted.value.message == "mvcc: required revision has been compacted"
    assert store.range(b"a", revision=4).kvs[0].value == b"2"


def test_compact_errors_and_kept_versions(store: KVStore) -> None:
    store.put(b"live", b"old")  # 2
    store.put(b"gone", b"x")  # 3
    store.delete_range(b"gone")  # 4
    store.put(b"other", b"y")  # 5
    store.put(b"live", b"new")  # 6
    with pytest.raises(FutureRevisionError):
        store.compact(7)
    assert store.compact(5) == 6
    with pytest.raises(CompactedError):
        store.compact(5)
    with pytest.raises(CompactedError):
        store.compact(3)
    at5 = store.range(b"\0", b"\0", revision=5)
    # The latest version at or below the compaction revision of each live key survives it.
    assert [(kv.key, kv.value) for kv in at5.kvs] == [(b"live", b"old"), (b"other", b"y")]
    assert store.compact_revision == 5
    store.compact(6)
    assert store.range(b"live", revision=6).kvs[0].value == b"new"


def test_compaction_frees_size_and_keeps_current_data(store: KVStore) -> None:
    for i in range(100):
        store.put(b"k", b"x" * 100 + b"%d" % i)
    before = store.size_bytes
    store.compact(store.revision)
    assert store.size_bytes < before / 40  # at most two of the hundred versions remain
    assert store.range(b"k").kvs[0].version == 100
    store.delete_range(b"k")
    store.put(b"other", b"v")
    store.compact(store.revision)
    # Only "other" is left: the deleted key's versions and tombstone are all below the compaction.
    assert store.size_bytes == len(b"other") + len(b"v") + ENTRY_OVERHEAD
    assert store.key_count == 1


@pytest.mark.parametrize(
    ("target", "order", "expected"),
    [
        (SortTarget.KEY, SortOrder.NONE, [b"a", b"b", b"c"]),
        (SortTarget.KEY, SortOrder.ASCEND, [b"a", b"b", b"c"]),
        (SortTarget.KEY, SortOrder.DESCEND, [b"c", b"b", b"a"]),
        (SortTarget.VERSION, SortOrder.NONE, [b"c", b"a", b"b"]),  # NONE on a non-key target is ascending
        (SortTarget.VERSION, SortOrder.DESCEND, [b"b", b"a", b"c"]),
        (SortTarget.CREATE, SortOrder.ASCEND, [b"b", b"c", b"a"]),
        (SortTarget.CREATE, SortOrder.DESCEND, [b"a", b"c", b"b"]),
        (SortTarget.MOD, SortOrder.ASCEND, [b"c", b"a", b"b"]),
        (SortTarget.MOD, SortOrder.DESCEND, [b"b", b"a", b"c"]),
        (SortTarget.VALUE, SortOrder.ASCEND, [b"b", b"c", b"a"]),
        (SortTarget.VALUE, SortOrder.DESCEND, [b"a", b"c", b"b"]),
    ],
)
def test_sorting(store: KVStore, target: SortTarget, order: SortOrder, expected: list[bytes]) -> None:
    store.put(b"b", b"1")  # 2
    store.put(b"c", b"2")  # 3
    store.put(b"a", b"3")  # 4
    store.put(b"a", b"3")  # 5
    store.put(b"b", b"1")  # 6
    store.put(b"b", b"1")  # 7  -> versions a=2 b=3 c=1; mods c=3 a=5 b=7
    assert keys(store.range(b"a", b"\0", sort_target=target, sort_order=order).kvs) == expected


def test_sorting_applies_before_limit(store: KVStore) -> None:
    for k in (b"a", b"b", b"c"):
        store.put(k, b"v")
    response = store.range(b"a", b"\0", limit=2, sort_order=SortOrder.DESCEND)
    assert (keys(response.kvs), response.more, response.count) == ([b"c", b"b"], True, 3)


def test_revision_filters_prune_kvs_but_not_count(store: KVStore) -> None:
    for k in (b"a", b"b", b"c", b"d"):
        store.put(k, b"v")  # a=2 b=3 c=4 d=5
    store.put(b"a", b"v2")  # a mod 6
    mods = store.range(b"a", b"\0", min_mod_revision=3, max_mod_revision=5)
    assert (keys(mods.kvs), mods.count) == ([b"b", b"c", b"d"], 4)
    creates = store.range(b"a", b"\0", min_create_revision=3, max_create_revision=4)
    assert keys(creates.kvs) == [b"b", b"c"]
    limited = store.range(b"a", b"\0", min_mod_revision=4, limit=1)
    assert (keys(limited.kvs), limited.more) == ([b"a"], True)


def test_put_prev_kv(store: KVStore) -> None:
    assert store.put(b"a", b"1", prev_kv=True).prev_kv is None
    prev = store.put(b"a", b"2", prev_kv=True).prev_kv
    assert prev is not None and prev.value == b"1"
    assert store.put(b"a", b"3").prev_kv is None


def test_ignore_value_and_ignore_lease(store: KVStore) -> None:
    store.lessor.grant(7, 60, now=0.0)
    store.put(b"a", b"keep", lease=7)
    store.put(b"a", ignore_value=True)
    (kv,) = store.range(b"a").kvs
    assert (kv.value, kv.lease, kv.version) == (b"keep", 0, 2)
    store.put(b"a", b"new", lease=7)
    store.put(b"a", b"newer", ignore_lease=True)
    (kv,) = store.range(b"a").kvs
    assert (kv.value, kv.lease) == (b"newer", 7)
    with pytest.raises(KeyNotFoundError) as missing:
        store.put(b"missing", ignore_value=True)
    assert missing.value.message == "etcdserver: key not found"
    with pytest.raises(KeyNotFoundError):
        store.put(b"missing", b"v", ignore_lease=True)
    with pytest.raises(ValueProvidedError):
        store.put(b"a", b"v", ignore_value=True)
    with pytest.raises(LeaseProvidedError):
        store.put(b"a", b"v", lease=7, ignore_lease=True)
    assert store.revision == 5


def test_put_with_an_unknown_lease_fails_without_a_revision(store: KVStore) -> None:
    with pytest.raises(LeaseNotFoundError) as error:
        store.put(b"a", b"v", lease=99)
    assert error.value.message == "etcdserver: requested lease not found"
    assert store.revision == 1
    assert store.range(b"a").kvs == []


def test_empty_keys_are_rejected(store: KVStore) -> None:
    with pytest.raises(EmptyKeyError):
        store.put(b"", b"v")
    with pytest.raises(EmptyKeyError):
        store.range(b"")
    with pytest.raises(EmptyKeyError):
        store.delete_range(b"", b"\0")


def test_error_text_starts_with_etcd_message_and_adds_context(store: KVStore) -> None:
    with pytest.raises(MVCCError) as error:
        store.range(b"a", revision=9)
    assert str(error.value).startswith(FutureRevisionError.message + " (")
    assert "9" in str(error.value)


def test_returned_kvs_are_not_changed_by_later_writes(store: KVStore) -> None:
    store.put(b"a", b"1")
    held = store.range(b"a").kvs[0]
    store.put(b"a", b"2")
    store.delete_range(b"a")
    assert (held.value, held.version) == (b"1", 1)


def test_many_keys_stay_ordered_across_chunk_splits(store: KVStore) -> None:
    # Enough keys, inserted out of order, to split the sorted key set's chunks several times.
    n = 5000
    for i in range(n):
        store.put(b"/registry/pods/%05d" % ((i * 7919) % n), b"v")
    response = store.range(b"/registry/pods/", b"/registry/pods0", limit=500)
    assert keys(response.kvs) == [b"/registry/pods/%05d" % i for i in range(500)]
    assert (response.count, response.more) == (n, True)
    store.delete_range(b"/registry/pods/01000", b"/registry/pods/04000")
    assert store.range(b"/registry/pods/", b"/registry/pods0", count_only=True).count == 2000
    tail = store.range(b"/registry/pods/00999", b"/registry/pods0", limit=2)
    assert keys(tail.kvs) == [b"/registry/pods/00999", b"/registry/pods/04000"]


def test_paginated_list_at_a_fixed_revision_while_writes_continue(store: KVStore) -> None:
    # The apiserver's paginated LIST: page 1 at the current revision, later pages at that revision.
    for i in range(20):
        store.put(b"/pods/%02d" % i, b"v1")
    first = store.range(b"/pods/", b"/pods0", limit=5)
    pinned = first.revision
    store.delete_range(b"/pods/07")
    store.put(b"/pods/03", b"v2")
    store.put(b"/pods/99", b"new")
    seen = keys(first.kvs)
    response = first
    while response.more:
        response = store.range(seen[-1] + b"\0", b"/pods0", limit=5, revision=pinned)
        assert response.count == 20 - len(seen)
        seen += keys(response.kvs)
    assert seen == [b"/pods/%02d" % i for i in range(20)]
    assert store.range(b"/pods/03", revision=pinned).kvs[0].value == b"v1"


def test_index_keeps_the_last_of_two_writes_to_a_key_in_one_revision() -> None:
    # The API rejects such txns (duplicate key), but the index must still order sub-revisions.
    index = KeyIndex()
    index.put(b"k", b"first", 0, 2)
    index.put(b"k", b"second", 0, 2)
    index.put(b"other", b"x", 0, 3)
    at2 = index.at(b"k", 2)
    assert at2 is not None and (at2.value, at2.version) == (b"second", 2)
    assert [e.kv.value for e in index.events_from(2)] == [b"first", b"second", b"x"]
    index.delete(b"k", 3)
    assert index.at(b"k", 3) is None
    assert index.range_at(b"k", b"l", 2, 0) == [at2]
    assert index.count_at(b"a", b"z", 2) == 1
