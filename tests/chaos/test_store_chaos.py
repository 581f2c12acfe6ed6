"""The store under chaos: concurrent clients read, write and compare-and-swap while the leader is SIGKILLed
again and again and then partitioned away; the recorded history must be linearizable, and every
acknowledged write must be in every member's history afterwards."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest

from protos.etcd import rpc_pb2, rpc_pb2_grpc
from tests.support.linearizability import History, check

BIN = Path(sys.executable).parent / "tinykube"
KEYS = [f"/chaos/k{i}" for i in range(4)]
pytestmark = pytest.mark.slow


def tk(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN), *argv], capture_output=True, text=True, timeout=180)


@pytest.fixture
def cluster(prefix, tmp_path, cleanup):
    state = tmp_path / "state"
    cleanup.add(lambda: tk("down", "--name", prefix, "--state-dir", str(state)))
    up = tk("up", "--name", prefix, "--state-dir", str(state), "-d")
    assert up.returncode == 0, up.stdout + up.stderr
    status = json.loads(tk("status", "--name", prefix, "--state-dir", str(state), "-o", "json").stdout)
    return ["--name", prefix, "--state-dir", str(state)], [n["ip"] for n in status["nodes"]]


async def client(pid: int, ips: list[str], history: History, until: float, rng: random.Random) -> None:
    channels = [grpc.aio.insecure_channel(f"{ip}:2379") for ip in ips]
    seq = 0
    try:
        while time.monotonic() < until:
            kv = rpc_pb2_grpc.KVStub(rng.choice(channels))
            key = rng.choice(KEYS)
            kind = rng.choice(["read", "read", "write", "cas"])
            seq += 1
            value = f"{pid}-{seq}"
            if kind == "read":
                op = history.invoke(pid, "read", key)
                try:
                    resp = await kv.Range(rpc_pb2.RangeRequest(key=key.encode()), timeout=1.0)
                    history.ok(op, resp.kvs[0].value.decode() if resp.kvs else None)
                except grpc.aio.AioRpcError:
                    history.fail(op)  # a read changes nothing, so a failed one can be dropped
            elif kind == "write":
                op = history.invoke(pid, "write", key, value)
                try:
                    await kv.Put(rpc_pb2.PutRequest(key=key.encode(), value=value.encode()), timeout=1.0)
                    history.ok(op)
                except grpc.aio.AioRpcError:
                    history.info(op)  # may or may not have been committed
            else:
                current = await _peek(kv, key)
                op = history.invoke(pid, "cas", key, (current, value))
                cmp = (rpc_pb2.Compare(key=key.encode(), target=rpc_pb2.Compare.VERSION, version=0)
                       if current is None else
                       rpc_pb2.Compare(key=key.encode(), target=rpc_pb2.Compare.VALUE, value=current.encode()))
                try:
                    txn = await kv.Txn(rpc_pb2.TxnRequest(compare=[cmp], success=[rpc_pb2.RequestOp(
                        request_put=rpc_pb2.PutRequest(key=key.encode(), value=value.encode()))]), timeout=1.0)
                    history.ok(op, txn.succeeded)
                except grpc.aio.AioRpcError:
                    history.info(op)
    finally:
        for ch in channels:
            await ch.close(None)


async def _peek(kv: rpc_pb2_grpc.KVAsyncStub, key: str) -> str | None:
    try:
        resp = await kv.Range(rpc_pb2.RangeRequest(key=key.encode(), serializable=True), timeout=1.0)
    except grpc.aio.AioRpcError:
        return None
    return str(resp.kvs[0].value.decode()) if resp.kvs else None


async def chaos(args: list[str], until: float, log: list[str]) -> None:
    await asyncio.sleep(1.5)
    while time.monotonic() < until - 8:
        out = await asyncio.to_thread(tk, "chaos", *args, "kill-leader", "store")
        log.append(out.stdout.strip() or out.stderr.strip())
        await asyncio.sleep(3)
    leader = await asyncio.to_thread(_leader, args)
    if leader:
        out = await asyncio.to_thread(tk, "chaos", *args, "partition", leader)
        log.append(out.stdout.strip() or out.stderr.strip())
        await asyncio.sleep(4)
    out = await asyncio.to_thread(tk, "chaos", *args, "heal")
    log.append(out.stdout.strip())


def _leader(args: list[str]) -> str | None:
    leader = json.loads(tk("status", *args, "-o", "json").stdout)["leaders"]["store"]
    return str(leader) if leader else None


def member_history(ip: str) -> dict[str, list[str]]:
    """Every value each key ever had, in order, as this member's own MVCC history tells it."""
    async def read() -> dict[str, list[str]]:
        async with grpc.aio.insecure_channel(f"{ip}:2379") as ch:
            kv = rpc_pb2_grpc.KVStub(ch)
            head = await kv.Range(rpc_pb2.RangeRequest(key=b"/chaos/", range_end=b"/chaos0", serializable=True),
                                  timeout=5)
            seen: dict[str, list[str]] = {k: [] for k in KEYS}
            for rev in range(2, head.header.revision + 1):
                resp = await kv.Range(rpc_pb2.RangeRequest(key=b"/chaos/", range_end=b"/chaos0", revision=rev,
                                                           serializable=True, min_mod_revision=rev), timeout=5)
                for item in resp.kvs:
                    seen[item.key.decode()].append(item.value.decode())
            return seen
    return asyncio.run(read())


def test_leader_kills_and_partition_keep_the_store_linearizable(cluster):
    args, ips = cluster
    history = History()
    log: list[str] = []

    async def run() -> None:
        until = time.monotonic() + 22
        rng = random.Random(7)
        await asyncio.gather(chaos(args, until, log),
                             *(client(i, ips, history, until, random.Random(rng.random())) for i in range(6)))

    asyncio.run(run())
    ops = history.operations
    acked = [op for op in ops if op.status == "ok"]
    assert len(acked) > 200, f"too little got through: {len(acked)} of {len(ops)}; chaos: {log}"
    assert sum("killed store" in line for line in log) >= 3, log
    assert any("partitioned" in line for line in log), log

    result = check(ops)
    assert result.linearizable is True, result.explain()

    time.sleep(3)  # the healed member catches up
    histories = [member_history(ip) for ip in ips]
    assert histories[0] == histories[1] == histories[2]
    for op in acked:
        if op.kind == "write" or (op.kind == "cas" and op.output is True):
            written = op.value if op.kind == "write" else op.value[1]  # type: ignore[index]
            assert written in histories[0][str(op.key)], f"acknowledged {op.describe()} is missing"
    print(f"\nchaos: {len(ops)} operations, {len(acked)} acknowledged; " + "; ".join(log))
