"""The watch hub: routes each applied revision's events to the watchers whose key range they touch.

Like etcd's watchable store it keeps two sets. A *synced* watcher has seen everything up to the
current revision and receives new events as they are applied. An *unsynced* watcher (created with a
past start revision, or resynced after a snapshot restore) is fed from the event log by ``sync`` in
bounded steps, and joins the synced set once it reaches the current revision. Everything runs on one
thread, so that hand-over has no gap and no duplicate.

Synced watchers on a single key are found by a dict lookup; range watchers by one bisection over
the elementary intervals their bounds cut the key space into, so a write costs O(log ranges + the
watchers it actually concerns), not O(watchers).

Delivery is a queue per watcher: the hub appends ``WatchBatch``es and calls ``on_ready(watcher)``
when a watcher's queue becomes non-empty or it is cancelled by compaction; the consumer (the
asyncio server) then calls ``watcher.drain()``. The hub never blocks and knows nothing of asyncio.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from store.mvcc.types import Event, EventType, WatchBatch, WatchFilter
from store.mvcc.validation import span_end

_PUT = EventType.PUT
_DELETE = EventType.DELETE


class History(Protocol):
    """What the hub needs from the store: its revisions and its event log."""

    @property
    def revision(self) -> int:
        """The last applied revision."""

    @property
    def compact_revision(self) -> int:
        """Events below this revision are gone."""

    def events_from(self, revision: int) -> Iterator[Event]:
        """Events with revision >= ``revision``, in apply order."""


class Watcher:
    """One watch: a key or key range, options, and the batches waiting for the consumer.

    After ``drain``, a ``canceled`` watcher with ``compact_revision`` > 0 must be reported to the
    client as compacted (etcd's WatchResponse.compact_revision).
    """

    __slots__ = (
        "_end",
        "_pending",
        "canceled",
        "compact_revision",
        "filter_delete",
        "filter_put",
        "key",
        "next_revision",
        "prev_kv",
        "progress_notify",
        "quiet",
        "range_end",
        "synced",
    )

    def __init__(
        self,
        key: bytes,
        range_end: bytes,
        *,
        next_revision: int,
        prev_kv: bool,
        filters: frozenset[WatchFilter],
        progress_notify: bool,
    ) -> None:
        self.key = key
        self.range_end = range_end
        self._end = span_end(key, range_end)
        self.next_revision = next_revision
        self.prev_kv = prev_kv
        self.filter_put = WatchFilter.NOPUT in filters
        self.filter_delete = WatchFilter.NODELETE in filters
        self.progress_notify = progress_notify
        self.synced = False
        self.canceled = False
        self.compact_revision = 0
        # No event delivered since the last progress round: such a watcher is due a progress notification.
        self.quiet = True
        self._pending: list[WatchBatch] = []

    @property
    def has_pending(self) -> bool:
        """Whether ``drain`` would return anything."""
        return bool(self._pending)

    def drain(self) -> list[WatchBatch]:
        """Take the waiting batches, oldest revision first."""
        pending = self._pending
        self._pending = []
        return pending

    def matches(self, key: bytes) -> bool:
        """Whether ``key`` lies in the watched key or range."""
        end = self._end
        if end is None:
            return key == self.key
        return self.key <= key and (not end or key < end)

    def _select(self, events: Iterable[Event]) -> list[Event]:
        """The events this watcher's filters let through, without prev_kv unless it asked for it."""
        selected: list[Event] = []
        for event in events:
            if (self.filter_put and event.type is _PUT) or (self.filter_delete and event.type is _DELETE):
                continue
            selected.append(event if self.prev_kv or event.prev_kv is None else Event(event.type, event.kv))
        return selected


class _RangeIndex:
    """Synced range watchers, answering "which of them cover this key" with one bisection.

    The watchers' bounds cut the key space into elementary intervals; ``_covers[i]`` holds the watchers
    covering [``_bounds[i]``, ``_bounds[i + 1]``). It is rebuilt by a sweep on the first lookup after a
    change: watchers come and go far less often than events arrive.
    """

    __slots__ = ("_bounds", "_covers", "_stale", "_watchers")

    def __init__(self) -> None:
        self._watchers: dict[Watcher, None] = {}
        self._bounds: list[bytes] = []
        self._covers: list[tuple[Watcher, ...]] = []
        self._stale = False

    def __len__(self) -> int:
        return len(self._watchers)

    def __iter__(self) -> Iterator[Watcher]:
        return iter(self._watchers)

    def add(self, watcher: Watcher) -> None:
        self._watchers[watcher] = None
        self._stale = True

    def remove(self, watcher: Watcher) -> None:
        del self._watchers[watcher]
        self._stale = True

    def covering(self, key: bytes) -> tuple[Watcher, ...]:
        """The watchers whose range holds ``key``."""
        if self._stale:
            self._rebuild()
        i = bisect_right(self._bounds, key) - 1
        return self._covers[i] if i >= 0 else ()

    def _rebuild(self) -> None:
        starts: dict[bytes, list[Watcher]] = {}
        ends: dict[bytes, list[Watcher]] = {}
        for watcher in self._watchers:
            end = watcher._end
            if end and end <= watcher.key:
                continue  # an empty range never matches
            starts.setdefault(watcher.key, []).append(watcher)
            if end:
                ends.setdefault(end, []).append(watcher)
        self._bounds = sorted(starts.keys() | ends.keys())
        active: dict[Watcher, None] = {}
        covers: list[tuple[Watcher, ...]] = []
        for bound in self._bounds:
            for watcher in ends.get(bound, ()):
                del active[watcher]
            for watcher in starts.get(bound, ()):
                active[watcher] = None
            covers.append(tuple(active))
        self._covers = covers
        self._stale = False


class WatchHub:
    """All watchers of one store; the store calls ``notify`` once per applied revision."""

    __slots__ = ("_by_key", "_history", "_on_ready", "_progress", "_ranges", "_unsynced")

    def __init__(self, history: History, on_ready: Callable[[Watcher], None] | None = None) -> None:
        self._history = history
        self._on_ready = on_ready
        self._by_key: dict[bytes, list[Watcher]] = {}
        self._ranges = _RangeIndex()
        self._unsynced: dict[Watcher, None] = {}
        self._progress: dict[Watcher, None] = {}

    @property
    def on_ready(self) -> Callable[[Watcher], None] | None:
        """Called with a watcher whose queue became non-empty, or that compaction cancelled."""
        return self._on_ready

    @on_ready.setter
    def on_ready(self, callback: Callable[[Watcher], None] | None) -> None:
        self._on_ready = callback

    @property
    def watcher_count(self) -> int:
        """Number of live watchers, synced or not."""
        return sum(map(len, self._by_key.values())) + len(self._ranges) + len(self._unsynced)

    @property
    def unsynced_count(self) -> int:
        """Watchers still catching up; while non-zero the consumer should keep calling ``sync``."""
        return len(self._unsynced)

    def watch(
        self,
        key: bytes,
        range_end: bytes = b"",
        start_revision: int = 0,
        *,
        prev_kv: bool = False,
        filters: Iterable[WatchFilter] = (),
        progress_notify: bool = False,
    ) -> Watcher:
        """Watch ``key`` (or [key, range_end), etcd's conventions) from ``start_revision`` (0: from now on).

        A start revision below the compaction revision returns a watcher already canceled with
        ``compact_revision`` set; a past one leaves it unsynced until ``sync`` catches it up.
        """
        history = self._history
        current = history.revision
        start = start_revision if start_revision > 0 else current + 1
        watcher = Watcher(
            key,
            range_end,
            next_revision=start,
            prev_kv=prev_kv,
            filters=frozenset(filters),
            progress_notify=progress_notify,
        )
        if progress_notify:
            self._progress[watcher] = None
        if start > current:
            self._add_synced(watcher)
        elif start < history.compact_revision:
            # Not through _cancel: the caller learns it from the returned watcher, before registering it.
            watcher.canceled = True
            watcher.compact_revision = history.compact_revision
            self._progress.pop(watcher, None)
        else:
            self._unsynced[watcher] = None
        return watcher

    def cancel(self, watcher: Watcher) -> None:
        """Stop a watcher; its undrained batches are dropped."""
        if watcher.canceled:
            return
        watcher.canceled = True
        watcher._pending = []
        self._progress.pop(watcher, None)
        if watcher in self._unsynced:
            del self._unsynced[watcher]
            return
        if watcher._end is None:
            same_key = self._by_key[watcher.key]
            same_key.remove(watcher)
            if not same_key:
                del self._by_key[watcher.key]
        else:
            self._ranges.remove(watcher)

    def notify(self, events: list[Event]) -> None:
        """Route the events of one just-applied revision to the synced watchers they concern."""
        by_key = self._by_key
        ranges = self._ranges
        if not by_key and not ranges:
            return
        revision = events[0].kv.mod_revision
        hits: dict[Watcher, list[Event]] = {}
        for event in events:
            key = event.kv.key
            same_key = by_key.get(key)
            if same_key is not None:
                for watcher in same_key:
                    hits.setdefault(watcher, []).append(event)
            for watcher in ranges.covering(key):
                hits.setdefault(watcher, []).append(event)
        for watcher, matched in hits.items():
            # A synced watcher created with a future start revision skips revisions before it.
            if revision >= watcher.next_revision:
                self._deliver(watcher, revision, watcher._select(matched))

    def sync(self, max_events: int = 10_000) -> bool:
        """Feed unsynced watchers from the event log, scanning about ``max_events`` events in all.

        Stops only between revisions, so a revision's events are never split. Returns whether some
        watchers are still unsynced.
        """
        history = self._history
        budget = max_events
        for watcher in list(self._unsynced):
            if budget <= 0:
                break
            compact = history.compact_revision
            if watcher.next_revision < compact:
                del self._unsynced[watcher]
                self._cancel(watcher, compact)
                continue
            budget = self._catch_up(watcher, history.events_from(watcher.next_revision), budget)
            if watcher.next_revision > history.revision:
                del self._unsynced[watcher]
                self._add_synced(watcher)
        return bool(self._unsynced)

    def compacted(self, compact_revision: int) -> None:
        """After a compaction: cancel unsynced watchers that now need events below it."""
        for watcher in list(self._unsynced):
            if watcher.next_revision < compact_revision:
                del self._unsynced[watcher]
                self._cancel(watcher, compact_revision)

    def resync(self, synced_through: int) -> None:
        """After the store's state was replaced (snapshot restore): every synced watcher has seen up to
        ``synced_through`` and catches up from the new history like a new one."""
        watchers = [w for same_key in self._by_key.values() for w in same_key]
        watchers += self._ranges
        self._by_key = {}
        self._ranges = _RangeIndex()
        for watcher in watchers:
            watcher.synced = False
            watcher.next_revision = max(watcher.next_revision, synced_through + 1)
            self._unsynced[watcher] = None

    def progress_due(self) -> list[Watcher]:
        """Synced watchers that asked for progress notifications and got no event since the last call.

        The consumer sends each a response carrying only the current revision (etcd's progress
        notification), then calls again after its interval.
        """
        due = [w for w in self._progress if w.synced and w.quiet]
        for watcher in self._progress:
            watcher.quiet = True
        return due

    def _catch_up(self, watcher: Watcher, events: Iterator[Event], budget: int) -> int:
        """Deliver logged events to ``watcher`` revision by revision until the log ends or the budget does."""
        matched: list[Event] = []
        revision = 0
        for event in events:
            event_revision = event.kv.mod_revision
            if event_revision != revision:
                if matched:
                    self._deliver(watcher, revision, watcher._select(matched))
                    matched = []
                if budget <= 0:
                    watcher.next_revision = event_revision
                    return budget
                revision = event_revision
            budget -= 1
            if watcher.matches(event.kv.key):
                matched.append(event)
        if matched:
            self._deliver(watcher, revision, watcher._select(matched))
        watcher.next_revision = self._history.revision + 1
        return budget

    def _deliver(self, watcher: Watcher, revision: int, events: list[Event]) -> None:
        watcher.next_revision = revision + 1
        if not events:
            return
        watcher.quiet = False
        pending = watcher._pending
        pending.append(WatchBatch(revision, events))
        if len(pending) == 1 and self._on_ready is not None:
            self._on_ready(watcher)

    def _add_synced(self, watcher: Watcher) -> None:
        watcher.synced = True
        if watcher._end is None:
            self._by_key.setdefault(watcher.key, []).append(watcher)
        else:
            self._ranges.add(watcher)

    def _cancel(self, watcher: Watcher, compact_revision: int) -> None:
        watcher.canceled = True
        watcher.compact_revision = compact_revision
        self._progress.pop(watcher, None)
        if self._on_ready is not None:
            self._on_ready(watcher)
