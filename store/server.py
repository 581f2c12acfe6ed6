"""etcd v3 gRPC services (KV, Lease, Cluster, Maintenance; Watch in ``watch_service``) over the node.

Writes go through Raft (``node.propose``) and are answered with what the applier returned on this
member; reads are linearizable (``node.read_index`` first) unless the client asks for serializable.
Requests are validated here, before proposing, with etcd's checks and error messages, so that a
bad request costs no log entry and a malformed one never reaches the applier.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar
from urllib.parse import urlsplit

from google.protobuf.message import Message

from process.log import get_logger
from protos.etcd import rpc_pb2
from store import errors, grpc_h2
from store.apply import Applier
from store.errors import EtcdError
from store.grpc_channel import Channel, RpcError
from store.grpc_h2 import Context
from store.grpc_status import StatusCode
from store.mvcc.errors import MVCCError

log = get_logger("store.server")

VERSION = "3.4.0"  # the etcd API version we speak; clients log it, none gate on it
MAX_REQUEST_BYTES = 1536 * 1024  # etcd's default --max-request-bytes: 1.5 MiB
GRPC_OVERHEAD_BYTES = 512 * 1024  # etcd lets gRPC take this much more, so the check above is what answers
MAX_TXN_OPS = 128  # etcd's default --max-txn-ops
MAX_LEASE_TTL = 9_000_000_000
DEFAULT_QUOTA_BYTES = 2 * 1024 * 1024 * 1024  # etcd's default --quota-backend-bytes
SNAPSHOT_CHUNK = 32 * 1024
LEADER_WAIT_STEP, LEADER_WAIT_STEPS = 0.05, 40  # how long a write waits for an election: 2 s
_LEASE, _MEMBER_PROMOTE = "/etcdserverpb.Lease/", "/etcdserverpb.Cluster/MemberPromote"

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")
M = TypeVar("M", bound=Message)


class Member(Protocol):
    """What the Cluster service reads of a Raft member."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def peer_urls(self) -> Sequence[str]: ...
    @property
    def client_urls(self) -> Sequence[str]: ...
    @property
    def is_learner(self) -> bool: ...


class Node(Protocol):
    """The asyncio Raft node as the API face uses it (``store/node.py``).

    Its failures are ``store.errors.EtcdError``s (``NO_LEADER``, ``TIMEOUT``, ``STOPPED``, ...). Whether a
    failed proposal may still be applied is decided here, not trusted to the node: see ``Core.propose``.
    """

    @property
    def member_id(self) -> int: ...
    @property
    def cluster_id(self) -> int: ...
    @property
    def leader_id(self) -> int: ...
    @property
    def term(self) -> int: ...
    @property
    def commit_index(self) -> int: ...
    @property
    def applied_index(self) -> int: ...

    async def propose(self, kind: str, payload: bytes) -> object: ...
    def propose_now(self, kind: str, payload: bytes) -> asyncio.Future[object] | None: ...
    async def read_index(self) -> None: ...
    def members(self) -> Sequence[Member]: ...
    async def add_member(self, peer_urls: Sequence[str], is_learner: bool) -> Member: ...
    async def remove_member(self, member_id: int) -> None: ...
    async def update_member(self, member_id: int, peer_urls: Sequence[str]) -> None: ...
    async def promote_member(self, member_id: int) -> None: ...
    async def move_leader(self, target_id: int) -> None: ...


class IdGenerator:
    """Cluster-unique positive int63 ids (lease ids), as etcd's idutil: member prefix, time, counter."""

    def __init__(self, member_id: int) -> None:
        self._prefix = (member_id & 0xFFFF) << 47
        self._suffix = (int(time.time() * 1000) & ((1 << 39) - 1)) << 8

    def next(self) -> int:
        self._suffix = (self._suffix + 1) & ((1 << 47) - 1)
        return self._prefix | self._suffix or 1


def _failure(err: Exception, method: str) -> EtcdError:
    """The etcd status a handler's error is answered with; an unexpected one is logged, never kills the member."""
    if isinstance(err, EtcdError):
        return err
    if isinstance(err, MVCCError):
        return errors.from_mvcc(err)
    if isinstance(err, ValueError):  # an enum value or field combination the data model cannot take
        return EtcdError(StatusCode.INVALID_ARGUMENT, f"etcdserver: {err}")
    log.error("request failed", exc_info=True, method=method)  # called in an except block
    return EtcdError(StatusCode.UNKNOWN, f"etcdserver: {err}")


def rpc(method: Callable[Concatenate[S, P], Awaitable[R]]) -> Callable[Concatenate[S, P], Awaitable[R]]:
    """Turn a unary handler's errors into etcd's gRPC statuses."""

    @functools.wraps(method)
    async def handler(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        context: Context = args[-1]  # type: ignore[assignment]
        try:
            return await method(self, *args, **kwargs)
        except grpc_h2.Abort:
            raise
        except Exception as err:
            failure = _failure(err, method.__name__)
        await context.abort(failure.code, failure.message)
        raise AssertionError("abort returned")  # pragma: no cover - abort always raises

    return handler


def answer(method: Callable[[S, asyncio.Future[Any]], R]) -> Callable[[S, asyncio.Future[Any]], R]:
    """``rpc`` for the answer of a call started without a task (``grpc_h2.Server.add_started``)."""

    @functools.wraps(method)
    def handler(self: S, outcome: asyncio.Future[Any]) -> R:
        try:
            return method(self, outcome)
        except Exception as err:
            failure = _failure(err, method.__name__)
            raise grpc_h2.Abort(failure.code, failure.message) from err

    return handler


class Core:
    """What every service shares: the node, the applier, and the steps around a request."""

    def __init__(self, node: Node, applier: Applier, *, quota_bytes: int = 0,
                 client_tls: ssl.SSLContext | None = None) -> None:
        self.node = node
        self.applier = applier
        self.quota_bytes = quota_bytes or DEFAULT_QUOTA_BYTES
        self.ids = IdGenerator(node.member_id)
        self._client_tls = client_tls
        self._leader_channels: dict[str, Channel] = {}
        self.proposals_failed = 0

    def header(self) -> rpc_pb2.ResponseHeader:
        return rpc_pb2.ResponseHeader(cluster_id=self.node.cluster_id, member_id=self.node.member_id,
                                      revision=self.applier.revision, raft_term=self.node.term)

    def fill(self, response: R) -> R:
        """Complete a header the applier started (it knows the revision, not the term or ids)."""
        header = response.header  # type: ignore[attr-defined]
        header.cluster_id, header.member_id = self.node.cluster_id, self.node.member_id
        header.raft_term = self.node.term
        if not header.revision:
            header.revision = self.applier.revision
        return response

    async def linearize(self) -> None:
        await self.node.read_index()

    async def propose(self, kind: str, request: Message, *, quota: bool = False) -> Any:
        """Replicate ``request`` and return what the applier answered. With ``quota`` (a write that may grow
        the data), it is first refused if it would pass the quota (etcd's quota check).

        The steps that rarely wait (quota, leader) are awaited only when they must: each coroutine more
        is CPU on every write of the leader.
        """
        payload = request.SerializeToString()
        if quota and self._over_quota(len(payload)):
            await self._refuse_over_quota()
        if len(payload) > MAX_REQUEST_BYTES:
            raise errors.REQUEST_TOO_LARGE
        if not self.node.leader_id:
            await self._await_leader()
        try:
            result = await self.node.propose(kind, payload)
        except EtcdError as err:
            raise self._proposal_failed(err) from err
        if isinstance(result, EtcdError):
            raise result
        return result

    def propose_now(self, kind: str, request: Message, *, quota: bool = False) -> asyncio.Future[Any] | None:
        """``propose`` as a future, without a coroutine, in the usual case: this member leads and the write is
        within the quota and the size limit. None otherwise: then ``propose`` decides (it waits for a leader,
        forwards, raises the NOSPACE alarm or refuses). ``outcome`` reads the future."""
        payload = request.SerializeToString()
        if (quota and self._over_quota(len(payload))) or len(payload) > MAX_REQUEST_BYTES:
            return None
        return self.node.propose_now(kind, payload)

    def outcome(self, future: asyncio.Future[Any]) -> Any:
        """What a ``propose_now`` came to, returned or raised as ``propose`` would."""
        try:
            result = future.result()
        except EtcdError as err:
            raise self._proposal_failed(err) from err
        if isinstance(result, EtcdError):
            raise result
        return result

    def _proposal_failed(self, err: EtcdError) -> EtcdError:
        self.proposals_failed += 1
        if err == errors.NO_LEADER:
            # The entry may have reached the old leader before it failed: the outcome is unknown,
            # and "no leader" would tell a client it is safe to send the write again.
            return errors.TIMEOUT_DUE_TO_LEADER_FAIL
        return err

    def _over_quota(self, size: int) -> bool:
        """Whether a write of ``size`` bytes must be refused by etcd's quota check (or NOSPACE is raised)."""
        applier = self.applier
        return applier.no_space or applier.db_size + size > self.quota_bytes

    async def _refuse_over_quota(self) -> None:
        """Raise NO_SPACE, raising the cluster-wide NOSPACE alarm first unless it is raised already."""
        if not self.applier.no_space:
            await self.propose("alarm", rpc_pb2.AlarmRequest(action=rpc_pb2.AlarmRequest.ACTIVATE,
                                                              memberID=self.node.member_id, alarm=rpc_pb2.NOSPACE))
        raise errors.NO_SPACE

    async def _await_leader(self) -> None:
        """Wait out an election briefly; without a leader the request is refused unproposed ("no leader")."""
        for _ in range(LEADER_WAIT_STEPS):
            if self.node.leader_id:
                return
            await asyncio.sleep(LEADER_WAIT_STEP)
        self.proposals_failed += 1
        raise errors.NO_LEADER

    @property
    def is_leader(self) -> bool:
        return self.node.leader_id == self.node.member_id != 0

    def leader_channel(self) -> Channel:
        """A channel to the leader's client URL, for what only the leader answers (lease renewals)."""
        leader = self.node.leader_id
        if not leader:
            raise errors.NO_LEADER
        urls = next((m.client_urls for m in self.node.members() if m.id == leader), ())
        if not urls:
            raise errors.NO_LEADER
        parts = urlsplit(urls[0])
        target = parts.netloc or urls[0]
        channel = self._leader_channels.get(target)
        if channel is None:
            if parts.scheme == "https" and self._client_tls is None:
                raise EtcdError(StatusCode.UNAVAILABLE,
                                "etcdserver: the leader serves https but this member has no --trusted-ca-file")
            channel = Channel(target, ssl_context=self._client_tls if parts.scheme == "https" else None,
                              max_message=MAX_REQUEST_BYTES + GRPC_OVERHEAD_BYTES)
            self._leader_channels[target] = channel
        return channel

    async def on_leader(self, path: str, request: Message, reply: type[M], budget: float) -> M:
        """Call ``path`` on the leader's client port; its answer gets this member's header, as in etcd."""
        try:
            response = reply.FromString(await self.leader_channel().unary(path, request.SerializeToString(), budget))
        except RpcError as err:
            raise errors.from_message(err.code, err.details) from err
        response.header.CopyFrom(self.header())  # type: ignore[attr-defined]
        return response

    async def close(self) -> None:
        for channel in self._leader_channels.values():
            await channel.close()


def _check_key(key: bytes) -> None:
    if not key:
        raise errors.EMPTY_KEY


def _check_put(req: rpc_pb2.PutRequest) -> None:
    _check_key(req.key)
    if req.ignore_value and req.value:
        raise errors.VALUE_PROVIDED
    if req.ignore_lease and req.lease:
        raise errors.LEASE_PROVIDED


def _check_txn(req: rpc_pb2.TxnRequest) -> bool:
    """etcd's checks on a txn, before proposing; whether it writes anything."""
    if max(len(req.compare), len(req.success), len(req.failure)) > MAX_TXN_OPS:
        raise errors.TOO_MANY_OPS
    for cmp in req.compare:
        _check_key(cmp.key)
    writes = False
    for op in (*req.success, *req.failure):
        which = op.WhichOneof("request")
        if which == "request_range":
            _check_key(op.request_range.key)
        elif which == "request_put":
            _check_put(op.request_put)
            writes = True
        elif which == "request_delete_range":
            _check_key(op.request_delete_range.key)
            writes = True
        elif which == "request_txn":
            writes = _check_txn(op.request_txn) or writes
        else:
            raise EtcdError(StatusCode.INVALID_ARGUMENT, "etcdserver: txn operation carries no request")
    return writes


class KVService:
    """Range, Put, DeleteRange, Txn, Compact."""

    def __init__(self, core: Core) -> None:
        self.core = core

    @rpc
    async def Range(self, request: rpc_pb2.RangeRequest,
                    context: Context) -> rpc_pb2.RangeResponse:
        _check_key(request.key)
        if not request.serializable:
            await self.core.linearize()
        return self.core.fill(self.core.applier.range(request))

    @rpc
    async def Put(self, request: rpc_pb2.PutRequest, context: Context) -> rpc_pb2.PutResponse:
        _check_put(request)
        return self.core.fill(await self.core.propose("put", request, quota=True))  # type: ignore[no-any-return]

    @rpc
    async def DeleteRange(self, request: rpc_pb2.DeleteRangeRequest,
                          context: Context) -> rpc_pb2.DeleteRangeResponse:
        _check_key(request.key)
        return self.core.fill(await self.core.propose("delete", request))  # type: ignore[no-any-return]

    @rpc
    async def Txn(self, request: rpc_pb2.TxnRequest, context: Context) -> rpc_pb2.TxnResponse:
        if not _check_txn(request):
            # A read-only txn needs no log entry, only a linearizable read point, as in etcd.
            await self.core.linearize()
            return self.core.fill(self.core.applier.txn_read_only(request))
        return self.core.fill(await self.core.propose("txn", request, quota=True))  # type: ignore[no-any-return]

    # The writes again, for the leader's usual case: started without a task (``grpc_h2.Server.add_started``),
    # and answered from the proposal's future. Whatever these decline (None), the coroutines above answer.

    def started_calls(self) -> dict[str, tuple[Callable[[Any], asyncio.Future[Any] | None],
                                               Callable[[asyncio.Future[Any]], Message]]]:
        return {"Put": (self.put_now, self.answer_write), "DeleteRange": (self.delete_range_now, self.answer_write),
                "Txn": (self.txn_now, self.answer_write)}

    def put_now(self, request: rpc_pb2.PutRequest) -> asyncio.Future[Any] | None:
        try:
            _check_put(request)
        except EtcdError:
            return None
        return self.core.propose_now("put", request, quota=True)

    def delete_range_now(self, request: rpc_pb2.DeleteRangeRequest) -> asyncio.Future[Any] | None:
        try:
            _check_key(request.key)
        except EtcdError:
            return None
        return self.core.propose_now("delete", request)

    def txn_now(self, request: rpc_pb2.TxnRequest) -> asyncio.Future[Any] | None:
        try:
            writes = _check_txn(request)
        except EtcdError:
            return None
        return self.core.propose_now("txn", request, quota=True) if writes else None

    @answer
    def answer_write(self, outcome: asyncio.Future[Any]) -> Message:
        return self.core.fill(self.core.outcome(outcome))  # type: ignore[no-any-return]

    @rpc
    async def Compact(self, request: rpc_pb2.CompactionRequest,
                      context: Context) -> rpc_pb2.CompactionResponse:
        return self.core.fill(await self.core.propose("compact", request))  # type: ignore[no-any-return]



class LeaseService:
    """Grant and revoke through Raft; renewals and TTLs from the leader's lessor, which decides expiry."""

    def __init__(self, core: Core) -> None:
        self.core = core

    @rpc
    async def LeaseGrant(self, request: rpc_pb2.LeaseGrantRequest,
                         context: Context) -> rpc_pb2.LeaseGrantResponse:
        if request.TTL > MAX_LEASE_TTL:
            raise errors.LEASE_TTL_TOO_LARGE
        if request.ID < 0:
            raise EtcdError(StatusCode.INVALID_ARGUMENT, "etcdserver: lease ID must be positive")
        grant = rpc_pb2.LeaseGrantRequest(TTL=request.TTL, ID=request.ID or self.core.ids.next())
        return self.core.fill(await self.core.propose("lease_grant", grant, quota=True))  # type: ignore[no-any-return]

    @rpc
    async def LeaseRevoke(self, request: rpc_pb2.LeaseRevokeRequest,
                          context: Context) -> rpc_pb2.LeaseRevokeResponse:
        return self.core.fill(await self.core.propose("lease_revoke", request))  # type: ignore[no-any-return]

    async def LeaseKeepAlive(self, request_iterator: AsyncIterator[rpc_pb2.LeaseKeepAliveRequest],
                             context: Context) -> AsyncIterator[rpc_pb2.LeaseKeepAliveResponse]:
        try:
            async for request in request_iterator:
                yield await self._renew(request.ID)
        except EtcdError as err:
            await context.abort(err.code, err.message)

    async def _renew(self, lease_id: int) -> rpc_pb2.LeaseKeepAliveResponse:
        # A new leader's lessor turns primary only once its node has applied the leadership change.
        for _ in range(40):
            if not self.core.is_leader:
                break
            try:
                ttl = self.core.applier.lease_renew(lease_id)
            except EtcdError:
                await asyncio.sleep(0.05)
                continue
            return rpc_pb2.LeaseKeepAliveResponse(header=self.core.header(), ID=lease_id, TTL=ttl)
        else:
            raise errors.NOT_LEADER
        try:
            async with asyncio.timeout(5.0):
                call = await self.core.leader_channel().stream(_LEASE + "LeaseKeepAlive")
                try:
                    await call.write(rpc_pb2.LeaseKeepAliveRequest(ID=lease_id).SerializeToString())
                    raw = await call.read()
                finally:
                    call.cancel()
        except RpcError as err:
            raise errors.from_message(err.code, err.details) from err
        except TimeoutError:
            raise errors.TIMEOUT from None
        if raw is None:
            raise errors.LEADER_CHANGED
        resp = rpc_pb2.LeaseKeepAliveResponse.FromString(raw)
        resp.header.CopyFrom(self.core.header())
        return resp

    @rpc
    async def LeaseTimeToLive(self, request: rpc_pb2.LeaseTimeToLiveRequest,
                              context: Context) -> rpc_pb2.LeaseTimeToLiveResponse:
        if not self.core.is_leader:
            return await self.core.on_leader(_LEASE + "LeaseTimeToLive", request, rpc_pb2.LeaseTimeToLiveResponse, 5.0)
        return self.core.fill(self.core.applier.lease_time_to_live(request))

    @rpc
    async def LeaseLeases(self, request: rpc_pb2.LeaseLeasesRequest,
                          context: Context) -> rpc_pb2.LeaseLeasesResponse:
        await self.core.linearize()
        return rpc_pb2.LeaseLeasesResponse(header=self.core.header(),
                                           leases=[rpc_pb2.LeaseStatus(ID=i) for i in self.core.applier.lease_ids()])


def _valid_urls(urls: Sequence[str]) -> None:
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.port is None:
            raise errors.MEMBER_BAD_URLS


class ClusterService:
    """Membership as Raft configuration changes."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def _members(self) -> list[rpc_pb2.Member]:
        return [rpc_pb2.Member(ID=m.id, name=m.name, peerURLs=list(m.peer_urls), clientURLs=list(m.client_urls),
                               isLearner=m.is_learner) for m in self.core.node.members()]

    def _find(self, member_id: int) -> None:
        if not any(m.id == member_id for m in self.core.node.members()):
            raise errors.MEMBER_NOT_FOUND

    @rpc
    async def MemberAdd(self, request: rpc_pb2.MemberAddRequest,
                        context: Context) -> rpc_pb2.MemberAddResponse:
        _valid_urls(request.peerURLs)
        known = {u for m in self.core.node.members() for u in m.peer_urls}
        if known & set(request.peerURLs):
            raise errors.PEER_URL_EXIST
        member = await self.core.node.add_member(list(request.peerURLs), request.isLearner)
        added = rpc_pb2.Member(ID=member.id, name=member.name, peerURLs=list(member.peer_urls),
                               clientURLs=list(member.client_urls), isLearner=member.is_learner)
        return rpc_pb2.MemberAddResponse(header=self.core.header(), member=added, members=self._members())

    @rpc
    async def MemberRemove(self, request: rpc_pb2.MemberRemoveRequest,
                           context: Context) -> rpc_pb2.MemberRemoveResponse:
        self._find(request.ID)
        await self.core.node.remove_member(request.ID)
        return rpc_pb2.MemberRemoveResponse(header=self.core.header(), members=self._members())

    @rpc
    async def MemberUpdate(self, request: rpc_pb2.MemberUpdateRequest,
                           context: Context) -> rpc_pb2.MemberUpdateResponse:
        _valid_urls(request.peerURLs)
        self._find(request.ID)
        await self.core.node.update_member(request.ID, list(request.peerURLs))
        return rpc_pb2.MemberUpdateResponse(header=self.core.header(), members=self._members())

    @rpc
    async def MemberList(self, request: rpc_pb2.MemberListRequest,
                         context: Context) -> rpc_pb2.MemberListResponse:
        return rpc_pb2.MemberListResponse(header=self.core.header(), members=self._members())

    @rpc
    async def MemberPromote(self, request: rpc_pb2.MemberPromoteRequest,
                            context: Context) -> rpc_pb2.MemberPromoteResponse:
        member = next((m for m in self.core.node.members() if m.id == request.ID), None)
        if member is None:
            raise errors.MEMBER_NOT_FOUND
        if not member.is_learner:
            raise errors.MEMBER_NOT_LEARNER
        if not self.core.is_leader:
            # Only the leader knows whether the learner caught up, so etcd has the leader decide.
            return await self.core.on_leader(_MEMBER_PROMOTE, request, rpc_pb2.MemberPromoteResponse, 10.0)
        await self.core.node.promote_member(request.ID)
        return rpc_pb2.MemberPromoteResponse(header=self.core.header(), members=self._members())


class MaintenanceService:
    """Status, alarms, hashes, snapshots and leadership transfer."""

    def __init__(self, core: Core) -> None:
        self.core = core

    @rpc
    async def Alarm(self, request: rpc_pb2.AlarmRequest,
                    context: Context) -> rpc_pb2.AlarmResponse:
        if request.action == rpc_pb2.AlarmRequest.GET:
            return rpc_pb2.AlarmResponse(header=self.core.header(), alarms=self.core.applier.alarms(request))
        return self.core.fill(await self.core.propose("alarm", request))  # type: ignore[no-any-return]

    @rpc
    async def Status(self, request: rpc_pb2.StatusRequest,
                     context: Context) -> rpc_pb2.StatusResponse:
        node, applier = self.core.node, self.core.applier
        me = next((m for m in node.members() if m.id == node.member_id), None)
        alarms = applier.alarms(rpc_pb2.AlarmRequest())
        return rpc_pb2.StatusResponse(
            header=self.core.header(), version=VERSION, dbSize=applier.db_size, leader=node.leader_id,
            raftIndex=node.commit_index, raftTerm=node.term, raftAppliedIndex=node.applied_index,
            errors=[f"memberID:{a.memberID} alarm:{rpc_pb2.AlarmType.Name(a.alarm)} " for a in alarms],
            dbSizeInUse=applier.db_size, isLearner=bool(me and me.is_learner))

    @rpc
    async def Defragment(self, request: rpc_pb2.DefragmentRequest,
                         context: Context) -> rpc_pb2.DefragmentResponse:
        # The store keeps no files with free pages to give back: compaction already frees memory.
        return rpc_pb2.DefragmentResponse(header=self.core.header())

    @rpc
    async def Hash(self, request: rpc_pb2.HashRequest,
                   context: Context) -> rpc_pb2.HashResponse:
        hash_, _ = self.core.applier.hash_kv(0)
        return rpc_pb2.HashResponse(header=self.core.header(), hash=hash_)

    @rpc
    async def HashKV(self, request: rpc_pb2.HashKVRequest,
                     context: Context) -> rpc_pb2.HashKVResponse:
        hash_, compacted = self.core.applier.hash_kv(request.revision)
        return rpc_pb2.HashKVResponse(header=self.core.header(), hash=hash_, compact_revision=compacted)

    async def Snapshot(self, request: rpc_pb2.SnapshotRequest,
                       context: Context) -> AsyncIterator[rpc_pb2.SnapshotResponse]:
        blob = self.core.applier.snapshot()
        checksum = zlib.crc32(blob)
        log.info("sending snapshot", bytes=len(blob), crc32=checksum)
        for start in range(0, len(blob), SNAPSHOT_CHUNK):
            chunk = blob[start:start + SNAPSHOT_CHUNK]
            yield rpc_pb2.SnapshotResponse(header=self.core.header(), blob=chunk,
                                           remaining_bytes=len(blob) - start - len(chunk))
            await asyncio.sleep(0)

    @rpc
    async def MoveLeader(self, request: rpc_pb2.MoveLeaderRequest,
                         context: Context) -> rpc_pb2.MoveLeaderResponse:
        if not self.core.is_leader:
            raise errors.NOT_LEADER
        target = next((m for m in self.core.node.members() if m.id == request.targetID), None)
        if target is None or target.is_learner:
            raise errors.BAD_LEADER_TRANSFEREE
        await self.core.node.move_leader(request.targetID)
        return rpc_pb2.MoveLeaderResponse(header=self.core.header())


def client_server() -> grpc_h2.Server:
    """The server for client URLs, http:// and https:// alike: ``store.grpc_h2``, several times cheaper per call
    than grpcio's; it takes etcd's largest request, so the size check above is what answers."""
    return grpc_h2.Server(max_receive_message_length=MAX_REQUEST_BYTES + GRPC_OVERHEAD_BYTES)
