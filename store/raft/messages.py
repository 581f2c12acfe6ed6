"""Raft's data types: log entries, persistent state, snapshots, membership changes and peer messages.

Messages encode to msgpack arrays (not maps) because they are the hottest thing on the wire: positional
fields keep frames small and decoding cheap.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import msgpack  # type: ignore[import-untyped]


class EntryType(enum.IntEnum):
    """What an entry's `data` means to the driver: an opaque command or an encoded `ConfChange`."""

    NORMAL = 0
    CONF_CHANGE = 1


@dataclass(slots=True)
class Entry:
    """One log entry; `data` is opaque to the core."""

    term: int
    index: int
    type: EntryType = EntryType.NORMAL
    data: bytes = b""


@dataclass(slots=True, frozen=True)
class HardState:
    """What must be on disk before any message that depends on it is sent (Raft figure 2)."""

    term: int = 0
    vote: int = 0
    commit: int = 0


@dataclass(slots=True, frozen=True)
class ConfState:
    """Cluster membership: voters decide elections and commitment, learners only receive the log."""

    voters: tuple[int, ...] = ()
    learners: tuple[int, ...] = ()


@dataclass(slots=True, frozen=True)
class SnapshotMeta:
    """Where a snapshot sits in the log and the membership in force at that point."""

    index: int = 0
    term: int = 0
    conf_state: ConfState = field(default_factory=ConfState)


@dataclass(slots=True, frozen=True)
class Snapshot:
    """A state-machine image replacing every entry up to `meta.index`; `data` is opaque to the core."""

    meta: SnapshotMeta = field(default_factory=SnapshotMeta)
    data: bytes = b""


class ConfChangeType(enum.IntEnum):
    """Single-server membership changes; ADD_VOTER on an existing learner promotes it."""

    ADD_VOTER = 0
    ADD_LEARNER = 1
    REMOVE_NODE = 2


@dataclass(slots=True, frozen=True)
class ConfChange:
    """A membership change carried in a CONF_CHANGE entry; `context` is for the driver (e.g. peer URLs)."""

    type: ConfChangeType
    node_id: int
    context: bytes = b""

    def encode(self) -> bytes:
        """Serialize into an entry's data."""
        return msgpack.packb((int(self.type), self.node_id, self.context), use_bin_type=True)  # type: ignore[no-any-return]

    @classmethod
    def decode(cls, data: bytes) -> ConfChange:
        """Parse an entry's data written by `encode`."""
        kind, node_id, context = msgpack.unpackb(data, raw=False, use_list=False)
        return cls(ConfChangeType(kind), node_id, context)


class MessageType(enum.IntEnum):
    """Messages exchanged between peers; the only things that cross the transport."""

    APP = 0
    APP_RESP = 1
    VOTE = 2
    VOTE_RESP = 3
    PRE_VOTE = 4
    PRE_VOTE_RESP = 5
    HEARTBEAT = 6
    HEARTBEAT_RESP = 7
    SNAP = 8
    TRANSFER_LEADER = 9
    TIMEOUT_NOW = 10
    READ_INDEX = 11
    READ_INDEX_RESP = 12


@dataclass(slots=True)
class Message:
    """A peer message; unused fields keep their defaults.

    Field meanings by type: APP carries `index`/`log_term` of the entry preceding `entries`; APP_RESP
    carries the follower's last matching `index`, or on `reject` a `reject_hint` index and its `log_term`
    so the leader can skip a whole conflicting term at once; VOTE/PRE_VOTE carry the candidate's last
    `index`/`log_term`; HEARTBEAT/READ_INDEX carry a read request's `context`; an APP without entries
    carries `core.COMMIT_ONLY` when only a rejection needs an answer.
    """

    type: MessageType
    to: int
    from_: int
    term: int = 0
    log_term: int = 0
    index: int = 0
    entries: list[Entry] = field(default_factory=list)
    commit: int = 0
    reject: bool = False
    reject_hint: int = 0
    context: bytes = b""
    snapshot: Snapshot | None = None


def encode(msg: Message) -> bytes:
    """Serialize a message for the transport."""
    snap = msg.snapshot
    packed_snap = None
    if snap is not None:
        meta = snap.meta
        packed_snap = (meta.index, meta.term, meta.conf_state.voters, meta.conf_state.learners, snap.data)
    return msgpack.packb(  # type: ignore[no-any-return]
        (
            int(msg.type),
            msg.to,
            msg.from_,
            msg.term,
            msg.log_term,
            msg.index,
            [(e.term, e.index, int(e.type), e.data) for e in msg.entries],
            msg.commit,
            msg.reject,
            msg.reject_hint,
            msg.context,
            packed_snap,
        ),
        use_bin_type=True,
    )


# Enum members by value: calling ``EntryType(value)`` costs more than building the entry itself.
_ENTRY_TYPES = {int(t): t for t in EntryType}
_MESSAGE_TYPES = {int(t): t for t in MessageType}


def decode(data: bytes) -> Message:
    """Parse a message written by `encode`; raises ValueError on a malformed frame."""
    try:
        kind, to, from_, term, log_term, index, ents, commit, reject, hint, context, snap = msgpack.unpackb(
            data, raw=False, use_list=False
        )
        snapshot = None
        if snap is not None:
            s_index, s_term, voters, learners, s_data = snap
            snapshot = Snapshot(SnapshotMeta(s_index, s_term, ConfState(voters, learners)), s_data)
        entry_types = _ENTRY_TYPES
        entries = [Entry(t, i, entry_types[ty], d) for t, i, ty, d in ents]
        return Message(
            _MESSAGE_TYPES[kind], to, from_, term, log_term, index, entries, commit, reject, hint, context, snapshot
        )
    except (KeyError, TypeError, ValueError, msgpack.UnpackException) as exc:
        raise ValueError(f"malformed raft message frame ({len(data)} bytes): {exc}") from exc
