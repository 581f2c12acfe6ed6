"""Raft consensus as a pure state machine: messages and ticks in, a Ready batch out.

A driver owns one `Raft` and loops: `tick()` on its clock, `step()` each received `Message`, call the request
methods (`propose`, `read_index`, ...), and while `has_ready()`: take `ready()`, carry it out in the order
documented on `Ready` (early messages, persist, messages, apply), then `advance()`. Readies must be carried
out in the order they were taken. A new cluster's founding members start from `MemoryStorage.bootstrap`;
a member joining later starts from an empty `MemoryStorage` and receives a snapshot.
"""

from store.raft.config import Config
from store.raft.core import CAMPAIGN_TRANSFER, COMMIT_ONLY, ProgressStatus, Raft, Status
from store.raft.errors import (
    CompactedError,
    ConfChangeError,
    ConfigError,
    LeaderTransferError,
    LogInvariantError,
    NotLeaderError,
    ProposalDroppedError,
    RaftError,
    SnapshotOutOfDateError,
    UnavailableError,
)
from store.raft.messages import (
    ConfChange,
    ConfChangeType,
    ConfState,
    Entry,
    EntryType,
    HardState,
    Message,
    MessageType,
    Snapshot,
    SnapshotMeta,
    decode,
    encode,
)
from store.raft.progress import ProgressState
from store.raft.ready import ReadState, Ready, Role, SoftState
from store.raft.storage import MemoryStorage, Storage

__all__ = [
    "CAMPAIGN_TRANSFER",
    "COMMIT_ONLY",
    "CompactedError",
    "ConfChange",
    "ConfChangeError",
    "ConfChangeType",
    "ConfState",
    "Config",
    "ConfigError",
    "Entry",
    "EntryType",
    "HardState",
    "LeaderTransferError",
    "LogInvariantError",
    "MemoryStorage",
    "Message",
    "MessageType",
    "NotLeaderError",
    "ProgressState",
    "ProgressStatus",
    "ProposalDroppedError",
    "Raft",
    "RaftError",
    "ReadState",
    "Ready",
    "Role",
    "Snapshot",
    "SnapshotMeta",
    "SnapshotOutOfDateError",
    "SoftState",
    "Status",
    "Storage",
    "UnavailableError",
    "decode",
    "encode",
]
