"""Leases: grant, attach on put, revoke deleting keys in one revision, expiry on the primary only."""

from __future__ import annotations

from collections import Counter

import pytest

from store.mvcc.errors import (
    LeaseExistsError,
    LeaseNotFoundError,
    LeaseTTLTooLargeError,
    NotPrimaryError,
)
from store.mvcc.kvstore import KVStore
from store.mvcc.lessor import LEASE_REVOKE_RATE, MAX_LEASE_TTL, Lessor
from store.mvcc.types import EventType, PutRequest


def test_grant_checks_id_ttl_and_existence() -> None:
    lessor = Lessor(min_ttl=2)
    assert lessor.grant(1, 1, now=0.0) == 2  # raised to the minimum
    assert lessor.grant(2, 30, now=0.0) == 30
    with pytest.raises(LeaseExistsError) as exists:
        lessor.grant(1, 10, now=0.0)
    assert exists.value.message == "etcdserver: lease already exists"
    with pytest.raises(LeaseTTLTooLargeError):
        lessor.grant(3, MAX_LEASE_TTL + 1, now=0.0)
    with pytest.raises(LeaseNotFoundError):
        lessor.grant(0, 10, now=0.0)
    assert lessor.leases() == [1, 2]
    assert 1 in lessor and 3 not in lessor


def test_revoke_deletes_attached_keys_in_one_revision_with_events() -> None:
    store = KVStore()
    store.lessor.grant(9, 60, now=0.0)
    store.put(b"b", b"1", lease=9)
    store.put(b"a", b"1", lease=9)
    store.put(b"c", b"1")
    watcher = store.watch_hub.watch(b"\0", b"\0")
    assert store.lease_revoke(9) == 5
    (batch,) = watcher.drain()
    assert batch.revision == 5
    assert [(e.type, e.kv.key) for e in batch.events] == [(EventType.DELETE, b"a"), (EventType.DELETE, b"b")]
    assert [kv.key for kv in store.range(b"\0", b"\0").kvs] == [b"c"]
    with pytest.raises(LeaseNotFoundError):
        store.lease_revoke(9)


def test_revoking_a_lease_without_keys_takes_no_revision() -> None:
    store = KVStore()
    store.lessor.grant(1, 60, now=0.0)
    assert store.lease_revoke(1) == 1
    assert store.lessor.leases() == []


def test_keys_move_between_leases_and_leave_on_delete() -> None:
    store = KVStore()
    for lease_id in (1, 2):
        store.lessor.grant(lease_id, 60, now=0.0)
    store.put(b"a", b"1", lease=1)
    store.put(b"b", b"1", lease=1)
    store.put(b"a", b"2", lease=2)  # moves a from 1 to 2
    store.put(b"b", b"2")  # detaches b
    store.txn([], [PutRequest(b"c", b"1", lease=1)], [])
    assert store.lessor.time_to_live(1, now=0.0, keys=True).keys == [b"c"]
    assert store.lessor.time_to_live(2, now=0.0, keys=True).keys == [b"a"]
    store.delete_range(b"a")
    assert store.lessor.time_to_live(2, now=0.0, keys=True).keys == []
    store.lease_revoke(1)
    assert store.range(b"c").kvs == []
    assert store.range(b"b").kvs[0].value == b"2"


def test_only_the_primary_tracks_expiry() -> None:
    lessor = Lessor()
    lessor.grant(1, 10, now=100.0)
    assert lessor.expired(now=1e9) == []  # a follower never expires leases itself
    with pytest.raises(NotPrimaryError):
        lessor.renew(1, now=100.0)
    lessor.promote(now=200.0, extend=5.0)
    assert lessor.is_primary
    assert lessor.expired(now=214.9) == []
    assert lessor.expired(now=215.0) == [1]
    lessor.demote()
    assert lessor.expired(now=1e9) == []


def test_renew_restarts_the_clock_and_expired_leases_cannot_be_renewed() -> None:
    lessor = Lessor()
    lessor.promote(now=0.0)
    lessor.grant(1, 10, now=0.0)
    lessor.grant(2, 20, now=0.0)
    assert lessor.renew(1, now=8.0) == 10
    assert lessor.time_to_live(1, now=9.0).ttl == 9
    assert lessor.expired(now=18.0) == [1]
    assert lessor.expired(now=25.0) == [1, 2]  # earliest expiry first
    with pytest.raises(LeaseNotFoundError):
        lessor.renew(1, now=18.5)
    with pytest.raises(LeaseNotFoundError):
        lessor.renew(3, now=0.0)


def test_time_to_live_reports_remaining_and_granted() -> None:
    lessor = Lessor()
    lessor.promote(now=0.0)
    lessor.grant(1, 60, now=10.0)
    status = lessor.time_to_live(1, now=40.5)
    assert (status.id, status.ttl, status.granted_ttl, status.keys) == (1, 29, 60, [])
    with pytest.raises(LeaseNotFoundError):
        lessor.time_to_live(2, now=0.0)


def test_a_checkpointed_remaining_ttl_survives_a_leader_change() -> None:
    lessor = Lessor()
    lessor.grant(1, 60, now=0.0)
    lessor.checkpoint(1, 15)
    lessor.promote(now=100.0)
    assert lessor.expired(now=114.0) == []
    assert lessor.expired(now=115.0) == [1]
    lessor.renew(1, now=114.0)  # a keep-alive forgets the checkpoint
    assert lessor.expired(now=173.0) == []


def test_promote_spreads_expiries_that_would_exceed_the_revoke_rate() -> None:
    lessor = Lessor()
    count = 2 * LEASE_REVOKE_RATE
    for lease_id in range(1, count + 1):
        lessor.grant(lease_id, 10, now=0.0)
    lessor.promote(now=0.0)
    per_second = Counter(lessor.time_to_live(lease_id, now=0.0).ttl for lease_id in lessor.leases())
    assert min(per_second) == 10
    assert max(per_second.values()) <= 3 * LEASE_REVOKE_RATE // 4 + 1
    assert per_second.total() == count


def test_expired_hands_out_a_bounded_batch_and_retries_after_an_interval() -> None:
    lessor = Lessor()
    lessor.promote(now=0.0)
    for lease_id in range(1, 6):
        lessor.grant(lease_id, 10, now=float(lease_id))
    assert lessor.expired(now=20.0, limit=2) == [1, 2]
    assert lessor.expired(now=20.0, limit=2) == [3, 4]
    assert lessor.expired(now=20.0) == [5]
    assert lessor.expired(now=22.9) == []
    assert lessor.expired(now=23.0) == [1, 2, 3, 4, 5]  # revokes not applied yet: ask again


def test_leases_survive_a_snapshot_with_their_keys() -> None:
    store = KVStore()
    store.lessor.grant(1, 60, now=0.0)
    store.lessor.grant(2, 30, now=0.0)
    store.lessor.checkpoint(2, 7)
    store.put(b"a", b"1", lease=1)
    store.put(b"b", b"1", lease=1)
    store.delete_range(b"b")
    restored = KVStore()
    restored.restore(store.snapshot())
    assert restored.lessor.leases() == [1, 2]
    assert restored.lessor.time_to_live(1, now=0.0, keys=True).keys == [b"a"]
    restored.lessor.promote(now=0.0)
    assert restored.lessor.expired(now=7.0) == [2]
    restored.lease_revoke(1)
    assert restored.range(b"a").kvs == []
