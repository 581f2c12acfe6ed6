"""The asyncio driver of one store member: ticks the Raft core, persists, sends, applies.

One task owns the core. On the leader, it first appends the client entries proposed since its last
turn with one ``propose_batch``. It takes a ``Ready`` and carries it out in the order ``Ready`` gives:
the leader writes its appends to the sockets first, so the followers sync while it does; then the
entries and hard state go to the WAL with one ``fdatasync`` on the loop's own thread (the group commit:
requests and appends arriving during a sync wait in their sockets and make the next batch); then the
messages that promise durable state (responses, votes) are sent, committed entries applied, and
``advance`` called, which is when the leader counts its own log toward a quorum. Only while the WAL's
worker thread has writes of its own under way (a snapshot's marker) are Readies pipelined behind them:
handed to the WAL, whose thread merges them into one sync, and finished in order as each sync
completes. Their committed entries are applied before this member's sync of them may finish: they are
durable on a quorum already, and nothing derived from them reaches the disk before it (a snapshot is
taken only at an index the synced log holds).

Entries are ``msgpack([request_id, kind, payload])``; kinds starting with ``_`` are the node's own
(member attributes), the rest go to the applier. A follower forwards a proposal to the leader over
the transport and waits for its own apply of the request id, so the answer reflects this member's
state. When the leader changes, proposals still in flight are sent again to the new leader; every
member remembers the request ids of the last ``DEDUP_WINDOW`` applied entries (replicated state,
kept in snapshots), so whichever copy commits first is applied and the other is skipped.
Conf-change entries carry ``msgpack([request_id, member row])`` in their context; the member
registry (names and URLs) changes only by applying entries, so every member agrees on it.

Snapshots hold frames of ``lengths | msgpack([format, members, recent request ids]) | state machine bytes``:
every ``snapshot_count`` applied entries, at an offset of its own so members take turns
(``store.snapshot_schedule``), the node snapshots the state machine in a forked child at a lower CPU
priority, writes the file, records it in the WAL, drops WAL segments it covers and compacts the
in-memory log, keeping ``catchup_entries`` so a slow follower catches up from the log rather than a
snapshot. The file is a delta on top of the member's previous snapshot file when it can be (one frame
of what was written since; the snapshot's data is its chain's frames in order), so a snapshot costs
what changed rather than the whole store. Committed entries come in Readies of bounded size, and the
loop yields between two, so a long backlog to apply never silences heartbeats.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import ctypes
import gc
import heapq
import itertools
import os
import signal
import ssl
import struct
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import msgpack  # type: ignore[import-untyped]

from process.log import get_logger
from process.metrics import Histogram
from store import errors
from store.apply import decode_entry, encode_entry, lease_revoke_proposal
from store.chained_storage import ChainedSnapshotStorage
from store.errors import EtcdError
from store.grpc_status import StatusCode
from store.members import Member, Membership, cluster_id, member_id
from store.raft import (
    CompactedError,
    ConfChange,
    ConfChangeError,
    ConfChangeType,
    Config,
    ConfState,
    Entry,
    EntryType,
    HardState,
    LeaderTransferError,
    Message,
    MessageType,
    ProposalDroppedError,
    Raft,
    RaftError,
    ReadState,
    Ready,
    Role,
    Snapshot,
    SnapshotMeta,
    SnapshotOutOfDateError,
)
from store.raft.errors import NotLeaderError as RaftNotLeaderError
from store.snapshot_schedule import extends_chain, next_snapshot_index, snapshot_phase
from store.transport import FRAME_PROPOSE, FRAME_PROPOSE_RESULT, Transport
from store.wal import SEGMENT_BYTES, SnapshotFiles, SnapshotMarker, Wal, recover

log = get_logger("store.node")

_SNAPSHOT_FORMAT = 4
# A snapshot's data is one frame or more: the lengths of a msgpack head and of the state machine's bytes,
# then both. The first frame holds the whole state; each further one a delta on top of it.
_SNAPSHOT_FRAME = struct.Struct(">IQ")
# Format 3 (before chains): the msgpack head's length, the head, then the whole state to the end. Its head
# (a 3-array) starts right after the length, where format 4 has the high byte of a state length, always 0.
_LEGACY_FORMAT = 3
_LEGACY_HEAD = struct.Struct(">I")
_MSGPACK_ARRAY_OF_3 = 0x93
_RETRY = object()  # a forwarded proposal the leader refused untouched: safe to submit again
_RESUBMIT = object()  # the leader changed while the proposal was in flight: hand it to the new one now
DEDUP_WINDOW = 50_000
"""Request ids of the last this-many applied entries are remembered, so a proposal re-sent to a new leader
after a failover is applied once even if the old leader's copy commits too."""
_KIND_MEMBER_ATTR = "_member_attr"
_KIND_MEMBER_UPDATE = "_member_update"
_PR_SET_PDEATHSIG = 1  # prctl(2)
_SNAPSHOT_NICE = 5  # the snapshot writer's CPU weight is a third of a member's
COMMIT_DELAY = 0.002
"""Seconds a new commit index waits for an append with entries to carry it to the followers before the
leader sends it alone (``Config.defer_commit``). Under load the next append comes sooner: a third to a half
of all appends, and of the followers' Readies, carried nothing but a commit index."""


class NoLeaderError(EtcdError):
    """No leader was elected within the request's time; retry later (etcd's "no leader")."""

    def __init__(self) -> None:
        super().__init__(errors.NO_LEADER.code, errors.NO_LEADER.message)


class NotLeaderError(EtcdError):
    """The request must be made on the leader (move-leader); ``leader`` says which member that is."""

    def __init__(self, leader: int = 0) -> None:
        super().__init__(errors.NOT_LEADER.code, errors.NOT_LEADER.message)
        self.leader = leader


class ProposalTimeoutError(EtcdError):
    """The entry was not applied in time; it may still be applied later (the outcome is unknown)."""

    def __init__(self) -> None:
        super().__init__(errors.TIMEOUT.code, errors.TIMEOUT.message)


class StoppedError(EtcdError):
    """The node is stopping or was removed from the cluster."""

    def __init__(self) -> None:
        super().__init__(errors.STOPPED.code, errors.STOPPED.message)


class StateMachine(Protocol):
    """What the node applies entries to (``store.apply.Applier``)."""

    def apply(self, kind: str, payload: bytes, respond: bool = True) -> object: ...
    @property
    def revision(self) -> int: ...
    @property
    def db_size(self) -> int: ...
    def snapshot_parts(self, since: int = 0) -> list[bytes]: ...
    def can_extend(self, since: int) -> bool: ...
    def restore(self, data: bytes | memoryview, deltas: Sequence[bytes | memoryview] = ()) -> None: ...


class LeaseExpiry(Protocol):
    """The lessor as the leader drives it; time is monotonic seconds."""

    def expired(self, now: float) -> list[int]: ...
    def promote(self, now: float, extend: float = 0.0) -> None: ...
    def demote(self) -> None: ...


@dataclass(slots=True)
class NodeConfig:
    """A member's settings, named after etcd's flags."""

    name: str
    data_dir: Path
    initial_cluster: Mapping[str, Sequence[str]]
    listen_peer_urls: Sequence[str]
    advertise_client_urls: Sequence[str] = ()
    initial_advertise_peer_urls: Sequence[str] = ()  # default: this member's entry in initial_cluster
    initial_cluster_state: str = "new"
    initial_cluster_token: str = "etcd-cluster"
    heartbeat_interval_ms: int = 100
    election_timeout_ms: int = 1000
    snapshot_count: int = 100_000
    catchup_entries: int = 5000
    request_timeout: float = 0.0  # 0: etcd's 5 s + 2 election timeouts
    peer_server_ssl: ssl.SSLContext | None = None
    peer_client_ssl: ssl.SSLContext | None = None
    wal_segment_bytes: int = SEGMENT_BYTES
    max_size_per_msg: int = 1 << 20
    max_inflight_msgs: int = 512
    max_committed_size_per_ready: int = 256 * 1024  # bounds the apply work of one event-loop turn
    lease_check_interval: float = 0.5

    def peer_urls(self) -> list[str]:
        urls = list(self.initial_advertise_peer_urls) or list(self.initial_cluster.get(self.name, ()))
        if not urls:
            raise ValueError(f"member {self.name!r} has no peer URLs: it is not in --initial-cluster "
                             "and --initial-advertise-peer-urls is empty")
        return urls


@dataclass(slots=True, frozen=True)
class _SnapshotChain:
    """The newest snapshot file of this member, which the next snapshot may extend with a delta.

    A delta holds only what was written since (``revision``: the state machine's revision then), so a
    snapshot costs what changed, not the whole state (``store.snapshot_schedule.extends_chain`` says
    when the chain of ``links`` files and ``data_bytes`` is rewritten whole instead).
    """

    term: int
    index: int
    revision: int
    data_bytes: int
    links: int


@dataclass(slots=True)
class _Pending:
    future: asyncio.Future[object]
    deadline: float
    resubmittable: bool = False  # a normal entry handed to a leader: may be re-sent after a leader change
    # A proposal made with ``propose_now``, which no coroutine awaits: its request id and entry, for the task
    # that sends it again if this leader cannot see it through.
    unawaited: tuple[int, bytes] | None = None


@dataclass(order=True, slots=True)
class _AppliedWait:
    index: int
    seq: int
    future: asyncio.Future[None] = field(compare=False)


class StoreNode:
    """One Raft member with a WAL, a peer transport and a state machine; see the module docstring."""

    def __init__(self, config: NodeConfig, state_machine: StateMachine, lessor: LeaseExpiry | None = None) -> None:
        self.config = config
        self._sm = state_machine
        self._lessor = lessor
        self._election_ticks = max(2, round(config.election_timeout_ms / config.heartbeat_interval_ms))
        self._request_timeout = config.request_timeout or 5.0 + 2 * config.election_timeout_ms / 1000
        self._member_id = member_id(config.peer_urls(), config.initial_cluster_token)
        self._cluster_id = 0
        self._token = config.initial_cluster_token
        self._members = Membership()
        self._raft: Raft | None = None
        self._storage = ChainedSnapshotStorage()
        self._wal: Wal | None = None
        self._snap_files = SnapshotFiles(config.data_dir)
        self._transport: Transport | None = None
        self._conf_state = ConfState()
        self._applied = 0
        self._snapshot_index = 0
        self._chain: _SnapshotChain | None = None
        self._snapshot_task: asyncio.Task[None] | None = None
        self._catching_up = False
        self._leader_down_term = -1
        self._leader = 0
        self._role = Role.FOLLOWER
        self._leader_changed = asyncio.Event()
        self._leader_listeners: list[Callable[[int, int], None]] = []
        self._woken = False  # the Raft loop has work: it takes a Ready before it sleeps again
        self._waker: asyncio.Future[None] | None = None  # what the sleeping Raft loop awaits
        self._loop: asyncio.AbstractEventLoop | None = None  # asking asyncio for it costs a getpid() per call
        self._proposals: list[tuple[_Pending, bytes]] = []  # entries handed to this leader, not yet in its log
        self._commit_timer: asyncio.TimerHandle | None = None  # sends a commit index no append carried
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._waiters: dict[int, _Pending] = {}
        # Replicated: request ids of the last DEDUP_WINDOW applied entries. An OrderedDict, not a dict: a dict
        # emptied from the front walks its deleted slots again on each ``next(iter())``, which cost every member
        # tens of µs per applied entry once the window was full (88 µs after 150,000 entries), until a resize.
        self._recent: collections.OrderedDict[int, None] = collections.OrderedDict()
        self._orphans: dict[int, object] = {}  # results that arrived while their proposer was re-sending
        self._publishing = False
        self.resubmitted = 0  # proposals re-sent to a new leader
        self.duplicates_skipped = 0  # re-sent copies found already applied
        self._applied_waits: list[_AppliedWait] = []
        self._persisting: collections.deque[tuple[Ready, asyncio.Future[None] | None]] = collections.deque()
        self._seq = itertools.count()
        self._read_next: list[_Pending] = []
        self._read_inflight: tuple[bytes, list[_Pending], float] | None = None
        self._read_ctx = itertools.count(1)
        self._revoking: set[int] = set()
        self._running = False
        self._stopped = asyncio.Event()
        self._stopping = False
        self._removed = False
        self._failure: BaseException | None = None
        # Request ids: 16 bits of member id, then a millisecond clock and a counter (etcd's idutil), so ids
        # stay unique across restarts and a replayed old entry never wakes a new waiter.
        self._rid_prefix = (self._member_id & 0xFFFF) << 47
        self._rid_counter = (int(time.time() * 1000) & ((1 << 39) - 1)) << 8

    # -- properties -----------------------------------------------------------------------------------

    @property
    def member_id(self) -> int:
        return self._member_id

    @property
    def cluster_id(self) -> int:
        return self._cluster_id

    @property
    def leader_id(self) -> int:
        return self._leader

    @property
    def is_leader(self) -> bool:
        return self._leader == self._member_id and self._role == Role.LEADER

    @property
    def term(self) -> int:
        return self._raft.term if self._raft is not None else 0

    @property
    def applied_index(self) -> int:
        return self._applied

    @property
    def commit_index(self) -> int:
        return self._raft.raft_log.committed if self._raft is not None else 0

    @property
    def mvcc(self) -> StateMachine:
        """The replicated state machine (the applier over the MVCC store) this node applies entries to."""
        return self._sm

    @property
    def wal_fsync_seconds(self) -> Histogram | None:
        """The WAL's fdatasync latency histogram (etcd's ``etcd_disk_wal_fsync_duration_seconds``), once started."""
        return self._wal.fsync_seconds if self._wal is not None else None

    def members(self) -> list[Member]:
        return self._members.all()

    def add_leader_listener(self, callback: Callable[[int, int], None]) -> None:
        """Call ``callback(old_leader, new_leader)`` on every leader change seen by this member."""
        self._leader_listeners.append(callback)

    # -- lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Recover from the data dir (or bootstrap), start the peer listener, and start ticking."""
        cfg = self.config
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        self._loop = asyncio.get_running_loop()
        with _long_lived_allocations():
            await self._start(cfg)

    async def _start(self, cfg: NodeConfig) -> None:
        applied = 0
        if Wal.exists(cfg.data_dir):
            applied = await self._recover()
        elif cfg.initial_cluster_state == "new":
            await self._bootstrap()
        elif cfg.initial_cluster_state == "existing":
            await self._join()
        else:
            raise ValueError(f"initial cluster state {cfg.initial_cluster_state!r} is neither 'new' nor 'existing'")
        self._raft = Raft(Config(self._member_id, election_tick=self._election_ticks, heartbeat_tick=1,
                                 max_size_per_msg=cfg.max_size_per_msg, max_inflight_msgs=cfg.max_inflight_msgs,
                                 max_committed_size_per_ready=cfg.max_committed_size_per_ready,
                                 applied=applied, defer_commit=True), self._storage)
        self._transport = Transport(self._member_id, self._cluster_id, on_message=self._on_message,
                                    on_frame=self._on_frame, on_unreachable=self._on_unreachable,
                                    on_snapshot_sent=self._on_snapshot_sent, on_cluster_id=self._on_cluster_id,
                                    on_removed=self._on_removed, on_peer_down=self._on_peer_down,
                                    server_ssl=cfg.peer_server_ssl, client_ssl=cfg.peer_client_ssl)
        await self._transport.listen(cfg.listen_peer_urls)
        self._sync_peers()
        if cfg.initial_cluster_state == "existing" and not self._members.all():
            for name, urls in cfg.initial_cluster.items():
                if name != cfg.name:
                    self._transport.add_peer(member_id(urls, self._token), urls)
        self._running = True
        # Re-apply what the log says is committed before serving, so even serializable reads are not stale.
        # No snapshot meanwhile: what is replayed is already on disk, and start-up time is what counts here.
        commit = self._storage.initial_state()[0].commit
        self._catching_up = True
        while self._applied < commit and self._raft.has_ready():
            await self._handle_ready(self._raft, self._raft.ready())
        self._catching_up = False
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._run(), name="raft-loop"),
                       loop.create_task(self._ticker(), name="raft-ticker"),
                       loop.create_task(self._sweeper(), name="raft-sweeper")]
        if self._lessor is not None:
            self._tasks.append(loop.create_task(self._lease_expiry(), name="lease-expiry"))
        self._wake()
        log.info("store member started", name=cfg.name, member=f"{self._member_id:x}",
                 cluster=f"{self._cluster_id:x}", applied=applied, last_index=self._storage.last_index())

    async def _recover(self) -> int:
        cfg = self.config
        rec = await asyncio.to_thread(recover, cfg.data_dir, cfg.wal_segment_bytes)
        meta = msgpack.unpackb(rec.metadata, raw=False)
        self._member_id = int(meta["member_id"])
        self._cluster_id = int(meta["cluster_id"])
        self._token = str(meta.get("token", self._token))
        self._rid_prefix = (self._member_id & 0xFFFF) << 47
        self._wal = rec.wal
        if (cfg.initial_cluster_state == "new" and rec.snapshot is None and not rec.entries
                and rec.hard_state == HardState() and self._cluster_id):
            # A crash between creating the WAL and writing the bootstrap entries: finish bootstrapping.
            await self._write_bootstrap_entries(Membership.initial(cfg.initial_cluster, self._token))
            return 0
        applied = 0
        if rec.snapshot is not None:
            self._storage.apply_snapshot(rec.snapshot)
            self._restore_state(rec.snapshot)
            applied = rec.snapshot.meta.index
        self._storage.append(rec.entries)
        hs = rec.hard_state
        if hs.commit > self._storage.last_index():
            # The commit index may be ahead of the log only if the tail was torn; it is relearned.
            hs = HardState(hs.term, hs.vote, self._storage.last_index())
        if hs.commit < applied:
            hs = HardState(hs.term, hs.vote, applied)
        self._storage.set_hard_state(hs)
        log.info("recovered from disk", snapshot_index=applied, entries=len(rec.entries), term=hs.term,
                 commit=hs.commit)
        return applied

    def _metadata(self) -> bytes:
        data: bytes = msgpack.packb({"member_id": self._member_id, "cluster_id": self._cluster_id,
                                     "name": self.config.name, "token": self._token}, use_bin_type=True)
        return data

    async def _bootstrap(self) -> None:
        """A new cluster: every member writes the same conf-change entries 1..n, committed, as etcd does."""
        cfg = self.config
        initial = Membership.initial(cfg.initial_cluster, self._token)
        if self._member_id not in initial:
            raise ValueError(f"member {cfg.name!r} with peer URLs {cfg.peer_urls()} is not in --initial-cluster "
                             f"{dict(cfg.initial_cluster)}")
        self._cluster_id = cluster_id(m.id for m in initial)
        wal, _ = await asyncio.to_thread(Wal.open, cfg.data_dir, self._metadata(), cfg.wal_segment_bytes)
        self._wal = wal
        await self._write_bootstrap_entries(initial)

    async def _write_bootstrap_entries(self, initial: Membership) -> None:
        assert self._wal is not None
        entries = [Entry(1, i, EntryType.CONF_CHANGE,
                         ConfChange(ConfChangeType.ADD_VOTER, m.id, _conf_context(0, m)).encode())
                   for i, m in enumerate(initial, start=1)]
        hs = HardState(1, 0, len(entries))
        await self._wal.save(hs, entries)
        self._storage.append(entries)
        self._storage.set_hard_state(hs)

    async def _join(self) -> None:
        """Joining after ``member add``: an empty log; the leader sends the log or a snapshot."""
        cfg = self.config
        wal, _ = await asyncio.to_thread(Wal.open, cfg.data_dir, self._metadata(), cfg.wal_segment_bytes)
        self._wal = wal

    async def stop(self, transfer_leadership: bool = True) -> None:
        """Hand leadership to the most up-to-date voter (when leader), then stop and close the WAL."""
        if self._stopping:
            await self._stopped.wait()
            return
        self._stopping = True
        if transfer_leadership and self.is_leader and self._running:
            target = self._transfer_target()
            if target:
                with contextlib.suppress(EtcdError, RaftError, TimeoutError):
                    async with asyncio.timeout(self.config.election_timeout_ms / 1000):
                        await self.move_leader(target)
        self._running = False
        if self._commit_timer is not None:
            self._commit_timer.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._snapshot_task is not None:
            # Let a snapshot being written finish: the next start then loads it instead of replaying the log.
            with contextlib.suppress(Exception):
                await self._snapshot_task
        others = self._background - {asyncio.current_task()}  # stop() itself may be a background task
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        self._fail_all(StoppedError())
        if self._transport is not None:
            await self._transport.stop()
        if self._wal is not None:
            await self._wal.aclose()
        self._stopped.set()
        log.info("store member stopped", member=f"{self._member_id:x}")

    async def wait_stopped(self) -> None:
        """Return when the node has stopped: by ``stop()``, a fatal error, or its removal from the cluster.

        The process should then exit (non-zero if ``failure`` is set) rather than serve stale state.
        """
        await self._stopped.wait()

    @property
    def failure(self) -> BaseException | None:
        """What stopped the Raft loop, if it failed (a disk error, a broken invariant)."""
        return self._failure

    def _transfer_target(self) -> int:
        assert self._raft is not None
        progress = self._raft.status().progress
        voters = [(pr.match, node) for node, pr in progress.items()
                  if node != self._member_id and not pr.is_learner and self._transport is not None
                  and self._transport.connected(node)]
        return max(voters)[1] if voters else 0

    def _fail_all(self, exc: EtcdError) -> None:
        for pending in [*self._waiters.values(), *self._read_next]:
            if not pending.future.done():
                pending.future.set_exception(exc)
        if self._read_inflight is not None:
            for pending in self._read_inflight[1]:
                if not pending.future.done():
                    pending.future.set_exception(exc)
        for wait in self._applied_waits:
            if not wait.future.done():
                wait.future.set_exception(exc)
        self._waiters.clear()
        self._proposals.clear()
        self._read_next.clear()
        self._read_inflight = None
        self._applied_waits.clear()

    # -- the Raft loop --------------------------------------------------------------------------------

    def _wake(self) -> None:
        # Not an asyncio.Event: its wait() asks asyncio for the running loop, a getpid() every time.
        if not self._woken:
            self._woken = True
            waker = self._waker
            if waker is not None and not waker.done():
                waker.set_result(None)

    async def _run(self) -> None:
        raft = self._raft
        assert raft is not None
        loop = self._loop or asyncio.get_running_loop()
        try:
            while True:
                if not self._woken:
                    self._waker = loop.create_future()
                    try:
                        await self._waker
                    finally:
                        self._waker = None
                self._woken = False
                self._pump_reads()
                self._propose_queued(raft)
                ready = raft.has_ready()
                while ready:
                    rd = raft.ready()
                    if rd.snapshot is None:
                        self._start_ready(raft, rd)
                    else:
                        await self._handle_ready(raft, rd)
                    # A backlog comes in Readies of at most ``max_committed_size_per_ready``: between two,
                    # let peer messages, ticks and answers through, so heartbeats are never starved.
                    ready = raft.has_ready()
                    if ready:
                        await asyncio.sleep(0)
                if self._commit_timer is None and raft.commit_unsent():
                    self._commit_timer = loop.call_later(COMMIT_DELAY, self._send_commit)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self._loop_failed(exc)
            raise

    def _send_commit(self) -> None:
        self._commit_timer = None
        if self._raft is not None and self._running:
            self._raft.send_commit()
            self._wake()

    def _propose_queued(self, raft: Raft) -> None:
        """Append the client entries handed to this leader since the last turn, all with one ``propose_batch``.

        A leader that can no longer take them (it stepped down, or is handing over) refuses them untouched:
        their proposers retry, as when a forwarded proposal is refused.
        """
        if not self._proposals:
            return
        queued, self._proposals = self._proposals, []
        try:
            raft.propose_batch([data for _, data in queued])
        except (RaftNotLeaderError, ProposalDroppedError):
            for pending, _ in queued:
                if not pending.future.done():
                    self._hand_back(pending, _RETRY)

    def _loop_failed(self, exc: BaseException) -> None:
        # A failed disk write or a broken invariant: serving on would risk wrong answers.
        if self._failure is not None:
            return
        self._failure = exc
        log.error("raft loop failed; this member stops serving", exc_info=True)  # called in an except block
        self._running = False
        self._fail_all(StoppedError())
        self._spawn(self.stop(transfer_leadership=False))

    async def _handle_ready(self, raft: Raft, rd: Ready) -> None:
        """Carry out ``rd`` completely before returning (start-up replay, and every Ready with a snapshot)."""
        await self._drain_persisting()
        if rd.snapshot is None:
            self._start_ready(raft, rd)
            await self._drain_persisting()
            return
        transport = self._transport
        wal = self._wal
        assert transport is not None and wal is not None
        self._note_soft_state(rd)
        if rd.early_messages:
            transport.send(rd.early_messages)
        # A snapshot replaces the state machine: strictly persist, then restore, then apply.
        snap = rd.snapshot
        await asyncio.to_thread(self._snap_files.save, snap)
        await wal.save(rd.hard_state, rd.entries, SnapshotMarker(snap.meta.term, snap.meta.index, installed=True),
                       sync=rd.must_sync)
        self._storage.apply_snapshot(snap)
        self._persisted(rd)
        self._restore_state(snap)
        self._sync_peers()
        self._wake_applied()
        log.info("installed snapshot from leader", index=snap.meta.index, term=snap.meta.term)
        self._apply_and_advance(raft, rd)

    def _note_soft_state(self, rd: Ready) -> None:
        soft = rd.soft_state
        if soft.leader != self._leader or soft.role != self._role:
            self._on_soft_state(soft.leader, soft.role)

    def _start_ready(self, raft: Raft, rd: Ready) -> None:
        """Carry out ``rd`` at once when the WAL's thread is idle (``_persist_inline``); else hand its entries and
        hard state to the WAL behind the writes under way and do everything that need not wait for the sync.

        In the second case the loop takes the next Ready while this one syncs (Readies are pipelined; the WAL
        merges what arrives during a sync into the next one). What needs this member's durability (its
        responses and votes, and ``advance``, which counts the leader's own log) waits in ``_finish_ready``,
        Ready by Ready in order.
        """
        transport = self._transport
        wal = self._wal
        assert transport is not None and wal is not None
        self._note_soft_state(rd)
        if rd.must_sync and not self._persisting and not wal.flushing:
            self._persist_inline(raft, rd, wal)
            return
        if rd.early_messages:
            transport.send(rd.early_messages)
        syncing = wal.submit(rd.hard_state, rd.entries, sync=rd.must_sync)
        if rd.committed_entries:
            # Committed entries are durable on a quorum already: apply them while our own fsync runs,
            # so an answer never waits for the sync of the entries that arrived after it.
            self._apply(raft, rd.committed_entries)
        if rd.read_states:
            self._on_read_states(rd.read_states)
        self._persisting.append((rd, syncing))
        if syncing is None:
            self._finish_persisted()
        else:
            syncing.add_done_callback(self._on_synced)

    def _persist_inline(self, raft: Raft, rd: Ready, wal: Wal) -> None:
        """Carry out ``rd`` with its fdatasync on the loop's thread, in the order ``Ready`` gives.

        When the WAL's thread is idle, handing it the write and taking the result back cost two thread
        switches, a loop wake-up and a chain of callbacks per batch: more CPU than what the loop overlapped
        with the sync. The leader's appends are written to the sockets first, so the followers sync while it
        does; requests and appends arriving meanwhile wait in their sockets and join the next batch, which
        makes batches larger under load. (etcd's members, too, sync in their Raft loop.)
        """
        if rd.early_messages:
            assert self._transport is not None
            self._transport.send(rd.early_messages, now=True)
        wal.write_batch(rd.hard_state, rd.entries)
        self._persisted(rd)
        self._apply_and_advance(raft, rd)

    def _apply_and_advance(self, raft: Raft, rd: Ready) -> None:
        """The end of a Ready carried out at once: apply, serve its reads, ``advance``, snapshot if due."""
        if rd.committed_entries:
            self._apply(raft, rd.committed_entries)
        if rd.read_states:
            self._on_read_states(rd.read_states)
        raft.advance(rd)
        self._maybe_snapshot()

    def _on_synced(self, _: asyncio.Future[None]) -> None:
        try:
            self._finish_persisted()
        except BaseException as exc:
            self._loop_failed(exc)

    def _finish_persisted(self) -> None:
        """Finish, in order, every Ready whose sync is done (raises the WAL's error if a sync failed)."""
        raft = self._raft
        persisting = self._persisting
        while persisting and self._failure is None and raft is not None:
            rd, syncing = persisting[0]
            if syncing is not None:
                if not syncing.done():
                    return
                failed = syncing.exception()
                if failed is not None:
                    raise failed
            persisting.popleft()
            self._finish_ready(raft, rd)

    def _finish_ready(self, raft: Raft, rd: Ready) -> None:
        self._persisted(rd)
        raft.advance(rd)
        self._maybe_snapshot()
        self._wake()

    def _persisted(self, rd: Ready) -> None:
        """``rd``'s entries and hard state are on disk: add them to the in-memory log, send what promised them.

        Sent at once, not on the peers' sender tasks' next turn: a follower's acknowledgement would otherwise
        wait behind the committed entries it applies next (about a millisecond for 64 writes), and the leader,
        and every write in the batch, with it.
        """
        assert self._transport is not None
        if rd.entries:
            self._storage.append(rd.entries)
        if rd.hard_state is not None:
            self._storage.set_hard_state(rd.hard_state)
        if rd.messages:
            self._transport.send(rd.messages, now=True)

    async def _drain_persisting(self) -> None:
        """Wait until every Ready handed to the WAL is finished."""
        while self._persisting:
            syncing = self._persisting[-1][1]
            if syncing is not None and not syncing.done():
                await asyncio.wait([syncing])  # not ``await syncing``: cancelling us must not cancel the WAL's future
            self._finish_persisted()

    def _maybe_snapshot(self) -> None:
        # The snapshot is of the applied state, so its index must be in the (synced) in-memory log already.
        if (self._snapshot_due() and not self._catching_up
                and self._applied <= self._storage.last_index()
                and (self._snapshot_task is None or self._snapshot_task.done())):
            self._take_snapshot()

    def _snapshot_due(self) -> bool:
        """Whether ``applied`` reached this member's next turn to snapshot (``store.snapshot_schedule``)."""
        count = self.config.snapshot_count
        if self._applied - self._snapshot_index < count // 2:
            return False
        phase = snapshot_phase(self._member_id, self._conf_state.voters, count)
        return self._applied >= next_snapshot_index(self._snapshot_index, count, phase)

    def _on_soft_state(self, leader: int, role: Role) -> None:
        old = self._leader
        was_leader = self._role == Role.LEADER
        self._leader, self._role = leader, role
        if leader != old:
            log.info("leader changed", leader=f"{leader:x}", previous=f"{old:x}", term=self.term,
                     member=f"{self._member_id:x}")
            self._leader_changed.set()
            self._leader_changed = asyncio.Event()
            for callback in self._leader_listeners:
                try:
                    callback(old, leader)
                except Exception:
                    log.error("leader listener failed", exc_info=True)
            if leader:
                self._spawn(self._publish_attributes())
                # Proposals handed to the old leader may be lost with it: send them again; the
                # replicated dedup window applies each request id once whichever copy commits.
                for pending in list(self._waiters.values()):
                    if pending.resubmittable and not pending.future.done():
                        pending.resubmittable = False
                        self._hand_back(pending, _RESUBMIT)
                        self.resubmitted += 1
        is_leader = role == Role.LEADER
        if self._lessor is not None and is_leader != was_leader:
            if is_leader:
                self._lessor.promote(time.monotonic(), self.config.election_timeout_ms / 1000)
            else:
                self._lessor.demote()

    async def _ticker(self) -> None:
        raft = self._raft
        assert raft is not None
        loop = asyncio.get_running_loop()
        interval = self.config.heartbeat_interval_ms / 1000
        deadline = loop.time()
        while True:
            deadline += interval
            delay = deadline - loop.time()
            if delay < -interval:  # the loop was blocked: do not fire a burst of ticks
                deadline = loop.time()
                delay = 0
            await asyncio.sleep(delay)
            raft.tick()
            self._wake()

    # -- applying -------------------------------------------------------------------------------------

    def _apply(self, raft: Raft, entries: list[Entry]) -> None:
        waiters = self._waiters
        for entry in entries:
            if entry.type == EntryType.NORMAL:
                if entry.data:
                    self._apply_normal(entry, waiters)
            else:
                self._apply_conf_change(raft, entry)
            self._applied = entry.index
        self._wake_applied()

    def _apply_normal(self, entry: Entry, waiters: dict[int, _Pending]) -> None:
        try:
            rid, kind, payload = decode_entry(entry.data)
        except ValueError:
            log.error("skipping an entry no member wrote", index=entry.index)
            return
        recent = self._recent
        if rid in recent:
            self.duplicates_skipped += 1
            return  # a copy re-sent after a failover, and the first copy was applied already
        recent[rid] = None
        if len(recent) > DEDUP_WINDOW:
            recent.popitem(last=False)
        result: object
        if kind.startswith("_"):
            result = self._apply_internal(kind, payload)
        else:
            try:
                # A response is built only where a proposer waits for it (or picks it up on a re-send).
                result = self._sm.apply(kind, payload, rid in waiters)
            except Exception as exc:  # the applier returns errors; a raise is its bug, not the client's
                log.error("applier raised", exc_info=True, kind=kind, index=entry.index)
                result = EtcdError(StatusCode.INTERNAL, f"etcdserver: {exc}")
        pending = waiters.pop(rid, None)
        if pending is not None:
            if not pending.future.done():
                pending.future.set_result(result)
            else:  # its proposer is between two submissions: it picks the result up before re-sending
                self._orphans[rid] = result

    def _apply_internal(self, kind: str, payload: bytes) -> object:
        fields = msgpack.unpackb(payload, raw=False)
        if kind == _KIND_MEMBER_ATTR:
            mid, name, client_urls = fields
            self._members.set_attributes(mid, name, client_urls)
        elif kind == _KIND_MEMBER_UPDATE:
            mid, peer_urls = fields
            self._members.set_peer_urls(mid, peer_urls)
            if self._transport is not None and mid != self._member_id and mid in self._members:
                self._transport.add_peer(mid, peer_urls)
        else:
            log.error("unknown internal entry kind", kind=kind)
        return None

    def _apply_conf_change(self, raft: Raft, entry: Entry) -> None:
        cc = ConfChange.decode(entry.data)
        conf = raft.apply_conf_change(cc)
        self._conf_state = conf
        rid, row = msgpack.unpackb(cc.context, raw=False) if cc.context else (0, None)
        node = cc.node_id
        in_conf = node in conf.voters or node in conf.learners
        result: object = None
        if cc.type == ConfChangeType.REMOVE_NODE:
            if not in_conf and node in self._members:
                self._members.remove(node)
                if self._transport is not None:
                    self._transport.mark_removed(node)
                log.info("member removed", member=f"{node:x}")
                if node == self._member_id:
                    self._on_removed()
        elif in_conf:
            member = self._members.get(node)
            if member is None and row is not None:
                member = Member.load(row)
            if member is None:
                member = Member(node)
            member.is_learner = node in conf.learners
            self._members.add(member)
            result = member
            if self._transport is not None and node != self._member_id and member.peer_urls:
                self._transport.add_peer(node, member.peer_urls)
        pending = self._waiters.pop(rid, None) if rid else None
        if pending is not None and not pending.future.done():
            pending.future.set_result(result)

    def _wake_applied(self) -> None:
        waits = self._applied_waits
        while waits and waits[0].index <= self._applied:
            wait = heapq.heappop(waits)
            if not wait.future.done():
                wait.future.set_result(None)

    # -- snapshots ------------------------------------------------------------------------------------

    def _snapshot_parts(self, since: int) -> list[bytes]:
        # The state machine's bytes are appended, not nested in msgpack (packing would copy them again),
        # and written piece by piece rather than joined: they are the bulk of a snapshot.
        head: bytes = msgpack.packb([_SNAPSHOT_FORMAT, self._members.export(), list(self._recent)],
                                    use_bin_type=True)
        state = self._sm.snapshot_parts(since)
        return [_SNAPSHOT_FRAME.pack(len(head), sum(map(len, state))), head, *state]

    def _restore_state(self, snap: Snapshot) -> None:
        members, recent, states, legacy = _snapshot_frames(snap)
        with _long_lived_allocations():
            self._sm.restore(states[0], states[1:])
        self._members = Membership.load(members)
        self._recent = collections.OrderedDict.fromkeys(recent)
        self._conf_state = snap.meta.conf_state
        self._applied = snap.meta.index
        self._snapshot_index = snap.meta.index
        # A delta never extends a format-3 file (it has no frame lengths): the next snapshot is whole.
        self._chain = None if legacy else _SnapshotChain(snap.meta.term, snap.meta.index, self._sm.revision,
                                                         len(snap.data), len(states))

    def _take_snapshot(self) -> None:
        """Snapshot the applied state as of now.

        A delta on the newest snapshot file (``_SnapshotChain``) is packed right here and written by a
        thread: what changed over ``snapshot_count`` writes packs in 8-16 ms per 10 MB, about as long as the
        fork of a member of a few hundred MB holds the loop, and without what a fork brings on. Forking
        for every delta cost each member five to ten times the packing in CPU: the fork's page tables, the
        parent's copy-on-write faults while the child lived, the child's own faults and exit, and reading
        the file back.

        A whole snapshot is packed in a forked child: serializing a large state holds the GIL for seconds
        (one msgpack call, and big copies); on the loop that silenced the leader's heartbeats long enough
        for an election. The fork, taken right here, sees the state exactly at ``applied`` while the loop
        goes on; the child only packs and writes the file (no logging, no gRPC, no loop) and leaves with
        ``os._exit``.
        """
        index = self._applied
        meta = SnapshotMeta(index, self._storage.term(index), self._conf_state)
        chain = self._chain
        revision = self._sm.revision
        if chain is not None and not (extends_chain(chain.links, chain.data_bytes, self._sm.db_size)
                                      and self._sm.can_extend(chain.revision)):
            chain = None
        _freeze_heap()  # also spares a forked child copies of the pages a collection would write to
        saving: Awaitable[bytes]
        if chain is None:
            saving = self._fork_snapshot_writer(meta)
        else:
            saving = asyncio.to_thread(_save_delta, self._snap_files, meta, self._snapshot_parts(chain.revision),
                                       (chain.term, chain.index))
        self._snapshot_index = index
        self._snapshot_task = asyncio.get_running_loop().create_task(
            self._persist_snapshot(meta, saving, revision, chain))
        self._snapshot_task.add_done_callback(_log_snapshot_failure)

    def _fork_snapshot_writer(self, meta: SnapshotMeta) -> Awaitable[bytes]:
        """Fork a child that saves the whole state as of now; awaiting the result waits for it and reads
        back the file's data (a thread: no GIL held)."""
        snap_files = self._snap_files
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                _detach_from_parent(parent)
                # The members' event loops come first: a snapshot may take longer, a heartbeat may not. Not the
                # lowest priority: at nice 19, on a machine busy with other work, snapshots stopped finishing.
                os.nice(_SNAPSHOT_NICE)
                snap_files.save_parts(meta, self._snapshot_parts(0))
                code = 0
            finally:
                os._exit(code)

        async def saved() -> bytes:
            _, status = await asyncio.to_thread(os.waitpid, pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                raise RuntimeError(f"the process saving snapshot {meta.index} failed (wait status {status})")
            return await asyncio.to_thread(snap_files.read_own, meta.term, meta.index)

        return saved()

    async def _persist_snapshot(self, meta: SnapshotMeta, saving: Awaitable[bytes], revision: int,
                                extended: _SnapshotChain | None) -> None:
        """Wait for the snapshot file to be saved, then record it: ``saving`` gives the data the file holds.

        A delta's data is recorded alone: the Raft log holds it after the pieces of the snapshot it extends.
        """
        wal = self._wal
        assert wal is not None
        started = time.monotonic()
        own = await saving
        pieces: tuple[bytes, ...] = (own,)
        if extended is not None:
            if self._storage.snapshot_meta.index != extended.index:
                log.info("dropping a snapshot overtaken by one from the leader", index=meta.index)
                return
            pieces = (*self._storage.snapshot_pieces, own)
        try:
            self._storage.create_snapshot_from(meta.index, meta.conf_state, pieces)
        except (SnapshotOutOfDateError, CompactedError):
            log.info("dropping a snapshot overtaken by one from the leader", index=meta.index)
            return
        links = 1 if extended is None else extended.links + 1
        self._chain = _SnapshotChain(meta.term, meta.index, revision, sum(map(len, pieces)), links)
        compact_to = meta.index - self.config.catchup_entries
        if compact_to > self._storage.first_index():
            self._storage.compact(compact_to)
        await wal.save(None, [], SnapshotMarker(meta.term, meta.index))
        removed = await asyncio.to_thread(wal.release_to, meta.index)
        await asyncio.to_thread(self._snap_files.purge)
        log.info("saved snapshot", index=meta.index, bytes=len(own), delta=extended is not None,
                 total_bytes=self._chain.data_bytes, wal_segments_removed=removed,
                 seconds=round(time.monotonic() - started, 3))

    # -- proposals ------------------------------------------------------------------------------------

    def _next_request_id(self) -> int:
        self._rid_counter = (self._rid_counter + 1) & ((1 << 47) - 1)
        return self._rid_prefix | self._rid_counter

    def _check_serving(self) -> None:
        if not self._running or self._removed or self._raft is None:
            raise StoppedError()

    async def propose(self, kind: str, payload: bytes) -> object:
        """Replicate one request and return what the applier returned for it on this member.

        Raises ``NoLeaderError`` if no leader appears in time, ``ProposalTimeoutError`` if the entry was
        not applied in time (it may still be), ``StoppedError`` when the node stops.
        """
        self._check_serving()
        rid = self._next_request_id()
        return await self._replicate(rid, encode_entry(rid, kind, payload), conf=False)

    def propose_now(self, kind: str, payload: bytes) -> asyncio.Future[object] | None:
        """``propose`` for a caller that adds a callback to a future rather than awaiting a coroutine.

        Only while this member leads: the entry joins the next batch at once and the future settles as
        ``propose`` would return or raise. None otherwise; the caller then awaits ``propose``, which waits
        for a leader or forwards. Saves the leader a task and a chain of coroutines per write.
        """
        if self._leader != self._member_id or not self._running or self._removed or self._raft is None:
            return None
        loop = self._loop or asyncio.get_running_loop()
        rid = self._next_request_id()
        data = encode_entry(rid, kind, payload)
        pending = _Pending(loop.create_future(), loop.time() + self._request_timeout, True, (rid, data))
        self._waiters[rid] = pending
        self._proposals.append((pending, data))
        self._wake()
        return pending.future

    def _hand_back(self, pending: _Pending, signal: object) -> None:
        """Tell a proposal's proposer to send it again (``signal``: ``_RETRY`` or ``_RESUBMIT``).

        One made with ``propose_now`` has no proposer waiting: a task takes over its request id and entry,
        and settles the caller's future with the outcome (nothing else holds that future to settle it). Its
        place among the waiters is taken by a settled stand-in, as an awaited proposal's is, so that a copy
        applied meanwhile is kept for the re-sent one.
        """
        unawaited = pending.unawaited
        if unawaited is None:
            pending.future.set_result(signal)
            return
        outcome = pending.future
        pending.unawaited = None
        pending.future = outcome.get_loop().create_future()
        pending.future.set_result(signal)
        self._spawn(self._see_through(unawaited, signal, outcome, pending.deadline))

    async def _see_through(self, unawaited: tuple[int, bytes], signal: object, outcome: asyncio.Future[object],
                           deadline: float) -> None:
        rid, data = unawaited
        try:
            if signal is _RETRY:
                await self._leader_change(deadline)
            result = await self._replicate(rid, data, conf=False, deadline=deadline)
        except asyncio.CancelledError:  # the node is stopping
            outcome.set_exception(StoppedError())
            raise
        except Exception as exc:
            outcome.set_exception(exc)
        else:
            outcome.set_result(result)

    async def _replicate(self, rid: int, data: bytes, conf: bool, deadline: float | None = None) -> object:
        loop = self._loop or asyncio.get_running_loop()
        if deadline is None:
            deadline = loop.time() + self._request_timeout
        try:
            while True:
                pending = _Pending(loop.create_future(), deadline)
                self._waiters[rid] = pending
                if rid in self._orphans:
                    return self._orphans.pop(rid)
                await self._submit(rid, pending, data, conf, deadline)
                # Conf changes are not re-sent: the core allows one pending at a time.
                pending.resubmittable = not conf
                result = await pending.future
                if result is _RESUBMIT:
                    continue
                if result is not _RETRY:
                    return result
                # Refused by a leader that is stepping down or handing over: wait for the change, briefly.
                await self._leader_change(deadline)
        finally:
            self._waiters.pop(rid, None)
            self._orphans.pop(rid, None)

    async def _submit(self, rid: int, pending: _Pending, data: bytes, conf: bool, deadline: float) -> None:
        """Hand the entry to the leader: append it here if leader, else forward it; wait while there is none."""
        raft = self._raft
        assert raft is not None and self._transport is not None
        while True:
            self._check_serving()
            leader = self._leader
            if leader == self._member_id:
                try:
                    if conf:
                        raft.propose_conf_change(ConfChange.decode(data))
                    else:
                        self._proposals.append((pending, data))  # the loop proposes them together
                    self._wake()
                    return
                except ConfChangeError as exc:
                    raise EtcdError(StatusCode.FAILED_PRECONDITION, f"etcdserver: {exc}") from exc
                except (RaftNotLeaderError, ProposalDroppedError):
                    pass
            elif leader:
                body = msgpack.packb([rid, conf, data], use_bin_type=True)
                if self._transport.send_frame(leader, FRAME_PROPOSE, body):
                    return
            if deadline - asyncio.get_running_loop().time() <= 0:
                raise NoLeaderError() if not self._leader else ProposalTimeoutError()
            # No leader (or it cannot take proposals right now): wait for a change, briefly.
            await self._leader_change(deadline)

    async def _leader_change(self, deadline: float) -> None:
        """Wait for the next leader change, at most a heartbeat interval and never past ``deadline``."""
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._leader_changed.wait(),
                                       min(remaining, self.config.heartbeat_interval_ms / 1000))

    def _on_frame(self, from_id: int, kind: int, payload: bytes) -> None:
        if not self._running or self._raft is None:
            return
        if kind == FRAME_PROPOSE:
            rid, conf, data = msgpack.unpackb(payload, raw=False)
            code, message = "", ""
            try:
                if self._role != Role.LEADER:
                    code = "retry"
                elif conf:
                    self._raft.propose_conf_change(ConfChange.decode(data))
                else:
                    self._raft.propose(data)
            except (RaftNotLeaderError, ProposalDroppedError):
                code = "retry"
            except ConfChangeError as exc:
                code, message = "conf", str(exc)
            self._wake()
            if code:
                assert self._transport is not None
                self._transport.send_frame(from_id, FRAME_PROPOSE_RESULT,
                                           msgpack.packb([rid, code, message], use_bin_type=True))
        elif kind == FRAME_PROPOSE_RESULT:
            rid, code, message = msgpack.unpackb(payload, raw=False)
            pending = self._waiters.get(rid)
            if pending is None or pending.future.done():
                return
            if code == "retry":
                pending.future.set_result(_RETRY)
            else:
                pending.future.set_exception(EtcdError(StatusCode.FAILED_PRECONDITION,
                                                       f"etcdserver: {message}"))

    async def _sweeper(self) -> None:
        """Fail proposals and reads whose time is up; one timer for all instead of one per request."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(0.1)
            now = loop.time()
            # A proposal handed to a leader may still commit: its outcome is unknown, never "no leader".
            expired = [(rid, pending) for rid, pending in self._waiters.items()
                       if pending.deadline <= now and not pending.future.done()]
            for rid, pending in expired:
                pending.future.set_exception(ProposalTimeoutError())
                if pending.unawaited is not None:  # nobody awaits it to take it off the waiters
                    del self._waiters[rid]
            for pending in self._read_next:
                if pending.deadline <= now and not pending.future.done():
                    pending.future.set_exception(ProposalTimeoutError() if self._leader else NoLeaderError())
            inflight = self._read_inflight
            if inflight is not None:
                for pending in inflight[1]:
                    if pending.deadline <= now and not pending.future.done():
                        pending.future.set_exception(ProposalTimeoutError() if self._leader else NoLeaderError())
                # A lost read-index request or response: ask again with a fresh context.
                if now - inflight[2] > self.config.election_timeout_ms / 1000:
                    self._read_inflight = None
                    self._read_next[:0] = [p for p in inflight[1] if not p.future.done()]
                    self._wake()

    # -- linearizable reads ---------------------------------------------------------------------------

    async def read_index(self) -> None:
        """Return once this member has applied everything committed before the call (ReadIndex, Raft §6.4)."""
        self._check_serving()
        loop = asyncio.get_running_loop()
        pending = _Pending(loop.create_future(), loop.time() + self._request_timeout)
        self._read_next.append(pending)
        self._wake()
        await pending.future

    def _pump_reads(self) -> None:
        """Start one read-index round for every read waiting; reads that arrive during a round wait for the next."""
        if self._read_inflight is not None or not self._read_next or self._raft is None:
            return
        waiting = [p for p in self._read_next if not p.future.done()]
        self._read_next = []
        if not waiting:
            return
        ctx = next(self._read_ctx).to_bytes(8, "big")
        try:
            self._raft.read_index(ctx)
        except RaftNotLeaderError:
            self._read_next = waiting  # no leader yet: the sweeper fails them at their deadline
            return
        self._read_inflight = (ctx, waiting, asyncio.get_running_loop().time())

    def _on_read_states(self, states: list[ReadState]) -> None:
        inflight = self._read_inflight
        for rs in states:
            if inflight is None or rs.context != inflight[0]:
                continue
            self._read_inflight = None
            for pending in inflight[1]:
                if pending.future.done():
                    continue
                if rs.index <= self._applied:
                    pending.future.set_result(None)
                else:
                    self._wait_applied(rs.index, pending.future)
            inflight = None
        if self._read_next:
            self._wake()

    def _wait_applied(self, index: int, future: asyncio.Future[Any]) -> None:
        heapq.heappush(self._applied_waits, _AppliedWait(index, next(self._seq), future))

    async def wait_applied(self, index: int) -> None:
        """Return once this member has applied ``index``."""
        if index <= self._applied:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._wait_applied(index, future)
        await future

    # -- lease expiry ---------------------------------------------------------------------------------

    async def _lease_expiry(self) -> None:
        """On the leader, revoke leases whose TTL ran out, through Raft so every member deletes their keys."""
        lessor = self._lessor
        assert lessor is not None
        while True:
            await asyncio.sleep(self.config.lease_check_interval)
            if not self.is_leader:
                continue
            for lease_id in lessor.expired(time.monotonic()):
                if lease_id not in self._revoking and len(self._revoking) < 64:
                    self._revoking.add(lease_id)
                    self._spawn(self._revoke(lease_id))

    async def _revoke(self, lease_id: int) -> None:
        try:
            kind, payload = lease_revoke_proposal(lease_id)
            await self.propose(kind, payload)
        except EtcdError as exc:
            log.v(1, "lease revoke failed; retrying later", lease=lease_id, err=exc.message)
        finally:
            self._revoking.discard(lease_id)

    # -- membership -----------------------------------------------------------------------------------

    async def _publish_attributes(self) -> None:
        """Record this member's name and client URLs in the replicated registry (etcd's publish)."""
        if self._publishing:
            return
        self._publishing = True
        want = (self.config.name, list(self.config.advertise_client_urls))
        try:
            while self._running and not self._removed:
                me = self._members.get(self._member_id)
                if me is not None and (me.name, me.client_urls) == want:
                    return
                if me is None:  # a joining member: not in the registry until it has applied its own addition
                    await asyncio.sleep(self.config.heartbeat_interval_ms / 1000)
                    continue
                payload = msgpack.packb([self._member_id, *want], use_bin_type=True)
                try:
                    await self.propose(_KIND_MEMBER_ATTR, payload)
                except EtcdError:
                    await asyncio.sleep(self.config.election_timeout_ms / 1000)
        finally:
            self._publishing = False

    async def _change_membership(self, cc_type: ConfChangeType, node: int, row: list[Any] | None) -> object:
        self._check_serving()
        rid = self._next_request_id()
        cc = ConfChange(cc_type, node, msgpack.packb([rid, row], use_bin_type=True))
        return await self._replicate(rid, cc.encode(), conf=True)

    async def add_member(self, peer_urls: Sequence[str], is_learner: bool) -> Member:
        """Add a member (a learner first, if asked); it then starts with ``--initial-cluster-state existing``."""
        known = {u for m in self._members for u in m.peer_urls}
        if any(u in known for u in peer_urls):
            raise errors.PEER_URL_EXIST
        node = member_id(peer_urls, self._token)
        if node in self._members:
            raise errors.MEMBER_EXIST
        member = Member(node, "", list(peer_urls), [], is_learner)
        cc_type = ConfChangeType.ADD_LEARNER if is_learner else ConfChangeType.ADD_VOTER
        result = await self._change_membership(cc_type, node, member.export())
        return result if isinstance(result, Member) else member

    async def remove_member(self, member_id: int) -> None:
        """Remove a member; removing this member stops it once the change is applied."""
        if member_id not in self._members:
            raise errors.MEMBER_NOT_FOUND
        await self._change_membership(ConfChangeType.REMOVE_NODE, member_id, None)

    async def promote_member(self, member_id: int) -> None:
        """Make a learner a voter; on the leader, only once it has caught up with the log."""
        member = self._members.get(member_id)
        if member is None:
            raise errors.MEMBER_NOT_FOUND
        if not member.is_learner:
            raise errors.MEMBER_NOT_LEARNER
        if self.is_leader and self._raft is not None:
            pr = self._raft.status().progress.get(member_id)
            if pr is None or pr.match < self._raft.raft_log.committed * 9 // 10:
                raise errors.LEARNER_NOT_READY
        await self._change_membership(ConfChangeType.ADD_VOTER, member_id, None)

    async def update_member(self, member_id: int, peer_urls: Sequence[str]) -> None:
        """Change a member's peer URLs."""
        if member_id not in self._members:
            raise errors.MEMBER_NOT_FOUND
        await self.propose(_KIND_MEMBER_UPDATE, msgpack.packb([member_id, list(peer_urls)], use_bin_type=True))

    async def move_leader(self, target_id: int) -> None:
        """Transfer leadership to ``target_id`` (this member must be the leader) and wait until it leads."""
        self._check_serving()
        raft = self._raft
        assert raft is not None
        if not self.is_leader:
            raise NotLeaderError(self._leader)
        if target_id == self._member_id:
            return
        try:
            raft.transfer_leadership(target_id)
        except LeaderTransferError as exc:
            raise errors.BAD_LEADER_TRANSFEREE from exc
        self._wake()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 2 * self.config.election_timeout_ms / 1000
        while self._leader != target_id:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise ProposalTimeoutError()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._leader_changed.wait(), remaining)

    # -- transport callbacks --------------------------------------------------------------------------

    def _on_message(self, msg: Message) -> None:
        raft = self._raft
        if raft is None or not self._running:
            return
        if msg.from_ in self._members.removed:
            return  # a removed member must not disturb the cluster with its elections
        try:
            raft.step(msg)
        except RaftError as exc:
            log.v(1, "dropped a peer message", type=MessageType(msg.type).name, peer=f"{msg.from_:x}", err=str(exc))
            return
        except Exception:  # a bug in the core must not take the peer connection down with it
            log.error("stepping a peer message failed", exc_info=True, type=MessageType(msg.type).name,
                      peer=f"{msg.from_:x}")
            return
        self._wake()

    def _on_unreachable(self, peer: int) -> None:
        if self._raft is not None and self._running:
            self._raft.report_unreachable(peer)

    def _on_peer_down(self, peer: int) -> None:
        """The leader's process is gone (its port refuses connections): let its lease run out now.

        Followers otherwise wait a full election timeout of silence; jumping the logical clock only
        changes when an election starts, never its outcome, so safety does not depend on this guess.
        """
        raft = self._raft
        if raft is None or not self._running or peer != self._leader or self._role == Role.LEADER:
            return
        if self._leader_down_term == raft.term:
            return
        self._leader_down_term = raft.term
        log.info("leader's process is gone; expiring its lease", leader=f"{peer:x}", term=raft.term)
        for _ in range(self._election_ticks):
            raft.tick()
        self._wake()

    def _on_snapshot_sent(self, peer: int, ok: bool) -> None:
        if self._raft is not None and self._running:
            self._raft.report_snapshot(peer, ok)
            self._wake()

    def _on_removed(self) -> None:
        if self._removed or not self._running:
            return
        self._removed = True
        log.warning("this member was removed from the cluster; it stops serving", member=f"{self._member_id:x}")
        self._spawn(self.stop(transfer_leadership=False))

    def _on_cluster_id(self, cid: int) -> None:
        self._cluster_id = cid
        log.info("joined cluster", cluster=f"{cid:x}", member=f"{self._member_id:x}")
        if self._wal is not None:
            self._spawn(asyncio.to_thread(self._wal.write_metadata, self._metadata()))

    def _sync_peers(self) -> None:
        """Point the transport at exactly the registry's other members."""
        transport = self._transport
        if transport is None:
            return
        transport.removed = set(self._members.removed)
        wanted = {m.id: m.peer_urls for m in self._members if m.id != self._member_id and m.peer_urls}
        for peer in transport.peer_ids() - set(wanted):
            transport.remove_peer(peer)
        for peer, urls in wanted.items():
            transport.add_peer(peer, urls)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def status(self) -> dict[str, Any]:
        """Raft state for status endpoints and tests."""
        return {"member_id": self._member_id, "cluster_id": self._cluster_id, "leader": self._leader,
                "term": self.term, "applied": self._applied, "commit": self.commit_index,
                "snapshot_index": self._snapshot_index, "first_index": self._storage.first_index(),
                "last_index": self._storage.last_index(), "role": self._role.name, "pid": os.getpid(),
                "resubmitted": self.resubmitted, "duplicates_skipped": self.duplicates_skipped}


def _detach_from_parent(parent: int) -> None:
    """In a forked child: die with the parent, and hold none of its sockets or files.

    An orphan holding the member's listening sockets would keep a restarted member from binding its
    ports, and one holding the WAL open would outlive the member it wrote for.
    """
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    gc.disable()  # no finalizer may close an inherited descriptor's number once the save reuses it
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))


def _freeze_heap() -> None:
    """Move every object alive now out of the cyclic collector's reach (``gc.freeze``).

    The state machine holds millions of long-lived objects; a full collection walking them all took
    long enough, on a busy machine, to silence a leader's heartbeats past the election timeout.
    Frozen objects are still freed by reference counting (the key index holds no cycles); what a
    freeze costs is that cyclic garbage alive at that moment (a few in-flight requests) is never freed.
    """
    gc.freeze()


@contextlib.contextmanager
def _long_lived_allocations() -> Iterator[None]:
    """Build a large long-lived state (a recovery, a restored snapshot) without collections, then freeze it.

    The collector's passes over the millions of objects a restore allocates doubled its time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        _freeze_heap()
        if enabled:
            gc.enable()


def _save_delta(snap_files: SnapshotFiles, meta: SnapshotMeta, parts: list[bytes], extends: tuple[int, int]) -> bytes:
    """Save a delta snapshot (blocking: a thread's work); returns the data the file holds."""
    snap_files.save_parts(meta, parts, extends)
    return b"".join(parts)


def _log_snapshot_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("saving a snapshot failed; the log is kept and it is retried later", err=repr(task.exception()))


def _conf_context(rid: int, member: Member) -> bytes:
    data: bytes = msgpack.packb([rid, member.export()], use_bin_type=True)
    return data


def _snapshot_frames(snap: Snapshot) -> tuple[Any, list[Any], list[memoryview], bool]:
    """The members, recent request ids and state parts (whole, then deltas) of a snapshot's data, and
    whether it is a format-3 snapshot, which data dirs written before chains hold."""
    data = memoryview(snap.data)  # slices of it are not copies of the (large) state machine's bytes
    if len(data) > _LEGACY_HEAD.size and data[_LEGACY_HEAD.size] == _MSGPACK_ARRAY_OF_3:
        (head_len,) = _LEGACY_HEAD.unpack_from(data)
        end = _LEGACY_HEAD.size + head_len
        fmt, members, recent = msgpack.unpackb(data[_LEGACY_HEAD.size:end], raw=False)
        if fmt != _LEGACY_FORMAT:
            raise ValueError(f"snapshot at index {snap.meta.index} has format {fmt}, expected {_LEGACY_FORMAT}")
        return members, recent, [data[end:]], True
    states: list[memoryview] = []
    pos = 0
    while pos < len(data):
        head_len, state_len = _SNAPSHOT_FRAME.unpack_from(data, pos)
        pos += _SNAPSHOT_FRAME.size
        fmt, members, recent = msgpack.unpackb(data[pos:pos + head_len], raw=False)
        if fmt != _SNAPSHOT_FORMAT:
            raise ValueError(f"snapshot at index {snap.meta.index} has format {fmt}, expected {_SNAPSHOT_FORMAT}")
        pos += head_len
        states.append(data[pos:pos + state_len])
        pos += state_len
    if not states or pos != len(data):
        raise ValueError(f"snapshot at index {snap.meta.index} has a truncated frame")
    return members, recent, states, False
