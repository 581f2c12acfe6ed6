"""The key-value state machine: etcd's Range, Put, DeleteRange, Txn and Compact over the key index.

Every member applies the same committed requests in the same order and so reaches the same state;
nothing here reads a clock or does I/O. A write takes the next revision only if it changed something
(a delete of nothing or a read-only txn takes none); all writes of one txn share one revision, in
order, and its events reach the watch hub together once the txn is complete.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import attrgetter

from store.mvcc.errors import CompactedError, FutureRevisionError, KeyNotFoundError, LeaseNotFoundError
from store.mvcc.index import KeyIndex
from store.mvcc.lessor import DEFAULT_MIN_TTL, Lessor
from store.mvcc.snapshot import can_extend, dump, dump_delta, load
from store.mvcc.types import (
    Compare,
    CompareResult,
    CompareTarget,
    DeleteRangeRequest,
    DeleteRangeResponse,
    Event,
    KeyValue,
    Op,
    PutRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
    Response,
    SortOrder,
    SortTarget,
    TxnRequest,
    TxnResponse,
)
from store.mvcc.validation import check_delete, check_put, check_range, check_txn, span_end
from store.mvcc.watch_hub import WatchHub

_SORT_KEYS: dict[SortTarget, Callable[[KeyValue], bytes | int]] = {
    SortTarget.KEY: attrgetter("key"),
    SortTarget.VERSION: attrgetter("version"),
    SortTarget.CREATE: attrgetter("create_revision"),
    SortTarget.MOD: attrgetter("mod_revision"),
    SortTarget.VALUE: attrgetter("value"),
}
_INT_FIELDS: dict[CompareTarget, Callable[[KeyValue], int]] = {
    CompareTarget.VERSION: attrgetter("version"),
    CompareTarget.CREATE: attrgetter("create_revision"),
    CompareTarget.MOD: attrgetter("mod_revision"),
    CompareTarget.LEASE: attrgetter("lease"),
}


class KVStore:
    """etcd's v3 key-value state: revisions, ranges, transactions, compaction, leases and watches.

    ``lessor`` holds the leases (grant, renew and expiry go to it directly; revocation goes through
    ``lease_revoke`` because it deletes keys); ``watch_hub`` holds the watchers.
    """

    __slots__ = ("_compact", "_index", "_revision", "lessor", "watch_hub")

    def __init__(self, *, min_lease_ttl: int = DEFAULT_MIN_TTL) -> None:
        # etcd's empty store is at revision 1, so the first write gets revision 2.
        self._revision = 1
        self._compact = 0
        self._index = KeyIndex()
        self.lessor = Lessor(min_lease_ttl)
        self.watch_hub = WatchHub(self)

    @property
    def revision(self) -> int:
        """The last applied revision (the response header's revision)."""
        return self._revision

    @property
    def compact_revision(self) -> int:
        """Reads below this revision fail with CompactedError (0: never compacted)."""
        return self._compact

    @property
    def size_bytes(self) -> int:
        """Estimated backend size: every retained version with etcd's per-version overhead."""
        return self._index.size_bytes

    @property
    def key_count(self) -> int:
        """Number of keys that exist at the current revision."""
        return len(self._index)

    def events_from(self, revision: int) -> Iterator[Event]:
        """Events with revision >= ``revision`` (not below the compaction revision), in apply order."""
        return self._index.events_from(revision)

    # ---- requests -------------------------------------------------------------------------------

    def range(
        self,
        key: bytes,
        range_end: bytes = b"",
        *,
        limit: int = 0,
        revision: int = 0,
        sort_order: SortOrder = SortOrder.NONE,
        sort_target: SortTarget = SortTarget.KEY,
        keys_only: bool = False,
        count_only: bool = False,
        min_mod_revision: int = 0,
        max_mod_revision: int = 0,
        min_create_revision: int = 0,
        max_create_revision: int = 0,
    ) -> RangeResponse:
        """etcd's Range: the keys in ``key`` / [key, range_end) at ``revision`` (0: current)."""
        return self._apply_range(
            RangeRequest(
                key,
                range_end,
                limit,
                revision,
                sort_order,
                sort_target,
                keys_only,
                count_only,
                min_mod_revision,
                max_mod_revision,
                min_create_revision,
                max_create_revision,
            )
        )

    def put(
        self,
        key: bytes,
        value: bytes = b"",
        *,
        lease: int = 0,
        prev_kv: bool = False,
        ignore_value: bool = False,
        ignore_lease: bool = False,
    ) -> PutResponse:
        """etcd's Put: a new version of ``key`` at the next revision, attached to ``lease`` (0: none)."""
        return self._apply_put(PutRequest(key, value, lease, prev_kv, ignore_value, ignore_lease))

    def delete_range(self, key: bytes, range_end: bytes = b"", *, prev_kv: bool = False) -> DeleteRangeResponse:
        """etcd's DeleteRange: delete ``key`` / [key, range_end); takes a revision only if something existed."""
        return self._apply_delete(DeleteRangeRequest(key, range_end, prev_kv))

    def txn(self, compare: Iterable[Compare], success: Iterable[Op], failure: Iterable[Op]) -> TxnResponse:
        """etcd's Txn: if every compare holds run ``success`` else ``failure``, atomically, in one revision."""
        return self._txn(TxnRequest(list(compare), list(success), list(failure)))

    def execute(self, request: Op) -> Response:
        """Apply any request; the response has the request's type (RangeRequest gives RangeResponse, …)."""
        if isinstance(request, RangeRequest):
            return self._apply_range(request)
        if isinstance(request, PutRequest):
            return self._apply_put(request)
        if isinstance(request, DeleteRangeRequest):
            return self._apply_delete(request)
        return self._txn(request)

    def compact(self, revision: int) -> int:
        """etcd's Compact: drop history below ``revision``; returns the header revision."""
        if revision <= self._compact:
            raise CompactedError(f"compact at {revision}, already compacted at {self._compact}")
        if revision > self._revision:
            raise FutureRevisionError(f"compact at {revision}, current revision {self._revision}")
        self._index.compact(revision)
        self._compact = revision
        self.watch_hub.compacted(revision)
        return self._revision

    def lease_revoke(self, lease_id: int) -> int:
        """Revoke a lease and delete its keys in one revision; returns the header revision."""
        keys = self.lessor.revoke(lease_id)
        index = self._index
        mark = len(index.log)
        revision = self._revision + 1
        for key in keys:
            index.delete(key, revision)
        self._commit(mark)
        return self._revision

    # ---- snapshots ------------------------------------------------------------------------------

    def snapshot(self, since: int = 0) -> bytes:
        """The whole replicated state (history since compaction and leases included) as msgpack, or with
        ``since`` (``can_extend(since)`` must hold) only what changed after that revision: a delta."""
        if since:
            return dump_delta(since, self._revision, self._compact, self._index, self.lessor)
        return dump(self._revision, self._compact, self._index, self.lessor)

    def can_extend(self, since: int) -> bool:
        """Whether ``snapshot(since)`` can still be taken (no compaction dropped events after ``since``)."""
        return can_extend(since, self._revision, self._compact)

    def restore(self, data: bytes | memoryview, deltas: Sequence[bytes | memoryview] = ()) -> None:
        """Replace the state with a snapshot's: a whole state, then the deltas on top of it. Leases come back
        without expiry (``promote`` starts it); watchers stay and catch up from the new history (or are
        cancelled if it is compacted past them)."""
        state = load([data, *deltas])
        synced_through = self._revision
        self._revision = state.revision
        self._compact = state.compact_revision
        self._index = state.index
        lessor = self.lessor
        lessor.load(state.leases)
        if len(lessor):  # a walk over every key: skipped when there is no lease to attach keys to
            for kv in state.index.range_latest(b"", b"", 0):
                if kv.lease in lessor:
                    lessor.attach(kv.lease, kv.key)
        self.watch_hub.resync(synced_through)

    # ---- internals ------------------------------------------------------------------------------

    def _apply_range(self, request: RangeRequest) -> RangeResponse:
        check_range(request)
        return self._range(request, self._revision)

    def _apply_put(self, request: PutRequest) -> PutResponse:
        check_put(request)
        self._check_put_state(request)
        revision = self._revision + 1
        prev = self._put(request, revision)
        self._revision = revision
        self.watch_hub.notify(self._index.log[-1:])
        return PutResponse(revision, prev if request.prev_kv else None)

    def _apply_delete(self, request: DeleteRangeRequest) -> DeleteRangeResponse:
        check_delete(request)
        mark = len(self._index.log)
        prevs = self._delete(request, self._revision + 1)
        self._commit(mark)
        return DeleteRangeResponse(self._revision, len(prevs), prevs if request.prev_kv else [])

    def _commit(self, mark: int) -> None:
        """Close a write: if it logged events it takes the next revision and the watchers get them."""
        log = self._index.log
        if len(log) > mark:
            self._revision += 1
            self.watch_hub.notify(log[mark:])

    def _check_read_revision(self, revision: int, current: int) -> None:
        if revision > current:
            raise FutureRevisionError(f"revision {revision}, current {current}")
        if 0 < revision < self._compact:
            raise CompactedError(f"revision {revision}, compacted at {self._compact}")

    def _check_put_state(self, request: PutRequest) -> None:
        if (request.ignore_value or request.ignore_lease) and self._index.latest(request.key) is None:
            raise KeyNotFoundError(repr(request.key))
        if request.lease and not request.ignore_lease and request.lease not in self.lessor:
            raise LeaseNotFoundError(f"lease {request.lease:x} for key {request.key!r}")

    def _range(self, request: RangeRequest, current: int) -> RangeResponse:
        """Range as of ``current``, the revision the caller's view is at (inside a txn: after its writes)."""
        revision = request.revision
        self._check_read_revision(revision, current)
        if revision <= 0:
            revision = current
        index = self._index
        key = request.key
        end = span_end(key, request.range_end)
        filtered = (
            request.min_mod_revision
            or request.max_mod_revision
            or request.min_create_revision
            or request.max_create_revision
        )
        # Like etcd: sorting or filtering needs the whole range; otherwise one extra kv tells ``more``.
        fetch = 0 if request.limit <= 0 or filtered or request.sort_order != SortOrder.NONE else request.limit + 1
        if end is None:
            kv = index.latest(key) if revision == current else index.at(key, revision)
            kvs = [] if kv is None else [kv]
            count = len(kvs)
        elif revision == current:
            count = index.count_latest(key, end)
            kvs = [] if request.count_only else index.range_latest(key, end, fetch)
        elif request.count_only:
            kvs = []
            count = index.count_at(key, end, revision)
        else:
            kvs = index.range_at(key, end, revision, fetch)
            count = index.count_at(key, end, revision) if fetch and len(kvs) == fetch else len(kvs)
        if request.count_only:
            return RangeResponse(current, [], False, count)
        if filtered:
            kvs = [kv for kv in kvs if _within(kv, request)]
        order = request.sort_order
        target = request.sort_target
        # etcd sorts ascending when a non-key target has no order, and skips the no-op ascending key sort.
        if target != SortTarget.KEY and order == SortOrder.NONE:
            order = SortOrder.ASCEND
        elif target == SortTarget.KEY and order == SortOrder.ASCEND:
            order = SortOrder.NONE
        if order != SortOrder.NONE:
            kvs.sort(key=_SORT_KEYS[target], reverse=order == SortOrder.DESCEND)
        more = False
        if 0 < request.limit < len(kvs):
            del kvs[request.limit :]
            more = True
        if request.keys_only:
            kvs = [KeyValue(kv.key, kv.create_revision, kv.mod_revision, kv.version, b"", kv.lease) for kv in kvs]
        return RangeResponse(current, kvs, more, count)

    def _put(self, request: PutRequest, revision: int) -> KeyValue | None:
        """Write a checked put at ``revision``; returns the version it replaced."""
        key = request.key
        value = request.value
        lease = request.lease
        if request.ignore_value or request.ignore_lease:
            current = self._index.latest(key)
            if current is not None:
                value = current.value if request.ignore_value else value
                lease = current.lease if request.ignore_lease else lease
        prev = self._index.put(key, value, lease, revision)
        old_lease = prev.lease if prev is not None else 0
        if old_lease != lease:
            if old_lease:
                self.lessor.detach(old_lease, key)
            if lease:
                self.lessor.attach(lease, key)
        return prev

    def _delete(self, request: DeleteRangeRequest, revision: int) -> list[KeyValue]:
        """Delete the existing keys of the request at ``revision``; returns their last versions."""
        index = self._index
        key = request.key
        end = span_end(key, request.range_end)
        if end is not None:
            keys = index.keys_latest(key, end)
        elif index.latest(key) is not None:
            keys = [key]
        else:
            return []
        prevs: list[KeyValue] = []
        lessor = self.lessor
        for k in keys:
            prev = index.delete(k, revision)
            if prev.lease:
                lessor.detach(prev.lease, k)
            prevs.append(prev)
        return prevs

    def _txn(self, request: TxnRequest) -> TxnResponse:
        check_txn(request)
        # Like etcd, every compare (nested ones too) sees the state before the txn, and every
        # operation that could fail is checked before the first write, so a txn applies whole or not at all.
        path: list[bool] = []
        self._choose(request, path)
        self._check_branch(request, iter(path))
        mark = len(self._index.log)
        response = self._execute_txn(request, iter(path), self._revision, mark)
        self._commit(mark)
        return response

    def _choose(self, request: TxnRequest, path: list[bool]) -> None:
        """Append the branch taken by ``request`` and its nested txns, in pre-order."""
        succeeded = all(self._compare(c) for c in request.compare)
        path.append(succeeded)
        for op in request.success if succeeded else request.failure:
            if isinstance(op, TxnRequest):
                self._choose(op, path)

    def _check_branch(self, request: TxnRequest, path: Iterator[bool]) -> None:
        for op in request.success if next(path) else request.failure:
            if isinstance(op, PutRequest):
                self._check_put_state(op)
            elif isinstance(op, RangeRequest):
                self._check_read_revision(op.revision, self._revision)
            elif isinstance(op, TxnRequest):
                self._check_branch(op, path)

    def _execute_txn(self, request: TxnRequest, path: Iterator[bool], begin: int, mark: int) -> TxnResponse:
        succeeded = next(path)
        revision = begin + 1
        log = self._index.log
        responses: list[Response] = []
        for op in request.success if succeeded else request.failure:
            if isinstance(op, RangeRequest):
                responses.append(self._range(op, revision if len(log) > mark else begin))
            elif isinstance(op, PutRequest):
                prev = self._put(op, revision)
                responses.append(PutResponse(revision, prev if op.prev_kv else None))
            elif isinstance(op, DeleteRangeRequest):
                prevs = self._delete(op, revision)
                written = revision if len(log) > mark else begin
                responses.append(DeleteRangeResponse(written, len(prevs), prevs if op.prev_kv else []))
            else:
                nested = self._execute_txn(op, path, begin, mark)
                # etcd leaves a nested txn's header empty: only the outermost response carries a revision.
                nested.revision = 0
                responses.append(nested)
        return TxnResponse(revision if len(log) > mark else begin, succeeded, responses)

    def _compare(self, compare: Compare) -> bool:
        """etcd's applyCompare: the compare must hold for every key in its range; no key at all compares
        as a zero KeyValue, except that a VALUE compare then fails."""
        index = self._index
        end = span_end(compare.key, compare.range_end)
        if end is None:
            kv = index.latest(compare.key)
            kvs = [] if kv is None else [kv]
        else:
            kvs = index.range_latest(compare.key, end, 0)
        if not kvs:
            return _holds(compare, None)
        return all(_holds(compare, kv) for kv in kvs)


def _holds(compare: Compare, kv: KeyValue | None) -> bool:
    operand = compare.operand
    if compare.target == CompareTarget.VALUE:
        if kv is None:
            # etcd: a missing key has no value to compare (gRPC cannot tell an absent value from b"").
            return False
        # A mistyped operand compares as the zero value, as a protobuf oneof left unset would.
        expected = operand if isinstance(operand, bytes) else b""
        sign = (kv.value > expected) - (kv.value < expected)
    else:
        actual = _INT_FIELDS[compare.target](kv) if kv is not None else 0
        number = operand if isinstance(operand, int) else 0
        sign = (actual > number) - (actual < number)
    result = compare.result
    if result == CompareResult.EQUAL:
        return sign == 0
    if result == CompareResult.NOT_EQUAL:
        return sign != 0
    if result == CompareResult.GREATER:
        return sign > 0
    return sign < 0


def _within(kv: KeyValue, request: RangeRequest) -> bool:
    """etcd's min/max mod/create revision filters (0: no bound)."""
    return not (
        (request.max_mod_revision and kv.mod_revision > request.max_mod_revision)
        or (request.min_mod_revision and kv.mod_revision < request.min_mod_revision)
        or (request.max_create_revision and kv.create_revision > request.max_create_revision)
        or (request.min_create_revision and kv.create_revision < request.min_create_revision)
    )
