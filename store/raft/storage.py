"""The core's view of stable storage, and an in-memory implementation the WAL-backed node keeps as its log."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from store.raft.errors import CompactedError, LogInvariantError, SnapshotOutOfDateError, UnavailableError
from store.raft.messages import ConfState, Entry, HardState, Snapshot, SnapshotMeta

# Index (and term) of the snapshot holding a new cluster's founding membership.
BOOTSTRAP_INDEX = 1


class Storage(Protocol):
    """Read side of stable storage: everything here is durable, so the core may rely on it after a crash."""

    def initial_state(self) -> tuple[HardState, ConfState]:
        """The persisted hard state and the membership to start with."""
        ...

    def entries(self, lo: int, hi: int, max_size: int | None = None) -> list[Entry]:
        """Entries [lo, hi), at least one if any, then up to `max_size` total data bytes, in a new list."""
        ...

    def term(self, index: int) -> int:
        """Term of the entry at `index`; the snapshot's index is answerable too."""
        ...

    def first_index(self) -> int:
        """Index of the first entry still held (the snapshot index + 1)."""
        ...

    def last_index(self) -> int:
        """Index of the last entry held."""
        ...

    def snapshot(self) -> Snapshot:
        """The most recent snapshot."""
        ...


def limit_size(ents: list[Entry], max_size: int | None) -> list[Entry]:
    """Trim `ents` in place to at most `max_size` data bytes, keeping at least one entry."""
    if max_size is None or len(ents) <= 1:
        return ents
    size = len(ents[0].data)
    for i in range(1, len(ents)):
        size += len(ents[i].data)
        if size > max_size:
            del ents[i:]
            break
    return ents


class MemoryStorage:
    """Storage held in memory; position 0 of the entry list is a placeholder for the snapshot's index and term.

    The driver mutates it only with what a `Ready` told it to persist, after persisting it to disk, so this
    object is always an image of the durable state.
    """

    __slots__ = ("_ents", "_hard_state", "_snapshot")

    def __init__(self) -> None:
        self._hard_state = HardState()
        self._snapshot = Snapshot()
        self._ents: list[Entry] = [Entry(0, 0)]

    @classmethod
    def bootstrap(cls, conf_state: ConfState) -> MemoryStorage:
        """Storage of a founding member of a new cluster: the initial membership as a snapshot at index 1.

        Every founding member starts from the same (index 1, term 1) snapshot with empty data, so a member
        added later (which starts with empty storage) learns the founding membership from the snapshot the
        leader sends it. The driver rebuilds this identically on restart, so it need not persist it; its
        state machine must treat empty snapshot data as the empty state.
        """
        storage = cls()
        storage.apply_snapshot(Snapshot(SnapshotMeta(BOOTSTRAP_INDEX, BOOTSTRAP_INDEX, conf_state)))
        storage.set_hard_state(HardState(term=BOOTSTRAP_INDEX, commit=BOOTSTRAP_INDEX))
        return storage

    def initial_state(self) -> tuple[HardState, ConfState]:
        """The persisted hard state and the membership of the latest snapshot."""
        return self._hard_state, self._snapshot.meta.conf_state

    def set_hard_state(self, hs: HardState) -> None:
        """Record a hard state the driver has persisted."""
        self._hard_state = hs

    def first_index(self) -> int:
        """Index of the first entry still held."""
        return self._ents[0].index + 1

    def last_index(self) -> int:
        """Index of the last entry held."""
        return self._ents[0].index + len(self._ents) - 1

    def term(self, index: int) -> int:
        """Term of the entry at `index` (the snapshot's own index included)."""
        offset = self._ents[0].index
        if index < offset:
            raise CompactedError(index, offset + 1)
        if index - offset >= len(self._ents):
            raise UnavailableError(index, self.last_index())
        return self._ents[index - offset].term

    def entries(self, lo: int, hi: int, max_size: int | None = None) -> list[Entry]:
        """Entries [lo, hi), at least one if any, then up to `max_size` data bytes."""
        offset = self._ents[0].index
        if lo <= offset:
            raise CompactedError(lo, offset + 1)
        if hi > self.last_index() + 1:
            raise UnavailableError(hi - 1, self.last_index())
        return limit_size(self._ents[lo - offset : hi - offset], max_size)

    def snapshot(self) -> Snapshot:
        """The most recent snapshot."""
        return self._snapshot

    def apply_snapshot(self, snap: Snapshot) -> None:
        """Replace the whole log with a snapshot received from the leader and persisted by the driver."""
        if snap.meta.index <= self._snapshot.meta.index:
            raise SnapshotOutOfDateError(snap.meta.index, self._snapshot.meta.index)
        self._snapshot = snap
        self._ents = [Entry(snap.meta.term, snap.meta.index)]

    def create_snapshot(self, index: int, conf_state: ConfState, data: bytes) -> Snapshot:
        """Record a snapshot of the applied state at `index`; `compact` may then drop the entries it covers."""
        if index <= self._snapshot.meta.index:
            raise SnapshotOutOfDateError(index, self._snapshot.meta.index)
        if index > self.last_index():
            raise UnavailableError(index, self.last_index())
        self._snapshot = Snapshot(SnapshotMeta(index, self.term(index), conf_state), data)
        return self._snapshot

    def compact(self, index: int) -> None:
        """Discard entries before `index`; the entry at `index` becomes the placeholder."""
        offset = self._ents[0].index
        if index <= offset:
            raise CompactedError(index, offset + 1)
        if index > self.last_index():
            raise UnavailableError(index, self.last_index())
        head = self._ents[index - offset]
        del self._ents[: index - offset]
        self._ents[0] = Entry(head.term, head.index)

    def append(self, entries: Sequence[Entry]) -> None:
        """Persist entries from a `Ready`; a conflicting suffix already held is replaced."""
        if not entries:
            return
        first = self.first_index()
        if entries[-1].index < first:
            return
        start = 0
        if entries[0].index < first:
            start = first - entries[0].index
        pos = entries[start].index - self._ents[0].index
        if pos > len(self._ents):
            raise LogInvariantError(
                f"append at index {entries[start].index} leaves a gap after last index {self.last_index()}"
            )
        del self._ents[pos:]
        self._ents.extend(entries[start:] if start else entries)
