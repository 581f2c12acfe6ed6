"""The watch hub: routing, catch-up from history, compaction, filters, progress, restore."""

from __future__ import annotations

from store.mvcc.kvstore import KVStore
from store.mvcc.types import DeleteRangeRequest, EventType, PutRequest, WatchBatch, WatchFilter
from store.mvcc.watch_hub import Watcher


def flat(batches: list[WatchBatch]) -> list[tuple[int, EventType, bytes, bytes]]:
    return [(b.revision, e.type, e.kv.key, e.kv.value) for b in batches for e in b.events]


def state(watcher: Watcher) -> tuple[bool, bool]:
    """(synced, has_pending), read through a call so the type checker does not pin them after an assert."""
    return watcher.synced, watcher.has_pending


def sync_all(store: KVStore) -> None:
    while store.watch_hub.sync(max_events=2):
        pass


def test_a_synced_watcher_gets_each_revision_s_events_for_its_key() -> None:
    store = KVStore()
    hub = store.watch_hub
    single = hub.watch(b"a")
    prefix = hub.watch(b"p/", b"p0")
    assert single.synced and prefix.synced
    store.put(b"a", b"1")
    store.put(b"p/1", b"x")
    store.put(b"b", b"ignored")
    store.txn([], [PutRequest(b"p/2", b"y"), PutRequest(b"a", b"2"), DeleteRangeRequest(b"p/1")], [])
    assert flat(single.drain()) == [(2, EventType.PUT, b"a", b"1"), (5, EventType.PUT, b"a", b"2")]
    batches = prefix.drain()
    assert [b.revision for b in batches] == [3, 5]
    assert flat(batches) == [
        (3, EventType.PUT, b"p/1", b"x"),
        (5, EventType.PUT, b"p/2", b"y"),
        (5, EventType.DELETE, b"p/1", b""),
    ]
    assert single.drain() == []


def test_delete_events_carry_the_key_and_revision_and_prev_kv_only_when_asked() -> None:
    store = KVStore()
    with_prev = store.watch_hub.watch(b"a", prev_kv=True)
    without = store.watch_hub.watch(b"a")
    store.put(b"a", b"1")
    store.put(b"a", b"2")
    store.delete_range(b"a")
    events = [e for b in with_prev.drain() for e in b.events]
    assert [e.prev_kv.value if e.prev_kv else None for e in events] == [None, b"1", b"2"]
    tomb = events[-1].kv
    assert (tomb.key, tomb.mod_revision, tomb.version, tomb.create_revision) == (b"a", 4, 0, 0)
    assert all(e.prev_kv is None for b in without.drain() for e in b.events)


def test_filters_drop_puts_or_deletes() -> None:
    store = KVStore()
    no_put = store.watch_hub.watch(b"a", filters=[WatchFilter.NOPUT])
    no_delete = store.watch_hub.watch(b"a", filters=[WatchFilter.NODELETE])
    store.put(b"a", b"1")
    store.delete_range(b"a")
    assert [e for _, e, _, _ in flat(no_put.drain())] == [EventType.DELETE]
    assert [e for _, e, _, _ in flat(no_delete.drain())] == [EventType.PUT]


def test_a_past_start_revision_catches_up_in_order_without_gap_or_duplicate() -> None:
    store = KVStore()
    for i in range(10):
        store.put(b"k", b"%d" % i)  # revisions 2..11
    watcher = store.watch_hub.watch(b"k", start_revision=4)
    assert not state(watcher)[0]
    assert store.watch_hub.unsynced_count == 1
    # Writes while it is still unsynced must come from history, once.
    store.watch_hub.sync(max_events=3)
    store.put(b"k", b"late")  # 12
    store.watch_hub.sync(max_events=3)
    store.put(b"k", b"later")  # 13
    sync_all(store)
    assert state(watcher)[0]
    store.put(b"k", b"live")  # 14
    revisions = [r for r, _, _, _ in flat(watcher.drain())]
    assert revisions == list(range(4, 15))


def test_catch_up_never_splits_a_revision() -> None:
    store = KVStore()
    store.txn([], [PutRequest(b"k%d" % i, b"v") for i in range(5)], [])  # one revision, five events
    store.put(b"k0", b"again")
    watcher = store.watch_hub.watch(b"k", b"l", start_revision=2)
    store.watch_hub.sync(max_events=2)
    batches = watcher.drain()
    assert [(b.revision, len(b.events)) for b in batches] == [(2, 5)]
    sync_all(store)
    assert [(b.revision, len(b.events)) for b in watcher.drain()] == [(3, 1)]


def test_a_future_start_revision_skips_earlier_revisions() -> None:
    store = KVStore()
    watcher = store.watch_hub.watch(b"k", start_revision=4)
    assert watcher.synced
    for i in range(4):
        store.put(b"k", b"%d" % i)  # 2..5
    assert [r for r, _, _, _ in flat(watcher.drain())] == [4, 5]


def test_start_below_the_compaction_revision_is_cancelled_with_it() -> None:
    store = KVStore()
    for i in range(5):
        store.put(b"k", b"%d" % i)  # 2..6
    store.compact(5)
    watcher = store.watch_hub.watch(b"k", start_revision=4)
    assert watcher.canceled and watcher.compact_revision == 5
    at_compaction = store.watch_hub.watch(b"k", start_revision=5)
    sync_all(store)
    assert [r for r, _, _, _ in flat(at_compaction.drain())] == [5, 6]


def test_compaction_cancels_unsynced_watchers_it_overtakes_and_notifies() -> None:
    ready: list[Watcher] = []
    store = KVStore()
    store.watch_hub.on_ready = ready.append
    for i in range(6):
        store.put(b"k", b"%d" % i)  # 2..7
    behind = store.watch_hub.watch(b"k", start_revision=2)
    store.watch_hub.sync(max_events=2)  # delivers 2 and 3
    store.compact(6)
    assert behind.canceled and behind.compact_revision == 6
    assert [r for r, _, _, _ in flat(behind.drain())] == [2, 3]
    assert ready == [behind, behind]  # once for the first batch, once for the cancellation
    assert store.watch_hub.unsynced_count == 0
    store.put(b"k", b"after")
    assert behind.drain() == []


def test_on_ready_fires_when_a_queue_becomes_non_empty() -> None:
    ready: list[Watcher] = []
    store = KVStore()
    store.watch_hub.on_ready = ready.append
    watcher = store.watch_hub.watch(b"k")
    store.put(b"k", b"1")
    store.put(b"k", b"2")
    assert ready == [watcher]
    assert state(watcher)[1]
    watcher.drain()
    assert not state(watcher)[1]
    store.put(b"k", b"3")
    assert ready == [watcher, watcher]


def test_cancel_stops_delivery_and_drops_pending() -> None:
    store = KVStore()
    hub = store.watch_hub
    a = hub.watch(b"k")
    b = hub.watch(b"k")
    r = hub.watch(b"a", b"z")
    store.put(b"k", b"1")
    hub.cancel(a)
    hub.cancel(r)
    hub.cancel(r)
    assert a.drain() == []
    store.put(b"k", b"2")
    assert [v for _, _, _, v in flat(b.drain())] == [b"1", b"2"]
    assert r.drain() == []
    assert hub.watcher_count == 1
    store.put(b"x", b"1")
    unsynced = hub.watch(b"k", start_revision=2)
    hub.cancel(unsynced)
    assert hub.unsynced_count == 0


def test_a_thousand_key_watchers_get_only_their_own_events() -> None:
    store = KVStore()
    watchers = [store.watch_hub.watch(b"key/%04d" % i) for i in range(1000)]
    for i in range(0, 1000, 7):
        store.put(b"key/%04d" % i, b"v")
    for i, watcher in enumerate(watchers):
        assert len(watcher.drain()) == (1 if i % 7 == 0 else 0)


def test_progress_due_lists_quiet_synced_watchers_that_asked_for_it() -> None:
    store = KVStore()
    hub = store.watch_hub
    busy = hub.watch(b"busy", progress_notify=True)
    quiet = hub.watch(b"quiet", progress_notify=True)
    hub.watch(b"plain")
    store.put(b"k", b"1")
    behind = hub.watch(b"k", start_revision=2, progress_notify=True)
    store.put(b"busy", b"1")
    assert hub.progress_due() == [quiet]
    assert set(hub.progress_due()) == {busy, quiet}
    sync_all(store)
    hub.progress_due()
    assert behind in hub.progress_due()


def test_restore_resyncs_watchers_from_the_new_history() -> None:
    leader = KVStore()
    follower = KVStore()
    for store in (leader, follower):
        store.put(b"k", b"1")  # 2
    watcher = follower.watch_hub.watch(b"k", prev_kv=True)
    follower.put(b"k", b"2")  # 3, seen live
    assert [r for r, _, _, _ in flat(watcher.drain())] == [3]
    leader.put(b"k", b"2")  # 3
    leader.put(b"k", b"3")  # 4
    leader.delete_range(b"k")  # 5
    follower.restore(leader.snapshot())
    assert not state(watcher)[0]
    sync_all(follower)
    events = flat(watcher.drain())
    assert events == [(4, EventType.PUT, b"k", b"3"), (5, EventType.DELETE, b"k", b"")]
    assert state(watcher)[0]
    follower.put(b"k", b"4")
    assert [r for r, _, _, _ in flat(watcher.drain())] == [6]


def test_restore_past_a_compaction_cancels_watchers_that_fell_behind() -> None:
    leader = KVStore()
    follower = KVStore()
    watcher = follower.watch_hub.watch(b"k")
    for i in range(5):
        leader.put(b"k", b"%d" % i)  # 2..6
    leader.compact(5)
    follower.restore(leader.snapshot())
    follower.watch_hub.sync()
    assert watcher.canceled and watcher.compact_revision == 5


def test_overlapping_nested_unbounded_and_empty_ranges_route_correctly() -> None:
    store = KVStore()
    hub = store.watch_hub
    ranges = {
        "a-c": hub.watch(b"a", b"c"),
        "b-d": hub.watch(b"b", b"d"),
        "b-": hub.watch(b"b", b"\0"),
        "empty": hub.watch(b"c", b"c"),
        "b/": hub.watch(b"b/", b"b0"),
    }
    for key in (b"a", b"b", b"b/x", b"c", b"d", b"z"):
        store.put(key, b"v")
    got = {name: [k for _, _, k, _ in flat(w.drain())] for name, w in ranges.items()}
    assert got == {
        "a-c": [b"a", b"b", b"b/x"],
        "b-d": [b"b", b"b/x", b"c"],
        "b-": [b"b", b"b/x", b"c", b"d", b"z"],
        "empty": [],
        "b/": [b"b/x"],
    }
    hub.cancel(ranges["b-d"])
    store.put(b"c", b"again")
    assert ranges["b-d"].drain() == []
    assert [k for _, _, k, _ in flat(ranges["b-"].drain())] == [b"c"]
