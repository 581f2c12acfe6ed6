"""Members take turns to snapshot: each on indexes of its own phase, never all three at once."""

from __future__ import annotations

from store.snapshot_schedule import MAX_SNAPSHOT_LINKS, extends_chain, next_snapshot_index, snapshot_phase

VOTERS = (0x9C2, 0x11, 0x5A0)


def schedule(member: int, count: int, upto: int, voters: tuple[int, ...] = VOTERS) -> list[int]:
    phase = snapshot_phase(member, voters, count)
    taken, last = [], 0
    while (nxt := next_snapshot_index(last, count, phase)) <= upto:
        taken.append(nxt)
        last = nxt
    return taken


def test_voters_snapshot_at_evenly_spread_phases_ranked_by_id():
    assert [snapshot_phase(m, VOTERS, 9000) for m in sorted(VOTERS)] == [0, 3000, 6000]
    assert schedule(0x11, 9000, 30000) == [9000, 18000, 27000]
    assert schedule(0x5A0, 9000, 30000) == [12000, 21000, 30000]  # 3000 is too soon after the start
    assert schedule(0x9C2, 9000, 30000) == [6000, 15000, 24000]


def test_no_two_members_snapshot_at_the_same_index():
    taken = [set(schedule(m, 10_000, 200_000)) for m in VOTERS]
    assert not (taken[0] & taken[1]) and not (taken[1] & taken[2]) and not (taken[0] & taken[2])


def test_after_a_restart_off_the_phase_the_gap_stays_between_half_and_one_and_a_half_intervals():
    phase = snapshot_phase(0x5A0, VOTERS, 10_000)
    for last in (0, 1, 3332, 3333, 3334, 8333, 8334, 12_345):
        nxt = next_snapshot_index(last, 10_000, phase)
        assert nxt % 10_000 == phase
        assert 5000 <= nxt - last < 15_000


def test_a_learner_ranks_after_the_voters():
    assert snapshot_phase(0x1, VOTERS, 10_000) == 7500  # four members: phases 0, 2500, 5000, 7500


def test_a_count_of_one_snapshots_every_entry():
    assert next_snapshot_index(41, 1, snapshot_phase(0x11, VOTERS, 1)) == 42


def test_a_chain_is_extended_until_it_holds_twice_the_state_or_too_many_files():
    assert extends_chain(1, 10_000, 10_000)
    assert extends_chain(5, 19_999, 10_000)
    assert not extends_chain(5, 20_000, 10_000)  # compaction left the chain holding history twice the state
    assert not extends_chain(MAX_SNAPSHOT_LINKS, 100, 10_000)
    assert not extends_chain(1, 1, 0)


def test_a_growing_state_is_rewritten_whole_only_once_the_chain_has_its_most_files():
    """Writing new keys only: the chain never outgrows the state, so only the file count forces a rewrite."""
    links, whole = 0, []
    for n in range(1, 200):
        if links and extends_chain(links, n * 100, n * 100):
            links += 1
        else:
            whole.append(n)
            links = 1
    assert whole == [1, 1 + MAX_SNAPSHOT_LINKS, 1 + 2 * MAX_SNAPSHOT_LINKS, 1 + 3 * MAX_SNAPSHOT_LINKS]
