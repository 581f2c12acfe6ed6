"""Key-range helpers of the store client: etcd's prefix convention, byte for byte."""

from __future__ import annotations

from protos.etcd import rpc_pb2
from store.client import compare_create, op_delete, prefix_end


def test_prefix_end_is_the_first_key_after_every_key_with_the_prefix():
    assert prefix_end("/registry/pods/") == b"/registry/pods0"
    assert prefix_end(b"a\xff") == b"b"
    assert prefix_end(b"a\xff\xff") == b"b"
    # No key is greater than every key starting with 0xff: etcd then means "to the end".
    assert prefix_end(b"\xff\xff") == b"\0"
    assert prefix_end(b"") == b"\0"


def test_txn_builders_fill_etcds_fields():
    cmp = compare_create("/registry/x", "==", 0)
    assert (cmp.key, cmp.target, cmp.result, cmp.WhichOneof("target_union")) == (
        b"/registry/x", rpc_pb2.Compare.CREATE, rpc_pb2.Compare.EQUAL, "create_revision")
    op = op_delete("/a/", prefix=True, prev_kv=True).request_delete_range
    assert (op.key, op.range_end, op.prev_kv) == (b"/a/", b"/a0", True)
