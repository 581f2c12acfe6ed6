"""The key index: every key's version history, the ordered key sets, and the revision-ordered event log.

Three views of the same history, each serving one access pattern:

* ``_hist`` maps a key to its versions in revision order (a tombstone, ``version == 0``, ends a
  generation); reads at an old revision bisect it.
* ``_all`` orders every key that still has history (ranges at an old revision walk it) and ``_live``
  orders the keys that exist now (ranges and counts at the current revision use it, so a count is a
  rank difference and a limited range touches only ``limit`` keys).
* ``log`` holds every event from the compaction revision on, in apply order; watchers catch up from
  it and compaction knows from it which keys changed since the last compaction.

Invariant: the entries of ``_hist`` with ``mod_revision >= compact revision`` are exactly the kvs of
``log``; below it each key keeps at most its last live version (the one reads at the compaction
revision need and the ``prev_kv`` of its next event).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from itertools import islice

from store.mvcc.sorted_keys import SortedKeys
from store.mvcc.types import Event, EventType, KeyValue

# Rough per-version cost on disk in etcd (revision key, protobuf framing, bbolt page overhead),
# so size_bytes tracks what --quota-backend-bytes is meant to bound.
ENTRY_OVERHEAD = 48

_PUT = EventType.PUT
_DELETE = EventType.DELETE


def _mod_revision(kv: KeyValue) -> int:
    return kv.mod_revision


def _event_revision(event: Event) -> int:
    return event.kv.mod_revision


def _version_at(history: list[KeyValue], revision: int) -> KeyValue | None:
    """The key's live version at ``revision``, or None if it did not exist then."""
    kv = history[-1]
    if kv.mod_revision > revision:
        i = bisect_right(history, revision, key=_mod_revision)
        if i == 0:
            return None
        kv = history[i - 1]
    return kv if kv.version else None


class KeyIndex:
    """Version histories of all keys, with ordered views for ranges and an event log for watchers."""

    __slots__ = ("_all", "_hist", "_live", "log", "size_bytes")

    def __init__(self) -> None:
        self._hist: dict[bytes, list[KeyValue]] = {}
        self._all = SortedKeys()
        self._live = SortedKeys()
        self.log: list[Event] = []
        self.size_bytes = 0

    def __len__(self) -> int:
        """Number of keys that exist now."""
        return len(self._live)

    def latest(self, key: bytes) -> KeyValue | None:
        """The key's current version, or None if it does not exist now."""
        history = self._hist.get(key)
        if history is None:
            return None
        kv = history[-1]
        return kv if kv.version else None

    def at(self, key: bytes, revision: int) -> KeyValue | None:
        """The key's version at ``revision`` (not below the compaction revision), or None."""
        history = self._hist.get(key)
        return None if history is None else _version_at(history, revision)

    def range_latest(self, key: bytes, end: bytes, limit: int) -> list[KeyValue]:
        """Current versions of keys in [key, end) in key order, at most ``limit`` (0: all); end b"": unbounded."""
        hist = self._hist
        keys = self._live.irange(key, end)
        if limit > 0:
            keys = islice(keys, limit)
        return [hist[k][-1] for k in keys]

    def count_latest(self, key: bytes, end: bytes) -> int:
        """How many keys in [key, end) exist now, without visiting them."""
        return self._live.count(key, end)

    def range_at(self, key: bytes, end: bytes, revision: int, limit: int) -> list[KeyValue]:
        """Versions at an old revision of keys in [key, end), in key order, at most ``limit`` (0: all)."""
        hist = self._hist
        kvs: list[KeyValue] = []
        for k in self._all.irange(key, end):
            kv = _version_at(hist[k], revision)
            if kv is not None:
                kvs.append(kv)
                if len(kvs) == limit:
                    break
        return kvs

    def count_at(self, key: bytes, end: bytes, revision: int) -> int:
        """How many keys in [key, end) existed at an old revision.

        A paginated list reads every page at its first page's revision, so when fewer events happened
        since then than there are keys in the range, the count is the current one corrected by them.
        """
        hist = self._hist
        log = self.log
        since = bisect_right(log, revision, key=_event_revision)
        if len(log) - since >= self._all.count(key, end):
            return sum(_version_at(hist[k], revision) is not None for k in self._all.irange(key, end))
        count = self._live.count(key, end)
        changed: set[bytes] = set()
        for event in log[since:]:
            k = event.kv.key
            if k in changed or k < key or (end and k >= end):
                continue
            changed.add(k)
            history = hist[k]
            count += (_version_at(history, revision) is not None) - (history[-1].version != 0)
        return count

    def keys_latest(self, key: bytes, end: bytes) -> list[bytes]:
        """Keys in [key, end) that exist now (materialized, so the caller may delete them)."""
        return list(self._live.irange(key, end))

    def put(self, key: bytes, value: bytes, lease: int, revision: int) -> KeyValue | None:
        """Record a new version of ``key`` written at ``revision`` and log its event; returns the version
        it replaced (None if the key did not exist)."""
        history = self._hist.get(key)
        prev: KeyValue | None = None
        if history is None:
            kv = KeyValue(key, revision, revision, 1, value, lease)
            self._hist[key] = [kv]
            self._all.add(key)
            self._live.add(key)
        else:
            last = history[-1]
            if last.version:
                prev = last
                kv = KeyValue(key, last.create_revision, revision, last.version + 1, value, lease)
            else:
                kv = KeyValue(key, revision, revision, 1, value, lease)
                self._live.add(key)
            history.append(kv)
        self.size_bytes += len(key) + len(value) + ENTRY_OVERHEAD
        self.log.append(Event(_PUT, kv, prev))
        return prev

    def delete(self, key: bytes, revision: int) -> KeyValue:
        """Record the deletion of a key that exists now and log its event; returns its last version."""
        history = self._hist[key]
        prev = history[-1]
        tombstone = KeyValue(key, 0, revision, 0, b"", 0)
        history.append(tombstone)
        self._live.remove(key)
        self.size_bytes += len(key) + ENTRY_OVERHEAD
        self.log.append(Event(_DELETE, tombstone, prev))
        return prev

    def events_from(self, revision: int) -> Iterator[Event]:
        """Logged events with revision >= ``revision`` (not below the compaction revision), in apply order."""
        log = self.log
        # Not islice: it would step through every event before the start one by one.
        return map(log.__getitem__, range(bisect_left(log, revision, key=_event_revision), len(log)))

    def compact(self, revision: int) -> None:
        """Drop history below ``revision``, keeping each key's last live version below it."""
        log = self.log
        cut = bisect_left(log, revision, key=_event_revision)
        # Only keys with an event since the previous compaction can hold more than one old version.
        touched = dict.fromkeys(event.kv.key for event in islice(log, cut))
        del log[:cut]
        hist = self._hist
        freed = 0
        for key in touched:
            history = hist[key]
            i = bisect_left(history, revision, key=_mod_revision)
            if i > 0 and history[i - 1].version:
                i -= 1
            if i == 0:
                continue
            freed += sum(len(kv.key) + len(kv.value) + ENTRY_OVERHEAD for kv in islice(history, i))
            if i == len(history):
                del hist[key]
                self._all.remove(key)
            else:
                del history[:i]
        self.size_bytes -= freed

    def export(self, compact_revision: int) -> tuple[list[KeyValue], list[KeyValue]]:
        """The versions below the compaction revision (in revision then key order) and the logged kvs.

        Together they are the whole history; ``rebuild`` inverts this.
        """
        base = [h[0] for h in self._hist.values() if h[0].mod_revision < compact_revision]
        base.sort(key=lambda kv: (kv.mod_revision, kv.key))
        return base, [event.kv for event in self.log]

    @classmethod
    def rebuild(cls, base: Iterable[KeyValue], logged: Iterable[KeyValue]) -> KeyIndex:
        """An index holding ``base`` versions and replaying ``logged`` ones as events, from ``export``."""
        index = cls()
        hist = index._hist
        log = index.log
        size = 0
        for kv in base:
            hist[kv.key] = [kv]
            size += len(kv.key) + len(kv.value) + ENTRY_OVERHEAD
        for kv in logged:
            history = hist.get(kv.key)
            prev: KeyValue | None = None
            if history is None:
                hist[kv.key] = [kv]
            else:
                last = history[-1]
                if last.version:
                    prev = last
                history.append(kv)
            log.append(Event(_PUT if kv.version else _DELETE, kv, prev))
            size += len(kv.key) + len(kv.value) + ENTRY_OVERHEAD
        keys = sorted(hist)
        index._all = SortedKeys(keys)
        index._live = SortedKeys([k for k in keys if hist[k][-1].version])
        index.size_bytes = size
        return index
