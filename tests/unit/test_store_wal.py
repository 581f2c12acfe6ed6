"""The WAL keeps what was synced, truncates only a torn tail, and refuses a damaged middle."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest

from store.raft.messages import ConfState, Entry, EntryType, HardState, Snapshot, SnapshotMeta
from store.wal import SnapshotFiles, SnapshotMarker, Wal, WalCorruptError, recover

META = b"member-1"
SMALL = 4096  # segment size for tests that copy or rewrite whole segments


def entries(lo: int, hi: int, term: int = 1, size: int = 16) -> list[Entry]:
    kinds = (EntryType.NORMAL, EntryType.CONF_CHANGE)
    return [Entry(term, i, kinds[i % 7 == 0], bytes([i % 251]) * size) for i in range(lo, hi + 1)]


def snap(term: int, index: int, data: bytes, voters: tuple[int, ...] = (1, 2, 3)) -> Snapshot:
    return Snapshot(SnapshotMeta(index, term, ConfState(voters, (4,))), data)


def segments(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "wal").glob("*.wal"))


def used_length(path: Path) -> int:
    """The segment's length without its preallocated zero tail."""
    raw = path.read_bytes()
    return len(raw.rstrip(b"\0"))


def test_round_trip_of_entries_hard_state_and_metadata(tmp_path):
    wal, replayed = Wal.open(tmp_path, META)
    assert replayed.entries == [] and replayed.metadata == META
    wal.write_batch(HardState(1, 1, 0), entries(1, 3))
    wal.write_batch(HardState(1, 1, 3), entries(4, 5))
    wal.close()

    wal, replayed = Wal.open(tmp_path)
    assert replayed.metadata == META
    assert replayed.hard_state == HardState(1, 1, 3)
    assert replayed.entries == entries(1, 5)
    assert replayed.truncated_bytes == 0
    wal.close()


def test_later_entries_overwrite_a_conflicting_suffix(tmp_path):
    wal, _ = Wal.open(tmp_path, META)
    wal.write_batch(HardState(1, 1, 2), entries(1, 5, term=1))
    wal.write_batch(HardState(2, 2, 2), entries(3, 4, term=2))
    wal.close()
    wal, replayed = Wal.open(tmp_path)
    assert replayed.entries == entries(1, 2, term=1) + entries(3, 4, term=2)
    wal.close()


def test_appends_after_reopen_continue_the_log(tmp_path):
    wal, _ = Wal.open(tmp_path, META)
    wal.write_batch(HardState(1, 1, 1), entries(1, 2))
    wal.close()
    wal, _ = Wal.open(tmp_path)
    wal.write_batch(HardState(1, 1, 3), entries(3, 3))
    wal.close()
    wal, replayed = Wal.open(tmp_path)
    assert replayed.entries == entries(1, 3) and replayed.hard_state.commit == 3
    wal.close()


def count_fdatasync(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make os.fdatasync record each call (and still sync); returns the list of synced fds."""
    calls: list[int] = []
    real = os.fdatasync

    def counting(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fdatasync", counting)
    return calls


def _write_three_batches(data_dir: Path) -> tuple[int, int]:
    """Three batches; returns (offset where the last record starts, offset where it ends)."""
    wal, _ = Wal.open(data_dir, META, segment_bytes=SMALL)
    wal.write_batch(HardState(1, 1, 0), entries(1, 2))
    wal.write_batch(HardState(1, 1, 2), entries(3, 4))
    start = used_length(segments(data_dir)[0])
    wal.write_batch(None, entries(5, 6, size=40))
    wal.close()
    return start, used_length(segments(data_dir)[0])


def test_torn_tail_is_truncated_at_every_byte_offset_of_the_last_record(tmp_path):
    start, end = _write_three_batches(tmp_path / "orig")
    original = segments(tmp_path / "orig")[0].read_bytes()
    for cut in range(start, end):
        data_dir = tmp_path / f"cut{cut}"
        (data_dir / "wal").mkdir(parents=True)
        # a crash mid-write: the record's bytes from `cut` on never reached the disk (zeros or nothing)
        torn = original[:cut] + b"\0" * (len(original) - cut) if cut % 2 else original[:cut]
        (data_dir / "wal" / segments(tmp_path / "orig")[0].name).write_bytes(torn)
        wal, replayed = Wal.open(data_dir, segment_bytes=SMALL)
        assert replayed.entries == entries(1, 4), cut
        assert replayed.hard_state == HardState(1, 1, 2)
        # the log keeps working after the truncation, and the torn bytes never come back
        wal.write_batch(HardState(1, 1, 4), entries(5, 5))
        wal.close()
        wal, replayed = Wal.open(data_dir, segment_bytes=SMALL)
        assert replayed.entries == entries(1, 5) and replayed.truncated_bytes == 0, cut
        wal.close()


def test_last_record_is_torn_whichever_of_its_pages_reached_the_disk(tmp_path):
    wal, _ = Wal.open(tmp_path / "orig", META, segment_bytes=SMALL * 4)
    wal.write_batch(HardState(1, 1, 0), entries(1, 2))
    start = used_length(segments(tmp_path / "orig")[0])
    wal.write_batch(HardState(1, 1, 2), entries(3, 8, size=700))  # one record over several 512-byte sectors
    wal.close()
    original = segments(tmp_path / "orig")[0].read_bytes()
    end = used_length(segments(tmp_path / "orig")[0])
    for hole in range(start - start % 512, end, 512):
        data_dir = tmp_path / f"hole{hole}"
        (data_dir / "wal").mkdir(parents=True)
        # the sector at `hole` never got this record's bytes (the earlier, synced ones stay); later sectors did
        lo, hi = max(hole, start), min(hole + 512, end)
        torn = original[:lo] + b"\0" * (hi - lo) + original[hi:]
        (data_dir / "wal" / segments(tmp_path / "orig")[0].name).write_bytes(torn)
        wal, replayed = Wal.open(data_dir, segment_bytes=SMALL * 4)
        wal.close()
        assert replayed.entries == entries(1, 2) and replayed.truncated_bytes > 0, hole


def test_flipped_byte_in_last_record_is_a_torn_tail_and_is_logged(tmp_path, caplog):
    _, end = _write_three_batches(tmp_path)
    path = segments(tmp_path)[0]
    raw = bytearray(path.read_bytes())
    raw[end - 3] ^= 0xFF
    path.write_bytes(bytes(raw))
    with caplog.at_level(logging.WARNING, logger="store.wal"):
        wal, replayed = Wal.open(tmp_path)
    wal.close()
    assert replayed.entries == entries(1, 4)
    assert replayed.truncated_bytes > 0
    assert any("torn WAL tail" in r.getMessage() for r in caplog.records)


def test_damaged_record_followed_by_good_ones_refuses_to_start(tmp_path):
    wal, _ = Wal.open(tmp_path, META, segment_bytes=SMALL)
    wal.write_batch(HardState(1, 1, 0), entries(1, 2))
    middle = used_length(segments(tmp_path)[0])
    wal.write_batch(HardState(1, 1, 2), entries(3, 4))
    wal.write_batch(HardState(1, 1, 4), entries(5, 6))
    wal.close()
    path = segments(tmp_path)[0]
    raw = bytearray(path.read_bytes())
    raw[middle + 20] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(WalCorruptError, match="not the log's tail"):
        Wal.open(tmp_path)


def test_damage_in_an_older_segment_refuses_to_start(tmp_path):
    wal, _ = Wal.open(tmp_path, META, segment_bytes=256)
    for i in range(1, 20):
        wal.write_batch(HardState(1, 1, i - 1), entries(i, i))
    wal.close()
    first = segments(tmp_path)[0]
    assert len(segments(tmp_path)) > 2
    raw = bytearray(first.read_bytes())
    raw[-2] ^= 0x01  # the last record of a finished segment is not a tail
    first.write_bytes(bytes(raw))
    with pytest.raises(WalCorruptError):
        Wal.open(tmp_path)


def test_segments_rotate_and_replay_across_them(tmp_path):
    wal, _ = Wal.open(tmp_path, META, segment_bytes=512)
    for i in range(1, 41):
        wal.write_batch(HardState(1, 1, i), entries(i, i))
    wal.close()
    assert len(segments(tmp_path)) > 3
    wal, replayed = Wal.open(tmp_path, segment_bytes=512)
    assert replayed.entries == entries(1, 40) and replayed.hard_state == HardState(1, 1, 40)
    wal.close()


def test_one_fdatasync_per_batch(tmp_path, monkeypatch):
    wal, _ = Wal.open(tmp_path, META)
    calls = count_fdatasync(monkeypatch)
    wal.write_batch(HardState(1, 1, 0), entries(1, 100))
    assert len(calls) == 1
    wal.write_batch(HardState(1, 1, 100), [])
    assert len(calls) == 2
    wal.close()


async def test_concurrent_saves_share_one_fdatasync(tmp_path, monkeypatch):
    wal, _ = Wal.open(tmp_path, META)
    calls = count_fdatasync(monkeypatch)
    # all eleven are queued before the flusher gets to run: one write, one sync
    await asyncio.gather(*(wal.save(HardState(1, 1, 0), entries(i, i)) for i in range(1, 12)))
    assert len(calls) == 1
    wal.close()
    wal, replayed = Wal.open(tmp_path)
    assert replayed.entries == entries(1, 11)
    wal.close()


async def test_a_blocking_write_takes_the_unsynced_hard_state_along_and_waits_for_the_writer_thread(tmp_path):
    wal, _ = Wal.open(tmp_path, META)
    wal.write_batch(HardState(1, 1, 0), entries(1, 3))
    assert wal.submit(HardState(1, 1, 3), [], sync=False) is None  # a commit index only: not written yet
    wal.write_batch(None, entries(4, 4))
    wal.close()
    wal, replayed = Wal.open(tmp_path)
    assert replayed.entries == entries(1, 4) and replayed.hard_state == HardState(1, 1, 3)
    saving = asyncio.ensure_future(wal.save(HardState(1, 1, 4), entries(5, 5)))
    await asyncio.sleep(0)
    assert wal.flushing
    with pytest.raises(RuntimeError, match="writer thread"):
        wal.write_batch(None, entries(6, 6))
    await saving
    wal.close()
    wal, replayed = Wal.open(tmp_path)
    assert replayed.entries == entries(1, 5) and replayed.hard_state == HardState(1, 1, 4)
    wal.close()


def test_snapshot_then_release_removes_covered_segments(tmp_path):
    wal, _ = Wal.open(tmp_path, META, segment_bytes=512)
    for i in range(1, 41):
        wal.write_batch(HardState(1, 1, i), entries(i, i))
    before = len(segments(tmp_path))
    snaps = SnapshotFiles(tmp_path)
    snaps.save(snap(1, 30, b"state@30"))
    wal.write_batch(None, [], SnapshotMarker(1, 30))
    removed = wal.release_to(30)
    assert removed > 0 and len(segments(tmp_path)) == before - removed
    wal.write_batch(HardState(1, 1, 41), entries(41, 42))
    wal.close()

    rec = recover(tmp_path, segment_bytes=512)
    assert rec.snapshot == snap(1, 30, b"state@30")
    assert rec.entries == entries(31, 42)
    assert rec.hard_state == HardState(1, 1, 41)
    assert rec.metadata == META
    rec.wal.close()


def test_release_keeps_segments_holding_entries_above_the_snapshot(tmp_path):
    wal, _ = Wal.open(tmp_path, META, segment_bytes=512)
    for i in range(1, 41):
        wal.write_batch(HardState(1, 1, i), entries(i, i))
    assert wal.release_to(1) == 0
    wal.close()


def test_installed_snapshot_drops_the_stale_log_before_it(tmp_path):
    wal, _ = Wal.open(tmp_path, META)
    wal.write_batch(HardState(1, 1, 3), entries(1, 10, term=1))
    SnapshotFiles(tmp_path).save(snap(3, 8, b"leader-state"))
    wal.write_batch(HardState(3, 0, 8), [], SnapshotMarker(3, 8, installed=True))
    wal.close()
    rec = recover(tmp_path)
    assert rec.snapshot is not None and rec.snapshot.meta.index == 8
    assert rec.entries == []  # entries 9 and 10 came from a deposed leader's term
    rec.wal.close()


def test_a_large_snapshot_is_flushed_a_slice_at_a_time(tmp_path, monkeypatch):
    """Dirty pages stay bounded while a snapshot is written, so the WAL's syncs never wait behind all of it."""
    monkeypatch.setattr("store.wal._SNAP_FLUSH_BYTES", 1000)
    calls = count_fdatasync(monkeypatch)
    data = os.urandom(4500)
    SnapshotFiles(tmp_path).save(snap(2, 30, data))
    assert len(calls) == 5
    loaded = SnapshotFiles(tmp_path).load([SnapshotMarker(2, 30)])
    assert loaded is not None and loaded.data == data and loaded.meta.index == 30


def test_a_snapshot_written_in_parts_reads_back_as_their_concatenation(tmp_path):
    parts = [b"\x00\x00\x00\x03", b"abc", os.urandom(2500)]
    meta = snap(3, 40, b"").meta
    SnapshotFiles(tmp_path).save_parts(meta, parts)
    loaded = SnapshotFiles(tmp_path).load([SnapshotMarker(3, 40)])
    assert loaded is not None and loaded.data == b"".join(parts) and loaded.meta == meta


def test_snapshot_file_crc_is_checked_and_older_one_used(tmp_path):
    snaps = SnapshotFiles(tmp_path, keep=2)
    snaps.save(snap(1, 10, b"ten"))
    newest = snaps.save(snap(1, 20, b"twenty"))
    raw = bytearray(newest.read_bytes())
    raw[-1] ^= 0xFF
    newest.write_bytes(bytes(raw))
    loaded = snaps.load([SnapshotMarker(1, 10), SnapshotMarker(1, 20)])
    assert loaded is not None and loaded.data == b"ten"


def test_snapshot_without_wal_marker_is_ignored_and_purge_keeps_newest(tmp_path):
    snaps = SnapshotFiles(tmp_path, keep=2)
    for i in (10, 20, 30):
        snaps.save(snap(1, i, b"x"))
    loaded = snaps.load([SnapshotMarker(1, 10), SnapshotMarker(1, 20)])
    assert loaded is not None and loaded.meta.index == 20
    assert snaps.purge() == 1
    assert sorted(p.name for p in (tmp_path / "snap").iterdir()) == [
        f"{1:016x}-{20:016x}.snap", f"{1:016x}-{30:016x}.snap"]


def test_recover_reports_a_gap_between_snapshot_and_log(tmp_path):
    wal, _ = Wal.open(tmp_path, META)
    wal.write_batch(HardState(1, 1, 1), entries(5, 6))
    wal.close()
    with pytest.raises(WalCorruptError, match="entries are missing"):
        recover(tmp_path)


def test_missing_segment_refuses_to_start(tmp_path):
    wal, _ = Wal.open(tmp_path, META, segment_bytes=256)
    for i in range(1, 30):
        wal.write_batch(HardState(1, 1, i), entries(i, i))
    wal.close()
    segments(tmp_path)[1].unlink()
    with pytest.raises(WalCorruptError, match="missing"):
        Wal.open(tmp_path)


def test_half_written_files_of_a_crash_are_removed_at_start(tmp_path):
    wal, _ = Wal.open(tmp_path, META, segment_bytes=SMALL)
    wal.write_batch(HardState(1, 1, 1), entries(1, 1))
    wal.close()
    (tmp_path / "wal" / "0000000000000001.tmp").write_bytes(b"partial segment")
    (tmp_path / "snap").mkdir()
    (tmp_path / "snap" / "0000000000000001-0000000000000009.tmp").write_bytes(b"partial snapshot")
    rec = recover(tmp_path, segment_bytes=SMALL)
    rec.wal.close()
    assert rec.entries == entries(1, 1)
    assert not list(tmp_path.glob("*/*.tmp"))


def test_every_sync_is_timed_for_the_fsync_histogram(tmp_path):
    wal, _ = Wal.open(tmp_path, META, segment_bytes=SMALL)
    for i in range(1, 4):
        wal.write_batch(HardState(1, 1, i), entries(i, i))
    wal.close()
    assert wal.fsync_seconds.count == 3 and wal.fsync_seconds.sum > 0
    assert any(line.startswith("etcd_disk_wal_fsync_duration_seconds_bucket") for line in wal.fsync_seconds.render())


def test_a_snapshot_extending_another_reads_back_as_their_concatenation(tmp_path):
    snaps = SnapshotFiles(tmp_path, keep=1)
    snaps.save(snap(1, 10, b"base"))
    snaps.save_parts(snap(1, 20, b"").meta, [b"+d1"], extends=(1, 10))
    snaps.save_parts(snap(2, 30, b"").meta, [b"+d", b"2"], extends=(1, 20))
    snaps.save(snap(2, 35, b"unrelated"))
    snaps.save_parts(snap(2, 40, b"").meta, [b"+d3"], extends=(2, 30))
    loaded = snaps.load([SnapshotMarker(2, 40)])
    assert loaded is not None and loaded.data == b"base+d1+d2+d3" and loaded.meta.index == 40
    assert snaps.read(1, 20).data == b"base+d1"
    assert snaps.read_own(2, 30) == b"+d2"
    # Purge keeps the newest file and every file it extends.
    assert snaps.purge() == 1
    assert snaps.read(2, 40).data == b"base+d1+d2+d3"


def test_a_snapshot_whose_extended_file_is_damaged_or_gone_is_not_used(tmp_path):
    snaps = SnapshotFiles(tmp_path, keep=5)
    base = snaps.save(snap(1, 10, b"base"))
    snaps.save_parts(snap(1, 20, b"").meta, [b"+d1"], extends=(1, 10))
    snaps.save(snap(1, 15, b"whole"))
    raw = bytearray(base.read_bytes())
    raw[-1] ^= 0xFF
    base.write_bytes(bytes(raw))
    markers = [SnapshotMarker(1, 15), SnapshotMarker(1, 20)]
    loaded = snaps.load(markers)
    assert loaded is not None and loaded.data == b"whole"
    base.unlink()
    with pytest.raises(WalCorruptError, match="missing"):
        snaps.read(1, 20)
    with pytest.raises(WalCorruptError, match="none is readable"):
        snaps.load([SnapshotMarker(1, 20)])
