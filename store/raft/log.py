"""The Raft log: durable entries in `Storage` followed by an unstable tail not yet persisted.

Entries move from the unstable tail to storage in three steps: handed out in a `Ready` ("in progress"),
persisted by the driver, then acknowledged by `advance` (`stable_to`). Committed entries likewise move from
"committed" to "applying" (handed out) to "applied" (acknowledged).
"""

from __future__ import annotations

from store.raft.errors import CompactedError, LogInvariantError, UnavailableError
from store.raft.messages import Entry, Snapshot
from store.raft.storage import Storage, limit_size


class Unstable:
    """Entries (and possibly a snapshot) accepted by this node but not yet acknowledged as persisted."""

    __slots__ = ("entries", "offset", "offset_in_progress", "snapshot", "snapshot_in_progress")

    def __init__(self, offset: int) -> None:
        self.snapshot: Snapshot | None = None
        self.entries: list[Entry] = []
        self.offset = offset  # index of entries[0]
        self.offset_in_progress = offset  # entries below this were handed out in a Ready
        self.snapshot_in_progress = False

    def maybe_first_index(self) -> int | None:
        """First log index if an unstable snapshot defines it."""
        return self.snapshot.meta.index + 1 if self.snapshot is not None else None

    def maybe_term(self, index: int) -> int | None:
        """Term at `index` if the unstable part knows it."""
        if index < self.offset:
            snap = self.snapshot
            if snap is not None and snap.meta.index == index:
                return snap.meta.term
            return None
        pos = index - self.offset
        if pos >= len(self.entries):
            return None
        return self.entries[pos].term

    def next_entries(self) -> list[Entry]:
        """Entries not yet handed out for persistence."""
        start = self.offset_in_progress - self.offset
        return self.entries[start:] if start < len(self.entries) else []

    def next_snapshot(self) -> Snapshot | None:
        """The snapshot if not yet handed out for persistence."""
        return None if self.snapshot is None or self.snapshot_in_progress else self.snapshot

    def accept_in_progress(self) -> None:
        """Mark everything unstable as handed out, so the next Ready does not repeat it."""
        self.offset_in_progress = self.offset + len(self.entries)
        if self.snapshot is not None:
            self.snapshot_in_progress = True

    def stable_to(self, index: int, term: int) -> None:
        """Drop entries up to `index` once persisted, unless a later append replaced that entry."""
        if index < self.offset or self.maybe_term(index) != term:
            return
        del self.entries[: index + 1 - self.offset]
        self.offset = index + 1
        self.offset_in_progress = max(self.offset_in_progress, self.offset)

    def stable_snap_to(self, index: int) -> None:
        """Drop the snapshot once persisted."""
        if self.snapshot is not None and self.snapshot.meta.index == index:
            self.snapshot = None
            self.snapshot_in_progress = False

    def restore(self, snap: Snapshot) -> None:
        """Replace everything with a snapshot received from the leader."""
        self.offset = snap.meta.index + 1
        self.offset_in_progress = self.offset
        self.entries = []
        self.snapshot = snap
        self.snapshot_in_progress = False

    def truncate_and_append(self, ents: list[Entry]) -> None:
        """Append `ents`, replacing any entries at or after their first index."""
        start = ents[0].index
        end = self.offset + len(self.entries)
        if start == end:
            self.entries.extend(ents)
        elif start <= self.offset:
            # Replaces the whole unstable tail and shadows stored entries from `start` on.
            self.entries = list(ents)
            self.offset = start
            self.offset_in_progress = start
        else:
            del self.entries[start - self.offset :]
            self.entries.extend(ents)
            self.offset_in_progress = min(self.offset_in_progress, start)


class RaftLog:
    """Log view combining storage and the unstable tail, with the commit and apply cursors."""

    __slots__ = ("applied", "applying", "committed", "storage", "unstable")

    def __init__(self, storage: Storage, applied: int = 0) -> None:
        self.storage = storage
        first = storage.first_index()
        self.unstable = Unstable(storage.last_index() + 1)
        self.committed = first - 1
        self.applied = max(applied, first - 1)
        self.applying = self.applied

    def first_index(self) -> int:
        """First index still available (compacted entries are gone)."""
        first = self.unstable.maybe_first_index()
        return first if first is not None else self.storage.first_index()

    def last_index(self) -> int:
        """Index of the last entry, stable or not."""
        u = self.unstable
        if u.entries:
            return u.offset + len(u.entries) - 1
        if u.snapshot is not None:
            return u.snapshot.meta.index
        return self.storage.last_index()

    def stable_last_index(self) -> int:
        """Last index acknowledged durable and consistent with the current log (0 while a snapshot is pending)."""
        if self.unstable.snapshot is not None:
            return 0
        return self.unstable.offset - 1

    def term(self, index: int) -> int:
        """Term at `index`; raises CompactedError or UnavailableError outside the log."""
        t = self.unstable.maybe_term(index)
        if t is not None:
            return t
        if index > self.last_index():
            raise UnavailableError(index, self.last_index())
        return self.storage.term(index)

    def maybe_term(self, index: int) -> int | None:
        """Term at `index`, or None when it is compacted or beyond the log."""
        t = self.unstable.maybe_term(index)
        if t is not None:
            return t
        if index > self.last_index() or index < self.first_index() - 1:
            return None
        try:
            return self.storage.term(index)
        except (CompactedError, UnavailableError):
            return None

    def last_term(self) -> int:
        """Term of the last entry."""
        return self.term(self.last_index())

    def match_term(self, index: int, term: int) -> bool:
        """Whether the entry at `index` has `term`."""
        return self.maybe_term(index) == term

    def is_up_to_date(self, last_index: int, term: int) -> bool:
        """Raft §5.4.1: a candidate's log at least as up to date as ours earns our vote."""
        last_term = self.last_term()
        return term > last_term or (term == last_term and last_index >= self.last_index())

    def find_conflict(self, ents: list[Entry]) -> int:
        """Index of the first entry of `ents` absent from or contradicting the log; 0 if all already match."""
        if not ents:
            return 0
        last = self.last_index()
        if ents[0].index > last:
            return ents[0].index
        for e in ents:
            if e.index > last or not self.match_term(e.index, e.term):
                return e.index
        return 0

    def find_conflict_by_term(self, index: int, term: int) -> tuple[int, int]:
        """Largest index <= `index` whose term is <= `term`, with that term (0 if compacted).

        Lets the leader skip every entry of a conflicting term in one round trip instead of one per entry.
        """
        while True:
            t = self.maybe_term(index)
            if t is None:
                return index, 0
            if t <= term:
                return index, t
            index -= 1

    def maybe_append(self, index: int, log_term: int, committed: int, ents: list[Entry]) -> int | None:
        """Follower side of AppendEntries: append after (index, log_term) if it matches; new last index or None."""
        if not self.match_term(index, log_term):
            return None
        last_new = index + len(ents)
        conflict = self.find_conflict(ents)
        if conflict:
            if conflict <= self.committed:
                raise LogInvariantError(f"entry at index {conflict} conflicts with committed index {self.committed}")
            self.append(ents[conflict - index - 1 :] if conflict != index + 1 else ents)
        self.commit_to(min(committed, last_new))
        return last_new

    def append_new(self, ents: list[Entry]) -> None:
        """Leader side: add entries right after the last one (no conflict is possible)."""
        u = self.unstable
        if u.offset + len(u.entries) == ents[0].index and u.snapshot is None:
            u.entries.extend(ents)
        else:
            self.append(ents)

    def append(self, ents: list[Entry]) -> int:
        """Append to the unstable tail (replacing a conflicting suffix); returns the new last index."""
        if ents:
            if ents[0].index - 1 < self.committed:
                raise LogInvariantError(
                    f"append after index {ents[0].index - 1} would overwrite committed index {self.committed}"
                )
            self.unstable.truncate_and_append(ents)
        return self.last_index()

    def commit_to(self, index: int) -> None:
        """Advance the commit index (never backwards)."""
        if index > self.committed:
            if index > self.last_index():
                raise LogInvariantError(f"commit index {index} is beyond the last index {self.last_index()}")
            self.committed = index

    def maybe_commit(self, index: int, term: int) -> bool:
        """Raft §5.4.2: a leader commits by counting replicas only for entries of its own term."""
        if index > self.committed and self.maybe_term(index) == term:
            self.committed = index
            return True
        return False

    def applied_to(self, index: int) -> None:
        """Acknowledge that the driver applied everything up to `index`."""
        if index > self.applied:
            self.applied = index
            self.applying = max(self.applying, index)

    def has_next_committed_entries(self) -> bool:
        """Committed entries wait to be handed out (never before a pending snapshot is applied)."""
        return self.committed > self.applying and self.unstable.snapshot is None

    def next_committed_entries(self, max_size: int | None = None) -> list[Entry]:
        """Committed entries not yet handed out for applying: at least one if any, then up to `max_size` bytes."""
        if not self.has_next_committed_entries():
            return []
        return self.slice(self.applying + 1, self.committed + 1, max_size)

    def accept_applying(self, index: int) -> None:
        """Mark entries up to `index` as handed out for applying."""
        self.applying = max(self.applying, index)

    def entries(self, lo: int, max_size: int | None = None) -> list[Entry]:
        """Entries from `lo` to the end, at least one if any, then up to `max_size` data bytes."""
        last = self.last_index()
        if lo > last:
            return []
        return self.slice(lo, last + 1, max_size)

    def slice(self, lo: int, hi: int, max_size: int | None = None) -> list[Entry]:
        """Entries [lo, hi) across storage and the unstable tail; raises CompactedError below the first index."""
        first = self.first_index()
        if lo < first:
            raise CompactedError(lo, first)
        if hi > self.last_index() + 1:
            raise UnavailableError(hi - 1, self.last_index())
        if lo >= hi:
            return []
        offset = self.unstable.offset
        if hi <= offset:
            return self.storage.entries(lo, hi, max_size)
        if lo >= offset:
            return limit_size(self.unstable.entries[lo - offset : hi - offset], max_size)
        ents = self.storage.entries(lo, offset, max_size)
        if len(ents) < offset - lo:
            return ents
        ents.extend(self.unstable.entries[: hi - offset])
        return limit_size(ents, max_size)

    def snapshot(self) -> Snapshot:
        """The newest snapshot, pending or stored."""
        return self.unstable.snapshot if self.unstable.snapshot is not None else self.storage.snapshot()

    def restore(self, snap: Snapshot) -> None:
        """Replace the log with a snapshot (it covers only committed entries, so it commits them)."""
        self.committed = snap.meta.index
        self.unstable.restore(snap)
