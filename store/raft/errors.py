"""Errors the Raft core and its storage raise; each says what the caller should do next."""

from __future__ import annotations


class RaftError(Exception):
    """Base of every error raised by `store.raft`."""


class CompactedError(RaftError):
    """The requested log index was discarded by compaction; the caller needs a snapshot instead."""

    def __init__(self, index: int, first_index: int) -> None:
        super().__init__(f"log index {index} is compacted (first available index is {first_index}); use a snapshot")
        self.index = index


class UnavailableError(RaftError):
    """The requested log index is beyond the last entry."""

    def __init__(self, index: int, last_index: int) -> None:
        super().__init__(f"log index {index} is not available (last index is {last_index})")
        self.index = index


class SnapshotOutOfDateError(RaftError):
    """A snapshot older than the one already held was offered; the caller can drop it."""

    def __init__(self, index: int, current: int) -> None:
        super().__init__(f"snapshot at index {index} is older than the current snapshot at {current}")


class NotLeaderError(RaftError):
    """Only the leader accepts this request; `leader` is the known leader's id (0: none known), to forward to."""

    def __init__(self, leader: int, what: str) -> None:
        hint = f"forward it to member {leader:x}" if leader else "no leader is known; retry after an election"
        super().__init__(f"{what} needs the leader: {hint}")
        self.leader = leader


class ProposalDroppedError(RaftError):
    """The leader cannot take a proposal right now (leadership transfer or a pending membership change)."""


class ConfChangeError(RaftError):
    """A membership change does not fit the current configuration."""


class ConfigError(RaftError):
    """The core was configured inconsistently."""


class LogInvariantError(RaftError):
    """The log would lose or contradict a committed entry: a bug or corrupted storage, never a normal event."""


class LeaderTransferError(RaftError):
    """Leadership cannot move to the requested member (unknown, or a learner)."""
