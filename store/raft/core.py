"""The Raft state machine: ticks, messages and requests in; a `Ready` batch out. No I/O, no clock."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from store.raft.config import Config
from store.raft.errors import (
    CompactedError,
    ConfChangeError,
    LeaderTransferError,
    LogInvariantError,
    NotLeaderError,
    ProposalDroppedError,
)
from store.raft.log import RaftLog
from store.raft.messages import (
    ConfChange,
    ConfState,
    Entry,
    EntryType,
    HardState,
    Message,
    MessageType,
)
from store.raft.progress import Progress, ProgressState
from store.raft.readonly import ReadOnly, ReadRequest
from store.raft.ready import ReadState, Ready, Role, SoftState
from store.raft.storage import Storage
from store.raft.tracker import ProgressTracker, VoteResult

# Context of vote requests sent on a leader's TimeoutNow: receivers must not ignore them under the lease.
CAMPAIGN_TRANSFER = b"transfer"
# Context of an append without entries sent to a follower known to hold everything before it: it carries
# only the commit index, so the follower answers only if it rejects it (an acceptance would tell the leader
# nothing it does not know). A third to a half of all appends are these (64 down to 1 concurrent writers).
COMMIT_ONLY = b"commit"

_APP = MessageType.APP
_APP_RESP = MessageType.APP_RESP
_HEARTBEAT = MessageType.HEARTBEAT


@dataclass(slots=True, frozen=True)
class ProgressStatus:
    """The leader's view of one member's replication, for status reporting."""

    match: int
    next: int
    state: ProgressState
    recent_active: bool
    is_learner: bool
    inflight: int


@dataclass(slots=True, frozen=True)
class Status:
    """A snapshot of a member's Raft state for status endpoints and tests."""

    id: int
    hard_state: HardState
    soft_state: SoftState
    applied: int
    conf_state: ConfState
    lead_transferee: int
    progress: dict[int, ProgressStatus] = field(default_factory=dict)


class Raft:
    """One Raft member (Ongaro's thesis, with etcd's pre-vote, check-quorum and leader-lease refinements).

    The driver calls `tick` on its clock, `step` for each received message and the request methods, then
    drains work with `ready`/`advance` (see `Ready` for the required order). Not thread-safe: one driver
    task owns it.
    """

    def __init__(self, config: Config, storage: Storage) -> None:
        config.validate()
        self.id = config.id
        self._election_timeout = config.election_tick
        self._heartbeat_timeout = config.heartbeat_tick
        self._pre_vote = config.pre_vote
        self._check_quorum = config.check_quorum
        self._max_msg_size = config.max_size_per_msg
        self._max_committed_size = config.max_committed_size_per_ready
        self._defer_commit = config.defer_commit
        self._rng = config.rng

        self.raft_log = RaftLog(storage, config.applied)
        hs, conf_state = storage.initial_state()
        if hs.commit > self.raft_log.last_index():
            raise LogInvariantError(
                f"persisted commit index {hs.commit} is beyond the last stored index {self.raft_log.last_index()}"
            )
        self.raft_log.committed = max(self.raft_log.committed, hs.commit)
        if config.applied > self.raft_log.committed:
            raise LogInvariantError(
                f"applied index {config.applied} is beyond the persisted commit index {self.raft_log.committed}"
            )
        self.tracker = ProgressTracker(conf_state, self.raft_log.last_index() + 1, config.max_inflight_msgs)

        self.term = hs.term
        self.vote = hs.vote
        self.lead = 0
        self.role = Role.FOLLOWER
        self.lead_transferee = 0
        # Index of the last conf change proposed; another may be proposed only once it is applied.
        self.pending_conf_index = 0
        self._msgs: list[Message] = []
        self._early: list[Message] = []
        self._read_states: list[ReadState] = []
        self._read_only = ReadOnly()
        self._pending_reads: list[Message] = []  # reads waiting for a commit in the leader's own term
        self._bcast_pending = False  # proposals or a commit advance to broadcast when the Ready is built
        # Set on a leader that applied its own removal: it steps down once the entry at this index commits.
        self._step_down_at = 0
        self._election_elapsed = 0
        self._heartbeat_elapsed = 0
        self._randomized_election_timeout = self._election_timeout
        self._prev_soft = SoftState()
        self._prev_hard = hs
        self._become_follower(self.term, 0)

    # ----- inputs -----------------------------------------------------------------------------------------

    def tick(self) -> None:
        """Advance the logical clock by one tick."""
        if self.role == Role.LEADER:
            self._tick_heartbeat()
        else:
            self._tick_election()

    def campaign(self) -> None:
        """Start an election now (with pre-vote if configured); does nothing on the leader or a non-voter."""
        self._hup(transfer=False)

    def propose(self, data: bytes) -> int:
        """Append a command to the leader's log; returns its index (commitment shows up in a later Ready)."""
        return self.propose_batch((data,))

    def propose_batch(self, datas: Sequence[bytes]) -> int:
        """Append several commands at once (cheaper per entry); returns the index of the last one."""
        if not datas:
            raise ValueError("propose_batch needs at least one command")
        if self.role != Role.LEADER:
            raise NotLeaderError(self.lead, "a proposal")
        self._check_not_leaving()
        if self.lead_transferee:
            raise ProposalDroppedError(
                f"proposal dropped: leadership is moving to member {self.lead_transferee:x}; retry on the new leader"
            )
        log = self.raft_log
        first = log.last_index() + 1
        term = self.term
        normal = EntryType.NORMAL
        log.append_new([Entry(term, i, normal, d) for i, d in enumerate(datas, first)])
        # Appends go out when the Ready is built, so a burst of proposals travels in one message per peer.
        self._bcast_pending = True
        return first + len(datas) - 1

    def propose_conf_change(self, cc: ConfChange) -> int:
        """Propose a single-server membership change; returns its index. One may be pending at a time."""
        if self.role != Role.LEADER:
            raise NotLeaderError(self.lead, "a membership change")
        self._check_not_leaving()
        if self.lead_transferee:
            raise ProposalDroppedError(
                f"membership change dropped: leadership is moving to member {self.lead_transferee:x}"
            )
        if self.pending_conf_index > self.raft_log.applied:
            raise ProposalDroppedError(
                f"membership change dropped: the change at index {self.pending_conf_index} is not applied yet"
            )
        problem = self.tracker.check(cc)
        if problem is not None:
            raise ConfChangeError(f"cannot {cc.type.name.lower()} member {cc.node_id:x}: {problem}")
        index = self.raft_log.last_index() + 1
        self.raft_log.append_new([Entry(self.term, index, EntryType.CONF_CHANGE, cc.encode())])
        self.pending_conf_index = index
        self._bcast_pending = True
        return index

    def read_index(self, context: bytes) -> None:
        """Request a linearizable read point; a `ReadState` with this (unique, non-empty) context follows.

        A request in flight when leadership changes is dropped without an answer: the driver times it out
        and retries.
        """
        if not context:
            raise ValueError("read_index needs a non-empty context that is unique among pending reads")
        if self.role == Role.LEADER:
            self._handle_read_index(Message(MessageType.READ_INDEX, self.id, self.id, self.term, context=context))
        elif self.role == Role.FOLLOWER and self.lead:
            self._msgs.append(Message(MessageType.READ_INDEX, self.lead, self.id, self.term, context=context))
        else:
            raise NotLeaderError(0, "a read index")

    def transfer_leadership(self, target: int) -> None:
        """Hand leadership to `target`; on a follower, only `target == id` (ask the leader for it) is allowed."""
        if self.role != Role.LEADER:
            if target == self.id and self.lead:
                self._msgs.append(Message(MessageType.TRANSFER_LEADER, self.lead, self.id, self.term))
                return
            raise NotLeaderError(self.lead, "a leadership transfer")
        self._check_not_leaving()
        pr = self.tracker.progress.get(target)
        if pr is None or pr.is_learner:
            raise LeaderTransferError(f"member {target:x} is not a voter of this cluster and cannot become leader")
        self._transfer_to(target)

    def commit_unsent(self) -> bool:
        """Whether a follower has not been sent the commit index it could learn (see ``Config.defer_commit``)."""
        return any(True for _ in self._commit_lagging())

    def send_commit(self) -> None:
        """Send the commit index to every follower not sent it yet, in appends without entries."""
        for node, pr in self._commit_lagging():
            self._send_append(node, pr)

    def _commit_lagging(self) -> Iterator[tuple[int, Progress]]:
        """On a leader, the replicating followers not yet sent the commit index they could learn.

        A follower whose window of appends in flight is full is left out: nothing can be sent to it until an
        answer frees the window (the driver's timer would otherwise fire again and again for nothing).
        """
        if self.role != Role.LEADER:
            return
        committed = self.raft_log.committed
        for node, pr in self.tracker.progress.items():
            if (node != self.id and pr.state == ProgressState.REPLICATE and not pr.is_paused()
                    and pr.sent_commit < min(committed, pr.next - 1)):
                yield node, pr

    def report_unreachable(self, node: int) -> None:
        """The transport failed to reach `node`: stop pipelining to it and probe instead."""
        pr = self.tracker.progress.get(node)
        if self.role == Role.LEADER and pr is not None and pr.state == ProgressState.REPLICATE:
            pr.become_probe()

    def report_snapshot(self, node: int, ok: bool) -> None:
        """The transport finished (or failed) sending a snapshot to `node`; replication resumes by probing."""
        pr = self.tracker.progress.get(node)
        if self.role != Role.LEADER or pr is None or pr.state != ProgressState.SNAPSHOT:
            return
        if not ok:
            pr.pending_snapshot = 0
        pr.become_probe()
        # Wait for the follower's response (or the next heartbeat) before appending.
        pr.probe_sent = True

    def apply_conf_change(self, cc: ConfChange) -> ConfState:
        """Apply a committed membership change (the driver calls it while applying the entry).

        A leader applying its own removal keeps leading, without counting itself and refusing requests,
        until the quorum of the new membership knows the removal committed; then it steps down. A driver
        should keep a removed member running until it is no longer leader.
        """
        self.tracker.apply(cc, self.raft_log.last_index() + 1)
        if self.role == Role.LEADER:
            if self.lead_transferee and self.lead_transferee not in self.tracker.voters:
                self.lead_transferee = 0
            if self.id not in self.tracker.voters and not self._step_down_at:
                # Removed. Members apply membership when they learn it committed, so stepping down now
                # could leave the others on the old membership, waiting for our vote. Instead keep leading
                # (we no longer count toward quorum) until an entry appended now commits: the quorum that
                # acknowledges it received a commit index covering the removal.
                log = self.raft_log
                self._step_down_at = log.last_index() + 1
                log.append_new([Entry(self.term, self._step_down_at)])
                self._bcast_pending = True
            self._maybe_commit()
            pr = self.tracker.progress.get(cc.node_id)
            if pr is not None and cc.node_id != self.id:
                self._send_append(cc.node_id, pr)
            self._maybe_step_down()
        return self.tracker.conf_state()

    def step(self, m: Message) -> None:
        """Process a message from a peer."""
        if m.term > self.term:
            if m.type in (MessageType.VOTE, MessageType.PRE_VOTE):
                in_lease = self._check_quorum and self.lead != 0 and self._election_elapsed < self._election_timeout
                if in_lease and m.context != CAMPAIGN_TRANSFER:
                    return  # leader lease: a live leader exists, so this candidate is disruptive
            if m.type == MessageType.PRE_VOTE or (m.type == MessageType.PRE_VOTE_RESP and not m.reject):
                pass  # pre-vote messages carry a future term and must not change ours
            elif m.type in (_APP, _HEARTBEAT, MessageType.SNAP):
                self._become_follower(m.term, m.from_)
            else:
                self._become_follower(m.term, 0)
        elif m.term < self.term:
            if (self._check_quorum or self._pre_vote) and m.type in (_APP, _HEARTBEAT):
                # A stale leader cut off by pre-vote/lease would never see a higher term otherwise.
                self._msgs.append(Message(_APP_RESP, m.from_, self.id, self.term))
            elif m.type == MessageType.PRE_VOTE:
                self._reject_vote(m, MessageType.PRE_VOTE_RESP)
            return

        if m.type in (MessageType.VOTE, MessageType.PRE_VOTE):
            self._handle_vote_request(m)
            return
        if m.reject and m.type in (MessageType.VOTE_RESP, MessageType.PRE_VOTE_RESP):
            self._learn_commit(m.commit, m.log_term)
        if self.role == Role.LEADER:
            self._step_leader(m)
            self._maybe_step_down()
        elif self.role == Role.FOLLOWER:
            self._step_follower(m)
        else:
            self._step_candidate(m)

    # ----- outputs ----------------------------------------------------------------------------------------

    def has_ready(self) -> bool:
        """Whether `ready` would return any work."""
        if self._bcast_pending or self._msgs or self._early or self._read_states:
            return True
        if self.lead != self._prev_soft.leader or self.role != self._prev_soft.role:
            return True
        prev = self._prev_hard
        if self.term != prev.term or self.vote != prev.vote or self.raft_log.committed != prev.commit:
            return True
        u = self.raft_log.unstable
        if u.offset_in_progress < u.offset + len(u.entries) or u.next_snapshot() is not None:
            return True
        return self.raft_log.has_next_committed_entries()

    def ready(self) -> Ready:
        """Take the pending work; it is not handed out again, so the driver must carry it out."""
        if self._bcast_pending:
            self._bcast_pending = False
            self._bcast_append()
        log = self.raft_log
        soft = SoftState(self.lead, self.role)
        hs = HardState(self.term, self.vote, log.committed)
        prev = self._prev_hard
        hard = None if hs == prev else hs
        entries = log.unstable.next_entries()
        snapshot = log.unstable.next_snapshot()
        committed = log.next_committed_entries(self._max_committed_size)
        must_sync = bool(entries) or snapshot is not None or hs.term != prev.term or hs.vote != prev.vote
        rd = Ready(
            soft_state=soft,
            hard_state=hard,
            entries=entries,
            snapshot=snapshot,
            committed_entries=committed,
            messages=self._msgs,
            early_messages=self._early,
            read_states=self._read_states,
            must_sync=must_sync,
        )
        self._msgs = []
        self._early = []
        self._read_states = []
        self._prev_soft = soft
        self._prev_hard = hs
        log.unstable.accept_in_progress()
        if committed:
            log.accept_applying(committed[-1].index)
        return rd

    def advance(self, rd: Ready) -> None:
        """Acknowledge that `rd` was persisted and applied."""
        log = self.raft_log
        if rd.snapshot is not None:
            log.unstable.stable_snap_to(rd.snapshot.meta.index)
            log.applied_to(rd.snapshot.meta.index)
        if rd.entries:
            last = rd.entries[-1]
            log.unstable.stable_to(last.index, last.term)
        if rd.committed_entries:
            log.applied_to(rd.committed_entries[-1].index)
        if self.role == Role.LEADER:
            pr = self.tracker.progress.get(self.id)
            if pr is not None and pr.maybe_update(log.stable_last_index()):
                self._maybe_commit()
            self._maybe_step_down()

    def status(self) -> Status:
        """Current state, with per-member progress when leader."""
        progress: dict[int, ProgressStatus] = {}
        if self.role == Role.LEADER:
            progress = {
                node: ProgressStatus(pr.match, pr.next, pr.state, pr.recent_active, pr.is_learner, pr.inflights.count())
                for node, pr in self.tracker.progress.items()
            }
        return Status(
            id=self.id,
            hard_state=HardState(self.term, self.vote, self.raft_log.committed),
            soft_state=SoftState(self.lead, self.role),
            applied=self.raft_log.applied,
            conf_state=self.tracker.conf_state(),
            lead_transferee=self.lead_transferee,
            progress=progress,
        )

    # ----- roles ------------------------------------------------------------------------------------------

    def _reset(self, term: int) -> None:
        if term != self.term:
            self.term = term
            self.vote = 0
        self.lead = 0
        self._election_elapsed = 0
        self._heartbeat_elapsed = 0
        self._randomized_election_timeout = self._election_timeout + self._rng.randrange(self._election_timeout)
        self.lead_transferee = 0
        self.tracker.reset_votes()
        next_index = self.raft_log.last_index() + 1
        for pr in self.tracker.progress.values():
            pr.reset(next_index)
        self.pending_conf_index = 0
        self._read_only.reset()
        self._pending_reads.clear()
        self._bcast_pending = False
        self._step_down_at = 0

    def _become_follower(self, term: int, lead: int) -> None:
        self._reset(term)
        self.lead = lead
        self.role = Role.FOLLOWER

    def _become_pre_candidate(self) -> None:
        # Neither term nor vote change: a failed pre-vote leaves no trace (thesis §9.6).
        self.role = Role.PRE_CANDIDATE
        self.tracker.reset_votes()
        self.lead = 0

    def _become_candidate(self) -> None:
        self._reset(self.term + 1)
        self.vote = self.id
        self.role = Role.CANDIDATE

    def _become_leader(self) -> None:
        self._reset(self.term)
        self.lead = self.id
        self.role = Role.LEADER
        log = self.raft_log
        pr = self.tracker.progress[self.id]
        pr.become_replicate()
        pr.match = log.stable_last_index()
        pr.next = log.last_index() + 1
        pr.recent_active = True
        # The no-op entry lets the new leader commit (and so learn the commit point) in its own term (§8).
        log.append_new([Entry(self.term, log.last_index() + 1)])
        # No membership change until the no-op is applied: any conf change still uncommitted in the log is
        # then settled, and the leader has committed in its term, which single-server changes need to be
        # safe across leader changes (Ongaro, raft-dev 2015, "bug in single-server membership changes").
        self.pending_conf_index = log.last_index()
        self._bcast_pending = True

    def _check_not_leaving(self) -> None:
        if self._step_down_at:
            raise ProposalDroppedError(
                f"request dropped: member {self.id:x} was removed from the cluster and is handing over leadership"
            )

    def _maybe_step_down(self) -> None:
        if self._step_down_at and self.raft_log.committed >= self._step_down_at:
            self._become_follower(self.term, 0)

    def _promotable(self) -> bool:
        return self.id in self.tracker.voters

    def _has_unapplied_conf_change(self) -> bool:
        log = self.raft_log
        if log.committed <= log.applied:
            return False
        try:
            ents = log.slice(log.applied + 1, log.committed + 1)
        except CompactedError:
            return False
        return any(e.type == EntryType.CONF_CHANGE for e in ents)

    # ----- elections --------------------------------------------------------------------------------------

    def _tick_election(self) -> None:
        self._election_elapsed += 1
        if self._election_elapsed >= self._randomized_election_timeout and self._promotable():
            self._election_elapsed = 0
            self._hup(transfer=False)

    def _tick_heartbeat(self) -> None:
        self._heartbeat_elapsed += 1
        self._election_elapsed += 1
        if self._election_elapsed >= self._election_timeout:
            self._election_elapsed = 0
            if self._check_quorum:
                own = self.tracker.progress.get(self.id)
                if own is not None:  # absent once this leader applied its own removal
                    own.recent_active = True
                if not self.tracker.quorum_active():
                    self._become_follower(self.term, 0)
                    return
                for node, pr in self.tracker.progress.items():
                    if node != self.id:
                        pr.recent_active = False
            # A transfer that did not finish within an election timeout is abandoned.
            self.lead_transferee = 0
        if self._heartbeat_elapsed >= self._heartbeat_timeout:
            self._heartbeat_elapsed = 0
            self._bcast_heartbeat(self._read_only.last_context())

    def _hup(self, transfer: bool) -> None:
        if self.role == Role.LEADER or not self._promotable():
            return
        # Our view of the membership is stale until committed conf changes are applied.
        if self._has_unapplied_conf_change():
            return
        self._campaign(pre=self._pre_vote and not transfer, transfer=transfer)

    def _campaign(self, pre: bool, transfer: bool) -> None:
        if pre:
            self._become_pre_candidate()
            vote_type = MessageType.PRE_VOTE
            term = self.term + 1
        else:
            self._become_candidate()
            vote_type = MessageType.VOTE
            term = self.term
        self.tracker.record_vote(self.id, True)
        if self.tracker.vote_result() == VoteResult.WON:
            if pre:
                self._campaign(pre=False, transfer=transfer)
            else:
                self._become_leader()
            return
        log = self.raft_log
        last_index = log.last_index()
        last_term = log.last_term()
        context = CAMPAIGN_TRANSFER if transfer else b""
        for voter in sorted(self.tracker.voters):
            if voter != self.id:
                self._msgs.append(
                    Message(vote_type, voter, self.id, term, log_term=last_term, index=last_index, context=context)
                )

    def _handle_vote_request(self, m: Message) -> None:
        is_pre = m.type == MessageType.PRE_VOTE
        resp_type = MessageType.PRE_VOTE_RESP if is_pre else MessageType.VOTE_RESP
        can_vote = self.vote == m.from_ or (self.vote == 0 and self.lead == 0) or (is_pre and m.term > self.term)
        if can_vote and self.raft_log.is_up_to_date(m.index, m.log_term):
            # Granted responses carry the candidate's term so a pre-candidate can count them.
            self._msgs.append(Message(resp_type, m.from_, self.id, m.term))
            if not is_pre:
                self._election_elapsed = 0
                self.vote = m.from_
        else:
            self._reject_vote(m, resp_type)

    def _reject_vote(self, m: Message, resp_type: MessageType) -> None:
        # The rejection shares our commit point. Members apply membership changes only once they know them
        # committed; a voter that missed the commit of the change removing us would otherwise wait forever
        # for a vote we refuse (our log is longer) and cannot replace (we are removed).
        log = self.raft_log
        resp = Message(resp_type, m.from_, self.id, self.term, reject=True, commit=log.committed)
        resp.log_term = log.term(log.committed)
        self._msgs.append(resp)

    # ----- per-role message handling ----------------------------------------------------------------------

    def _step_leader(self, m: Message) -> None:
        pr = self.tracker.progress.get(m.from_)
        if pr is None:
            return  # not (or no longer) a member
        t = m.type
        if t == _APP_RESP:
            self._handle_append_response(m, pr)
        elif t == MessageType.HEARTBEAT_RESP:
            self._handle_heartbeat_response(m, pr)
        elif t == MessageType.READ_INDEX:
            self._handle_read_index(m)
        elif t == MessageType.TRANSFER_LEADER and not pr.is_learner:
            self._transfer_to(m.from_)

    def _step_follower(self, m: Message) -> None:
        t = m.type
        if t == _APP:
            self._election_elapsed = 0
            self.lead = m.from_
            self._handle_append(m)
        elif t == _HEARTBEAT:
            self._election_elapsed = 0
            self.lead = m.from_
            self._handle_heartbeat(m)
        elif t == MessageType.SNAP:
            self._election_elapsed = 0
            self.lead = m.from_
            self._handle_snapshot(m)
        elif t == MessageType.TIMEOUT_NOW:
            self._hup(transfer=True)
        elif t == MessageType.READ_INDEX_RESP:
            self._read_states.append(ReadState(m.index, m.context))

    def _step_candidate(self, m: Message) -> None:
        t = m.type
        if t in (_APP, _HEARTBEAT, MessageType.SNAP):
            self._become_follower(m.term, m.from_)
            self._step_follower(m)
            return
        expected = MessageType.PRE_VOTE_RESP if self.role == Role.PRE_CANDIDATE else MessageType.VOTE_RESP
        if t != expected:
            return
        self.tracker.record_vote(m.from_, not m.reject)
        result = self.tracker.vote_result()
        if result == VoteResult.WON:
            if self.role == Role.PRE_CANDIDATE:
                self._campaign(pre=False, transfer=False)
            else:
                self._become_leader()
        elif result == VoteResult.LOST:
            self._become_follower(self.term, 0)

    # ----- replication: follower side ---------------------------------------------------------------------

    def _handle_append(self, m: Message) -> None:
        log = self.raft_log
        if m.index < log.committed:
            self._msgs.append(Message(_APP_RESP, m.from_, self.id, self.term, index=log.committed))
            return
        last_new = log.maybe_append(m.index, m.log_term, m.commit, m.entries)
        if last_new is not None:
            if m.entries or m.context != COMMIT_ONLY:
                self._msgs.append(Message(_APP_RESP, m.from_, self.id, self.term, index=last_new))
            return
        hint_index, hint_term = log.find_conflict_by_term(min(m.index, log.last_index()), m.log_term)
        self._msgs.append(
            Message(
                _APP_RESP,
                m.from_,
                self.id,
                self.term,
                log_term=hint_term,
                index=m.index,
                reject=True,
                reject_hint=hint_index,
            )
        )

    def _learn_commit(self, index: int, term: int) -> None:
        # Safe from any member, not just the leader: if our entry at `index` has the same term, our log up
        # to it equals theirs (log matching), and a committed prefix stays committed.
        log = self.raft_log
        if index > log.committed and log.match_term(index, term):
            log.commit_to(index)

    def _handle_heartbeat(self, m: Message) -> None:
        self.raft_log.commit_to(m.commit)
        # Early, as etcd's raft sends it: the answer promises nothing durable (a commit index is relearned,
        # and acknowledging a leader is no vote), so it must not queue behind this member's fsync: a slow
        # disk could otherwise silence a follower until the leader's quorum check deposed the leader.
        self._early.append(Message(MessageType.HEARTBEAT_RESP, m.from_, self.id, self.term, context=m.context))

    def _handle_snapshot(self, m: Message) -> None:
        snap = m.snapshot
        log = self.raft_log
        if snap is None:
            raise LogInvariantError(f"snapshot message from member {m.from_:x} carries no snapshot")
        meta = snap.meta
        if meta.index <= log.committed:
            index = log.committed
        elif log.match_term(meta.index, meta.term):
            # We already hold the snapshot's last entry: just fast-forward the commit index.
            log.commit_to(meta.index)
            index = log.committed
        else:
            log.restore(snap)
            self.tracker.restore(meta.conf_state, log.last_index() + 1)
            index = log.last_index()
        self._msgs.append(Message(_APP_RESP, m.from_, self.id, self.term, index=index))

    # ----- replication: leader side -----------------------------------------------------------------------

    def _handle_append_response(self, m: Message, pr: Progress) -> None:
        pr.recent_active = True
        node = m.from_
        if m.reject:
            next_probe = m.reject_hint
            if m.log_term > 0:
                next_probe, _ = self.raft_log.find_conflict_by_term(m.reject_hint, m.log_term)
            if pr.maybe_decrease_to(m.index, next_probe):
                if pr.state == ProgressState.REPLICATE:
                    pr.become_probe()
                self._send_append(node, pr)
            return
        was_paused = pr.is_paused()
        if not pr.maybe_update(m.index):
            return
        if pr.state == ProgressState.PROBE:
            pr.become_replicate()
        elif pr.state == ProgressState.SNAPSHOT:
            if pr.match >= pr.pending_snapshot:
                pr.become_probe()
                pr.become_replicate()
        else:
            pr.inflights.free_le(m.index)
        if not self._maybe_commit() and was_paused:
            self._send_append(node, pr)
        while self._send_append(node, pr, send_if_empty=False):
            pass
        if node == self.lead_transferee and pr.match == self.raft_log.last_index():
            self._early.append(Message(MessageType.TIMEOUT_NOW, node, self.id, self.term))

    def _handle_heartbeat_response(self, m: Message, pr: Progress) -> None:
        pr.recent_active = True
        pr.probe_sent = False
        if pr.state == ProgressState.REPLICATE and pr.inflights.full():
            # The appends filling the window may all be lost; one slot lets an (empty) append through,
            # which the follower either accepts or rejects, and a rejection restarts replication from
            # its match point.
            pr.inflights.free_first_one()
        if pr.match < self.raft_log.last_index():
            self._send_append(m.from_, pr)
        if not m.context:
            return
        acks = self._read_only.ack(m.from_, m.context)
        voters = self.tracker.voters
        if sum(1 for node in acks if node in voters) < self.tracker.quorum():
            return
        for req in self._read_only.release(m.context):
            self._respond_read(req)

    def _maybe_commit(self) -> bool:
        if not self.raft_log.maybe_commit(self.tracker.committed(), self.term):
            return False
        if not self._defer_commit:
            self._bcast_pending = True  # followers learn the new commit index
        if self._pending_reads:
            reads, self._pending_reads = self._pending_reads, []
            for m in reads:
                self._handle_read_index(m)
        return True

    def _bcast_append(self) -> None:
        for node, pr in self.tracker.progress.items():
            if node != self.id and self._send_append(node, pr):
                # Fill the pipeline: the backlog may need several size-limited appends.
                while pr.state == ProgressState.REPLICATE and self._send_append(node, pr, send_if_empty=False):
                    pass

    def _send_append(self, to: int, pr: Progress, send_if_empty: bool = True) -> bool:
        if pr.is_paused():
            return False
        log = self.raft_log
        prev = pr.next - 1
        log_term = log.maybe_term(prev)
        if log_term is None:
            return self._send_snapshot(to, pr)
        try:
            ents = log.entries(pr.next, self._max_msg_size)
        except CompactedError:
            return self._send_snapshot(to, pr)
        if not ents and not send_if_empty:
            return False
        context = b""
        if pr.state == ProgressState.REPLICATE:
            if ents:
                last = ents[-1].index
                pr.optimistic_update(last)
                pr.inflights.add(last)
            elif pr.match == prev:
                context = COMMIT_ONLY
        else:
            pr.probe_sent = True
        self._early.append(Message(_APP, to, self.id, self.term, log_term, prev, ents, log.committed, context=context))
        pr.sent_commit = max(pr.sent_commit, min(log.committed, prev + len(ents)))
        return True

    def _send_snapshot(self, to: int, pr: Progress) -> bool:
        # A follower that has not answered lately is probably down: do not ship a snapshot into the void.
        if not pr.recent_active:
            return False
        snap = self.raft_log.snapshot()
        if snap.meta.index == 0:
            raise LogInvariantError(f"member {to:x} needs compacted entries but there is no snapshot to send")
        pr.become_snapshot(snap.meta.index)
        self._early.append(Message(MessageType.SNAP, to, self.id, self.term, snapshot=snap))
        return True

    def _bcast_heartbeat(self, context: bytes) -> None:
        committed = self.raft_log.committed
        for node, pr in self.tracker.progress.items():
            if node != self.id:
                self._early.append(
                    Message(_HEARTBEAT, node, self.id, self.term, commit=min(pr.match, committed), context=context)
                )

    # ----- reads and transfers ----------------------------------------------------------------------------

    def _handle_read_index(self, m: Message) -> None:
        log = self.raft_log
        if log.maybe_term(log.committed) != self.term:
            # Until an entry of our term commits, our commit index may lag the cluster's (thesis §6.4).
            self._pending_reads.append(m)
            return
        if self.tracker.voters == {self.id}:
            self._respond_read(ReadRequest(log.committed, m.from_, m.context))
            return
        if not self._read_only.add(log.committed, m.from_, m.context):
            return
        self._read_only.ack(self.id, m.context)
        self._bcast_heartbeat(m.context)

    def _respond_read(self, req: ReadRequest) -> None:
        if req.from_ == self.id:
            self._read_states.append(ReadState(req.index, req.context))
        else:
            resp = Message(MessageType.READ_INDEX_RESP, req.from_, self.id, self.term, index=req.index)
            resp.context = req.context
            self._early.append(resp)

    def _transfer_to(self, target: int) -> None:
        if target in (self.id, self.lead_transferee):
            return
        self.lead_transferee = target
        self._election_elapsed = 0  # the transfer must finish within one election timeout
        pr = self.tracker.progress[target]
        if pr.match == self.raft_log.last_index():
            self._early.append(Message(MessageType.TIMEOUT_NOW, target, self.id, self.term))
        else:
            self._send_append(target, pr)
