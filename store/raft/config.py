"""Settings of one Raft member."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from store.raft.errors import ConfigError


@dataclass(slots=True)
class Config:
    """Timing is in ticks of the driver's clock; sizes are in bytes of entry data."""

    id: int
    election_tick: int = 10
    heartbeat_tick: int = 1
    pre_vote: bool = True
    # The leader steps down when it has not heard from a quorum for an election timeout, and followers
    # with a live leader ignore vote requests (the leader lease that keeps a partitioned node from
    # disrupting the cluster when it comes back).
    check_quorum: bool = True
    max_size_per_msg: int = 1 << 20
    max_inflight_msgs: int = 256
    # Data bytes of committed entries handed out per Ready (at least one entry; None: all of them). A driver
    # that applies on its event loop keeps each turn short this way, so heartbeats are not starved behind a
    # long backlog (etcd's MaxCommittedSizePerReady).
    max_committed_size_per_ready: int | None = None
    # Index the state machine has already applied; committed entries after it are delivered again. The
    # membership comes from the storage's snapshot, so conf changes after the snapshot must be re-applied:
    # pass the snapshot's index unless the driver persists the membership itself.
    applied: int = 0
    # The leader does not send an append only to carry a new commit index: the next append with entries
    # carries it, or ``Raft.send_commit``, which the driver calls a moment later if ``commit_unsent`` (the
    # followers then apply that much later; the leader's own answers do not wait for them).
    defer_commit: bool = False
    # Draws randomized election timeouts; seed it for deterministic tests.
    rng: random.Random = field(default_factory=random.Random)

    def validate(self) -> None:
        """Raise ConfigError for settings the algorithm cannot work with."""
        if self.id <= 0:
            raise ConfigError(f"member id must be a positive integer, got {self.id}")
        if self.heartbeat_tick <= 0:
            raise ConfigError(f"heartbeat_tick must be positive, got {self.heartbeat_tick}")
        if self.election_tick <= self.heartbeat_tick:
            raise ConfigError(
                f"election_tick ({self.election_tick}) must exceed heartbeat_tick ({self.heartbeat_tick})"
            )
        if self.max_inflight_msgs <= 0:
            raise ConfigError(f"max_inflight_msgs must be positive, got {self.max_inflight_msgs}")
        if self.max_size_per_msg <= 0:
            raise ConfigError(f"max_size_per_msg must be positive, got {self.max_size_per_msg}")
        if self.max_committed_size_per_ready is not None and self.max_committed_size_per_ready <= 0:
            raise ConfigError(
                f"max_committed_size_per_ready must be positive, got {self.max_committed_size_per_ready}"
            )
        if self.applied < 0:
            raise ConfigError(f"applied must not be negative, got {self.applied}")
