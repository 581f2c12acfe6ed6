"""An in-memory network of Raft members for deterministic tests, with a driver that persists faithfully.

Each member's `MemoryStorage` plays its disk: it only receives what a `Ready` said to persist, when the
harness "persists" it, so crashing a member loses exactly its unstable state. Messages travel through the
msgpack codec and can be dropped, duplicated, reordered or cut off by partitions. A `SafetyChecker`
watches every member after every action.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import msgpack  # type: ignore[import-untyped]

from store.raft import (
    ConfChange,
    ConfChangeType,
    Config,
    ConfState,
    Entry,
    EntryType,
    HardState,
    MemoryStorage,
    Message,
    MessageType,
    Raft,
    ReadState,
    Ready,
    Role,
    decode,
    encode,
)


class SafetyViolation(AssertionError):
    """One of Raft's safety properties (thesis figure 3.2) was broken."""


@dataclass
class Member:
    """One member: its durable storage, its (volatile) core and state machine, and its applied history."""

    id: int
    storage: MemoryStorage
    raft: Raft | None = None
    # State machine: a hash chain over applied entries, so two members agree iff they applied the same.
    applied_index: int = 0
    sm_hash: bytes = b""
    conf_state: ConfState = field(default_factory=ConfState)
    pending: list[Ready] = field(default_factory=list)  # fetched, early messages sent, not yet persisted
    read_states: list[ReadState] = field(default_factory=list)
    applied_data: list[bytes] = field(default_factory=list)
    restarts: int = 0

    @property
    def up(self) -> bool:
        """Not crashed."""
        return self.raft is not None

    @property
    def node(self) -> Raft:
        """The running core (fails on a crashed member)."""
        if self.raft is None:
            raise AssertionError(f"member {self.id} is down")
        return self.raft

    def sm_snapshot(self) -> bytes:
        """The state machine image stored in snapshots."""
        return msgpack.packb((self.applied_index, self.sm_hash, self.applied_data))  # type: ignore[no-any-return]

    def sm_restore(self, data: bytes) -> None:
        """Reset the state machine from a snapshot image."""
        if not data:  # the bootstrap snapshot: an empty state machine
            self.sm_hash, self.applied_data = b"", []
            return
        _, sm_hash, applied = msgpack.unpackb(data)
        self.sm_hash, self.applied_data = sm_hash, list(applied)


class SafetyChecker:
    """Checks election safety, log matching, leader completeness and state machine safety incrementally."""

    def __init__(self) -> None:
        self.leaders: dict[int, int] = {}  # term -> the one leader of that term
        self.entries: dict[tuple[int, int], tuple[int, bytes, int]] = {}  # (index, term) -> (type, data, prev term)
        self.commit_frontier: dict[int, tuple[int, int]] = {}  # observer term -> (committed index, its term)
        self.applied: dict[int, tuple[bytes, bytes]] = {}  # index -> (data, state-machine hash after it)
        self.log_checked: dict[int, int] = {}  # member -> committed prefix already checked

    def check_member(self, m: Member) -> None:
        """Check one running member's current state against everything seen so far."""
        r = m.node
        log = r.raft_log
        if r.role == Role.LEADER:
            other = self.leaders.setdefault(r.term, r.id)
            if other != r.id:
                raise SafetyViolation(f"election safety: members {other} and {r.id} both lead term {r.term}")
        # Log matching, by induction: an (index, term) pair always names the same entry after the same term.
        start = max(log.first_index(), self.log_checked.get(m.id, 0) + 1)
        last = log.last_index()
        if start <= last:
            prev_term = log.term(start - 1)
            for e in log.slice(start, last + 1):
                seen = self.entries.setdefault((e.index, e.term), (e.type, e.data, prev_term))
                if seen != (e.type, e.data, prev_term):
                    raise SafetyViolation(
                        f"log matching: member {r.id} has at ({e.index}, {e.term}) {e.data!r} after term {prev_term},"
                        f" elsewhere {seen[1]!r} after term {seen[2]}"
                    )
                prev_term = e.term
        self.log_checked[m.id] = log.committed
        if log.committed:
            committed_term = log.term(log.committed)
            known = self.commit_frontier.get(r.term)
            if known is None or known[0] < log.committed:
                self.commit_frontier[r.term] = (log.committed, committed_term)
        if r.role == Role.LEADER:
            self._check_leader_completeness(r)

    def _check_leader_completeness(self, r: Raft) -> None:
        log = r.raft_log
        for term, (index, entry_term) in self.commit_frontier.items():
            if term >= r.term or index < log.first_index() - 1:
                continue
            if log.maybe_term(index) != entry_term:
                raise SafetyViolation(
                    f"leader completeness: leader {r.id} of term {r.term} lacks entry ({index}, {entry_term})"
                    f" committed by term {term}"
                )

    def forget(self, member_id: int) -> None:
        """A restarted member's log is re-checked from its committed prefix on."""
        self.log_checked.pop(member_id, None)

    def record_apply(self, member_id: int, index: int, data: bytes, sm_hash: bytes) -> None:
        """State machine safety: every member applies the same entry at each index."""
        seen = self.applied.setdefault(index, (data, sm_hash))
        if seen != (data, sm_hash):
            raise SafetyViolation(
                f"state machine safety: member {member_id} applied {data!r} at {index}, another applied {seen[0]!r}"
            )


def bootstrap_with_entries(conf: ConfState) -> MemoryStorage:
    """A founding member's storage as etcd (and store/node.py) writes it: committed conf changes 1..n, term 1."""
    changes = [ConfChange(ConfChangeType.ADD_VOTER, v) for v in conf.voters]
    changes += [ConfChange(ConfChangeType.ADD_LEARNER, v) for v in conf.learners]
    storage = MemoryStorage()
    storage.append([Entry(1, i, EntryType.CONF_CHANGE, cc.encode()) for i, cc in enumerate(changes, start=1)])
    storage.set_hard_state(HardState(term=1, commit=len(changes)))
    return storage


class Network:
    """Members plus the messages in flight between them.

    Founding members bootstrap from committed conf-change entries (`bootstrap="entries"`, the driver's way)
    or from `MemoryStorage.bootstrap`'s snapshot (`bootstrap="snapshot"`, whose index 1 has term 1 as in the
    paper's figures).
    """

    def __init__(
        self,
        voters: Iterable[int],
        learners: Iterable[int] = (),
        *,
        seed: int = 0,
        pre_vote: bool = True,
        check_quorum: bool = True,
        election_tick: int = 10,
        heartbeat_tick: int = 1,
        max_size_per_msg: int = 1 << 20,
        max_inflight_msgs: int = 256,
        bootstrap: str = "entries",
        pipeline: bool = False,
        defer_commit: bool = False,
    ) -> None:
        self.seed = seed
        self.pipeline = pipeline
        if bootstrap not in ("entries", "snapshot"):
            raise ValueError(f"bootstrap must be 'entries' or 'snapshot', not {bootstrap!r}")
        self.bootstrap = bootstrap
        self.config_args = {
            "pre_vote": pre_vote,
            "check_quorum": check_quorum,
            "election_tick": election_tick,
            "heartbeat_tick": heartbeat_tick,
            "max_size_per_msg": max_size_per_msg,
            "max_inflight_msgs": max_inflight_msgs,
            "defer_commit": defer_commit,
        }
        self.checker = SafetyChecker()
        self.members: dict[int, Member] = {}
        self.queue: list[Message] = []
        self.cut: set[tuple[int, int]] = set()  # directed links that lose every message
        self.filter: Callable[[Message], bool] | None = None  # returns False to drop a message
        conf = ConfState(tuple(sorted(voters)), tuple(sorted(learners)))
        for node_id in (*conf.voters, *conf.learners):
            self.add_member(node_id, conf)

    # ----- members ----------------------------------------------------------------------------------------

    def add_member(self, node_id: int, conf: ConfState | None = None) -> Member:
        """Start a founding member of `conf`, or (without `conf`) one with empty storage that joins by conf change."""
        if conf is None:
            storage = MemoryStorage()
        elif self.bootstrap == "snapshot":
            storage = MemoryStorage.bootstrap(conf)
        else:
            storage = bootstrap_with_entries(conf)
        m = Member(node_id, storage)
        self.members[node_id] = m
        self._start(m)
        return m

    def _start(self, m: Member) -> None:
        snap = m.storage.snapshot()
        m.sm_restore(snap.data)
        m.applied_index = snap.meta.index
        m.conf_state = m.storage.initial_state()[1]
        cfg = Config(
            id=m.id,
            applied=m.applied_index,
            rng=random.Random(self.seed * 1000 + m.id * 31 + m.restarts),
            **self.config_args,  # type: ignore[arg-type]
        )
        m.raft = Raft(cfg, m.storage)
        m.pending = []
        self.checker.forget(m.id)
        # Like the driver: re-apply what the log says is committed (the membership, first) before serving.
        commit = m.storage.initial_state()[0].commit
        while m.applied_index < commit and self.process_ready(m.id):
            pass

    def set_log(self, node_id: int, terms: list[int], term: int) -> None:
        """Replace a member's durable log with entries of `terms` (index 1 is the bootstrap snapshot, term 1)."""
        m = self.members[node_id]
        if self.bootstrap != "snapshot":
            raise ValueError("set_log needs a network bootstrapped from snapshots (index 1, term 1)")
        conf = m.storage.initial_state()[1]
        self.crash(node_id)
        m.storage = MemoryStorage.bootstrap(conf)
        if terms[0] != 1:
            raise ValueError("index 1 is the bootstrap snapshot and has term 1")
        m.storage.append([Entry(t, i, EntryType.NORMAL, b"%d@%d" % (i, t)) for i, t in enumerate(terms[1:], start=2)])
        m.storage.set_hard_state(HardState(term=term, commit=1))
        self.restart(node_id)

    def crash(self, node_id: int) -> None:
        """Lose everything volatile: the core, unpersisted entries, the state machine."""
        m = self.members[node_id]
        m.raft = None
        m.pending = []
        m.read_states.clear()

    def restart(self, node_id: int) -> None:
        """Start a crashed member again from what its storage holds."""
        m = self.members[node_id]
        m.restarts += 1
        self._start(m)

    def __getitem__(self, node_id: int) -> Raft:
        return self.members[node_id].node

    def up_members(self) -> list[Member]:
        """Members not crashed."""
        return [m for m in self.members.values() if m.up]

    def leader(self) -> int:
        """The id of the running leader with the highest term (0 if none)."""
        best = (0, 0)
        for m in self.up_members():
            if m.node.role == Role.LEADER and m.node.term > best[0]:
                best = (m.node.term, m.id)
        return best[1]

    # ----- the driver -------------------------------------------------------------------------------------

    def begin_ready(self, node_id: int) -> bool:
        """Take a Ready and send its early messages; persistence happens in `finish_ready`.

        With ``pipeline`` (as ``store.node`` drives the core), the next Ready may be taken while earlier
        ones persist, and a Ready's committed entries are applied as soon as it is taken; a Ready holding
        a snapshot first lets the earlier ones finish and is then handled alone.
        """
        m = self.members[node_id]
        if not m.up or not m.node.has_ready():
            return False
        if m.pending and (not self.pipeline or m.pending[-1].snapshot is not None):
            return False
        rd = m.node.ready()
        self.send(rd.early_messages)
        if rd.snapshot is not None:
            while m.pending:
                self.finish_ready(node_id)
        elif self.pipeline:
            self._apply(m, rd.committed_entries)
        m.pending.append(rd)
        return True

    def finish_ready(self, node_id: int) -> bool:
        """Persist the oldest pending Ready, send its messages, apply (unless done already), then advance."""
        m = self.members[node_id]
        if not m.up or not m.pending:
            return False
        rd = m.pending.pop(0)
        if rd.snapshot is not None:
            m.storage.apply_snapshot(rd.snapshot)
        m.storage.append(rd.entries)
        if rd.hard_state is not None:
            m.storage.set_hard_state(rd.hard_state)
        self.send(rd.messages)
        if rd.snapshot is not None:
            m.sm_restore(rd.snapshot.data)
            m.applied_index = rd.snapshot.meta.index
            m.conf_state = rd.snapshot.meta.conf_state
        self._apply(m, rd.committed_entries)
        m.read_states.extend(rd.read_states)
        m.node.advance(rd)
        return True

    def _apply(self, m: Member, entries: list[Entry]) -> None:
        for e in entries:
            if e.index <= m.applied_index:
                continue
            if e.index != m.applied_index + 1:
                raise SafetyViolation(f"member {m.id} applies {e.index} after {m.applied_index}")
            if e.type == EntryType.CONF_CHANGE:
                m.conf_state = m.node.apply_conf_change(ConfChange.decode(e.data))
            m.sm_hash = hashlib.blake2b(m.sm_hash + e.data, digest_size=8).digest()
            m.applied_index = e.index
            if e.data and e.type == EntryType.NORMAL:
                m.applied_data.append(e.data)
            self.checker.record_apply(m.id, e.index, e.data, m.sm_hash)

    def process_ready(self, node_id: int) -> bool:
        """Handle one Ready completely (returns False if there was none)."""
        m = self.members[node_id]
        if not m.up:
            return False
        began = self.begin_ready(node_id)
        finished = self.finish_ready(node_id)
        return began or finished

    def check(self) -> None:
        """Run the safety checks over every running member."""
        for m in self.up_members():
            self.checker.check_member(m)

    # ----- the network ------------------------------------------------------------------------------------

    def send(self, msgs: Iterable[Message]) -> None:
        """Put messages in flight (through the wire codec)."""
        for msg in msgs:
            self.queue.append(decode(encode(msg)))

    def deliver(self, pos: int = 0) -> Message | None:
        """Deliver the message at `pos` of the in-flight queue (reordering when pos > 0)."""
        if not self.queue:
            return None
        msg = self.queue.pop(pos)
        sender = self.members.get(msg.from_)
        target = self.members.get(msg.to)
        lost = (msg.from_, msg.to) in self.cut or (self.filter is not None and not self.filter(msg))
        if lost or target is None or not target.up:
            if sender is not None and sender.up:
                if msg.type == MessageType.SNAP:
                    sender.node.report_snapshot(msg.to, False)
                sender.node.report_unreachable(msg.to)
            return None
        target.node.step(msg)
        if msg.type == MessageType.SNAP and sender is not None and sender.up:
            sender.node.report_snapshot(msg.to, True)
        return msg

    def drop(self, pos: int = 0) -> None:
        """Lose one in-flight message (a lost snapshot is reported to its sender, as a transport would)."""
        if not self.queue:
            return
        msg = self.queue.pop(pos)
        sender = self.members.get(msg.from_)
        if msg.type == MessageType.SNAP and sender is not None and sender.up:
            sender.node.report_snapshot(msg.to, False)

    def duplicate(self, pos: int = 0) -> None:
        """Deliver one in-flight message twice (the copy goes to the back of the queue)."""
        if self.queue:
            self.queue.append(decode(encode(self.queue[pos])))

    def isolate(self, node_id: int) -> None:
        """Cut every link to and from a member."""
        for other in self.members:
            if other != node_id:
                self.cut.add((node_id, other))
                self.cut.add((other, node_id))

    def partition(self, *groups: Iterable[int]) -> None:
        """Cut every link between different groups."""
        sets = [set(g) for g in groups]
        for i, a in enumerate(sets):
            for b in sets[i + 1 :]:
                for x in a:
                    for y in b:
                        self.cut.add((x, y))
                        self.cut.add((y, x))

    def watch(self, kind: MessageType) -> list[Message]:
        """Record every delivered-or-not message of `kind` (replaces the filter)."""
        seen: list[Message] = []

        def record(msg: Message) -> bool:
            if msg.type == kind:
                seen.append(msg)
            return True

        self.filter = record
        return seen

    def recover(self) -> None:
        """Heal every link and remove the filter."""
        self.cut.clear()
        self.filter = None

    # ----- running ----------------------------------------------------------------------------------------

    def tick(self, n: int = 1, only: Iterable[int] | None = None) -> None:
        """Tick running members `n` times, handling readies and delivering messages in between."""
        ids = list(only) if only is not None else list(self.members)
        for _ in range(n):
            for node_id in ids:
                if self.members[node_id].up:
                    self.members[node_id].node.tick()
            self.stabilize()

    def stabilize(self, max_steps: int = 100_000) -> None:
        """Handle readies and deliver messages until nothing moves, checking safety all along."""
        for _ in range(max_steps):
            moved = False
            for node_id in list(self.members):
                if self.process_ready(node_id):
                    moved = True
            self.check()
            while self.queue:
                self.deliver()
                moved = True
            if not moved:
                # Like the driver's timer: a commit index no append carried goes out on its own.
                leaders = [m.raft for m in self.up_members() if m.raft is not None and m.raft.commit_unsent()]
                if not leaders:
                    return
                for r in leaders:
                    r.send_commit()
        raise AssertionError("network did not stabilize")

    def elect(self, node_id: int) -> None:
        """Make `node_id` campaign and settle the election."""
        self[node_id].campaign()
        self.stabilize()

    def propose(self, node_id: int, data: bytes) -> int:
        """Propose on `node_id` and replicate."""
        index = self[node_id].propose(data)
        self.stabilize()
        return index
