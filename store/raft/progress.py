"""The leader's view of each follower's log: how far it matches and how to send it more."""

from __future__ import annotations

import enum
from collections import deque


class ProgressState(enum.IntEnum):
    """How the leader replicates to a follower.

    PROBE: one append per heartbeat until the match point is found. REPLICATE: optimistic pipelining up to
    the inflight window. SNAPSHOT: waiting for a snapshot to be installed, nothing else is sent.
    """

    PROBE = 0
    REPLICATE = 1
    SNAPSHOT = 2


class Inflights:
    """Last indexes of appends sent but not yet acknowledged, bounding the pipeline to `capacity` messages."""

    __slots__ = ("_queue", "capacity")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._queue: deque[int] = deque()

    def add(self, last_index: int) -> None:
        """Record an append whose last entry is `last_index`."""
        self._queue.append(last_index)

    def free_le(self, index: int) -> None:
        """Forget every append acknowledged by a response matching up to `index`."""
        q = self._queue
        while q and q[0] <= index:
            q.popleft()

    def free_first_one(self) -> None:
        """Forget the oldest outstanding append, to make room for a probe when appends may have been lost."""
        if self._queue:
            self._queue.popleft()

    def full(self) -> bool:
        """No room for another append."""
        return len(self._queue) >= self.capacity

    def count(self) -> int:
        """Appends outstanding."""
        return len(self._queue)

    def reset(self) -> None:
        """Forget everything outstanding."""
        self._queue.clear()


class Progress:
    """Replication state of one peer, as tracked by the leader (the leader tracks itself too)."""

    __slots__ = (
        "inflights",
        "is_learner",
        "match",
        "next",
        "pending_snapshot",
        "probe_sent",
        "recent_active",
        "sent_commit",
        "state",
    )

    def __init__(self, next_index: int, max_inflight: int, is_learner: bool = False) -> None:
        self.match = 0
        self.next = next_index
        self.state = ProgressState.PROBE
        self.pending_snapshot = 0
        self.recent_active = False
        self.probe_sent = False  # in PROBE, an append is outstanding: wait for a response or heartbeat
        self.sent_commit = 0  # the highest commit index an append sent to the peer lets it learn
        self.inflights = Inflights(max_inflight)
        self.is_learner = is_learner

    def reset(self, next_index: int) -> None:
        """Forget everything learned about the peer, as a new leader must (Raft §5.3)."""
        self._reset_state(ProgressState.PROBE)
        self.match = 0
        self.next = next_index
        self.recent_active = False
        self.sent_commit = 0

    def _reset_state(self, state: ProgressState) -> None:
        self.probe_sent = False
        self.pending_snapshot = 0
        self.state = state
        self.inflights.reset()

    def become_probe(self) -> None:
        """Fall back to probing, resuming after a snapshot if one was being installed."""
        if self.state == ProgressState.SNAPSHOT:
            pending = self.pending_snapshot
            self._reset_state(ProgressState.PROBE)
            self.next = max(self.match + 1, pending + 1)
        else:
            self._reset_state(ProgressState.PROBE)
            self.next = self.match + 1

    def become_replicate(self) -> None:
        """Start pipelining appends right after the match point."""
        self._reset_state(ProgressState.REPLICATE)
        self.next = self.match + 1

    def become_snapshot(self, snapshot_index: int) -> None:
        """Stop appends until the peer has installed the snapshot at `snapshot_index`."""
        self._reset_state(ProgressState.SNAPSHOT)
        self.pending_snapshot = snapshot_index

    def maybe_update(self, index: int) -> bool:
        """Record an acknowledgement that the peer's log matches up to `index`; False if it was stale."""
        updated = False
        if self.match < index:
            self.match = index
            updated = True
            self.probe_sent = False
        self.next = max(self.next, index + 1)
        return updated

    def optimistic_update(self, last_index: int) -> None:
        """In REPLICATE, assume an append will succeed and send the next one right away."""
        self.next = last_index + 1

    def maybe_decrease_to(self, rejected: int, match_hint: int) -> bool:
        """Handle a rejected append of entries after `rejected`; False if the rejection is stale."""
        if self.state == ProgressState.REPLICATE:
            if rejected <= self.match:
                return False
            self.next = self.match + 1
            return True
        if self.next - 1 != rejected:
            return False
        self.next = max(min(rejected, match_hint + 1), self.match + 1)
        self.probe_sent = False
        return True

    def is_paused(self) -> bool:
        """Whether the leader must hold back appends to this peer."""
        if self.state == ProgressState.PROBE:
            return self.probe_sent
        if self.state == ProgressState.REPLICATE:
            return self.inflights.full()
        return True
