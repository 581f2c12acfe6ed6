"""Write-ahead log and snapshot files: what a member must find on disk after a crash.

Layout under the member's data dir::

    wal/<seq:016x>.wal          segments, appended in order; the last one is open for writing
    snap/<term:016x>-<index:016x>.snap   state-machine snapshots

A segment is a sequence of records ``length:u32 | crc32:u32 | type:u8 | payload`` (little endian;
the CRC covers the type byte and the payload; the payload is msgpack). Segments are preallocated
so ``fdatasync`` flushes data without a file-size update; zeros after the last record mark its end.
Every segment starts with the member metadata, the current hard state and the latest snapshot
marker, so older segments can be deleted once a snapshot covers their entries.

A batch (hard state + entries + snapshot marker of one Ready) is appended with one ``write`` and
one ``fdatasync``: that is the group commit. Batches that arrive while a write is in flight are
merged into the next one, and everything one sync covers is one record. So a crash can only tear
the last record of the last segment, which is then truncated; a damaged record followed by good
ones is corruption, and the member refuses to start (``WalCorruptError``) rather than serve wrong
data.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import queue
import struct
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack  # type: ignore[import-untyped]

from process.log import get_logger
from process.metrics import Histogram
from store.raft.messages import ConfState, Entry, EntryType, HardState, Snapshot, SnapshotMeta

log = get_logger("store.wal")

SEGMENT_BYTES = 64 * 1024 * 1024
"""Rotate to a new segment once the current one reaches this size."""

_HEADER = struct.Struct("<IIB")
_MAX_RECORD = 1 << 31  # a length above this is garbage, not a record

REC_METADATA = 1
REC_BATCH = 2  # [[hard state | None, [entries], snapshot marker | None], ...]: everything one fdatasync covers
_RECORD_TYPES = frozenset({REC_METADATA, REC_BATCH})


class WalCorruptError(Exception):
    """The log or a snapshot is damaged somewhere other than a torn tail; starting would serve wrong data."""


@dataclass(frozen=True, slots=True)
class SnapshotMarker:
    """Names a snapshot file; recorded in the WAL so recovery only trusts snapshots the log knows.

    ``installed`` marks a snapshot received from the leader: it replaces the whole log, so on replay
    the entries before it (possibly a stale, conflicting suffix) are dropped. A member's own
    snapshot of its applied state leaves the entries after it in place.
    """

    term: int
    index: int
    installed: bool = False


@dataclass(slots=True)
class Replayed:
    """What a WAL held: the surviving entries (after overwrites) in index order, the last hard state and markers."""

    metadata: bytes | None = None
    hard_state: HardState = field(default_factory=HardState)
    entries: list[Entry] = field(default_factory=list)
    snapshots: list[SnapshotMarker] = field(default_factory=list)
    truncated_bytes: int = 0


@dataclass(frozen=True, slots=True)
class _Batch:
    hard_state: HardState | None
    entries: Sequence[Entry]
    snapshot: SnapshotMarker | None


@dataclass(slots=True)
class _Segment:
    path: Path
    seq: int
    min_index: int | None = None  # lowest entry index written to it; None when it holds no entries


def _frame(rec_type: int, payload: bytes) -> bytes:
    crc = zlib.crc32(payload, zlib.crc32(bytes((rec_type,))))
    return _HEADER.pack(len(payload), crc, rec_type) + payload


def _pack(obj: Any) -> bytes:
    data: bytes = msgpack.packb(obj, use_bin_type=True)
    return data


def _unpack(data: bytes | memoryview) -> Any:
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _record_at(buf: bytes | memoryview, pos: int) -> tuple[int, memoryview, int] | None:
    """The (type, payload, next position) of a whole, CRC-valid record at ``pos``, else None.

    The payload is a view into ``buf``, not a copy: replay decodes it once, and copying every record
    first cost a second pass over the whole log at start-up.
    """
    end = len(buf)
    if pos + _HEADER.size > end:
        return None
    length, crc, rec_type = _HEADER.unpack_from(buf, pos)
    if rec_type not in _RECORD_TYPES or length > _MAX_RECORD:
        return None
    start = pos + _HEADER.size
    if start + length > end:
        return None
    payload = memoryview(buf)[start:start + length]
    if zlib.crc32(payload, zlib.crc32(bytes((rec_type,)))) != crc:
        return None
    return rec_type, payload, start + length


def _valid_record_follows(buf: bytes, bad: int) -> bool:
    """Whether a good record starts right after the damaged one at ``bad`` (then it is not a torn tail).

    A torn write leaves garbage or zeros only after its start; if the damaged record's own length
    points at a well-formed record, the damage is in the middle of the log.
    """
    if bad + _HEADER.size > len(buf):
        return False
    length = _HEADER.unpack_from(buf, bad)[0]
    nxt = bad + _HEADER.size + length
    return length <= _MAX_RECORD and nxt < len(buf) and _record_at(buf, nxt) is not None


def _is_zero(buf: bytes, pos: int) -> bool:
    return buf.count(0, pos) == len(buf) - pos


class _WriterThread:
    """One long-lived thread that runs the WAL's writes and syncs, started on first use.

    Every member hands over one batch per fdatasync; ``asyncio.to_thread`` (an executor hand-off, a
    copied context, two chained futures) cost twice the CPU of a queue put and a ``call_soon_threadsafe``.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[asyncio.AbstractEventLoop, Callable[[], None],
                                             Callable[[BaseException | None], None]] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def run(self, fn: Callable[[Sequence[_Batch]], None], batches: Sequence[_Batch]) -> asyncio.Future[None]:
        """Run ``fn(batches)`` on the thread; the future completes (or fails) with it."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.call(loop, functools.partial(fn, batches), functools.partial(_settle, future))
        return future

    def call(self, loop: asyncio.AbstractEventLoop, call: Callable[[], None],
             then: Callable[[BaseException | None], None]) -> None:
        """Run ``call()`` on the thread, then ``then(its exception or None)`` on ``loop``."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._main, name="wal-writer", daemon=True)
            self._thread.start()
        self._queue.put((loop, call, then))

    def stop(self) -> None:
        """End the thread once the work handed over is done (it is a daemon: exiting never waits for it)."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread = None

    def _main(self) -> None:
        while (item := self._queue.get()) is not None:
            loop, call, then = item
            error: BaseException | None = None
            try:
                call()
            except BaseException as exc:  # handed to the loop, which decides
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                loop.call_soon_threadsafe(then, error)


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


class Wal:
    """An append-only log of raft entries and hard state, one ``fdatasync`` per batch.

    Open with ``Wal.open`` (blocking: run it in a thread at start-up); write from the event loop
    with ``await save(...)``, which runs the write and its sync on a worker thread and merges
    batches that arrive meanwhile, or with ``write_batch`` on the loop's own thread when blocking
    for the sync is cheaper than the hand-over (the Raft loop, while the worker is idle).
    """

    def __init__(self, directory: Path, metadata: bytes, segment_bytes: int) -> None:
        self.directory = directory
        self.metadata = metadata
        self.segment_bytes = segment_bytes
        self._segments: list[_Segment] = []
        self._fd = -1
        self._offset = 0
        self._hard_state = HardState()
        self._snapshot: SnapshotMarker | None = None
        self._last_index = 0
        self._pending: list[_Batch] = []
        self._pending_done: asyncio.Future[None] | None = None
        self._flushed_all: asyncio.Future[None] | None = None  # while batches are being written
        self._writer = _WriterThread()
        self._io_lock = threading.Lock()  # one writer at a time: the flusher thread or a direct caller
        self.fsync_seconds = Histogram("etcd_disk_wal_fsync_duration_seconds",
                                       "Latency of the WAL's fdatasync, one per batch of appended entries.")
        self._closed = False

    # -- opening and replay ------------------------------------------------------------------------

    @classmethod
    def exists(cls, data_dir: Path) -> bool:
        """Whether ``data_dir`` already holds a log (a restart, not a first start)."""
        wal_dir = data_dir / "wal"
        return wal_dir.is_dir() and any(wal_dir.glob("*.wal"))

    @classmethod
    def open(cls, data_dir: Path, metadata: bytes | None = None,
             segment_bytes: int = SEGMENT_BYTES) -> tuple[Wal, Replayed]:
        """Open (or create, with ``metadata``) the log under ``data_dir/wal`` and replay it.

        A torn tail is truncated and logged; any other damage raises ``WalCorruptError``.
        """
        directory = data_dir / "wal"
        directory.mkdir(parents=True, exist_ok=True)
        for tmp in directory.glob("*.tmp"):  # a segment whose creation a crash interrupted
            tmp.unlink()
        paths = sorted(directory.glob("*.wal"))
        if not paths:
            if metadata is None:
                raise WalCorruptError(f"no WAL segments in {directory} and no metadata to create one")
            wal = cls(directory, metadata, segment_bytes)
            wal._create_segment(0)
            _fsync_dir(directory)
            return wal, Replayed(metadata=metadata)
        replayed = Replayed()
        segments: list[_Segment] = []
        by_index: dict[int, Entry] = {}
        last = 0
        end_offset = 0
        for n, path in enumerate(paths):
            try:
                seq = int(path.stem, 16)
            except ValueError as exc:
                raise WalCorruptError(f"unexpected file {path} in the WAL directory") from exc
            if segments and seq != segments[-1].seq + 1:
                raise WalCorruptError(f"WAL segment {path.name} does not follow {segments[-1].path.name}: "
                                      "a segment is missing")
            segment = _Segment(path, seq)
            segments.append(segment)
            last, end_offset = cls._replay_segment(segment, n == len(paths) - 1, replayed, by_index, last)
        replayed.entries = [by_index[i] for i in sorted(by_index)]
        if replayed.metadata is None:
            raise WalCorruptError(f"WAL in {directory} has no metadata record")
        wal = cls(directory, replayed.metadata, segment_bytes)
        wal._segments = segments
        wal._hard_state = replayed.hard_state
        wal._snapshot = max(replayed.snapshots, key=lambda m: m.index, default=None)
        wal._last_index = last
        wal._fd = os.open(segments[-1].path, os.O_WRONLY)
        wal._offset = end_offset
        wal._preallocate()
        return wal, replayed

    @staticmethod
    def _replay_segment(segment: _Segment, is_last: bool, replayed: Replayed, by_index: dict[int, Entry],
                        last: int) -> tuple[int, int]:
        """Replay one segment into ``replayed``; returns the last entry index and the segment's end offset."""
        buf = segment.path.read_bytes()
        pos = 0
        while pos < len(buf):
            rec = _record_at(buf, pos)
            if rec is None:
                if _is_zero(buf, pos):
                    break
                if not is_last or _valid_record_follows(buf, pos):
                    raise WalCorruptError(f"WAL record at offset {pos} of {segment.path} is damaged and is not "
                                          "the log's tail; refusing to start (restore this member from a peer)")
                replayed.truncated_bytes = len(buf) - pos
                log.warning("truncating torn WAL tail", segment=str(segment.path), offset=pos,
                            bytes=len(buf) - pos)
                with open(segment.path, "r+b") as f:
                    f.truncate(pos)
                    os.fsync(f.fileno())
                break
            rec_type, payload, pos = rec
            value = _unpack(payload)
            if rec_type == REC_METADATA:
                replayed.metadata = value
                continue
            for hard_state, entries, snapshot in value:
                if snapshot is not None:
                    marker = SnapshotMarker(*snapshot)
                    if marker.installed:
                        by_index.clear()
                        last = marker.index
                    if all(m.index != marker.index or m.term != marker.term for m in replayed.snapshots):
                        replayed.snapshots.append(marker)
                for index, term, kind, data in entries:
                    if index <= last:  # a new leader overwrote our uncommitted suffix
                        for stale in range(index, last + 1):
                            by_index.pop(stale, None)
                    by_index[index] = Entry(term, index, EntryType(kind), data)
                    last = index
                    if segment.min_index is None or index < segment.min_index:
                        segment.min_index = index
                if hard_state is not None:
                    replayed.hard_state = HardState(*hard_state)
        return last, pos

    # -- writing -------------------------------------------------------------------------------------

    def _segment_path(self, seq: int) -> Path:
        return self.directory / f"{seq:016x}.wal"

    def _create_segment(self, seq: int) -> None:
        """Start segment ``seq`` with the records a reader needs even if all older segments are gone."""
        path = self._segment_path(seq)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        snapshot = None if self._snapshot is None else [self._snapshot.term, self._snapshot.index, False]
        data = (_frame(REC_METADATA, _pack(self.metadata))
                + _frame(REC_BATCH, _pack([[_hard_state_tuple(self._hard_state), [], snapshot]])))
        try:
            os.posix_fallocate(fd, 0, max(self.segment_bytes, len(data)))
            os.write(fd, data)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        os.rename(tmp, path)
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = fd
        self._offset = len(data)
        self._segments.append(_Segment(path, seq))

    def _preallocate(self) -> None:
        with contextlib.suppress(OSError):  # preallocation is a speed-up; a filesystem may refuse it
            os.posix_fallocate(self._fd, 0, max(self.segment_bytes, self._offset))

    def write_batch(self, hard_state: HardState | None, entries: Sequence[Entry],
                    snapshot: SnapshotMarker | None = None) -> None:
        """Append one batch and ``fdatasync`` it on the calling thread (blocking), together with the batches
        submitted unsynced before it. Entries at or below the last index overwrite it.

        Not while the writer thread has batches (``flushing``): batches reach the disk in the order given.
        """
        if self.flushing:
            raise RuntimeError("a blocking WAL write while the writer thread has batches to write")
        batches, self._pending = [*self._pending, _Batch(hard_state, entries, snapshot)], []
        with self._io_lock:
            self._write_locked(batches)

    def _write_locked(self, batches: Sequence[_Batch]) -> None:
        if self._closed:
            raise RuntimeError("WAL is closed")
        if self._offset >= self.segment_bytes:
            self._rotate()
        # One record per sync: a crash can then tear only the last record, never leave a damaged record
        # followed by good ones (pages of one unsynced write may reach the disk in any order).
        rows: list[Any] = []
        segment = self._segments[-1]
        for batch in batches:
            hard_state, entries, snapshot = batch.hard_state, batch.entries, batch.snapshot
            if snapshot is not None and (self._snapshot is None or snapshot.index >= self._snapshot.index):
                self._snapshot = snapshot
            if entries:
                first = entries[0].index
                if segment.min_index is None or first < segment.min_index:
                    segment.min_index = first
                self._last_index = entries[-1].index
            if hard_state is not None:
                self._hard_state = hard_state
            rows.append([None if hard_state is None else _hard_state_tuple(hard_state),
                         [(e.index, e.term, int(e.type), e.data) for e in entries],
                         None if snapshot is None else [snapshot.term, snapshot.index, snapshot.installed]])
        if not rows:
            return
        view = memoryview(_frame(REC_BATCH, _pack(rows)))
        while view:
            n = os.pwrite(self._fd, view, self._offset)
            self._offset += n
            view = view[n:]
        started = time.perf_counter()
        os.fdatasync(self._fd)
        self.fsync_seconds.observe(time.perf_counter() - started)

    def _rotate(self) -> None:
        os.ftruncate(self._fd, self._offset)  # drop the preallocated zeros of the finished segment
        os.fsync(self._fd)
        self._create_segment(self._segments[-1].seq + 1)
        _fsync_dir(self.directory)
        log.v(2, "WAL segment rotated", segment=self._segments[-1].path.name)

    async def save(self, hard_state: HardState | None, entries: Sequence[Entry],
                   snapshot: SnapshotMarker | None = None, *, sync: bool = True) -> None:
        """Append a batch durably without blocking the event loop; concurrent calls share one fdatasync.

        With ``sync=False`` a batch holding only a hard state returns at once and is written with the
        next synced batch: Raft needs term and vote durable before it answers, but a commit index lost
        in a crash is simply learned again from the leader (etcd skips that sync too).
        """
        done = self.submit(hard_state, entries, snapshot, sync=sync)
        if done is not None:
            await done

    def submit(self, hard_state: HardState | None, entries: Sequence[Entry],
               snapshot: SnapshotMarker | None = None, *, sync: bool = True) -> asyncio.Future[None] | None:
        """``save`` without waiting: the future completes once the batch is synced (None: nothing to wait for)."""
        if hard_state is None and not entries and snapshot is None:
            return None
        loop = asyncio.get_running_loop()
        self._pending.append(_Batch(hard_state, entries, snapshot))
        if not sync and not entries and snapshot is None:
            return None
        if self._pending_done is None:
            self._pending_done = loop.create_future()
        done = self._pending_done
        if self._flushed_all is None:
            # Not at once: batches handed over later in this turn of the loop share the first sync.
            self._flushed_all = loop.create_future()
            loop.call_soon(self._flush_next, loop)
        return done

    @property
    def flushing(self) -> bool:
        """Whether the writer thread has batches to write, or is about to be handed some."""
        return self._flushed_all is not None

    def _flush_next(self, loop: asyncio.AbstractEventLoop) -> None:
        """Hand everything pending to the writer thread; ``_flushed`` continues on the loop when it is synced.

        Callbacks rather than a task: at low concurrency the WAL goes idle after nearly every batch, and a
        task per batch (created, stepped, finished) cost more than the hand-over itself.
        """
        batches, done = self._pending, self._pending_done
        assert done is not None
        self._pending, self._pending_done = [], None
        self._writer.call(loop, functools.partial(self._flush, batches), functools.partial(self._flushed, loop, done))

    def _flushed(self, loop: asyncio.AbstractEventLoop, done: asyncio.Future[None],
                 error: BaseException | None) -> None:
        _settle(done, error)
        if self._pending_done is not None:
            self._flush_next(loop)
        elif self._flushed_all is not None:
            _settle(self._flushed_all, None)
            self._flushed_all = None

    def _flush(self, batches: Sequence[_Batch]) -> None:
        with self._io_lock:
            self._write_locked(batches)

    # -- log truncation -------------------------------------------------------------------------------

    def release_to(self, index: int) -> int:
        """Delete segments whose surviving entries are all at or below ``index`` (covered by a snapshot).

        The current segment is always kept. An entry in segment *i* survives only below the lowest
        index any later segment wrote (later writes overwrite), so that bound decides. Returns the
        number of segments removed.
        """
        with self._io_lock:
            removable = 0
            later_min: int | None = None
            bounds: list[int | None] = [None] * len(self._segments)
            for i in range(len(self._segments) - 1, -1, -1):
                bounds[i] = later_min
                m = self._segments[i].min_index
                if m is not None and (later_min is None or m < later_min):
                    later_min = m
            for i in range(len(self._segments) - 1):
                bound = bounds[i]
                if bound is None or bound > index + 1:
                    break
                removable = i + 1
            for segment in self._segments[:removable]:
                segment.path.unlink()
                log.v(2, "WAL segment removed", segment=segment.path.name, snapshot_index=index)
            if removable:
                del self._segments[:removable]
                _fsync_dir(self.directory)
            return removable

    @property
    def segment_count(self) -> int:
        return len(self._segments)

    @property
    def last_index(self) -> int:
        return self._last_index

    def write_metadata(self, metadata: bytes) -> None:
        """Replace the member metadata (blocking); the last metadata record wins on replay."""
        with self._io_lock:
            self.metadata = metadata
            self._write_metadata_locked()

    def _write_metadata_locked(self) -> None:
        data = _frame(REC_METADATA, _pack(self.metadata))
        os.pwrite(self._fd, data, self._offset)
        self._offset += len(data)
        os.fdatasync(self._fd)

    async def aclose(self) -> None:
        """Wait for writes in flight, write what was deferred, and close."""
        if self._flushed_all is not None:
            await asyncio.shield(self._flushed_all)
        if self._pending and not self._closed:
            batches, self._pending = self._pending, []
            await self._writer.run(self._flush, batches)
        self.close()

    def close(self) -> None:
        """Close the file; pending batches must have been awaited first."""
        self._writer.stop()
        with self._io_lock:
            if not self._closed and self._fd >= 0:
                os.close(self._fd)
            self._closed = True
            self._fd = -1


def _hard_state_tuple(hs: HardState) -> tuple[int, int, int]:
    return hs.term, hs.vote, hs.commit


# -- snapshot files ------------------------------------------------------------------------------------

_SNAP_HEADER = struct.Struct("<4sII")  # magic, crc32 of everything after the header, length of the meta
_SNAP_MAGIC = b"TKS2"
_SNAP_FLUSH_BYTES = 1024 * 1024
"""A snapshot file is flushed this much at a time. A WAL fdatasync on the same disk waits out the slice being
flushed: here 0.8 ms for 1 MB, against 5-6 ms for the 16 MB slices before (a delta of 10k 1 KiB writes is
10 MB): several times the whole latency of a write at concurrency 1 (~0.85 ms)."""


class SnapshotFiles:
    """Snapshot files under ``data_dir/snap``, each written to a temp file, fsynced and renamed into place."""

    def __init__(self, data_dir: Path, keep: int = 2) -> None:
        self.directory = data_dir / "snap"
        self.keep = keep
        self.directory.mkdir(parents=True, exist_ok=True)
        # Half-written files of a crash; only at start-up, when no save can be in progress.
        for tmp in self.directory.glob("*.tmp"):
            tmp.unlink()

    def _path(self, term: int, index: int) -> Path:
        return self.directory / f"{term:016x}-{index:016x}.snap"

    def save(self, snapshot: Snapshot) -> Path:
        """Write ``snapshot`` durably (blocking); a crash leaves either the old files or the complete new one."""
        return self.save_parts(snapshot.meta, (snapshot.data,))

    def save_parts(self, meta: SnapshotMeta, parts: Sequence[bytes], extends: tuple[int, int] | None = None) -> Path:
        """Write a snapshot whose data is ``parts`` concatenated, without ever concatenating them in memory.

        With ``extends`` (the term and index of a saved snapshot), the file holds only what follows that
        snapshot's data: the snapshot's data is the extended one's followed by ``parts``.

        The file is ``header | msgpack meta | data``: the data is written as it is, never re-packed or
        joined, because copying a large snapshot costs a pass over hundreds of MB (and, on a member's
        event loop, holds the GIL all along).
        """
        fields = [meta.term, meta.index, meta.conf_state.voters, meta.conf_state.learners]
        head = _pack(fields if extends is None else [*fields, *extends])
        crc = zlib.crc32(head)
        for part in parts:
            crc = zlib.crc32(part, crc)
        path = self._path(meta.term, meta.index)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            f.write(_SNAP_HEADER.pack(_SNAP_MAGIC, crc, len(head)))
            f.write(head)
            # Flushed a slice at a time, so the WAL's fdatasyncs on the same disk queue behind at most one
            # slice of writeback, never behind hundreds of MB of dirty pages (nor an ext4 journal commit
            # that must write them first).
            for part in parts:
                data = memoryview(part)
                for start in range(0, len(data), _SNAP_FLUSH_BYTES):
                    f.write(data[start:start + _SNAP_FLUSH_BYTES])
                    f.flush()
                    os.fdatasync(f.fileno())
            os.fsync(f.fileno())
        os.rename(tmp, path)
        _fsync_dir(self.directory)
        return path

    def read(self, term: int, index: int) -> Snapshot:
        """The snapshot saved for (term, index), with the data of every snapshot it extends (blocking);
        raises WalCorruptError if any file of it is damaged or missing."""
        return self._resolve(self._path(term, index))

    def read_own(self, term: int, index: int) -> bytes:
        """Only the data the file of (term, index) holds itself (what follows the snapshot it extends)."""
        return self._read(self._path(term, index))[0].data

    def _read(self, path: Path) -> tuple[Snapshot, tuple[int, int] | None]:
        # The data is read into its own bytes, not sliced out of the whole file: slicing copies it with
        # the GIL held, which stalls the event loop of the member reading it back.
        try:
            with open(path, "rb") as f:
                header = f.read(_SNAP_HEADER.size)
                if len(header) < _SNAP_HEADER.size:
                    raise WalCorruptError(f"snapshot {path} is truncated")
                magic, crc, head_len = _SNAP_HEADER.unpack(header)
                head = f.read(head_len) if magic == _SNAP_MAGIC else b""
                data = f.read()
        except FileNotFoundError:
            raise WalCorruptError(f"snapshot {path} is missing") from None
        if magic != _SNAP_MAGIC or len(head) < head_len or zlib.crc32(data, zlib.crc32(head)) != crc:
            raise WalCorruptError(f"snapshot {path} fails its CRC check")
        term, index, voters, learners, *extends = _unpack(head)
        snap = Snapshot(SnapshotMeta(index, term, ConfState(tuple(voters), tuple(learners))), data)
        return snap, (extends[0], extends[1]) if extends else None

    def _extended(self, path: Path) -> tuple[int, int] | None:
        """The (term, index) the file at ``path`` extends, read from its head alone (None: a whole snapshot)."""
        with open(path, "rb") as f:
            _, _, head_len = _SNAP_HEADER.unpack(f.read(_SNAP_HEADER.size))
            _, _, _, _, *extends = _unpack(f.read(head_len))
        return (extends[0], extends[1]) if extends else None

    def _resolve(self, path: Path) -> Snapshot:
        snap, extends = self._read(path)
        parts = [snap.data]
        while extends is not None:
            older, extends = self._read(self._path(*extends))
            parts.append(older.data)
        parts.reverse()
        return Snapshot(snap.meta, b"".join(parts)) if len(parts) > 1 else snap

    def load(self, markers: Sequence[SnapshotMarker]) -> Snapshot | None:
        """The newest snapshot the WAL has a marker for; a damaged newer file is skipped with a warning."""
        known = {(m.term, m.index) for m in markers}
        candidates = []
        for path in self.directory.glob("*.snap"):
            key = _snap_key(path)
            if key in known:
                candidates.append((key[1], key[0], path))
        for _, _, path in sorted(candidates, reverse=True):
            try:
                return self._resolve(path)
            except WalCorruptError as exc:
                log.warning("skipping damaged snapshot", path=str(path), err=str(exc))
        if known and max(m.index for m in markers) > 0:
            raise WalCorruptError(f"the WAL names snapshots {sorted(known)} but none is readable in {self.directory}")
        return None

    def purge(self) -> int:
        """Keep the newest ``keep`` snapshot files and the files they extend, delete the rest; returns how many went."""
        files = sorted(self.directory.glob("*.snap"), key=lambda p: _snap_key(p)[1])
        kept: set[Path] = set()
        for newest in files[len(files) - self.keep:] if self.keep else []:
            path: Path | None = newest
            while path is not None and path not in kept:
                kept.add(path)
                try:
                    extends = self._extended(path)
                except (OSError, ValueError, struct.error, msgpack.UnpackException):
                    extends = None  # a damaged file: load() skips it, nothing it names needs keeping for it
                path = self._path(*extends) if extends is not None else None
        removed = 0
        for path in files:
            if path not in kept:
                path.unlink(missing_ok=True)
                removed += 1
        if removed:
            _fsync_dir(self.directory)
        return removed


def _snap_key(path: Path) -> tuple[int, int]:
    """(term, index) from a snapshot file's name; (-1, -1) for a name that is not one."""
    try:
        term_s, index_s = path.stem.split("-")
        return int(term_s, 16), int(index_s, 16)
    except ValueError:
        return -1, -1


@dataclass(slots=True)
class Recovered:
    """A member's durable state after a restart: apply ``snapshot``, then ``entries`` after it."""

    wal: Wal
    metadata: bytes
    hard_state: HardState
    snapshot: Snapshot | None
    entries: list[Entry]


def recover(data_dir: Path, segment_bytes: int = SEGMENT_BYTES) -> Recovered:
    """Open the WAL and the newest snapshot it knows, and return the entries that follow it (blocking)."""
    wal, replayed = Wal.open(data_dir, segment_bytes=segment_bytes)
    try:
        snapshot = SnapshotFiles(data_dir).load(replayed.snapshots)
        snap_index = snapshot.meta.index if snapshot is not None else 0
        entries = [e for e in replayed.entries if e.index > snap_index]
        if entries and entries[0].index != snap_index + 1:
            raise WalCorruptError(f"WAL in {data_dir} resumes at index {entries[0].index} but the snapshot ends at "
                                  f"{snap_index}: entries are missing")
    except BaseException:
        wal.close()
        raise
    assert replayed.metadata is not None
    return Recovered(wal, replayed.metadata, replayed.hard_state, snapshot, entries)
