"""When a member snapshots: every ``snapshot_count`` entries, at an offset of its own.

Members apply the same entries at nearly the same moment, so a trigger of "``snapshot_count`` applied
since the last snapshot" made all three fork and serialize their state at once; on a two-core machine
the children starved the members' event loops and the cluster held unplanned elections. Each member
instead snapshots at the indexes congruent to its phase modulo ``snapshot_count``, the phases spread
evenly over the voters (ranked by id), so at most one member of three is snapshotting at a time while a
snapshot takes less than a third of the interval. The schedule depends on indexes only, so it survives
restarts and is the same whatever the timing.
"""

from __future__ import annotations

from collections.abc import Iterable


def snapshot_phase(member_id: int, voters: Iterable[int], snapshot_count: int) -> int:
    """This member's offset in ``[0, snapshot_count)``: its rank among the voters spreads them evenly.

    A member that is not a voter (a learner) ranks after them all.
    """
    ranked = sorted(voters)
    rank = ranked.index(member_id) if member_id in ranked else len(ranked)
    return rank * snapshot_count // (len(ranked) + (member_id not in ranked))


def next_snapshot_index(last_snapshot: int, snapshot_count: int, phase: int) -> int:
    """The first index at or after half an interval past ``last_snapshot`` that falls on this member's phase.

    So snapshots are between half and one and a half intervals apart: never two right after each
    other (a restart or an installed snapshot moves ``last_snapshot`` off the phase), never more than
    an interval and a half of log kept.
    """
    start = last_snapshot + max(1, snapshot_count // 2)
    return start + (phase - start) % snapshot_count


MAX_SNAPSHOT_LINKS = 64
"""Most files one snapshot chain may hold: a restart opens them all."""


def extends_chain(links: int, chain_bytes: int, state_bytes: int) -> bool:
    """Whether the next snapshot may be a delta on top of a chain of ``links`` files and ``chain_bytes``,
    the state now being ``state_bytes`` large (the data model's estimate of what it retains).

    A delta costs what was written since the last snapshot; a whole snapshot costs the whole state. The
    chain only carries more than the state once compaction dropped history it holds, so it is rewritten
    whole when it reaches twice the state (a restart and a lagging follower then read at most that), or
    when it has ``MAX_SNAPSHOT_LINKS`` files. Either way a whole snapshot comes after writes that grew
    with the state, so its cost per write stays flat.
    """
    return links < MAX_SNAPSHOT_LINKS and chain_bytes < 2 * state_bytes
