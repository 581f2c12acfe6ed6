"""Conversions between etcd's protobuf messages and the data model's plain-Python types.

The data model stays free of protobuf (it is replayed from the log and snapshotted with msgpack);
the wire speaks protobuf. This module is the one border between them.
"""

from __future__ import annotations

from protos.etcd import kv_pb2, rpc_pb2
from store.mvcc import types as t


def kv_to_pb(kv: t.KeyValue) -> kv_pb2.KeyValue:
    return kv_pb2.KeyValue(key=kv.key, create_revision=kv.create_revision, mod_revision=kv.mod_revision,
                           version=kv.version, value=kv.value, lease=kv.lease)


def event_to_pb(event: t.Event, *, prev_kv: bool) -> kv_pb2.Event:
    pb = kv_pb2.Event(type=int(event.type), kv=kv_to_pb(event.kv))  # type: ignore[arg-type]
    if prev_kv and event.prev_kv is not None:
        pb.prev_kv.CopyFrom(kv_to_pb(event.prev_kv))
    return pb


def range_from_pb(req: rpc_pb2.RangeRequest) -> t.RangeRequest:
    return t.RangeRequest(key=req.key, range_end=req.range_end, limit=req.limit, revision=req.revision,
                          sort_order=t.SortOrder(req.sort_order), sort_target=t.SortTarget(req.sort_target),
                          keys_only=req.keys_only, count_only=req.count_only,
                          min_mod_revision=req.min_mod_revision, max_mod_revision=req.max_mod_revision,
                          min_create_revision=req.min_create_revision, max_create_revision=req.max_create_revision)


def put_from_pb(req: rpc_pb2.PutRequest) -> t.PutRequest:
    return t.PutRequest(key=req.key, value=req.value, lease=req.lease, prev_kv=req.prev_kv,
                        ignore_value=req.ignore_value, ignore_lease=req.ignore_lease)


def delete_from_pb(req: rpc_pb2.DeleteRangeRequest) -> t.DeleteRangeRequest:
    return t.DeleteRangeRequest(key=req.key, range_end=req.range_end, prev_kv=req.prev_kv)


def compare_from_pb(cmp: rpc_pb2.Compare) -> t.Compare:
    target = t.CompareTarget(cmp.target)
    operand: bytes | int
    if target is t.CompareTarget.VALUE:
        operand = cmp.value
    elif target is t.CompareTarget.VERSION:
        operand = cmp.version
    elif target is t.CompareTarget.CREATE:
        operand = cmp.create_revision
    elif target is t.CompareTarget.MOD:
        operand = cmp.mod_revision
    else:
        operand = cmp.lease
    return t.Compare(key=cmp.key, target=target, result=t.CompareResult(cmp.result), operand=operand,
                     range_end=cmp.range_end)


def op_from_pb(op: rpc_pb2.RequestOp) -> t.Op:
    which = op.WhichOneof("request")
    if which == "request_range":
        return range_from_pb(op.request_range)
    if which == "request_put":
        return put_from_pb(op.request_put)
    if which == "request_delete_range":
        return delete_from_pb(op.request_delete_range)
    if which == "request_txn":
        return txn_from_pb(op.request_txn)
    raise ValueError("txn operation carries no request")


def txn_from_pb(req: rpc_pb2.TxnRequest) -> t.TxnRequest:
    return t.TxnRequest(compare=[compare_from_pb(c) for c in req.compare],
                        success=[op_from_pb(op) for op in req.success],
                        failure=[op_from_pb(op) for op in req.failure])


def _header(revision: int) -> rpc_pb2.ResponseHeader:
    return rpc_pb2.ResponseHeader(revision=revision)


def range_to_pb(resp: t.RangeResponse) -> rpc_pb2.RangeResponse:
    return rpc_pb2.RangeResponse(header=_header(resp.revision), kvs=[kv_to_pb(kv) for kv in resp.kvs],
                                 more=resp.more, count=resp.count)


def put_to_pb(resp: t.PutResponse) -> rpc_pb2.PutResponse:
    pb = rpc_pb2.PutResponse()
    pb.header.revision = resp.revision  # half the cost of building the header apart and passing it in
    if resp.prev_kv is not None:
        pb.prev_kv.CopyFrom(kv_to_pb(resp.prev_kv))
    return pb


def delete_to_pb(resp: t.DeleteRangeResponse) -> rpc_pb2.DeleteRangeResponse:
    return rpc_pb2.DeleteRangeResponse(header=_header(resp.revision), deleted=resp.deleted,
                                       prev_kvs=[kv_to_pb(kv) for kv in resp.prev_kvs])


def response_op_to_pb(resp: t.Response) -> rpc_pb2.ResponseOp:
    if isinstance(resp, t.RangeResponse):
        return rpc_pb2.ResponseOp(response_range=range_to_pb(resp))
    if isinstance(resp, t.PutResponse):
        return rpc_pb2.ResponseOp(response_put=put_to_pb(resp))
    if isinstance(resp, t.DeleteRangeResponse):
        return rpc_pb2.ResponseOp(response_delete_range=delete_to_pb(resp))
    return rpc_pb2.ResponseOp(response_txn=txn_to_pb(resp))


def txn_to_pb(resp: t.TxnResponse) -> rpc_pb2.TxnResponse:
    return rpc_pb2.TxnResponse(header=_header(resp.revision), succeeded=resp.succeeded,
                               responses=[response_op_to_pb(r) for r in resp.responses])
