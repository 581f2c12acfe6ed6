"""MemoryStorage, the raft log (stable + unstable), progress tracking and the message codec."""

from __future__ import annotations

import msgpack  # type: ignore[import-untyped]
import pytest

from store.raft import (
    CompactedError,
    ConfChange,
    ConfChangeType,
    ConfState,
    Entry,
    EntryType,
    HardState,
    LogInvariantError,
    MemoryStorage,
    Message,
    MessageType,
    Snapshot,
    SnapshotMeta,
    SnapshotOutOfDateError,
    UnavailableError,
    decode,
    encode,
)
from store.raft.log import RaftLog
from store.raft.progress import Inflights, Progress, ProgressState
from store.raft.tracker import ProgressTracker, VoteResult


def ents(*terms: int, start: int = 1) -> list[Entry]:
    return [Entry(t, start + i, EntryType.NORMAL, b"%d" % (start + i)) for i, t in enumerate(terms)]


def storage_with(*terms: int) -> MemoryStorage:
    s = MemoryStorage()
    s.append(ents(*terms))
    return s


# ----- MemoryStorage ----------------------------------------------------------------------------------------


def test_storage_answers_terms_and_entries_and_refuses_outside_the_log():
    s = storage_with(1, 1, 2, 3)
    assert (s.first_index(), s.last_index()) == (1, 4)
    assert [s.term(i) for i in range(5)] == [0, 1, 1, 2, 3]
    assert [e.index for e in s.entries(2, 5)] == [2, 3, 4]
    with pytest.raises(UnavailableError):
        s.term(5)
    with pytest.raises(UnavailableError):
        s.entries(2, 6)


def test_storage_entries_honour_max_size_but_return_at_least_one():
    s = MemoryStorage()
    s.append([Entry(1, i, EntryType.NORMAL, b"x" * 10) for i in range(1, 6)])
    assert len(s.entries(1, 6, max_size=25)) == 2
    assert len(s.entries(1, 6, max_size=1)) == 1
    assert len(s.entries(1, 6)) == 5


def test_storage_append_replaces_a_conflicting_suffix_and_rejects_gaps():
    s = storage_with(1, 1, 1)
    s.append([Entry(2, 2, data=b"new")])
    assert [(e.term, e.data) for e in s.entries(1, 3)] == [(1, b"1"), (2, b"new")]
    with pytest.raises(LogInvariantError, match="gap"):
        s.append([Entry(2, 5)])


def test_storage_compaction_keeps_the_term_of_the_compaction_point():
    s = storage_with(1, 2, 3, 4)
    s.create_snapshot(3, ConfState((1,)), b"state")
    s.compact(3)
    assert (s.first_index(), s.last_index(), s.term(3)) == (4, 4, 3)
    with pytest.raises(CompactedError):
        s.term(2)
    with pytest.raises(CompactedError):
        s.entries(3, 5)
    with pytest.raises(CompactedError):
        s.compact(3)
    s.append([Entry(4, 3), Entry(4, 4), Entry(4, 5)])  # entries below the first index are skipped
    assert (s.first_index(), s.last_index()) == (4, 5)


def test_storage_snapshots_only_move_forward():
    s = storage_with(1, 1)
    snap = s.create_snapshot(2, ConfState((1, 2)), b"sm")
    assert snap.meta == SnapshotMeta(2, 1, ConfState((1, 2)))
    with pytest.raises(SnapshotOutOfDateError):
        s.create_snapshot(1, ConfState((1,)), b"")
    with pytest.raises(SnapshotOutOfDateError):
        s.apply_snapshot(Snapshot(SnapshotMeta(2, 1)))
    s.apply_snapshot(Snapshot(SnapshotMeta(10, 3, ConfState((1, 2, 3))), b"big"))
    assert (s.first_index(), s.last_index(), s.term(10)) == (11, 10, 3)
    assert s.initial_state() == (HardState(), ConfState((1, 2, 3)))


def test_bootstrap_storage_holds_the_founding_membership_as_a_snapshot():
    s = MemoryStorage.bootstrap(ConfState((1, 2, 3)))
    hs, conf = s.initial_state()
    assert conf == ConfState((1, 2, 3))
    assert hs.commit == s.snapshot().meta.index == s.last_index() == 1


# ----- RaftLog ----------------------------------------------------------------------------------------------


def test_log_reads_across_storage_and_the_unstable_tail():
    log = RaftLog(storage_with(1, 1, 2))
    log.append(ents(2, 3, start=4))
    assert log.last_index() == 5
    assert [e.index for e in log.slice(2, 6)] == [2, 3, 4, 5]
    assert log.term(5) == 3
    assert log.maybe_term(6) is None
    assert log.unstable.next_entries() == ents(2, 3, start=4)


def test_maybe_append_finds_the_conflict_and_truncates_only_from_there():
    log = RaftLog(storage_with(1, 1, 1))
    # Does not match: the entry at index 3 has term 1, not 2.
    assert log.maybe_append(3, 2, 0, ents(2, start=4)) is None
    # Already present entries are not re-appended; the conflicting suffix is replaced.
    assert log.maybe_append(1, 1, 2, [Entry(1, 2, data=b"2"), Entry(2, 3)]) == 3
    assert log.unstable.offset == 3
    assert [e.term for e in log.slice(1, 4)] == [1, 1, 2]
    assert log.committed == 2


def test_maybe_append_refuses_to_overwrite_committed_entries():
    log = RaftLog(storage_with(1, 1, 1))
    log.commit_to(3)
    with pytest.raises(LogInvariantError, match="committed"):
        log.maybe_append(1, 1, 3, [Entry(2, 2)])


def test_commit_follows_the_leader_but_never_beyond_what_was_received():
    log = RaftLog(storage_with(1, 1, 1))
    assert log.maybe_append(1, 1, 10, ents(1, start=2)) == 2
    assert log.committed == 2  # min(leader commit, last new entry)


def test_find_conflict_by_term_skips_a_whole_term():
    log = RaftLog(storage_with(1, 1, 2, 2, 2, 5))
    assert log.find_conflict_by_term(6, 3) == (5, 2)
    assert log.find_conflict_by_term(6, 1) == (2, 1)
    assert log.find_conflict_by_term(6, 5) == (6, 5)


def test_leader_commits_only_entries_of_its_own_term():
    log = RaftLog(storage_with(1, 2))
    assert not log.maybe_commit(2, 3)
    assert log.maybe_commit(2, 2)
    assert log.committed == 2


def test_stable_to_ignores_an_acknowledgement_for_a_replaced_entry():
    log = RaftLog(MemoryStorage())
    log.append(ents(1, 1, 1))
    log.unstable.accept_in_progress()
    log.append([Entry(2, 2)])  # a new leader replaced index 2 while the first write was in flight
    assert log.unstable.next_entries() == [Entry(2, 2)]
    log.unstable.stable_to(3, 1)
    assert log.unstable.offset == 1  # nothing became stable: entry (3, 1) no longer exists
    log.unstable.stable_to(2, 2)
    assert log.unstable.offset == 3
    assert log.stable_last_index() == 2


def test_committed_entries_are_handed_out_once():
    log = RaftLog(storage_with(1, 1, 1))
    log.commit_to(2)
    assert [e.index for e in log.next_committed_entries()] == [1, 2]
    log.accept_applying(2)
    assert not log.has_next_committed_entries()
    log.commit_to(3)
    assert [e.index for e in log.next_committed_entries()] == [3]


def test_restore_from_snapshot_resets_the_log():
    log = RaftLog(storage_with(1, 1))
    log.restore(Snapshot(SnapshotMeta(10, 4, ConfState((1,)))))
    assert (log.first_index(), log.last_index(), log.committed, log.term(10)) == (11, 10, 10, 4)
    assert not log.has_next_committed_entries()  # the snapshot must be applied first
    assert log.stable_last_index() == 0


# ----- progress and tracker ---------------------------------------------------------------------------------


def test_inflight_window_bounds_pipelining_and_frees_on_acks():
    inf = Inflights(3)
    for i in (5, 10, 15):
        inf.add(i)
    assert inf.full()
    inf.free_le(10)
    assert inf.count() == 1 and not inf.full()


def test_progress_probe_pauses_after_one_append_and_replicate_pipelines():
    pr = Progress(next_index=5, max_inflight=2)
    assert pr.state == ProgressState.PROBE and not pr.is_paused()
    pr.probe_sent = True
    assert pr.is_paused()
    assert pr.maybe_update(4)
    pr.become_replicate()
    assert (pr.match, pr.next, pr.is_paused()) == (4, 5, False)
    pr.optimistic_update(7)
    pr.inflights.add(7)
    pr.inflights.add(9)
    assert pr.is_paused()


def test_progress_rejections_back_off_but_ignore_stale_ones():
    pr = Progress(next_index=11, max_inflight=4)
    assert not pr.maybe_decrease_to(5, 3)  # not the probe we sent (next - 1 == 10)
    assert pr.maybe_decrease_to(10, 3)
    assert pr.next == 4
    pr.maybe_update(3)
    pr.become_replicate()
    assert not pr.maybe_decrease_to(2, 0)  # below match: stale
    assert pr.maybe_decrease_to(8, 0)
    assert pr.next == 4


def test_progress_leaves_snapshot_state_past_the_snapshot():
    pr = Progress(next_index=1, max_inflight=4)
    pr.become_snapshot(20)
    assert pr.is_paused()
    pr.become_probe()
    assert pr.next == 21


def test_tracker_quorum_commit_and_vote_counting():
    tr = ProgressTracker(ConfState((1, 2, 3, 4, 5), (6,)), 1, 8)
    for node, match in {1: 9, 2: 7, 3: 5, 4: 3, 5: 1, 6: 100}.items():
        tr.progress[node].match = match
    assert tr.committed() == 5  # learner 6 does not count
    tr.record_vote(1, True)
    tr.record_vote(2, True)
    tr.record_vote(6, True)
    assert tr.vote_result() == VoteResult.PENDING
    tr.record_vote(3, False)
    tr.record_vote(4, False)
    assert tr.vote_result() == VoteResult.PENDING
    tr.record_vote(5, False)
    assert tr.vote_result() == VoteResult.LOST


def test_tracker_membership_changes():
    tr = ProgressTracker(ConfState((1, 2, 3)), 1, 8)
    assert tr.check(ConfChange(ConfChangeType.ADD_VOTER, 2)) is not None
    tr.apply(ConfChange(ConfChangeType.ADD_LEARNER, 4), 10)
    assert tr.conf_state() == ConfState((1, 2, 3), (4,))
    assert tr.progress[4].next == 10 and tr.progress[4].is_learner
    assert "demotion" in (tr.check(ConfChange(ConfChangeType.ADD_LEARNER, 1)) or "")
    tr.apply(ConfChange(ConfChangeType.ADD_VOTER, 4), 10)
    tr.apply(ConfChange(ConfChangeType.REMOVE_NODE, 1), 10)
    assert tr.conf_state() == ConfState((2, 3, 4))
    assert 1 not in tr.progress


# ----- codec ------------------------------------------------------------------------------------------------


def test_messages_round_trip_through_msgpack():
    snap = Snapshot(SnapshotMeta(7, 2, ConfState((1, 2), (3,))), b"\x00state")
    msgs = [
        Message(MessageType.APP, 2, 1, 5, 4, 10, [Entry(5, 11, EntryType.CONF_CHANGE, b"cc"), Entry(5, 12)], 9),
        Message(MessageType.APP_RESP, 1, 2, 5, 3, 10, reject=True, reject_hint=8),
        Message(MessageType.SNAP, 3, 1, 5, snapshot=snap),
        Message(MessageType.HEARTBEAT, 3, 1, 5, commit=4, context=b"read-1"),
    ]
    for m in msgs:
        assert decode(encode(m)) == m


def test_decode_rejects_garbage_with_a_clear_error():
    with pytest.raises(ValueError, match="malformed raft message"):
        decode(b"\x93\x01\x02")
    fields = list(msgpack.unpackb(encode(Message(MessageType.APP, 2, 1, 5, entries=[Entry(5, 1)])), use_list=True))
    for bad_message_type, bad_entry_type in ((99, 0), (0, 7)):
        fields[0], fields[6][0][2] = bad_message_type, bad_entry_type
        with pytest.raises(ValueError, match="malformed raft message"):
            decode(msgpack.packb(fields))


def test_conf_change_round_trips():
    cc = ConfChange(ConfChangeType.ADD_LEARNER, 0xABCDEF, b"http://10.0.0.4:2380")
    assert ConfChange.decode(cc.encode()) == cc
