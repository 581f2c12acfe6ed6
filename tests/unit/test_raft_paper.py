"""Scenarios mapped to sentences of the Raft paper (Ongaro & Ousterhout, "In Search of an Understandable
Consensus Algorithm", 2014): §5.2 leader election, §5.3 log replication, §5.4 safety.

These run without pre-vote and check-quorum, as the paper describes the algorithm; the extensions have
their own tests in test_raft_features.py.
"""

from __future__ import annotations

import random

import pytest

from store.raft import (
    Config,
    ConfState,
    MemoryStorage,
    Message,
    MessageType,
    NotLeaderError,
    Raft,
    Role,
)
from tests.unit.raft_network import Network


def paper_net(size: int = 3, **kwargs: int) -> Network:
    return Network(
        range(1, size + 1),
        pre_vote=False,
        check_quorum=False,
        bootstrap="snapshot",  # index 1 has term 1, as in the paper's figures
        **kwargs,  # type: ignore[arg-type]
    )


def solo(node_id: int = 1, voters: tuple[int, ...] = (1, 2, 3), seed: int = 0, **kwargs: bool) -> Raft:
    cfg = Config(id=node_id, rng=random.Random(seed), pre_vote=False, check_quorum=False, **kwargs)
    return Raft(cfg, MemoryStorage.bootstrap(ConfState(voters)))


def drain(r: Raft) -> list[Message]:
    """Take a Ready as a driver would (nothing persisted here) and return every message."""
    rd = r.ready()
    r.advance(rd)
    return rd.early_messages + rd.messages


# ----- §5.2 leader election ---------------------------------------------------------------------------------


def test_5_2_follower_becomes_candidate_after_a_randomized_election_timeout():
    """'If a follower receives no communication over a period of time called the election timeout, then it
    assumes there is no viable leader and begins an election'; 'election timeouts are chosen randomly from
    a fixed interval'."""
    timeouts = set()
    for seed in range(30):
        r = solo(seed=seed)
        ticks = 0
        while r.role == Role.FOLLOWER:
            r.tick()
            ticks += 1
        timeouts.add(ticks)
        assert r.role == Role.CANDIDATE
        assert r.term == 2 and r.vote == 1  # bootstrap is term 1; it votes for itself
        votes = [m for m in drain(r) if m.type == MessageType.VOTE]
        assert sorted(m.to for m in votes) == [2, 3]
        assert all((m.term, m.index, m.log_term) == (2, 1, 1) for m in votes)
    assert min(timeouts) >= 10 and max(timeouts) < 20
    assert len(timeouts) > 3


def test_5_2_candidate_wins_with_votes_from_a_majority():
    net = paper_net(5)
    net.elect(3)
    assert net[3].role == Role.LEADER
    assert all(net[i].lead == 3 and net[i].term == 2 for i in range(1, 6))


def test_5_2_candidate_loses_when_a_majority_rejects_it():
    r = solo(voters=(1, 2, 3, 4, 5))
    r.campaign()
    drain(r)
    for voter in (2, 3, 4):
        r.step(Message(MessageType.VOTE_RESP, 1, voter, r.term, reject=True))
    assert r.role == Role.FOLLOWER
    assert r.term == 2  # it keeps the term it campaigned in


def test_5_2_each_server_votes_for_at_most_one_candidate_per_term():
    """'Each server will vote for at most one candidate in a given term, on a first-come-first-served basis.'"""
    r = solo(node_id=1)
    r.step(Message(MessageType.VOTE, 1, 2, 2, log_term=1, index=1))
    r.step(Message(MessageType.VOTE, 1, 3, 2, log_term=1, index=1))
    r.step(Message(MessageType.VOTE, 1, 2, 2, log_term=1, index=1))  # a retry from the same candidate
    resps = [m for m in drain(r) if m.type == MessageType.VOTE_RESP]
    assert [(m.to, m.reject) for m in resps] == [(2, False), (3, True), (2, False)]
    assert r.vote == 2


def test_5_2_candidate_returns_to_follower_when_a_leader_of_its_term_appears():
    """'If the leader's term is at least as large as the candidate's current term, then the candidate
    recognizes the leader as legitimate and returns to follower state.'"""
    r = solo()
    r.campaign()
    r.step(Message(MessageType.APP, 1, 2, r.term, log_term=1, index=1, commit=1))
    assert (r.role, r.lead) == (Role.FOLLOWER, 2)


def test_5_2_leader_sends_heartbeats_to_maintain_authority():
    net = paper_net()
    net.elect(1)
    r = net[1]
    r.tick()
    rd = r.ready()
    beats = [m for m in rd.early_messages if m.type == MessageType.HEARTBEAT]
    assert sorted(m.to for m in beats) == [2, 3]
    r.advance(rd)
    net.queue.clear()
    net.tick(50)
    assert net.leader() == 1 and net[1].term == 2  # heartbeats keep followers from timing out


def test_5_2_split_votes_are_resolved_by_randomized_timeouts():
    for seed in range(10):
        net = paper_net(5, seed=seed)
        for i in range(1, 6):
            net[i].campaign()  # everyone at once: a split vote
        net.stabilize()
        net.tick(60)
        assert net.leader() != 0
        leaders = [i for i in range(1, 6) if net[i].role == Role.LEADER]
        assert len(leaders) == 1


def test_5_2_a_server_with_a_higher_term_updates_and_steps_down():
    """'If a candidate or leader discovers that its term is out of date, it immediately reverts to follower.'"""
    net = paper_net()
    net.elect(1)
    net[1].step(Message(MessageType.APP_RESP, 1, 2, 9))
    assert (net[1].role, net[1].term, net[1].lead) == (Role.FOLLOWER, 9, 0)


def test_5_1_requests_with_a_stale_term_are_rejected():
    net = paper_net()
    net.elect(1)
    net[2].step(Message(MessageType.APP, 2, 3, 1, log_term=1, index=1, commit=1))
    assert net[2].lead == 1
    assert net[2].ready().messages == []  # ignored (pre-vote/check-quorum would answer it)


# ----- §5.3 log replication ---------------------------------------------------------------------------------


def test_5_3_leader_commits_once_replicated_on_a_majority_and_followers_apply():
    """'A log entry is committed once the leader that created the entry has replicated it on a majority of
    the servers'; 'once a follower learns that a log entry is committed, it applies the entry'."""
    net = paper_net(5)
    net.elect(1)
    net.isolate(4)
    net.isolate(5)
    index = net.propose(1, b"hello")
    assert net[1].raft_log.committed == index
    for i in (1, 2, 3):
        assert net.members[i].applied_data == [b"hello"]
    assert net[4].raft_log.last_index() < index


def test_5_3_minority_partition_cannot_commit():
    net = paper_net(5)
    net.elect(1)
    net.isolate(1)
    net.isolate(2)
    net.partition([1, 2], [3, 4, 5])
    before = net[1].raft_log.committed
    net[1].propose(b"lost")
    net.stabilize()
    assert net[1].raft_log.committed == before
    assert b"lost" not in net.members[2].applied_data


def test_5_3_a_deposed_leaders_uncommitted_entries_are_overwritten_after_the_partition_heals():
    net = paper_net(5)
    net.elect(1)
    net.propose(1, b"both")
    net.partition([1, 2], [3, 4, 5])
    net[1].propose(b"minority")
    net.stabilize()
    assert net[2].raft_log.last_index() == net[1].raft_log.last_index()  # replicated, never committed
    net.elect(3)
    net.propose(3, b"majority")
    net.recover()
    net.tick(3)
    for i in range(1, 6):
        assert net.members[i].applied_data == [b"both", b"majority"]
        assert net[i].raft_log.last_index() == net[3].raft_log.last_index()


def test_5_3_follower_refuses_entries_whose_predecessor_does_not_match():
    """'If the follower does not find an entry in its log with the same index and term, then it refuses
    the new entries.'"""
    r = solo(node_id=2)
    r.step(Message(MessageType.APP, 2, 1, 2, log_term=2, index=5, commit=1))
    [resp] = drain(r)
    assert resp.type == MessageType.APP_RESP and resp.reject
    assert (resp.reject_hint, resp.log_term) == (1, 1)  # our last index and its term


@pytest.mark.parametrize(
    "follower_log",
    [
        # Figure 7 (a)-(f): followers missing entries, with extra entries, or both.
        [1, 1, 1, 4, 4, 5, 5, 6, 6],
        [1, 1, 1, 4],
        [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
        [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
        [1, 1, 1, 4, 4, 4, 4],
        [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
    ],
    ids="abcdef",
)
def test_5_3_figure_7_leader_forces_followers_to_duplicate_its_log(follower_log: list[int]):
    """'The leader handles inconsistencies by forcing the followers' logs to duplicate its own.'"""
    leader_log = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6]
    net = paper_net(3)
    net.set_log(1, leader_log, term=8)
    net.set_log(2, follower_log, term=7)
    net.set_log(3, leader_log, term=8)  # its vote elects the leader even when (c) and (d) refuse theirs
    net.elect(1)
    assert net[1].role == Role.LEADER
    expected = [*leader_log, 9]  # the new leader's no-op
    for i in (1, 2, 3):
        log = net[i].raft_log
        assert [log.term(j) for j in range(1, log.last_index() + 1)] == expected


def test_5_3_figure_7_conflicting_tail_is_found_in_one_round_trip_per_term():
    """The paper's optimization (end of §5.3): a rejection names the conflicting term so the leader skips it."""
    net = paper_net(2)
    net.set_log(1, [1, 1, 1, 4, 4, 5, 5, 6, 6, 6], term=8)
    net.set_log(2, [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3], term=7)
    responses = net.watch(MessageType.APP_RESP)
    net.elect(1)
    rejections = [m for m in responses if m.reject]
    assert 1 <= len(rejections) <= 2  # one per conflicting term, not one per conflicting entry (8)
    assert [net[2].raft_log.term(i) for i in range(1, 12)] == [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 9]


def test_5_3_proposals_on_a_follower_name_the_leader():
    net = paper_net()
    net.elect(2)
    with pytest.raises(NotLeaderError) as err:
        net[1].propose(b"x")
    assert err.value.leader == 2


def test_5_3_a_batch_of_proposals_gets_consecutive_indexes_and_one_append_per_peer():
    net = paper_net()
    net.elect(1)
    last = net[1].propose_batch([b"a", b"b", b"c"])
    rd = net[1].ready()
    assert [len(m.entries) for m in rd.early_messages] == [3, 3]
    assert [e.index for e in rd.entries] == [last - 2, last - 1, last]
    with pytest.raises(ValueError, match="at least one"):
        net[1].propose_batch([])


def test_5_3_appends_are_batched_by_size_and_pipelined_up_to_the_inflight_window():
    net = paper_net(2, max_size_per_msg=100, max_inflight_msgs=3)
    net.elect(1)
    for i in range(20):
        net[1].propose(b"%040d" % i)
    assert net.begin_ready(1)
    rd = net.members[1].pending[0]
    apps = [m for m in rd.early_messages if m.type == MessageType.APP and m.to == 2]
    assert len(apps) == 3  # the window is full
    assert all(len(m.entries) == 2 for m in apps)  # 100 bytes of data hold two 40-byte entries
    assert rd.messages == []
    net.stabilize()
    assert net[2].raft_log.committed == net[1].raft_log.last_index()
    assert len(net.members[2].applied_data) == 20


def test_5_3_appends_lost_while_the_window_is_full_are_sent_again():
    """'If followers crash or run slowly, or if network packets are lost, the leader retries AppendEntries
    RPCs indefinitely' — even when the lost appends filled the pipeline."""
    net = paper_net(2, max_size_per_msg=1, max_inflight_msgs=2)
    net.elect(1)
    net[1].propose_batch([b"a", b"b", b"c"])
    net.begin_ready(1)
    while net.queue:
        net.drop()  # lost silently: the transport noticed nothing
    net.finish_ready(1)
    assert net[1].status().progress[2].inflight == 2
    net.tick(3)
    assert net.members[2].applied_data == [b"a", b"b", b"c"]


# ----- §5.4 safety ------------------------------------------------------------------------------------------


def test_5_4_1_voters_deny_candidates_with_less_up_to_date_logs():
    """'The voter denies its vote if its own log is more up-to-date than that of the candidate.'"""
    net = paper_net()
    net.set_log(1, [1, 2], term=3)
    net.set_log(2, [1, 3], term=3)
    net.set_log(3, [1, 2, 2], term=3)
    net.elect(1)  # last term 2 < node 2's last term 3; shorter than node 3's log
    assert net[1].role != Role.LEADER
    net.elect(2)
    assert net[2].role == Role.LEADER


def test_5_4_2_figure_8_leader_does_not_commit_entries_of_older_terms_by_counting_replicas():
    """'Raft never commits log entries from previous terms by counting replicas. Only log entries from the
    leader's current term are committed by counting replicas.'"""
    net = paper_net(5)
    net.set_log(1, [1, 2], term=3)
    net.set_log(2, [1, 2], term=2)
    net.set_log(5, [1, 3], term=3)
    net.isolate(5)

    def without_the_noop(m: Message) -> bool:
        m.entries = [e for e in m.entries if e.index < 3]  # the term-4 no-op at index 3 never arrives
        return True

    net.filter = without_the_noop
    net.elect(1)
    assert (net[1].role, net[1].term) == (Role.LEADER, 4)
    assert [net[i].raft_log.maybe_term(2) for i in (1, 2, 3, 4)] == [2, 2, 2, 2]  # on a majority...
    assert net[1].raft_log.committed == 1  # ...and still not committed
    # (c)->(d): the leader crashes and S5 wins with its term-3 entry, overwriting index 2 everywhere.
    net.recover()
    net.crash(1)
    net.elect(5)  # term 4: the others already voted for S1 in term 4
    net.elect(5)  # term 5: votes from S2 (or S3), S4, itself, all with last term 2 < 3
    assert (net[5].role, net[5].term) == (Role.LEADER, 5)
    net.tick(3)
    assert all(net[i].raft_log.term(2) == 3 for i in (2, 3, 4, 5))


def test_5_4_2_figure_8_an_entry_of_the_current_term_commits_the_older_ones():
    net = paper_net(5)
    net.set_log(1, [1, 2], term=2)
    net.set_log(5, [1, 3], term=3)
    net.isolate(5)
    net.elect(1)
    assert net[1].raft_log.committed == 3  # (2, term 2) committed together with the term-4 no-op
    net.recover()
    net.crash(1)
    net.tick(100)
    assert net.leader() != 5  # S5 can no longer win: its log is behind the committed entries
    assert all(net[i].raft_log.term(2) == 2 for i in (2, 3, 4, 5))


def test_5_4_3_leader_completeness_after_a_leader_crash():
    net = paper_net(5)
    net.elect(1)
    for i in range(5):
        net.propose(1, b"v%d" % i)
    committed = net[1].raft_log.committed
    net.crash(1)
    net.tick(60)
    new = net.leader()
    assert new not in (0, 1)
    assert net[new].raft_log.last_index() >= committed
    assert net.members[new].applied_data[:5] == [b"v%d" % i for i in range(5)]
