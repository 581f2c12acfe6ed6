"""Plain-Python mirrors of etcd's v3 messages: what the gRPC server converts protobuf to and from.

Enum values equal etcd's protobuf numbers, so the server converts with ``int()`` both ways.
Instances are never mutated after construction (they are shared between history, responses and
watch events); they are not frozen only because frozen dataclasses construct markedly slower.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum


class SortOrder(IntEnum):
    """etcd's RangeRequest.SortOrder."""

    NONE = 0
    ASCEND = 1
    DESCEND = 2


class SortTarget(IntEnum):
    """etcd's RangeRequest.SortTarget."""

    KEY = 0
    VERSION = 1
    CREATE = 2
    MOD = 3
    VALUE = 4


class CompareTarget(IntEnum):
    """etcd's Compare.CompareTarget."""

    VERSION = 0
    CREATE = 1
    MOD = 2
    VALUE = 3
    LEASE = 4


class CompareResult(IntEnum):
    """etcd's Compare.CompareResult."""

    EQUAL = 0
    GREATER = 1
    LESS = 2
    NOT_EQUAL = 3


class EventType(IntEnum):
    """etcd's mvccpb.Event.EventType."""

    PUT = 0
    DELETE = 1


class WatchFilter(IntEnum):
    """etcd's WatchCreateRequest.FilterType."""

    NOPUT = 0
    NODELETE = 1


@dataclass(slots=True)
class KeyValue:
    """One version of a key. A tombstone (the key's deletion) has ``version == 0`` and only key and mod_revision."""

    key: bytes
    create_revision: int
    mod_revision: int
    version: int
    value: bytes
    lease: int


@dataclass(slots=True)
class Event:
    """A change at ``kv.mod_revision``; ``prev_kv`` is the key's version just before it (None if it was absent)."""

    type: EventType
    kv: KeyValue
    prev_kv: KeyValue | None = None


@dataclass(slots=True)
class Compare:
    """A txn guard. ``operand`` is bytes for VALUE and an int for the other targets; a non-empty
    ``range_end`` compares every key in [key, range_end) (``b"\\0"``: every key >= key)."""

    key: bytes
    target: CompareTarget
    result: CompareResult
    operand: bytes | int
    range_end: bytes = b""


@dataclass(slots=True)
class RangeRequest:
    """etcd's RangeRequest (``serializable`` is a read-path choice of the server, so it is absent)."""

    key: bytes
    range_end: bytes = b""
    limit: int = 0
    revision: int = 0
    sort_order: SortOrder = SortOrder.NONE
    sort_target: SortTarget = SortTarget.KEY
    keys_only: bool = False
    count_only: bool = False
    min_mod_revision: int = 0
    max_mod_revision: int = 0
    min_create_revision: int = 0
    max_create_revision: int = 0


@dataclass(slots=True)
class PutRequest:
    """etcd's PutRequest."""

    key: bytes
    value: bytes = b""
    lease: int = 0
    prev_kv: bool = False
    ignore_value: bool = False
    ignore_lease: bool = False


@dataclass(slots=True)
class DeleteRangeRequest:
    """etcd's DeleteRangeRequest."""

    key: bytes
    range_end: bytes = b""
    prev_kv: bool = False


@dataclass(slots=True)
class TxnRequest:
    """etcd's TxnRequest: if every compare holds run ``success``, else ``failure``."""

    compare: list[Compare] = field(default_factory=list)
    success: list[Op] = field(default_factory=list)
    failure: list[Op] = field(default_factory=list)


Op = RangeRequest | PutRequest | DeleteRangeRequest | TxnRequest


@dataclass(slots=True)
class RangeResponse:
    """``count`` is the number of keys in the range at the revision, regardless of limit and filters."""

    revision: int
    kvs: list[KeyValue]
    more: bool
    count: int


@dataclass(slots=True)
class PutResponse:
    """``prev_kv`` is set only when the request asked for it and the key existed."""

    revision: int
    prev_kv: KeyValue | None = None


@dataclass(slots=True)
class DeleteRangeResponse:
    """``prev_kvs`` is filled only when the request asked for it."""

    revision: int
    deleted: int
    prev_kvs: list[KeyValue] = field(default_factory=list)


@dataclass(slots=True)
class TxnResponse:
    """One response per executed operation of the chosen branch, in order."""

    revision: int
    succeeded: bool
    responses: list[Response]


Response = RangeResponse | PutResponse | DeleteRangeResponse | TxnResponse


@dataclass(slots=True)
class WatchBatch:
    """The events of one revision that match one watcher, in the order they were applied."""

    revision: int
    events: list[Event]


@dataclass(slots=True)
class LeaseStatus:
    """etcd's LeaseTimeToLiveResponse: ``ttl`` is the remaining seconds, ``granted_ttl`` the granted ones."""

    id: int
    ttl: int
    granted_ttl: int
    keys: list[bytes]
