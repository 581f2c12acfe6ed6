"""Store members as real processes, killed with SIGKILL under load: nothing acknowledged is lost.

The members run ``tests.support.store_node_runner`` (the engine without the gRPC face), so these
tests pin down the WAL's fsync discipline, recovery and the Raft driver on their own.
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.linearizability import History, check
from tests.support.processes import Processes

pytestmark = pytest.mark.slow

NAMES = ("n1", "n2", "n3")


class Members:
    def __init__(self, root: Path, processes: Processes, port: Callable[[], int]) -> None:
        self.root = root
        self.processes = processes
        self.peer = {n: f"http://127.0.0.1:{port()}" for n in NAMES}
        self.control = {n: port() for n in NAMES}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        cluster = ",".join(f"{n}={u}" for n, u in self.peer.items())
        self.procs[name] = self.processes.start(name, [sys.executable, "-m", "tests.support.store_node_runner", name,
                                                       str(self.root / name), str(self.control[name]), cluster])

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.kill()
        proc.wait()

    async def request(self, name: str, body: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        async def call() -> dict[str, Any]:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.control[name], limit=1 << 26)
            try:
                writer.write(json.dumps(body).encode() + b"\n")
                line = await reader.readline()
                if not line:
                    raise ConnectionResetError("member closed the connection")
                reply: dict[str, Any] = json.loads(line)
                return reply
            finally:
                writer.close()
        return await asyncio.wait_for(call(), timeout)

    async def leader(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name in list(self.procs):
                try:
                    status = await self.request(name, {"op": "status"}, timeout=1.0)
                except (OSError, TimeoutError):
                    continue
                if status["role"] == "LEADER":
                    return name
            await asyncio.sleep(0.05)
        raise AssertionError(f"no leader within {timeout}s; logs:\n" +
                             "\n".join(self.processes.log(n)[-2000:] for n in NAMES))


@pytest.fixture
def members(tmp_path: Path, processes: Processes, port: Callable[[], int]) -> Members:
    return Members(tmp_path, processes, port)


async def test_acknowledged_writes_survive_sigkill_of_every_member(members):
    for name in NAMES:
        members.start(name)
    await members.leader()
    acked: dict[str, str] = {}
    stop = asyncio.Event()

    async def writer(client: int) -> None:
        for n in range(10**6):
            if stop.is_set():
                return
            key, value = f"c{client}-{n}", f"v{n}"
            try:
                reply = await members.request(random.choice(NAMES), {"op": "put", "key": key, "value": value})
            except (OSError, TimeoutError):
                await asyncio.sleep(0.01)
                continue
            if reply["ok"]:
                acked[key] = value

    writers = [asyncio.ensure_future(writer(i)) for i in range(8)]
    await asyncio.sleep(2.0)
    for name in NAMES:  # all at once, mid-stream: only fsynced entries may have been acknowledged
        members.kill(name)
    stop.set()
    await asyncio.gather(*writers)
    assert len(acked) > 50

    for name in NAMES:
        members.start(name)
    await members.leader()
    for name in NAMES:
        reply = await members.request(name, {"op": "dump"}, timeout=15)
        assert reply["ok"], reply
        missing = [(k, v, reply["kvs"].get(k)) for k, v in acked.items() if reply["kvs"].get(k) != v]
        assert not missing, f"{name} lost {len(missing)} acknowledged writes, e.g. {missing[:3]}"


async def test_histories_stay_linearizable_while_the_leader_is_killed(members):
    for name in NAMES:
        members.start(name)
    await members.leader()
    history = History()
    keys = ["a", "b", "c"]
    stop = asyncio.Event()

    async def client(pid: int) -> None:
        rng = random.Random(pid)
        n = 0
        while not stop.is_set():
            n += 1
            key, member = rng.choice(keys), rng.choice(NAMES)
            kind = rng.choice(["get", "put", "cas"])
            if kind == "get":
                op = history.invoke(pid, "read", key)
                body: dict[str, Any] = {"op": "get", "key": key}
            elif kind == "put":
                value = f"{pid}-{n}"
                op = history.invoke(pid, "write", key, value)
                body = {"op": "put", "key": key, "value": value}
            else:
                old, new = rng.choice([None, *(f"{p}-{m}" for p in range(4) for m in range(max(1, n - 3), n + 1))]), \
                    f"{pid}-{n}"
                op = history.invoke(pid, "cas", key, (old, new))
                body = {"op": "cas", "key": key, "old": old, "new": new}
            try:
                reply = await members.request(member, body, timeout=4.0)
            except (OSError, TimeoutError):
                # reads have no effect; a write whose answer was lost may or may not have happened
                history.fail(op) if kind == "get" else history.info(op)
                await asyncio.sleep(0.05)
                continue
            if not reply["ok"]:
                definite = kind == "get" or reply["error"] == "etcdserver: no leader"
                history.fail(op) if definite else history.info(op)
            elif kind == "get":
                history.ok(op, reply["value"])
            elif kind == "put":
                history.ok(op)
            else:
                history.ok(op, reply["swapped"])

    clients = [asyncio.ensure_future(client(pid)) for pid in range(4)]
    for _ in range(3):
        await asyncio.sleep(1.5)
        leader = await members.leader()
        members.kill(leader)
        await asyncio.sleep(0.5)
        members.start(leader)
    await asyncio.sleep(1.5)
    stop.set()
    await asyncio.gather(*clients)
    completed = [op for op in history.operations if op.status == "ok"]
    assert len(completed) > 100
    result = check(history.operations)
    assert result.linearizable is True, result.explain()


async def test_writes_in_flight_when_the_leader_dies_complete_once(members):
    for name in NAMES:
        members.start(name)
    leader = await members.leader()
    followers = [n for n in NAMES if n != leader]
    acked: set[str] = set()
    stop = asyncio.Event()
    killed_at: list[float] = []
    slow: list[float] = []

    async def writer(client: int) -> None:
        for n in range(10**6):
            if stop.is_set():
                return
            key, started = f"w{client}-{n}", time.monotonic()
            try:
                reply = await members.request(followers[client % 2], {"op": "put", "key": key, "value": "x"},
                                              timeout=10)
            except (OSError, TimeoutError):
                continue
            if reply["ok"]:
                acked.add(key)
                if killed_at and started < killed_at[0]:
                    slow.append(time.monotonic() - killed_at[0])

    writers = [asyncio.ensure_future(writer(i)) for i in range(16)]
    await asyncio.sleep(1.0)
    members.kill(leader)
    killed_at.append(time.monotonic())
    await asyncio.sleep(3.0)
    stop.set()
    await asyncio.gather(*writers)
    # the writes in flight at the kill were re-sent to the new leader and answered, not timed out
    assert slow and max(slow) < 3.0
    dump = await members.request(followers[0], {"op": "dump"}, timeout=15)
    assert acked <= set(dump["kvs"])
    twice = {k: v for k, v in dump["versions"].items() if v != 1}
    assert not twice, f"writes applied more than once: {twice}"
