"""The node's in-memory log holds a snapshot as the pieces of its chain of files and joins them only on demand."""

from __future__ import annotations

import pytest

from store.chained_storage import ChainedSnapshotStorage
from store.raft import ConfState, Entry, Snapshot, SnapshotMeta, SnapshotOutOfDateError

VOTERS = ConfState((1, 2, 3))


def storage_with_log(last: int) -> ChainedSnapshotStorage:
    storage = ChainedSnapshotStorage()
    storage.append([Entry(1, i) for i in range(1, last + 1)])
    return storage


def test_pieces_are_joined_once_when_the_snapshot_is_asked_for() -> None:
    storage = storage_with_log(20)
    storage.create_snapshot_from(10, VOTERS, [b"base"])
    storage.create_snapshot_from(15, VOTERS, (*storage.snapshot_pieces, b"+delta"))
    assert storage.snapshot_pieces == (b"base", b"+delta")
    assert storage.snapshot_meta == SnapshotMeta(15, 1, VOTERS)
    snap = storage.snapshot()
    assert snap == Snapshot(SnapshotMeta(15, 1, VOTERS), b"base+delta")
    assert storage.snapshot() is snap
    assert list(storage.snapshot_pieces) == [b"base+delta"]  # joined: one copy held


def test_an_installed_snapshot_replaces_the_pieces() -> None:
    storage = storage_with_log(20)
    storage.create_snapshot_from(10, VOTERS, [b"a", b"b"])
    installed = Snapshot(SnapshotMeta(30, 2, VOTERS), b"leader")
    storage.apply_snapshot(installed)
    assert storage.snapshot() == installed and storage.snapshot_pieces == (b"leader",)
    with pytest.raises(SnapshotOutOfDateError):
        storage.create_snapshot_from(25, VOTERS, [b"old"])
    assert storage.snapshot() == installed
