"""StoreClient's own HTTP/2 transport (store.grpc_channel) against real members.

Members are real processes: our store (plain: its own HTTP/2 server; TLS: grpcio's server) and Debian's
etcd (grpc-go), so flow control, GOAWAY, connection loss and TLS with client certificates meet the
servers the client really talks to.
"""

from __future__ import annotations

import asyncio
import signal

import pytest

from store.client import AmbiguousWriteError, StoreClient, TLSConfig, WatchUpdate, compare_create, op_put
from store.errors import EtcdError
from store.grpc_status import StatusCode
from tests.integration.store_cluster import ETCD, TINYKUBE_STORE, StoreCluster, make_tls

pytestmark = pytest.mark.slow

VALUE = 200 * 1024  # more than the 64 KiB a grpcio or grpc-go server lets a stream send before WINDOW_UPDATE
COMMANDS = {"tinykube": TINYKUBE_STORE, "etcd": ETCD}


def _cluster(processes, port, tmp_path, kind: str, *, size: int = 3, tls: bool = False) -> StoreCluster:
    files = make_tls(tmp_path / "pki") if tls else None
    cluster = StoreCluster(processes, port, tmp_path, size=size, tls=files, command=COMMANDS[kind])
    cluster.start_all()
    return cluster


def _client(cluster: StoreCluster, **kwargs: float) -> StoreClient:
    tls = cluster.tls
    config = TLSConfig(tls.ca, tls.client_cert, tls.client_key) if tls is not None else None
    return StoreClient(cluster.endpoints, tls=config, **kwargs)


@pytest.mark.parametrize(("kind", "tls"), [("tinykube", False), ("tinykube", True), ("etcd", True)])
async def test_large_values_and_oversized_ranges_pass_flow_control(processes, port, tmp_path, kind, tls):
    cluster = _cluster(processes, port, tmp_path, kind, size=1, tls=tls)
    values = {f"/big/{i:02d}": bytes([65 + i]) * VALUE for i in range(11)}
    async with _client(cluster) as client:
        await asyncio.gather(*(client.put(k, v) for k, v in values.items()))
        for key, value in values.items():
            kv = await client.get(key)
            assert kv is not None and kv.value == value

        # 11 values of 200 KiB exceeds the 2 MiB message limit: refused mid-response, as grpcio refused it.
        with pytest.raises(EtcdError) as too_big:
            await client.range("/big/", prefix=True)
        assert too_big.value.code == StatusCode.RESOURCE_EXHAUSTED and "larger than max" in too_big.value.message
        # The reset stream's leftover data does not upset the connection: the next calls work on it.
        page = await client.range("/big/", prefix=True, limit=5)
        assert [kv.value for kv in page.kvs] == list(values.values())[:5] and page.more
        txn = await client.txn([compare_create("/big/new", "==", 0)], [op_put("/big/new", b"n" * VALUE)])
        assert txn.succeeded


async def test_a_watch_takes_more_than_its_stream_window(processes, port, tmp_path):
    """The member may send 16 MiB ahead on a stream; 18 MiB of events arrive only if consuming them reopens it."""
    cluster = _cluster(processes, port, tmp_path, "tinykube", size=1)
    count = 90
    async with _client(cluster) as writer, _client(cluster) as watcher:
        start = (await writer.put("/flood/start", "0")).header.revision + 1
        seen: list[int] = []

        async def consume() -> None:
            async for update in watcher.watch("/flood/", prefix=True, start_revision=start):
                seen.extend(e.kv.mod_revision for e in update.events if len(e.kv.value) == VALUE)
                if len(seen) >= count:
                    return

        consumer = asyncio.create_task(consume())
        sem = asyncio.Semaphore(8)

        async def put(i: int) -> int:
            async with sem:
                return (await writer.put(f"/flood/{i % 10}", bytes([i % 256]) * VALUE)).header.revision

        written = sorted(await asyncio.gather(*(put(i) for i in range(count))))
        await asyncio.wait_for(consumer, 120)
        assert seen == written


@pytest.mark.parametrize("kind", ["tinykube", "etcd"])
async def test_writes_across_a_leader_kill_are_acknowledged_or_ambiguous(processes, port, tmp_path, kind):
    cluster = _cluster(processes, port, tmp_path, kind)
    acked: dict[str, str] = {}
    ambiguous: list[str] = []
    async with _client(cluster, timeout=10.0) as client:
        await client.put("/kill/warmup", "0")
        victim_endpoint = await client.leader_endpoint()
        victim = next(m for m in cluster.members if m.endpoint == victim_endpoint)
        stop = asyncio.Event()

        async def writer(w: int) -> None:
            i = 0
            while not stop.is_set():
                key, value = f"/kill/{w}/{i}", f"{w}-{i}"
                try:
                    await client.put(key, value)
                    acked[key] = value
                except AmbiguousWriteError:
                    ambiguous.append(key)
                i += 1

        writers = [asyncio.create_task(writer(w)) for w in range(16)]
        await asyncio.sleep(1.0)
        before = len(acked)
        cluster.procs[victim.name].send_signal(signal.SIGKILL)
        cluster.procs[victim.name].wait()
        deadline = asyncio.get_running_loop().time() + 30
        while len(acked) < before + 50:  # writes go on through the new leader
            assert asyncio.get_running_loop().time() < deadline, (before, len(acked), ambiguous)
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.gather(*writers)  # any error other than "ambiguous" fails the test here

        assert await client.leader_endpoint() != victim_endpoint
        stored = await client.range("/kill/", prefix=True)
        found = {kv.key.decode(): kv.value.decode() for kv in stored.kvs}
        assert all(found.get(k) == v for k, v in acked.items()), "an acknowledged write is missing"
        assert set(found) <= set(acked) | set(ambiguous) | {"/kill/warmup"}


async def test_a_write_to_a_leader_that_stops_answering_is_ambiguous(processes, port, tmp_path):
    cluster = _cluster(processes, port, tmp_path, "tinykube")
    async with _client(cluster, timeout=1.5) as client:
        await client.put("/stall/before", "1")
        leader_endpoint = await client.leader_endpoint()
        leader = next(m for m in cluster.members if m.endpoint == leader_endpoint)
        cluster.procs[leader.name].send_signal(signal.SIGSTOP)
        try:
            # Sent on a live connection, never answered: it may yet be applied, so it must not be resent.
            with pytest.raises(AmbiguousWriteError) as err:
                await client.put("/stall/during", "2")
            assert err.value.code == StatusCode.DEADLINE_EXCEEDED
            # Reads are safe to repeat: the client moves on to a member that answers.
            deadline = asyncio.get_running_loop().time() + 30
            while True:
                try:
                    kv = await client.get("/stall/before")
                    break
                except EtcdError:
                    assert asyncio.get_running_loop().time() < deadline
            assert kv is not None and kv.value == b"1"
        finally:
            cluster.procs[leader.name].send_signal(signal.SIGCONT)


def _revisions(updates: list[WatchUpdate]) -> list[int]:
    return [e.kv.mod_revision for u in updates for e in u.events]


@pytest.mark.parametrize(("kind", "stop"), [("tinykube", signal.SIGTERM), ("etcd", signal.SIGKILL)])
async def test_watch_resumes_on_another_member_without_loss_or_repeat(processes, port, tmp_path, kind, stop):
    """SIGTERM: our member sends GOAWAY and ends its streams; SIGKILL: etcd's connection just drops."""
    cluster = _cluster(processes, port, tmp_path, kind)
    async with _client(cluster, timeout=10.0) as writer, _client(cluster, timeout=10.0) as watcher:
        start = (await writer.put("/resume/0", "0")).header.revision
        revisions = [start]
        updates: list[WatchUpdate] = []
        victim_endpoint = await watcher.leader_endpoint()  # the member the watch is about to use
        victim = next(m for m in cluster.members if m.endpoint == victim_endpoint)

        async def collect() -> None:
            async for update in watcher.watch("/resume/", prefix=True, start_revision=start):
                updates.append(update)

        collector = asyncio.create_task(collect())
        for i in range(1, 40):
            if i == 15:
                cluster.procs[victim.name].send_signal(stop)
                cluster.procs[victim.name].wait()
            while True:
                try:
                    revisions.append((await writer.put(f"/resume/{i % 5}", str(i))).header.revision)
                    break
                except AmbiguousWriteError:
                    pass  # the old leader went away mid-write: the next value goes under a new revision
        deadline = asyncio.get_running_loop().time() + 30
        while len(_revisions(updates)) < len(revisions):
            assert asyncio.get_running_loop().time() < deadline, (_revisions(updates), revisions)
            await asyncio.sleep(0.1)
        collector.cancel()
        await asyncio.gather(collector, return_exceptions=True)
        got = _revisions(updates)
        assert got == sorted(set(got)), "an event was delivered twice or out of order"
        assert set(revisions) <= set(got)


async def test_leases_and_transactions_on_etcd(processes, port, tmp_path):
    cluster = _cluster(processes, port, tmp_path, "etcd", size=1)
    async with _client(cluster) as client:
        lease = await client.lease_grant(30)
        assert await client.lease_keepalive_once(lease.ID) > 0
        await client.put("/lease/k", "v", lease=lease.ID)
        ttl = await client.lease_time_to_live(lease.ID, keys=True)
        assert ttl.keys == [b"/lease/k"]
        created = await client.txn([compare_create("/lease/k", "==", 0)], [op_put("/lease/k", "again")])
        assert not created.succeeded
        await client.lease_revoke(lease.ID)
        assert await client.get("/lease/k") is None
        with pytest.raises(EtcdError) as gone:
            await client.lease_keepalive_once(lease.ID)
        assert gone.value.code == StatusCode.NOT_FOUND
        members = await client.member_list()
        assert len(members.members) == 1
