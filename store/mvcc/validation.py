"""Checks etcd makes on a request before proposing it, independent of the store's state.

The server calls these to reject a request without a Raft round trip, as etcd's v3rpc layer does;
the store repeats them on apply so an entry that skipped them cannot corrupt the state machine.
"""

from __future__ import annotations

from collections.abc import Sequence

from store.mvcc.errors import DuplicateKeyError, EmptyKeyError, LeaseProvidedError, ValueProvidedError
from store.mvcc.types import DeleteRangeRequest, Op, PutRequest, RangeRequest, TxnRequest


def span_end(key: bytes, range_end: bytes) -> bytes | None:
    """etcd's range_end convention: None for the single ``key``, b"" for every key >= ``key``
    (range_end ``b"\\0"``), else the exclusive end."""
    if not range_end:
        return None
    return b"" if range_end == b"\0" else range_end


def check_range(request: RangeRequest) -> None:
    """Reject a range without a key."""
    if not request.key:
        raise EmptyKeyError("range")


def check_put(request: PutRequest) -> None:
    """Reject a put without a key, or one that both keeps and replaces the value or lease."""
    if not request.key:
        raise EmptyKeyError("put")
    if request.ignore_value and request.value:
        raise ValueProvidedError(repr(request.key))
    if request.ignore_lease and request.lease:
        raise LeaseProvidedError(repr(request.key))


def check_delete(request: DeleteRangeRequest) -> None:
    """Reject a delete without a key."""
    if not request.key:
        raise EmptyKeyError("delete")


def check_txn(request: TxnRequest) -> None:
    """Check every compare and operation, then reject a branch that writes one key twice (etcd's checkIntervals)."""
    _check_parts(request)
    _writes(request.success)
    _writes(request.failure)


def _check_parts(request: TxnRequest) -> None:
    for compare in request.compare:
        if not compare.key:
            raise EmptyKeyError("compare")
    for op in (*request.success, *request.failure):
        if isinstance(op, RangeRequest):
            check_range(op)
        elif isinstance(op, PutRequest):
            check_put(op)
        elif isinstance(op, DeleteRangeRequest):
            check_delete(op)
        else:
            _check_parts(op)


_Interval = tuple[bytes, bytes | None]


def _covers(intervals: list[_Interval], key: bytes) -> bool:
    for start, end in intervals:
        if end is None:
            if key == start:
                return True
        elif start <= key and (not end or key < end):
            return True
    return False


def _writes(ops: Sequence[Op]) -> tuple[set[bytes], list[_Interval]]:
    """The keys put and the ranges deleted by ``ops``, raising if a put meets another write.

    Deletes may overlap deletes; the two branches of a nested txn are exclusive, so each may put the
    same key, but not a key another operation of the enclosing branch writes.
    """
    deleted: list[_Interval] = [
        (op.key, span_end(op.key, op.range_end)) for op in ops if isinstance(op, DeleteRangeRequest)
    ]
    puts: set[bytes] = set()
    for op in ops:
        if not isinstance(op, TxnRequest):
            continue
        puts_then, deleted_then = _writes(op.success)
        puts_else, deleted_else = _writes(op.failure)
        for key in puts_then:
            if key in puts or _covers(deleted, key):
                raise DuplicateKeyError(repr(key))
            puts.add(key)
        for key in puts_else:
            if (key in puts and key not in puts_then) or _covers(deleted, key):
                raise DuplicateKeyError(repr(key))
            puts.add(key)
        deleted += deleted_then
        deleted += deleted_else
    for op in ops:
        if isinstance(op, PutRequest):
            if op.key in puts or _covers(deleted, op.key):
                raise DuplicateKeyError(repr(op.key))
            puts.add(op.key)
    return puts, deleted
