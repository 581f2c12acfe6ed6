"""etcd's Txn: compares, branches, one revision per txn, nested txns and the duplicate-key rule."""

from __future__ import annotations

import pytest

from store.mvcc.errors import (
    CompactedError,
    DuplicateKeyError,
    EmptyKeyError,
    FutureRevisionError,
    KeyNotFoundError,
    LeaseNotFoundError,
)
from store.mvcc.kvstore import KVStore
from store.mvcc.types import (
    Compare,
    CompareResult,
    CompareTarget,
    DeleteRangeRequest,
    DeleteRangeResponse,
    Op,
    PutRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
    TxnRequest,
    TxnResponse,
)
from store.mvcc.validation import check_txn

EQ, GT, LT, NE = CompareResult.EQUAL, CompareResult.GREATER, CompareResult.LESS, CompareResult.NOT_EQUAL


@pytest.fixture
def store() -> KVStore:
    s = KVStore()
    s.lessor.grant(5, 60, now=0.0)
    s.put(b"k", b"m")  # 2
    s.put(b"k", b"m", lease=5)  # 3: create 2, mod 3, version 2, lease 5
    return s


def holds(store: KVStore, compare: Compare) -> bool:
    return store.txn([compare], [], []).succeeded


@pytest.mark.parametrize(
    ("target", "operand", "below", "equal", "above"),
    [
        (CompareTarget.VERSION, 2, 1, 2, 3),
        (CompareTarget.CREATE, 2, 1, 2, 3),
        (CompareTarget.MOD, 3, 2, 3, 4),
        (CompareTarget.LEASE, 5, 4, 5, 6),
        (CompareTarget.VALUE, b"m", b"l", b"m", b"n"),
    ],
)
def test_compare_matrix(
    store: KVStore,
    target: CompareTarget,
    operand: bytes | int,
    below: bytes | int,
    equal: bytes | int,
    above: bytes | int,
) -> None:
    # The kv's field compared with the operand: "field GREATER below", "field LESS above", ...
    expectations = {
        (below, EQ): False,
        (below, NE): True,
        (below, GT): True,
        (below, LT): False,
        (equal, EQ): True,
        (equal, NE): False,
        (equal, GT): False,
        (equal, LT): False,
        (above, EQ): False,
        (above, NE): True,
        (above, GT): False,
        (above, LT): True,
    }
    assert operand == equal
    for (value, result), expected in expectations.items():
        assert holds(store, Compare(b"k", target, result, value)) is expected, (value, result)


def test_a_missing_key_compares_as_zero_except_on_value(store: KVStore) -> None:
    assert holds(store, Compare(b"nope", CompareTarget.VERSION, EQ, 0))
    assert holds(store, Compare(b"nope", CompareTarget.CREATE, EQ, 0))
    assert holds(store, Compare(b"nope", CompareTarget.MOD, LT, 1))
    assert holds(store, Compare(b"nope", CompareTarget.LEASE, EQ, 0))
    assert not holds(store, Compare(b"nope", CompareTarget.VALUE, EQ, b""))
    assert not holds(store, Compare(b"nope", CompareTarget.VALUE, NE, b"x"))


def test_a_mistyped_operand_compares_as_the_zero_value(store: KVStore) -> None:
    assert holds(store, Compare(b"k", CompareTarget.VERSION, GT, b"2"))  # int target, bytes operand -> 0
    assert holds(store, Compare(b"k", CompareTarget.VALUE, GT, 7))  # value target, int operand -> b""


def test_range_compare_must_hold_for_every_key(store: KVStore) -> None:
    store.put(b"p/1", b"a")
    store.put(b"p/2", b"b")
    assert holds(store, Compare(b"p/", CompareTarget.VERSION, EQ, 1, range_end=b"p0"))
    assert holds(store, Compare(b"p/", CompareTarget.VALUE, GT, b"", range_end=b"p0"))
    assert not holds(store, Compare(b"p/", CompareTarget.VALUE, EQ, b"a", range_end=b"p0"))
    store.put(b"p/2", b"c")
    assert not holds(store, Compare(b"p/", CompareTarget.VERSION, EQ, 1, range_end=b"p0"))
    # An empty range compares like a missing key; "\0" means every key >= key.
    assert holds(store, Compare(b"q/", CompareTarget.VERSION, EQ, 0, range_end=b"q0"))
    assert not holds(store, Compare(b"q/", CompareTarget.VALUE, EQ, b"", range_end=b"q0"))
    assert not holds(store, Compare(b"a", CompareTarget.VERSION, EQ, 1, range_end=b"\0"))
    assert holds(store, Compare(b"p/", CompareTarget.CREATE, GT, 0, range_end=b"\0"))


def test_all_compares_must_hold(store: KVStore) -> None:
    ok = Compare(b"k", CompareTarget.VERSION, EQ, 2)
    bad = Compare(b"k", CompareTarget.VERSION, EQ, 3)
    assert store.txn([ok, ok], [], []).succeeded
    assert not store.txn([ok, bad], [], []).succeeded
    assert store.txn([], [], []).succeeded


def test_branches_run_in_one_revision_and_return_responses(store: KVStore) -> None:
    guard = [Compare(b"a", CompareTarget.VERSION, EQ, 0)]  # create-if-absent
    success: list[Op] = [PutRequest(b"a", b"1"), PutRequest(b"b", b"2", prev_kv=True), RangeRequest(b"a", b"c")]
    response = store.txn(guard, success, [RangeRequest(b"k")])
    assert response.succeeded
    assert response.revision == 4
    put_a, put_b, read = response.responses
    assert isinstance(put_a, PutResponse) and put_a.revision == 4
    assert isinstance(put_b, PutResponse) and put_b.prev_kv is None
    assert isinstance(read, RangeResponse)
    assert [(kv.key, kv.mod_revision) for kv in read.kvs] == [(b"a", 4), (b"b", 4)]
    assert read.revision == 4
    failed = store.txn(guard, success, [RangeRequest(b"k")])
    assert not failed.succeeded
    assert failed.revision == 4  # read-only branch: no revision
    (only,) = failed.responses
    assert isinstance(only, RangeResponse) and only.kvs[0].key == b"k"


def test_reads_before_the_first_write_see_the_old_revision(store: KVStore) -> None:
    response = store.txn([], [RangeRequest(b"k"), DeleteRangeRequest(b"k", prev_kv=True), RangeRequest(b"k")], [])
    before, deleted, after = response.responses
    assert isinstance(before, RangeResponse) and before.revision == 3 and len(before.kvs) == 1
    assert isinstance(deleted, DeleteRangeResponse) and deleted.deleted == 1 and deleted.revision == 4
    assert deleted.prev_kvs[0].value == b"m"
    assert isinstance(after, RangeResponse) and after.revision == 4 and after.kvs == []
    assert store.range(b"k", revision=3).kvs[0].value == b"m"


def test_a_delete_of_nothing_inside_a_txn_takes_no_revision(store: KVStore) -> None:
    response = store.txn([], [DeleteRangeRequest(b"x", b"z")], [])
    assert response.revision == 3
    assert store.revision == 3
    (deleted,) = response.responses
    assert isinstance(deleted, DeleteRangeResponse) and (deleted.deleted, deleted.revision) == (0, 3)


def test_delete_and_recreate_in_one_txn_via_a_nested_branch_is_rejected(store: KVStore) -> None:
    nested = TxnRequest([], [PutRequest(b"k", b"new")], [])
    with pytest.raises(DuplicateKeyError):
        store.txn([], [DeleteRangeRequest(b"k"), nested], [])


def test_nested_txns_use_compares_evaluated_before_any_write(store: KVStore) -> None:
    # The nested compare sees k at version 2 even though the outer branch rewrote it first.
    inner = TxnRequest([Compare(b"k", CompareTarget.VERSION, EQ, 2)], [PutRequest(b"inner", b"yes")], [])
    response = store.txn([], [PutRequest(b"k", b"x"), inner], [])
    nested = response.responses[1]
    assert isinstance(nested, TxnResponse) and nested.succeeded
    assert nested.revision == 0  # etcd leaves nested headers empty
    assert store.range(b"inner").kvs[0].mod_revision == response.revision == 4


def test_nested_failure_branch(store: KVStore) -> None:
    inner = TxnRequest(
        [Compare(b"k", CompareTarget.VALUE, EQ, b"other")], [PutRequest(b"x", b"then")], [PutRequest(b"x", b"else")]
    )
    outer = store.txn([Compare(b"k", CompareTarget.VALUE, EQ, b"m")], [inner], [])
    assert outer.succeeded
    nested = outer.responses[0]
    assert isinstance(nested, TxnResponse) and not nested.succeeded
    assert store.range(b"x").kvs[0].value == b"else"


@pytest.mark.parametrize(
    "ops",
    [
        [PutRequest(b"a"), PutRequest(b"a")],
        [PutRequest(b"a"), DeleteRangeRequest(b"a")],
        [DeleteRangeRequest(b"a", b"c"), PutRequest(b"b")],
        [DeleteRangeRequest(b"a", b"\0"), PutRequest(b"z")],
        [PutRequest(b"a"), TxnRequest([], [PutRequest(b"a")], [])],
        [TxnRequest([], [PutRequest(b"a")], []), TxnRequest([], [], [PutRequest(b"a")])],
        [TxnRequest([], [DeleteRangeRequest(b"a")], []), PutRequest(b"a")],
        [DeleteRangeRequest(b"a"), TxnRequest([], [], [PutRequest(b"a")])],
    ],
)
def test_a_branch_writing_a_key_twice_is_rejected(store: KVStore, ops: list[Op]) -> None:
    with pytest.raises(DuplicateKeyError) as error:
        store.txn([], ops, [])
    assert error.value.message == "etcdserver: duplicate key given in txn request"
    assert store.revision == 3


@pytest.mark.parametrize(
    "ops",
    [
        [DeleteRangeRequest(b"a", b"c"), DeleteRangeRequest(b"b")],  # deletes may overlap
        [TxnRequest([], [PutRequest(b"a")], [PutRequest(b"a")])],  # exclusive branches
        [PutRequest(b"a"), RangeRequest(b"a")],
        [DeleteRangeRequest(b"a", b"b"), PutRequest(b"b")],  # the end is exclusive
    ],
)
def test_allowed_overlaps(store: KVStore, ops: list[Op]) -> None:
    check_txn(TxnRequest([], ops, []))
    store.txn([], ops, [])


def test_duplicates_in_the_success_and_failure_branches_do_not_conflict(store: KVStore) -> None:
    response = store.txn([], [PutRequest(b"a", b"s")], [PutRequest(b"a", b"f")])
    assert response.succeeded
    assert store.range(b"a").kvs[0].value == b"s"


def test_failed_checks_leave_the_store_untouched(store: KVStore) -> None:
    with pytest.raises(LeaseNotFoundError):
        store.txn([], [PutRequest(b"a", b"1"), PutRequest(b"b", b"2", lease=42)], [])
    with pytest.raises(KeyNotFoundError):
        store.txn([], [PutRequest(b"a", b"1"), PutRequest(b"missing", ignore_value=True)], [])
    with pytest.raises(FutureRevisionError):
        store.txn([], [PutRequest(b"a", b"1"), RangeRequest(b"k", revision=99)], [])
    store.compact(3)
    with pytest.raises(CompactedError):
        store.txn([], [PutRequest(b"a", b"1"), RangeRequest(b"k", revision=2)], [])
    with pytest.raises(EmptyKeyError):
        store.txn([Compare(b"", CompareTarget.VERSION, EQ, 0)], [], [])
    with pytest.raises(EmptyKeyError):
        store.txn([], [TxnRequest([], [], [PutRequest(b"")])], [])
    assert store.revision == 3
    assert store.range(b"a").kvs == []


def test_checks_only_cover_the_branch_taken(store: KVStore) -> None:
    # A bad lease in the branch not taken does not fail the txn, as in etcd.
    response = store.txn(
        [Compare(b"k", CompareTarget.VERSION, EQ, 2)], [PutRequest(b"a")], [PutRequest(b"b", lease=42)]
    )
    assert response.succeeded


def test_ignore_value_inside_a_txn(store: KVStore) -> None:
    store.txn([], [PutRequest(b"k", ignore_value=True, ignore_lease=True)], [])
    (kv,) = store.range(b"k").kvs
    assert (kv.value, kv.lease, kv.version) == (b"m", 5, 3)


def test_execute_dispatches_on_the_request_type(store: KVStore) -> None:
    assert isinstance(store.execute(RangeRequest(b"k")), RangeResponse)
    assert isinstance(store.execute(PutRequest(b"a", b"1")), PutResponse)
    assert isinstance(store.execute(DeleteRangeRequest(b"a")), DeleteRangeResponse)
    assert isinstance(store.execute(TxnRequest()), TxnResponse)
    assert store.revision == 5
