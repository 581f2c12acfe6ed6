"""What the core hands the driver: state to persist, messages to send, entries to apply."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from store.raft.messages import Entry, HardState, Message, Snapshot


class Role(enum.IntEnum):
    """A member's role in the current term."""

    FOLLOWER = 0
    PRE_CANDIDATE = 1
    CANDIDATE = 2
    LEADER = 3


@dataclass(slots=True, frozen=True)
class SoftState:
    """Volatile state the driver reports and routes by; never persisted."""

    leader: int = 0
    role: Role = Role.FOLLOWER


@dataclass(slots=True, frozen=True)
class ReadState:
    """A linearizable read may be served once this member has applied up to `index`; `context` names the read."""

    index: int
    context: bytes


@dataclass(slots=True)
class Ready:
    """One batch of work for the driver, to be handled in this order.

    1. Send `early_messages` at any time, even before persisting: they are the leader's replication traffic
       (appends, heartbeats, snapshots, TimeoutNow), whose safety does not depend on this member's disk
       (Raft thesis §10.2.1; the leader counts its own log only once `advance` says it is durable), and
       answers that promise nothing durable (heartbeat and read-index responses).
    2. Persist `snapshot`, `entries` and `hard_state` (one fdatasync when `must_sync`).
    3. Send `messages`: votes and responses that promise durable state, so only after step 2.
    4. Restore `snapshot` into the state machine, then apply `committed_entries` in order, calling
       `Raft.apply_conf_change` for CONF_CHANGE entries; serve reads in `read_states` once applied up to
       their index.
    5. Call `Raft.advance(ready)`.
    """

    soft_state: SoftState  # always the current one: compare with the previous to see a leader change
    hard_state: HardState | None = None  # None when unchanged
    entries: list[Entry] = field(default_factory=list)
    snapshot: Snapshot | None = None
    committed_entries: list[Entry] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    early_messages: list[Message] = field(default_factory=list)
    read_states: list[ReadState] = field(default_factory=list)
    must_sync: bool = False
