"""The node's in-memory Raft log, holding its latest snapshot's data as the pieces its chain of files holds.

A member's snapshots are deltas on top of earlier ones (``store.node``), so the data of the latest
snapshot is the data of the files of its chain, in order. Joining them at every snapshot would copy the
whole state each time, a cost that grows with the store; they are joined only when the Raft core asks
for the snapshot, which it does to send it to a follower too far behind for the log.
"""

from __future__ import annotations

from collections.abc import Sequence

from store.raft import ConfState, MemoryStorage, Snapshot, SnapshotMeta


class ChainedSnapshotStorage(MemoryStorage):
    """``MemoryStorage`` whose snapshot may be recorded as pieces of data (``create_snapshot_from``)."""

    __slots__ = ("_joined", "_pieces")

    def __init__(self) -> None:
        super().__init__()
        self._pieces: tuple[bytes, ...] = ()
        self._joined: Snapshot | None = None

    @property
    def snapshot_meta(self) -> SnapshotMeta:
        """Where the latest snapshot sits, without joining its data."""
        return super().snapshot().meta

    @property
    def snapshot_pieces(self) -> tuple[bytes, ...]:
        """The latest snapshot's data in the pieces it was recorded with (their concatenation is the data)."""
        return self._pieces or (super().snapshot().data,)

    def create_snapshot_from(self, index: int, conf_state: ConfState, pieces: Sequence[bytes]) -> None:
        """``create_snapshot`` with the data given as pieces to concatenate (same errors)."""
        super().create_snapshot(index, conf_state, b"")
        self._pieces = tuple(pieces)
        self._joined = None

    def create_snapshot(self, index: int, conf_state: ConfState, data: bytes) -> Snapshot:
        snap = super().create_snapshot(index, conf_state, data)
        self._pieces, self._joined = (), None
        return snap

    def apply_snapshot(self, snap: Snapshot) -> None:
        super().apply_snapshot(snap)
        self._pieces, self._joined = (), None

    def snapshot(self) -> Snapshot:
        """The latest snapshot with its whole data (joined once, here, when it was recorded in pieces)."""
        if not self._pieces:
            return super().snapshot()
        if self._joined is None:
            self._joined = Snapshot(super().snapshot().meta, b"".join(self._pieces))
            self._pieces = (self._joined.data,)  # one copy of the state held, not two
        return self._joined
