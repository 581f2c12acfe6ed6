"""store/client.py against three real members: typed calls, leader following, watch resume across a crash."""

from __future__ import annotations

import asyncio
import itertools
import signal
from collections.abc import AsyncIterator

import grpc
import pytest

from protos.etcd import kv_pb2, rpc_pb2, rpc_pb2_grpc
from store import errors
from store.apply import Applier
from store.client import (
    AmbiguousWriteError,
    StoreClient,
    TLSConfig,
    WatchCompactedError,
    WatchUpdate,
    compare_create,
    compare_mod,
    compare_value,
    compare_version,
    op_delete,
    op_get,
    op_put,
)
from store.errors import EtcdError
from store.grpc_status import StatusCode
from store.mvcc.kvstore import KVStore
from tests.integration.store_cluster import StoreCluster, make_tls

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(processes, port, tmp_path) -> StoreCluster:
    c = StoreCluster(processes, port, tmp_path)
    c.start_all()
    return c


async def test_kv_txn_lease_and_maintenance_calls(cluster: StoreCluster):
    async with StoreClient(cluster.endpoints) as client:
        put = await client.put("/registry/pods/default/a", "1")
        first = put.header.revision
        assert first > 0 and put.header.cluster_id and put.header.member_id and put.header.raft_term
        await client.put("/registry/pods/default/b", "2")
        await client.put("/registry/pods/kube-system/c", "3")

        kv = await client.get("/registry/pods/default/a")
        assert kv is not None and kv.value == b"1" and kv.create_revision == first == kv.mod_revision
        assert await client.get("/registry/pods/default/none") is None

        page = await client.range("/registry/pods/", prefix=True, limit=2)
        assert [k.key for k in page.kvs] == [b"/registry/pods/default/a", b"/registry/pods/default/b"]
        assert page.more and page.count == 3
        rest = await client.range(page.kvs[-1].key + b"\0", "/registry/pods0", revision=page.header.revision)
        assert [k.key for k in rest.kvs] == [b"/registry/pods/kube-system/c"]
        serial = await client.range("/registry/pods/", prefix=True, serializable=True, count_only=True)
        assert serial.count == 3 and not serial.kvs

        # The apiserver's create (absent) and update (unchanged since rv) as compare-and-swap.
        created = await client.txn([compare_create("/registry/x", "==", 0)], [op_put("/registry/x", "v1")],
                                   [op_get("/registry/x")])
        assert created.succeeded
        rv = created.header.revision
        again = await client.txn([compare_create("/registry/x", "==", 0)], [op_put("/registry/x", "v1")],
                                 [op_get("/registry/x")])
        assert not again.succeeded and again.responses[0].response_range.kvs[0].mod_revision == rv
        updated = await client.txn([compare_mod("/registry/x", "==", rv)], [op_put("/registry/x", "v2")])
        assert updated.succeeded and updated.header.revision == rv + 1
        stale = await client.txn([compare_mod("/registry/x", "==", rv)], [op_put("/registry/x", "v3")])
        assert not stale.succeeded

        deleted = await client.delete("/registry/pods/", prefix=True, prev_kv=True)
        assert deleted.deleted == 3 and sorted(kv.value for kv in deleted.prev_kvs) == [b"1", b"2", b"3"]

        lease = await client.lease_grant(30)
        assert lease.ID > 0 and lease.TTL == 30
        await client.put("/leased", "v", lease=lease.ID)
        assert await client.lease_keepalive_once(lease.ID) == 30
        ttl = await client.lease_time_to_live(lease.ID, keys=True)
        assert ttl.grantedTTL == 30 and list(ttl.keys) == [b"/leased"]
        assert lease.ID in [s.ID for s in (await client.lease_leases()).leases]
        await client.lease_revoke(lease.ID)
        assert await client.get("/leased") is None
        with pytest.raises(EtcdError) as gone:
            await client.lease_keepalive_once(lease.ID)
        assert gone.value == errors.LEASE_NOT_FOUND

        await client.compact(rv)
        with pytest.raises(EtcdError) as compacted:
            await client.range("/registry/x", revision=rv - 1)
        assert compacted.value == errors.COMPACTED

        swapped = await client.txn([compare_value("/registry/x", "==", "v2"), compare_version("/registry/x", ">", 1)],
                                   [op_delete("/registry/x", prev_kv=True)])
        assert swapped.succeeded and swapped.responses[0].response_delete_range.prev_kvs[0].value == b"v2"

        renewals = client.lease_keepalive((await client.lease_grant(20)).ID)
        assert await anext(renewals) == 20
        await renewals.aclose()

        members = await client.member_list()
        assert sorted(m.name for m in members.members) == ["m1", "m2", "m3"]
        status = await client.status()
        assert status.leader in {m.ID for m in members.members}
        for member in cluster.members:
            assert (await client.status(member.endpoint)).header.member_id in {m.ID for m in members.members}
        leader = status.leader
        target = next(member_id for member_id in (m.ID for m in members.members) if member_id != leader)
        await client.move_leader(target)
        assert (await client.status()).leader == target


async def _collect(watch, into: list[WatchUpdate], until: int) -> None:
    async for update in watch:
        into.append(update)
        if update.events and update.events[-1].kv.mod_revision >= until:
            return


def _revisions(updates: list[WatchUpdate]) -> list[int]:
    return [e.kv.mod_revision for u in updates for e in u.events]


async def test_watch_resumes_after_its_member_is_killed(cluster: StoreCluster):
    async with StoreClient(cluster.endpoints) as writer, StoreClient(cluster.endpoints) as watcher:
        start = (await writer.put("/w/0", "0")).header.revision
        updates: list[WatchUpdate] = []
        watch = watcher.watch("/w/", prefix=True, start_revision=start, prev_kv=True)
        revisions = [start]
        first = asyncio.create_task(_collect(watch, updates, start))
        await asyncio.wait_for(first, 10)

        # The watch's member dies with SIGKILL between writes; the watch resumes on another member.
        victim_endpoint = await watcher.leader_endpoint()
        victim = next(m for m in cluster.members if m.endpoint == victim_endpoint)
        rest = asyncio.create_task(_collect(watch, updates, 10**9))
        for i in range(1, 40):
            if i == 15:
                # Killed between two writes: once it is gone, a write cannot be half-sent to it.
                cluster.procs[victim.name].send_signal(signal.SIGKILL)
                cluster.procs[victim.name].wait()
                await asyncio.sleep(0.3)
            resp = await writer.put(f"/w/{i % 7}", str(i))
            revisions.append(resp.header.revision)
        deadline = asyncio.get_running_loop().time() + 20
        while _revisions(updates) != revisions:
            assert asyncio.get_running_loop().time() < deadline, (_revisions(updates), revisions)
            assert len(_revisions(updates)) <= len(revisions), "an event was delivered twice"
            await asyncio.sleep(0.1)
        rest.cancel()
        await asyncio.gather(rest, return_exceptions=True)

        events = [e for u in updates for e in u.events]
        assert [e.kv.value for e in events] == [str(i).encode() for i in range(40)]
        # prev_kv survives the resume: /w/1 was written at i=1 before i=8 overwrote it.
        eighth = events[8]
        assert eighth.kv.key == b"/w/1" and eighth.prev_kv.value == b"1"
        assert all(e.type == kv_pb2.Event.PUT for e in events)


async def test_watch_from_compacted_revision_raises(cluster: StoreCluster):
    async with StoreClient(cluster.endpoints) as client:
        old = (await client.put("k", "1")).header.revision
        now = (await client.put("k", "2")).header.revision
        await client.compact(now)
        with pytest.raises(WatchCompactedError) as err:
            async for _ in client.watch("k", start_revision=old):
                pass
        assert err.value.compact_revision == now


async def test_writes_follow_a_new_leader_after_the_old_one_is_killed(cluster: StoreCluster):
    async with StoreClient(cluster.endpoints, timeout=10.0) as client:
        await client.put("before", "1")
        leader_endpoint = await client.leader_endpoint()
        leader = next(m for m in cluster.members if m.endpoint == leader_endpoint)
        cluster.procs[leader.name].send_signal(signal.SIGKILL)
        cluster.procs[leader.name].wait()
        await asyncio.sleep(0.3)  # the client's connection sees the reset: the next write is never half-sent
        # The next write reaches a new leader: retried only while it provably was not sent.
        resp = await client.put("after", "2")
        assert resp.header.member_id != 0
        assert (await client.get("before")).value == b"1"  # type: ignore[union-attr]
        assert await client.leader_endpoint() != leader.endpoint
        status = await client.status()
        assert status.leader == resp.header.member_id or status.leader != 0
        value = await client.range("after", serializable=False)
        assert [kv.value for kv in value.kvs] == [b"2"]


async def test_oversized_request_gets_etcds_error(cluster: StoreCluster):
    async with StoreClient(cluster.endpoints) as client:
        with pytest.raises(EtcdError) as err:
            await client.put("big", b"x" * (1536 * 1024 + 1))
        assert err.value == errors.REQUEST_TOO_LARGE
        txn = rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"", value=b"v"))
        with pytest.raises(EtcdError) as empty:
            await client.txn([], [txn])
        assert empty.value == errors.EMPTY_KEY


async def _next_response(call, timeout: float = 5.0) -> rpc_pb2.WatchResponse:
    resp = await asyncio.wait_for(call.read(), timeout)
    assert isinstance(resp, rpc_pb2.WatchResponse)
    return resp


async def test_watch_stream_ids_filters_progress_and_cancel(cluster: StoreCluster):
    async with StoreClient(cluster.endpoints) as client, \
            grpc.aio.insecure_channel(cluster.members[0].endpoint) as channel:
        stub = rpc_pb2_grpc.WatchStub(channel)
        call = stub.Watch(None)
        create = rpc_pb2.WatchCreateRequest
        await call.write(rpc_pb2.WatchRequest(create_request=create(key=b"f/", range_end=b"f0",
                                                                    filters=[create.NOPUT])))
        first = await _next_response(call)
        assert first.created and first.watch_id == 0
        await call.write(rpc_pb2.WatchRequest(create_request=create(key=b"f/a", watch_id=7, prev_kv=True)))
        second = await _next_response(call)
        assert second.created and second.watch_id == 7
        await call.write(rpc_pb2.WatchRequest(create_request=create(key=b"x", watch_id=7)))
        duplicate = await _next_response(call)
        assert duplicate.created and duplicate.canceled and duplicate.watch_id == 7

        put = await client.put("f/a", "1")
        update = await _next_response(call)  # only watch 7 sees a put; watch 0 filters puts out
        assert update.watch_id == 7 and [e.kv.value for e in update.events] == [b"1"]
        deleted = await client.delete("f/a")
        seen = {}
        for _ in range(2):
            resp = await _next_response(call)
            seen[resp.watch_id] = resp
        assert set(seen) == {0, 7}
        assert seen[0].events[0].type == kv_pb2.Event.DELETE and not seen[0].events[0].HasField("prev_kv")
        assert seen[7].events[0].prev_kv.value == b"1"
        assert seen[0].events[0].kv.mod_revision == deleted.header.revision == put.header.revision + 1

        await call.write(rpc_pb2.WatchRequest(progress_request=rpc_pb2.WatchProgressRequest()))
        progress = await _next_response(call)
        assert progress.watch_id == -1 and not progress.events
        assert progress.header.revision >= deleted.header.revision

        await call.write(rpc_pb2.WatchRequest(cancel_request=rpc_pb2.WatchCancelRequest(watch_id=7)))
        canceled = await _next_response(call)
        assert canceled.canceled and canceled.watch_id == 7
        await client.put("f/a", "2")
        await client.delete("f/a")
        after = await _next_response(call)
        assert after.watch_id == 0 and after.events[0].type == kv_pb2.Event.DELETE
        call.cancel()


async def test_malformed_requests_do_not_hurt_the_member(cluster: StoreCluster):
    member = cluster.members[0]
    async with grpc.aio.insecure_channel(member.endpoint) as channel:
        for method in ("/etcdserverpb.KV/Put", "/etcdserverpb.KV/Txn", "/etcdserverpb.Lease/LeaseGrant",
                       "/etcdserverpb.Maintenance/Alarm"):
            raw = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await raw(b"\xff\xff\xff\xff garbage", timeout=5)
            # grpcio answers an undecodable request itself (UNKNOWN; Go's gRPC says INTERNAL).
            assert err.value.code() in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL)
        nested = rpc_pb2.TxnRequest(success=[rpc_pb2.RequestOp()])  # an operation with no request in it
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await rpc_pb2_grpc.KVStub(channel).Txn(nested, timeout=5)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    async with StoreClient([member.endpoint]) as client:
        assert (await client.put("still", "serving")).header.revision > 0
    assert cluster.procs[member.name].poll() is None


async def test_client_over_tls(processes, port, tmp_path):
    tls = make_tls(tmp_path / "pki")
    cluster = StoreCluster(processes, port, tmp_path, tls=tls)
    cluster.start_all()
    config = TLSConfig(ca_file=tls.ca, cert_file=tls.client_cert, key_file=tls.client_key)
    async with StoreClient(cluster.endpoints, tls=config) as client:
        put = await client.put("tls", "ok")
        kv = await client.get("tls")
        assert kv is not None and kv.mod_revision == put.header.revision
    with pytest.raises(ValueError, match="TLS configuration"):
        StoreClient(cluster.endpoints)


class _ScriptedMember(rpc_pb2_grpc.KVServicer, rpc_pb2_grpc.MaintenanceServicer):
    """An in-process member whose Put/Range fail as scripted, to pin down what the client retries."""

    def __init__(self, member_id: int, leader_id: int, failures: list[tuple[StatusCode, str]]) -> None:
        self.member_id, self.leader_id, self.failures = member_id, leader_id, failures
        self.calls = 0

    async def Status(self, request, context):
        return rpc_pb2.StatusResponse(header=rpc_pb2.ResponseHeader(member_id=self.member_id), leader=self.leader_id)

    async def _answer(self, context) -> rpc_pb2.ResponseHeader:
        self.calls += 1
        if self.failures:
            code, message = self.failures.pop(0)
            await context.abort(grpc.StatusCode[code.name], message)
        return rpc_pb2.ResponseHeader(member_id=self.member_id, revision=self.calls)

    async def Put(self, request, context):
        return rpc_pb2.PutResponse(header=await self._answer(context))

    async def Range(self, request, context):
        return rpc_pb2.RangeResponse(header=await self._answer(context))


@pytest.fixture
async def scripted(port):
    servers: list[grpc.aio.Server] = []

    async def start(member: _ScriptedMember) -> str:
        server = grpc.aio.server()
        rpc_pb2_grpc.add_KVServicer_to_server(member, server)
        rpc_pb2_grpc.add_MaintenanceServicer_to_server(member, server)
        address = f"127.0.0.1:{port()}"
        server.add_insecure_port(address)
        await server.start()
        servers.append(server)
        return address

    yield start
    for server in servers:
        await server.stop(None)


_UNAVAILABLE = StatusCode.UNAVAILABLE


async def test_client_retries_only_what_cannot_apply_twice(scripted, port):
    leader = _ScriptedMember(1, 1, [(errors.NO_LEADER.code, errors.NO_LEADER.message)])  # type: ignore[abstract]
    follower = _ScriptedMember(2, 1, [])  # type: ignore[abstract]
    endpoints = [await scripted(follower), await scripted(leader)]
    async with StoreClient(endpoints, timeout=3.0, retry_backoff=0.01) as client:
        # "no leader" is refused before proposing: the write is sent again, to the leader.
        assert (await client.put("k", "v")).header.member_id == 1
        assert leader.calls == 2 and follower.calls == 0
        # A connection lost mid-call leaves the write's fate unknown: surfaced, never resent.
        leader.failures.append((_UNAVAILABLE, "Socket closed"))
        with pytest.raises(AmbiguousWriteError):
            await client.put("k", "v")
        assert leader.calls == 3
        # The same failure on a read is retried (on whichever member is reachable).
        leader.failures.append((_UNAVAILABLE, "Socket closed"))
        assert (await client.range("k")).header.revision > 0
        # A request error is the answer, not a reason to retry.
        leader.failures.append((errors.COMPACTED.code, errors.COMPACTED.message))
        with pytest.raises(EtcdError) as compacted:
            await client.range("k", revision=1)
        assert compacted.value == errors.COMPACTED and not isinstance(compacted.value, AmbiguousWriteError)


async def test_client_skips_members_it_cannot_connect_to(scripted, port):
    solo = _ScriptedMember(5, 5, [])  # type: ignore[abstract]
    dead = f"127.0.0.1:{port()}"  # nothing listens here: a write to it is provably never sent
    async with StoreClient([dead, await scripted(solo)], timeout=3.0, retry_backoff=0.01) as client:
        assert (await client.put("k", "v")).header.member_id == 5
        assert solo.calls == 1


async def test_watch_requiring_a_leader_ends_on_a_member_cut_off_from_it(cluster: StoreCluster):
    lonely, *others = cluster.members
    async with grpc.aio.insecure_channel(lonely.endpoint) as channel:
        call = rpc_pb2_grpc.WatchStub(channel).Watch(None, metadata=(("hasleader", "true"),))
        await call.write(rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=b"k")))
        assert (await _next_response(call)).created
        for member in others:
            cluster.procs[member.name].send_signal(signal.SIGSTOP)
        try:
            with pytest.raises(grpc.aio.AioRpcError) as ended:
                await asyncio.wait_for(call.read(), 15)
            assert ended.value.code() == grpc.StatusCode.UNAVAILABLE
            assert ended.value.details() == errors.NO_LEADER.message
        finally:
            for member in others:
                cluster.procs[member.name].send_signal(signal.SIGCONT)


async def test_progress_notifications_and_snapshot_stream(processes, port, tmp_path):
    cluster = StoreCluster(processes, port, tmp_path,
                           extra_args=("--experimental-watch-progress-notify-interval", "1s"))
    cluster.start_all()
    async with StoreClient(cluster.endpoints) as client:
        revision = (await client.put("quiet", "1")).header.revision
        watch = client.watch("quiet", progress_notify=True)
        # Nothing happens to the key: the member still says every now and then how far it has got.
        update = await asyncio.wait_for(anext(watch), 10)
        assert update.events == [] and update.revision >= revision
        await watch.aclose()

        async with grpc.aio.insecure_channel(cluster.members[0].endpoint) as channel:
            chunks = [r async for r in rpc_pb2_grpc.MaintenanceStub(channel).Snapshot(rpc_pb2.SnapshotRequest())]
        assert chunks and chunks[-1].remaining_bytes == 0
        assert all(a.remaining_bytes > b.remaining_bytes for a, b in itertools.pairwise(chunks))
        restored = Applier(KVStore())
        restored.restore(b"".join(c.blob for c in chunks))
        assert restored.range(rpc_pb2.RangeRequest(key=b"quiet")).kvs[0].value == b"1"


async def test_many_watchers_on_one_stream_get_their_own_ids_and_every_event(cluster: StoreCluster):
    """etcd: a create with watch_id 0 takes the next free id (a regression: every such create was refused as a
    duplicate of watcher 0, so only one watcher per stream ever saw events)."""
    requests: asyncio.Queue[rpc_pb2.WatchRequest | None] = asyncio.Queue()
    for _ in range(5):
        requests.put_nowait(rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=b"/many")))

    async def stream() -> AsyncIterator[rpc_pb2.WatchRequest]:
        while (request := await requests.get()) is not None:
            yield request

    async with grpc.aio.insecure_channel(cluster.endpoints[0].removeprefix("http://")) as channel:
        call = rpc_pb2_grpc.WatchStub(channel).Watch(stream())
        created: list[int] = []
        events: dict[int, int] = {}
        async with StoreClient(cluster.endpoints) as client:
            async for response in call:
                assert not response.canceled, response.cancel_reason
                if response.created:
                    created.append(response.watch_id)
                    if len(created) == 5:
                        await client.put("/many", "1")
                        await client.put("/many", "2")
                for _ in response.events:
                    events[response.watch_id] = events.get(response.watch_id, 0) + 1
                if sum(events.values()) == 10:
                    break
        requests.put_nowait(None)
        call.cancel()
    assert sorted(created) == [0, 1, 2, 3, 4]
    assert events == {i: 2 for i in range(5)}
