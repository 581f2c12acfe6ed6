"""The extensions beyond the paper's core (Ongaro's thesis and etcd): pre-vote, check-quorum and the leader
lease, leadership transfer, membership changes with learners, snapshots, ReadIndex, and the persistence
rules of the Ready batch.
"""

from __future__ import annotations

import dataclasses
import random

import pytest

from store.raft import (
    CAMPAIGN_TRANSFER,
    COMMIT_ONLY,
    ConfChange,
    ConfChangeError,
    ConfChangeType,
    Config,
    ConfigError,
    ConfState,
    Entry,
    HardState,
    LeaderTransferError,
    MemoryStorage,
    Message,
    MessageType,
    NotLeaderError,
    ProgressState,
    ProposalDroppedError,
    Raft,
    ReadState,
    Role,
    Snapshot,
    SnapshotMeta,
)
from tests.unit.raft_network import Network


def cluster(size: int = 3, **kwargs: int) -> Network:
    net = Network(range(1, size + 1), **kwargs)  # type: ignore[arg-type]
    net.elect(1)
    assert net[1].role == Role.LEADER
    return net


# ----- pre-vote (thesis §9.6) -------------------------------------------------------------------------------


def test_pre_vote_keeps_a_partitioned_follower_from_inflating_its_term():
    net = cluster()
    net.isolate(3)
    net.tick(100)
    assert net[3].term == net[1].term  # it only ever pre-campaigned
    net.recover()
    net.tick(5)
    assert (net.leader(), net[1].term) == (1, 2)  # the leader was not disrupted on rejoin


def test_without_pre_vote_a_rejoining_follower_disrupts_the_leader():
    net = cluster(pre_vote=False, check_quorum=False)
    net.isolate(3)
    net.tick(100)
    assert net[3].term > 2
    net.recover()
    net.tick(20)  # until 3 campaigns again
    assert net[1].term > 2  # deposed by the higher term, as the paper's algorithm alone does


def test_pre_vote_is_denied_to_a_candidate_with_a_stale_log():
    net = cluster()
    net.isolate(3)
    net.propose(1, b"x")
    net.recover()
    net.crash(1)
    net.elect(3)
    assert net[3].role == Role.PRE_CANDIDATE and net[3].term == 2  # denied by 2: no term inflation
    net.elect(2)
    assert net[2].role == Role.LEADER


# ----- check-quorum and the leader lease (thesis §6.2, §9.6) ------------------------------------------------


def test_check_quorum_leader_steps_down_without_a_quorum():
    net = cluster(5)
    net.partition([1, 2], [3, 4, 5])
    net.tick(9, only=[1, 2])
    assert net.leader() == 1  # the first check still counts answers from before the cut
    net.tick(11, only=[1, 2])  # the next check sees only 2 of 5 voters
    assert net[1].role == Role.FOLLOWER
    net.tick(30)
    assert net.leader() in (3, 4, 5)


def test_without_check_quorum_a_partitioned_leader_stays_leader():
    net = cluster(5, check_quorum=False)
    net.partition([1, 2], [3, 4, 5])
    net.tick(40, only=[1, 2])
    assert net[1].role == Role.LEADER


def test_followers_with_a_live_leader_ignore_vote_requests():
    net = cluster()
    for kind in (MessageType.VOTE, MessageType.PRE_VOTE):
        net[2].step(Message(kind, 2, 3, 10, log_term=9, index=99))
        assert net[2].term == 2
        assert net[2].ready().messages == []
    # A vote forced by a leadership transfer is not disruptive and is honoured.
    net[2].step(Message(MessageType.VOTE, 2, 3, 10, log_term=9, index=99, context=CAMPAIGN_TRANSFER))
    assert (net[2].term, net[2].vote) == (10, 3)


def test_stale_leader_learns_the_new_term_from_a_rejected_append():
    net = cluster()
    net.isolate(1)
    net.tick(40, only=[2, 3])
    assert net.leader() in (2, 3)
    # Old leader (stepped down by check-quorum, or not) hears about the new term as soon as it talks.
    net.recover()
    net.tick(3)
    assert net[1].term == net[net.leader()].term


# ----- leadership transfer (thesis §3.10) -------------------------------------------------------------------


def test_transfer_to_an_up_to_date_follower():
    net = cluster()
    net[1].transfer_leadership(2)
    net.stabilize()
    assert net.leader() == 2
    assert (net[2].term, net[1].role) == (3, Role.FOLLOWER)


def test_transfer_catches_a_lagging_target_up_first():
    net = cluster()
    net.isolate(3)
    for i in range(5):
        net.propose(1, b"v%d" % i)
    net.recover()
    timeout_nows = net.watch(MessageType.TIMEOUT_NOW)
    net[1].transfer_leadership(3)
    net.tick(3)  # heartbeats resume the probe to 3
    assert net.leader() == 3
    assert len(timeout_nows) == 1
    assert net.members[3].applied_data[:5] == [b"v%d" % i for i in range(5)]


def test_proposals_are_dropped_during_a_transfer_and_resume_if_it_times_out():
    net = cluster()
    net.isolate(3)
    net[1].transfer_leadership(3)
    with pytest.raises(ProposalDroppedError, match="moving"):
        net[1].propose(b"x")
    net.tick(10, only=[1, 2])  # one election timeout without the target answering
    assert net[1].role == Role.LEADER and net[1].lead_transferee == 0
    net.propose(1, b"x")
    assert net.members[2].applied_data == [b"x"]


def test_a_follower_can_ask_for_leadership_but_not_for_another_member():
    net = cluster()
    net[3].transfer_leadership(3)
    net.stabilize()
    assert net.leader() == 3
    with pytest.raises(NotLeaderError):
        net[1].transfer_leadership(2)


def test_transfer_to_a_learner_is_refused():
    net = Network([1, 2], learners=[3])
    net.elect(1)
    with pytest.raises(LeaderTransferError):
        net[1].transfer_leadership(3)


# ----- membership changes (thesis §4.1-4.2) -----------------------------------------------------------------


def apply_change(net: Network, leader: int, kind: ConfChangeType, node: int) -> None:
    net[leader].propose_conf_change(ConfChange(kind, node))
    net.stabilize()


def test_learner_gets_the_log_but_never_votes_or_counts_toward_quorum():
    net = Network([1, 2, 3], learners=[4])
    net.elect(1)
    net.propose(1, b"a")
    assert net.members[4].applied_data == [b"a"]
    net.crash(2)
    net.crash(3)
    net[1].propose(b"b")
    net.stabilize()
    assert net.members[4].applied_data == [b"a"]  # leader + learner are not a quorum
    net.crash(1)
    net.tick(100)
    assert net[4].role == Role.FOLLOWER  # a learner never campaigns


def test_promoted_learner_counts_toward_quorum():
    net = Network([1, 2, 3], learners=[4])
    net.elect(1)
    apply_change(net, 1, ConfChangeType.ADD_VOTER, 4)
    assert net[1].tracker.conf_state() == ConfState((1, 2, 3, 4))
    net.crash(3)
    net.propose(1, b"x")  # 3 of 4 voters
    assert net.members[4].applied_data == [b"x"]


def test_new_member_joins_with_empty_storage_and_catches_up_by_snapshot():
    net = cluster()
    for i in range(3):
        net.propose(1, b"v%d" % i)
    net.add_member(4)
    apply_change(net, 1, ConfChangeType.ADD_LEARNER, 4)
    net.tick(3)
    assert net.members[4].conf_state == ConfState((1, 2, 3), (4,))
    assert net.members[4].applied_data == [b"v0", b"v1", b"v2"]
    apply_change(net, 1, ConfChangeType.ADD_VOTER, 4)
    assert net.members[4].conf_state == ConfState((1, 2, 3, 4))


def test_removing_the_leader_makes_it_step_down_and_the_rest_elect_a_new_one():
    net = cluster()
    apply_change(net, 1, ConfChangeType.REMOVE_NODE, 1)
    assert net[1].role == Role.FOLLOWER
    net.tick(50)
    assert net.leader() in (2, 3)
    assert net[2].tracker.conf_state() == ConfState((2, 3))
    net.propose(net.leader(), b"after")
    assert net.members[3].applied_data[-1] == b"after"
    net.tick(100)
    assert net[1].role == Role.FOLLOWER  # a removed member never campaigns


def test_removed_leader_hands_over_only_once_the_others_know_the_removal_committed():
    net = cluster()
    index = net[1].propose_conf_change(ConfChange(ConfChangeType.REMOVE_NODE, 1))
    net.filter = lambda m: not any(e.index == index + 1 for e in m.entries)  # the entry after the removal
    net.stabilize()
    assert net.members[1].conf_state == ConfState((2, 3))
    assert net.leader() == 1  # applied its removal, still leading (without counting itself)
    with pytest.raises(ProposalDroppedError, match="removed"):
        net[1].propose(b"x")
    net.recover()
    net.tick(2)
    assert net[1].role == Role.FOLLOWER
    assert net.members[2].conf_state == net.members[3].conf_state == ConfState((2, 3))
    net.tick(40)
    assert net.leader() in (2, 3)


def test_a_voter_that_missed_a_commit_learns_it_from_a_vote_rejection():
    """Removing the leader of two: if the survivor never hears that the removal committed, it still counts
    the removed member as a voter, whose vote it cannot get (the removed log is longer) and which cannot
    campaign itself. The rejection carries the commit point, so the survivor can apply the removal."""
    net = Network([1, 2])
    net.elect(1)
    index = net[1].propose_conf_change(ConfChange(ConfChangeType.REMOVE_NODE, 1))
    net.filter = lambda m: (
        not (m.from_ == 1 and m.type in (MessageType.APP, MessageType.HEARTBEAT) and m.commit >= index)
    )
    net.tick(60)  # the removed leader hears nothing from the new quorum and steps down; 2 campaigns
    assert net[1].role == Role.FOLLOWER
    assert net.members[2].conf_state == ConfState((2,))
    assert net.leader() == 2


def test_one_membership_change_at_a_time():
    net = cluster()
    net.add_member(4)
    net[1].propose_conf_change(ConfChange(ConfChangeType.ADD_LEARNER, 4))
    with pytest.raises(ProposalDroppedError, match="not applied"):
        net[1].propose_conf_change(ConfChange(ConfChangeType.ADD_VOTER, 4))
    net.stabilize()
    net[1].propose_conf_change(ConfChange(ConfChangeType.ADD_VOTER, 4))


def test_a_new_leader_changes_membership_only_after_committing_in_its_term():
    net = cluster(check_quorum=False)  # no lease: 3 votes right after 1 crashes
    net.crash(1)
    net.filter = lambda m: m.type != MessageType.APP  # the new leader's no-op does not get through
    net.elect(2)
    assert net[2].role == Role.LEADER
    with pytest.raises(ProposalDroppedError, match="not applied"):
        net[2].propose_conf_change(ConfChange(ConfChangeType.REMOVE_NODE, 1))
    net.recover()
    net.tick(2)
    net[2].propose_conf_change(ConfChange(ConfChangeType.REMOVE_NODE, 1))


def test_invalid_membership_changes_are_refused():
    net = cluster()
    with pytest.raises(ConfChangeError, match="already a voter"):
        net[1].propose_conf_change(ConfChange(ConfChangeType.ADD_VOTER, 2))
    with pytest.raises(ConfChangeError, match="not in the cluster"):
        net[1].propose_conf_change(ConfChange(ConfChangeType.REMOVE_NODE, 9))
    with pytest.raises(NotLeaderError):
        net[2].propose_conf_change(ConfChange(ConfChangeType.ADD_LEARNER, 9))


# ----- snapshots (thesis §5) --------------------------------------------------------------------------------


def compact(net: Network, node_id: int) -> None:
    m = net.members[node_id]
    m.storage.create_snapshot(m.applied_index, m.conf_state, m.sm_snapshot())
    m.storage.compact(m.applied_index)


def test_lagging_follower_catches_up_from_a_snapshot():
    net = cluster()
    net.crash(3)
    for i in range(10):
        net.propose(1, b"v%d" % i)
    compact(net, 1)
    net.propose(1, b"after")
    net.restart(3)
    snaps = net.watch(MessageType.SNAP)
    net.tick(3)
    assert len(snaps) == 1
    assert net.members[3].storage.snapshot().meta.index == snaps[0].snapshot.meta.index  # type: ignore[union-attr]
    assert net.members[3].applied_data == net.members[1].applied_data
    assert net[1].status().progress[3].state == ProgressState.REPLICATE


def test_a_lost_snapshot_is_sent_again_after_the_failure_report():
    net = cluster()
    net.crash(3)
    for i in range(5):
        net.propose(1, b"v%d" % i)
    compact(net, 1)
    net.restart(3)
    lost = [0]

    def lose_first_snapshot(m: Message) -> bool:
        if m.type == MessageType.SNAP and not lost[0]:
            lost[0] = 1
            return False
        return True

    net.filter = lose_first_snapshot
    net.tick(5)
    assert lost[0] == 1
    assert net.members[3].applied_data == net.members[1].applied_data


def test_snapshot_older_than_the_commit_index_is_ignored():
    net = cluster()
    for i in range(3):
        net.propose(1, b"v%d" % i)
    compact(net, 1)
    snap = net.members[1].storage.snapshot()
    committed = net[2].raft_log.committed
    net[2].step(Message(MessageType.SNAP, 2, 1, net[1].term, snapshot=snap))
    rd = net[2].ready()
    assert rd.snapshot is None
    assert [(m.type, m.index) for m in rd.messages] == [(MessageType.APP_RESP, committed)]


def test_snapshot_arriving_while_earlier_entries_are_being_persisted():
    """The driver may step messages between `ready` and `advance`; a late acknowledgement of entries the
    snapshot replaced must not corrupt the log."""
    storage = MemoryStorage.bootstrap(ConfState((1, 2, 3)))
    r = Raft(Config(id=2, rng=random.Random(0)), storage)
    entries = [Entry(2, i, data=b"e%d" % i) for i in range(2, 6)]
    r.step(Message(MessageType.APP, 2, 1, 2, log_term=1, index=1, entries=entries, commit=1))
    first = r.ready()
    assert [e.index for e in first.entries] == [2, 3, 4, 5]
    snap = Snapshot(SnapshotMeta(10, 2, ConfState((1, 2, 3))), b"image")
    r.step(Message(MessageType.SNAP, 2, 1, 2, snapshot=snap))
    second = r.ready()
    assert second.snapshot == snap and second.entries == [] and second.committed_entries == []
    storage.append(first.entries)  # the first Ready is persisted and acknowledged late
    r.advance(first)
    storage.apply_snapshot(snap)
    r.advance(second)
    log = r.raft_log
    assert (log.first_index(), log.last_index(), log.committed, log.applied) == (11, 10, 10, 10)
    r.step(Message(MessageType.APP, 2, 1, 2, log_term=2, index=10, entries=[Entry(2, 11)], commit=11))
    third = r.ready()
    assert [e.index for e in third.entries] == [11] and [e.index for e in third.committed_entries] == [11]
    assert [(m.type, m.index, m.reject) for m in third.messages] == [(MessageType.APP_RESP, 11, False)]


# ----- ReadIndex (thesis §6.4) ------------------------------------------------------------------------------


def test_leader_read_index_waits_for_a_heartbeat_quorum():
    net = cluster()
    net.propose(1, b"w")
    r = net[1]
    r.read_index(b"r1")
    rd = r.ready()
    assert rd.read_states == []  # not before a quorum answered
    beats = [m for m in rd.early_messages if m.type == MessageType.HEARTBEAT]
    assert sorted(m.to for m in beats) == [2, 3] and all(m.context == b"r1" for m in beats)
    r.advance(rd)
    r.read_index(b"r2")  # the heartbeats of r1 were lost; the round for r2 confirms both
    net.stabilize()
    index = r.raft_log.committed
    assert net.members[1].read_states == [ReadState(index, b"r1"), ReadState(index, b"r2")]


def test_follower_read_index_is_answered_by_the_leader():
    net = cluster()
    net.propose(1, b"w")
    net[2].read_index(b"f1")
    net.stabilize()
    assert net.members[2].read_states == [ReadState(net[1].raft_log.committed, b"f1")]
    assert net.members[2].applied_index >= net.members[2].read_states[0].index


def test_new_leader_serves_reads_only_after_committing_in_its_term():
    net = cluster(check_quorum=False)  # no lease: 3 votes right after 1 crashes
    net.propose(1, b"w")
    net.crash(1)
    net.filter = lambda m: m.type != MessageType.APP  # votes pass, appends (the no-op) do not
    net.elect(2)
    assert net[2].role == Role.LEADER
    net[2].read_index(b"early")
    net.tick(2)
    assert net.members[2].read_states == []  # its commit index may still lag the cluster's
    net.recover()
    net.tick(2)
    assert net.members[2].read_states == [ReadState(net[2].raft_log.committed, b"early")]
    assert net[2].raft_log.term(net[2].raft_log.committed) == net[2].term


def test_a_deposed_leader_serves_no_reads():
    net = cluster(5, check_quorum=False)
    net.partition([1, 2], [3, 4, 5])
    net.tick(40, only=[3, 4, 5])
    new = net.leader()
    assert new in (3, 4, 5)
    net.propose(new, b"newer")
    assert net[1].role == Role.LEADER  # still believes it leads
    net[1].read_index(b"stale")
    net.tick(5, only=[1, 2])
    assert net.members[1].read_states == []


def test_single_voter_serves_reads_without_a_round_trip():
    net = Network([1])
    net.elect(1)
    net[1].read_index(b"solo")
    rd = net[1].ready()
    assert rd.read_states == [ReadState(net[1].raft_log.committed, b"solo")]
    assert rd.early_messages == []


def test_read_index_needs_a_context_and_a_leader():
    net = Network([1, 2, 3])
    with pytest.raises(ValueError, match="context"):
        net[1].read_index(b"")
    with pytest.raises(NotLeaderError):
        net[1].read_index(b"x")


# ----- persistence rules of the Ready batch -----------------------------------------------------------------


def test_leader_counts_its_own_log_only_once_persisted():
    """Thesis §10.2.1: the leader may send appends before its own fsync, but only durable entries count."""
    net = cluster(3)
    net.crash(3)
    r = net[1]
    index = r.propose(b"x")
    assert net.begin_ready(1)  # the appends go out before the leader persists
    while net.queue:
        net.deliver()
    net.process_ready(2)
    while net.queue:
        net.deliver()
    assert r.raft_log.committed < index  # follower 2 acked, but the leader's copy is not durable
    net.finish_ready(1)
    assert r.raft_log.committed == index


def test_responses_wait_for_persistence_and_only_leader_traffic_goes_early():
    net = cluster(3)
    net[1].propose(b"x")
    rd = net[1].ready()
    assert rd.early_messages and all(m.type == MessageType.APP for m in rd.early_messages)
    assert rd.messages == [] and rd.must_sync
    net.send(rd.early_messages)
    net.deliver()
    frd = net[2].ready()
    assert frd.early_messages == []
    assert [m.type for m in frd.messages] == [MessageType.APP_RESP]
    assert frd.entries and frd.must_sync


def test_an_append_carrying_only_the_commit_is_answered_only_by_a_rejection():
    net = cluster(3)
    appends = net.watch(MessageType.APP)
    index = net.propose(1, b"x")
    commit_only = [m for m in appends if m.context == COMMIT_ONLY]
    assert sorted(m.to for m in commit_only) == [2, 3] and all(not m.entries for m in commit_only)
    assert all(net[n].raft_log.committed == index for n in (1, 2, 3))  # the followers learned the commit
    # Accepted, it needs no answer: the leader knows the follower holds everything before it.
    net[2].step(commit_only[0])
    assert [m for m in net[2].ready().messages if m.type == MessageType.APP_RESP] == []
    # Rejected (this log holds another entry where it follows), it is answered, so the leader repairs the log.
    net[3].step(dataclasses.replace(commit_only[1], log_term=commit_only[1].log_term + 1))
    assert [(m.type, m.reject) for m in net[3].ready().messages] == [(MessageType.APP_RESP, True)]


def test_with_defer_commit_the_commit_rides_on_the_next_append_or_goes_when_asked():
    net = cluster(3, defer_commit=True)
    appends = net.watch(MessageType.APP)
    leader = net[1]
    first = leader.propose(b"a")
    net.process_ready(1)
    while net.queue:  # the appends reach both followers, their answers come back
        net.deliver()
    for node in (2, 3):
        net.process_ready(node)
    while net.queue:
        net.deliver()
    net.process_ready(1)
    assert leader.raft_log.committed == first and not net.queue  # committed, and no append only to say so
    assert leader.commit_unsent() and net[2].raft_log.committed < first
    second = leader.propose(b"b")
    net.process_ready(1)
    assert [(m.to, [e.index for e in m.entries], m.commit) for m in net.queue] == [(2, [second], first),
                                                                                   (3, [second], first)]
    assert not leader.commit_unsent()  # the appends of ``b`` carried the commit of ``a``
    net.stabilize()  # ... which, like the driver's timer, sends the commit of ``b`` once nothing else does
    assert all(net[n].raft_log.committed == second for n in (1, 2, 3))
    assert [m.context for m in appends if not m.entries] == [COMMIT_ONLY, COMMIT_ONLY]


def test_a_follower_whose_append_window_is_full_is_not_owed_a_commit_index():
    """Nothing can be sent to it until it answers, so the driver's commit timer must not keep firing for it."""
    net = cluster(3, defer_commit=True, max_inflight_msgs=1)
    leader = net[1]
    index = leader.propose(b"a")
    net.process_ready(1)
    to_3 = [m for m in net.queue if m.to == 3]
    net.queue = [m for m in net.queue if m.to != 3]  # 3's append is still on its way: its window of one is full
    net.stabilize()  # commits with 2, and sends 2 the commit index alone
    assert leader.raft_log.committed == index and net[2].raft_log.committed == index
    assert not leader.commit_unsent()
    net.queue.extend(to_3)
    net.stabilize()
    assert net[3].raft_log.committed == index


def test_a_vote_is_persisted_before_it_is_sent():
    r = Raft(Config(id=2, rng=random.Random(0)), MemoryStorage.bootstrap(ConfState((1, 2, 3))))
    r.step(Message(MessageType.VOTE, 2, 1, 5, log_term=1, index=1))
    rd = r.ready()
    assert rd.hard_state == HardState(5, 1, 1) and rd.must_sync
    assert [m.type for m in rd.messages] == [MessageType.VOTE_RESP] and rd.early_messages == []


def test_a_heartbeat_is_answered_before_the_append_ahead_of_it_is_persisted():
    """A follower whose fsync is slow still answers heartbeats, so the leader's quorum check keeps it."""
    net = cluster()
    net.propose(1, b"a")
    net.process_ready(1)
    net.deliver()  # the append reaches 2
    net.begin_ready(2)  # 2 is persisting it (its answer waits for that)
    net[1].tick()  # heartbeat_tick is 1
    net.process_ready(1)
    heartbeat = next(i for i, m in enumerate(net.queue) if m.type == MessageType.HEARTBEAT and m.to == 2)
    net.deliver(heartbeat)
    rd = net[2].ready()
    assert [m.type for m in rd.early_messages] == [MessageType.HEARTBEAT_RESP]
    assert all(m.type != MessageType.HEARTBEAT_RESP for m in rd.messages)


def test_a_committed_backlog_is_handed_out_in_readies_of_bounded_size():
    """A restarted member's backlog is applied a slice per Ready, each slice one short event-loop turn."""
    storage = MemoryStorage.bootstrap(ConfState((1, 2, 3)))
    storage.append([Entry(1, i, data=b"x" * 100) for i in range(2, 12)])
    storage.set_hard_state(HardState(1, 0, 11))
    r = Raft(Config(id=1, max_committed_size_per_ready=250, applied=1), storage)
    slices = []
    while r.has_ready():
        rd = r.ready()
        slices.append([e.index for e in rd.committed_entries])
        r.advance(rd)
    assert slices == [[2, 3], [4, 5], [6, 7], [8, 9], [10, 11]]
    r = Raft(Config(id=1, max_committed_size_per_ready=10, applied=1), storage)
    assert [e.index for e in r.ready().committed_entries] == [2]  # at least one, however large


def test_max_committed_size_per_ready_must_be_positive():
    with pytest.raises(ConfigError):
        Raft(Config(id=1, max_committed_size_per_ready=0), MemoryStorage())


def test_hard_state_surfaces_only_when_it_changes():
    net = cluster()
    r = net[1]
    assert not r.has_ready()
    r.tick()
    rd = r.ready()
    assert rd.hard_state is None and not rd.must_sync  # heartbeats only
    r.advance(rd)


def test_follower_crash_before_fsync_loses_only_unpersisted_entries():
    net = cluster()
    net.propose(1, b"a")
    net[1].propose(b"b")
    net.process_ready(1)
    net.deliver()  # the append reaches 2
    net.begin_ready(2)  # 2 took the Ready but crashes before persisting it
    net.crash(2)
    assert net.members[2].storage.last_index() < net[1].raft_log.last_index()
    net.restart(2)
    net.stabilize()
    net.tick(3)
    assert net.members[2].applied_data == [b"a", b"b"]


def test_restart_recovers_term_vote_and_commit_from_storage():
    net = cluster()
    net.propose(1, b"a")
    before = net[2].status().hard_state
    net.crash(2)
    net.restart(2)
    assert net[2].status().hard_state == before
    net.stabilize()
    assert net.members[2].applied_data == [b"a"]  # replayed from the log


def test_invalid_configuration_is_refused():
    with pytest.raises(ConfigError, match="election_tick"):
        Raft(Config(id=1, election_tick=1, heartbeat_tick=1), MemoryStorage())
    with pytest.raises(ConfigError, match="positive"):
        Raft(Config(id=0), MemoryStorage())
