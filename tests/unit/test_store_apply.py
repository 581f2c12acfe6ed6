"""The applier: etcd requests as log entries, applied deterministically, failing identically everywhere."""

from __future__ import annotations

import pytest

from protos.etcd import rpc_pb2
from store import errors
from store.apply import Applier, decode_entry, encode_entry, lease_revoke_proposal
from store.errors import EtcdError
from store.grpc_status import StatusCode
from store.mvcc.kvstore import KVStore


def _applier(now: list[float] | None = None) -> Applier:
    clock = now or [100.0]
    return Applier(KVStore(), clock=lambda: clock[0])


def _put(key: bytes, value: bytes, **kw: int) -> bytes:
    return rpc_pb2.PutRequest(key=key, value=value, **kw).SerializeToString()  # type: ignore[arg-type]


def test_entry_encoding_round_trips_and_rejects_foreign_data():
    data = encode_entry(7 << 48 | 3, "put", b"\x01\x02")
    assert decode_entry(data) == (7 << 48 | 3, "put", b"\x01\x02")
    for garbage in (b"", b"\xc1", encode_entry(1, "put", b"")[:-1]):
        with pytest.raises(ValueError):
            decode_entry(garbage)


def test_same_entries_give_same_responses_and_state_on_every_member():
    entries = [
        ("put", _put(b"a", b"1")),
        ("put", _put(b"b", b"2")),
        ("txn", rpc_pb2.TxnRequest(
            compare=[rpc_pb2.Compare(key=b"a", target=rpc_pb2.Compare.VALUE, value=b"1")],
            success=[rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"a", value=b"3")),
                     rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=b"b"))]).SerializeToString()),
        ("delete", rpc_pb2.DeleteRangeRequest(key=b"a", range_end=b"c", prev_kv=True).SerializeToString()),
        ("compact", rpc_pb2.CompactionRequest(revision=3).SerializeToString()),
    ]
    members = [_applier(), _applier()]
    results = [[m.apply(kind, payload) for kind, payload in entries] for m in members]
    assert results[0] == results[1]
    txn = results[0][2]
    assert isinstance(txn, rpc_pb2.TxnResponse)
    assert txn.succeeded and txn.header.revision == 4
    assert txn.responses[1].response_range.kvs[0].value == b"2"
    deleted = results[0][3]
    assert isinstance(deleted, rpc_pb2.DeleteRangeResponse)
    assert deleted.deleted == 2 and [kv.value for kv in deleted.prev_kvs] == [b"3", b"2"]
    assert members[0].hash_kv(0) == members[1].hash_kv(0) == (members[0].hash_kv(0)[0], 3)
    assert members[0].snapshot() == members[1].snapshot()


def test_a_member_nobody_waits_on_applies_the_same_without_building_responses():
    entries = [
        ("put", _put(b"a", b"1")),
        ("txn", rpc_pb2.TxnRequest(success=[rpc_pb2.RequestOp(
            request_put=rpc_pb2.PutRequest(key=b"b", value=b"2"))]).SerializeToString()),
        ("delete", rpc_pb2.DeleteRangeRequest(key=b"a").SerializeToString()),
        ("put", _put(b"c", b"3", lease=42)),  # fails: the error is still returned
    ]
    proposer, follower = _applier(), _applier()
    answered = [proposer.apply(kind, payload) for kind, payload in entries]
    silent = [follower.apply(kind, payload, respond=False) for kind, payload in entries]
    assert isinstance(answered[0], rpc_pb2.PutResponse) and answered[0].header.revision == 2
    assert silent == [None, None, None, errors.LEASE_NOT_FOUND]
    assert proposer.snapshot() == follower.snapshot()


def test_failures_are_returned_not_raised():
    applier = _applier()
    assert applier.apply("put", _put(b"k", b"v", lease=42)) == errors.LEASE_NOT_FOUND
    assert applier.apply("compact", rpc_pb2.CompactionRequest(revision=50).SerializeToString()) == errors.FUTURE_REV
    malformed = applier.apply("put", b"\xff\xff\xff")
    assert isinstance(malformed, EtcdError) and malformed.code == StatusCode.INVALID_ARGUMENT
    unknown = applier.apply("frobnicate", b"")
    assert isinstance(unknown, EtcdError) and "unknown request kind" in unknown.message
    assert applier.revision == 1  # nothing above changed the store


def test_no_space_alarm_refuses_writes_but_not_deletes_until_disarmed():
    applier = _applier()
    applier.apply("put", _put(b"k", b"v"))
    alarm = rpc_pb2.AlarmRequest(action=rpc_pb2.AlarmRequest.ACTIVATE, memberID=9, alarm=rpc_pb2.NOSPACE)
    raised = applier.apply("alarm", alarm.SerializeToString())
    assert isinstance(raised, rpc_pb2.AlarmResponse) and [a.memberID for a in raised.alarms] == [9]
    assert applier.no_space
    assert applier.apply("put", _put(b"k2", b"v")) == errors.NO_SPACE
    assert applier.apply("lease_grant", rpc_pb2.LeaseGrantRequest(ID=5, TTL=10).SerializeToString()) \
        == errors.NO_SPACE
    assert isinstance(applier.apply("delete", rpc_pb2.DeleteRangeRequest(key=b"k").SerializeToString()),
                      rpc_pb2.DeleteRangeResponse)
    restored = _applier()
    restored.restore(applier.snapshot())
    assert restored.no_space and [a.memberID for a in restored.alarms(rpc_pb2.AlarmRequest())] == [9]
    alarm.action = rpc_pb2.AlarmRequest.DEACTIVATE
    applier.apply("alarm", alarm.SerializeToString())
    assert applier.alarms(rpc_pb2.AlarmRequest()) == []
    assert isinstance(applier.apply("put", _put(b"k2", b"v")), rpc_pb2.PutResponse)


def test_leases_grant_renew_expire_and_report_like_etcd():
    now = [100.0]
    applier = _applier(now)
    applier.kv.lessor.promote(now[0])
    granted = applier.apply("lease_grant", rpc_pb2.LeaseGrantRequest(ID=77, TTL=10).SerializeToString())
    assert isinstance(granted, rpc_pb2.LeaseGrantResponse) and (granted.ID, granted.TTL) == (77, 10)
    applier.apply("put", _put(b"leased", b"v", lease=77))
    now[0] += 6
    ttl = applier.lease_time_to_live(rpc_pb2.LeaseTimeToLiveRequest(ID=77, keys=True))
    assert (ttl.TTL, ttl.grantedTTL, list(ttl.keys)) == (4, 10, [b"leased"])
    assert applier.lease_renew(77) == 10
    assert applier.lease_renew(78) == 0  # etcd answers a keep-alive for an unknown lease with TTL 0
    assert applier.lease_time_to_live(rpc_pb2.LeaseTimeToLiveRequest(ID=78)).TTL == -1
    now[0] += 11
    assert applier.kv.lessor.expired(now[0]) == [77]
    kind, payload = lease_revoke_proposal(77)
    assert isinstance(applier.apply(kind, payload), rpc_pb2.LeaseRevokeResponse)
    assert not applier.range(rpc_pb2.RangeRequest(key=b"leased")).kvs
    assert applier.lease_ids() == []
