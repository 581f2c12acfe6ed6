"""One ``StoreNode`` in its own process, driven over a line-JSON TCP port: a test rig for crash tests.

It exercises the engine (WAL, transport, Raft driver, applier) without the gRPC face, so crash tests
of the engine do not depend on the API layer. Requests, one JSON object per line:

    {"op": "put", "key": k, "value": v}                -> {"ok": true, "revision": n}
    {"op": "cas", "key": k, "old": v|null, "new": v}   -> {"ok": true, "swapped": bool}
    {"op": "get", "key": k}                            -> {"ok": true, "value": v|null}   (linearizable)
    {"op": "dump"}                     -> {"ok": true, "kvs": {k: v, ...}, "versions": {k: n, ...}}  (linearizable)
    {"op": "status"}                                   -> {"ok": true, "leader": id, "member": id, ...}

Failures answer ``{"ok": false, "error": message}``. Usage:
``python -m tests.support.store_node_runner NAME DATA_DIR CONTROL_PORT name=peer_url,...``
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import uvloop

from process import log as process_log
from protos.etcd import rpc_pb2
from store.apply import Applier
from store.errors import EtcdError
from store.mvcc.kvstore import KVStore
from store.node import NodeConfig, StoreNode


def _cas_request(key: bytes, old: str | None, new: str) -> bytes:
    compare = (rpc_pb2.Compare(key=key, result=rpc_pb2.Compare.EQUAL, target=rpc_pb2.Compare.CREATE, create_revision=0)
               if old is None else
               rpc_pb2.Compare(key=key, result=rpc_pb2.Compare.EQUAL, target=rpc_pb2.Compare.VALUE,
                               value=old.encode()))
    put = rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=key, value=new.encode()))
    return rpc_pb2.TxnRequest(compare=[compare], success=[put]).SerializeToString()


async def _handle(node: StoreNode, applier: Applier, request: dict[str, Any]) -> dict[str, Any]:
    op = request["op"]
    if op == "status":
        return {"ok": True, **node.status()}
    if op == "dump":
        await node.read_index()
        kvs = applier.range(rpc_pb2.RangeRequest(key=b"\0", range_end=b"\0")).kvs
        return {"ok": True, "kvs": {kv.key.decode(): kv.value.decode() for kv in kvs},
                "versions": {kv.key.decode(): kv.version for kv in kvs}}
    key = str(request["key"]).encode()
    if op == "put":
        payload = rpc_pb2.PutRequest(key=key, value=str(request["value"]).encode()).SerializeToString()
        result = await node.propose("put", payload)
        if isinstance(result, EtcdError):
            raise result
        assert isinstance(result, rpc_pb2.PutResponse)
        return {"ok": True, "revision": result.header.revision}
    if op == "cas":
        result = await node.propose("txn", _cas_request(key, request["old"], str(request["new"])))
        if isinstance(result, EtcdError):
            raise result
        assert isinstance(result, rpc_pb2.TxnResponse)
        return {"ok": True, "swapped": result.succeeded}
    if op == "get":
        await node.read_index()
        kvs = applier.range(rpc_pb2.RangeRequest(key=key)).kvs
        return {"ok": True, "value": kvs[0].value.decode() if kvs else None}
    return {"ok": False, "error": f"unknown op {op!r}"}


async def _main(name: str, data_dir: str, control_port: int, cluster: dict[str, str]) -> None:
    applier = Applier(KVStore())
    config = NodeConfig(name=name, data_dir=Path(data_dir), initial_cluster={n: [u] for n, u in cluster.items()},
                        listen_peer_urls=[cluster[name]], initial_cluster_token="crash-test",
                        heartbeat_interval_ms=50, election_timeout_ms=500, snapshot_count=200, catchup_entries=50,
                        request_timeout=3.0)
    node = StoreNode(config, applier, applier.kv.lessor)
    await node.start()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    reply = await _handle(node, applier, json.loads(line))
                except EtcdError as exc:
                    reply = {"ok": False, "error": exc.message}
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", control_port)
    async with server:
        await server.serve_forever()


def main(argv: list[str]) -> None:
    name, data_dir, port, cluster = argv
    process_log.configure("store", 0)
    members = dict(item.split("=", 1) for item in cluster.split(","))
    uvloop.run(_main(name, data_dir, int(port), members))


if __name__ == "__main__":
    main(sys.argv[1:])
