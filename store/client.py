"""asyncio client for the store (or any etcd v3 cluster), as the apiserver uses it.

It talks to every endpoint, sends requests to the member it believes leads (a follower would only
forward them), and moves on when a member fails. A call is retried on another member only when
retrying cannot apply it twice: reads and other idempotent calls always, writes only when the
failure proves the request never reached a member. Any other failed write raises
``AmbiguousWriteError``: the caller must find out (e.g. by reading) whether it took effect.
Watches survive member failures: they resume from the last delivered revision + 1, so no event is
lost or repeated.

Calls go over ``store.grpc_channel`` (one multiplexed HTTP/2 connection per member), not grpcio: a
fraction of the CPU per call, and an apiserver that never loads grpcio's C core.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias, TypeVar

from google.protobuf.message import DecodeError, Message

from process.log import get_logger
from protos.etcd import kv_pb2, rpc_pb2
from store import errors
from store.errors import EtcdError
from store.grpc_channel import Channel, RpcError, StreamCall
from store.grpc_status import StatusCode

log = get_logger("store.client")

KeyLike = str | bytes
Resp = TypeVar("Resp")
Reply = TypeVar("Reply", bound=Message)
SortTarget: TypeAlias = rpc_pb2.RangeRequest.SortTarget.ValueType
SortOrder: TypeAlias = rpc_pb2.RangeRequest.SortOrder.ValueType

# Matches the server's limit on received messages (1.5 MiB request + gRPC overhead), both ways.
MAX_MESSAGE_BYTES = int(1.5 * 1024 * 1024) + 512 * 1024

REQUIRE_LEADER_KEY = "hasleader"  # etcd's metadata key, honoured by the store's Watch service

# Errors a member returns before proposing anything: the request was not applied.
_NOT_APPLIED = {errors.NO_LEADER, errors.NOT_LEADER, errors.STOPPED, errors.NOT_SUPPORTED_FOR_LEARNER}
_TRANSIENT_CODES = {StatusCode.UNAVAILABLE, StatusCode.DEADLINE_EXCEEDED, StatusCode.UNKNOWN,
                    StatusCode.CANCELLED, StatusCode.INTERNAL}

_KV, _LEASE = "/etcdserverpb.KV/", "/etcdserverpb.Lease/"
_WATCH, _LEASE_KEEPALIVE = "/etcdserverpb.Watch/Watch", _LEASE + "LeaseKeepAlive"
_STATUS, _MOVE_LEADER = "/etcdserverpb.Maintenance/Status", "/etcdserverpb.Maintenance/MoveLeader"
_MEMBER_LIST = "/etcdserverpb.Cluster/MemberList"


class AmbiguousWriteError(EtcdError):
    """A write failed in a way that leaves unknown whether the cluster applied it."""


class WatchCompactedError(EtcdError):
    """The watch's next revision was compacted away; the caller must re-list and watch anew."""

    def __init__(self, compact_revision: int) -> None:
        super().__init__(errors.COMPACTED.code, errors.COMPACTED.message)
        self.compact_revision = compact_revision


def as_bytes(key: KeyLike) -> bytes:
    return key.encode() if isinstance(key, str) else key


def prefix_end(prefix: KeyLike) -> bytes:
    """The range_end that selects every key starting with ``prefix`` (etcd's ``GetPrefixRangeEnd``)."""
    raw = bytearray(as_bytes(prefix))
    while raw:
        if raw[-1] < 0xFF:
            raw[-1] += 1
            return bytes(raw)
        raw.pop()
    return b"\0"


def _range_end(key: KeyLike, range_end: KeyLike | None, prefix: bool) -> bytes:
    if prefix:
        return prefix_end(key)
    return as_bytes(range_end) if range_end is not None else b""


# ---- building Txn compares and operations ----

_RESULTS = {"==": rpc_pb2.Compare.EQUAL, "!=": rpc_pb2.Compare.NOT_EQUAL, ">": rpc_pb2.Compare.GREATER,
            "<": rpc_pb2.Compare.LESS}


def compare_value(key: KeyLike, op: str, value: KeyLike) -> rpc_pb2.Compare:
    """``compare_value("k", "==", "v")``: the key's value compared with ``value``."""
    return rpc_pb2.Compare(key=as_bytes(key), result=_RESULTS[op], target=rpc_pb2.Compare.VALUE,
                           value=as_bytes(value))


def compare_version(key: KeyLike, op: str, version: int) -> rpc_pb2.Compare:
    return rpc_pb2.Compare(key=as_bytes(key), result=_RESULTS[op], target=rpc_pb2.Compare.VERSION, version=version)


def compare_create(key: KeyLike, op: str, revision: int) -> rpc_pb2.Compare:
    """``compare_create(k, "==", 0)`` holds when the key does not exist (the apiserver's create)."""
    return rpc_pb2.Compare(key=as_bytes(key), result=_RESULTS[op], target=rpc_pb2.Compare.CREATE,
                           create_revision=revision)


def compare_mod(key: KeyLike, op: str, revision: int) -> rpc_pb2.Compare:
    """``compare_mod(k, "==", rv)`` holds when nobody wrote the key since ``rv`` (the apiserver's update)."""
    return rpc_pb2.Compare(key=as_bytes(key), result=_RESULTS[op], target=rpc_pb2.Compare.MOD, mod_revision=revision)


def compare_lease(key: KeyLike, op: str, lease: int) -> rpc_pb2.Compare:
    return rpc_pb2.Compare(key=as_bytes(key), result=_RESULTS[op], target=rpc_pb2.Compare.LEASE, lease=lease)


def op_get(key: KeyLike, *, range_end: KeyLike | None = None, prefix: bool = False,
           limit: int = 0) -> rpc_pb2.RequestOp:
    return rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(
        key=as_bytes(key), range_end=_range_end(key, range_end, prefix), limit=limit))


def op_put(key: KeyLike, value: KeyLike, *, lease: int = 0, prev_kv: bool = False) -> rpc_pb2.RequestOp:
    return rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(
        key=as_bytes(key), value=as_bytes(value), lease=lease, prev_kv=prev_kv))


def op_delete(key: KeyLike, *, range_end: KeyLike | None = None, prefix: bool = False,
              prev_kv: bool = False) -> rpc_pb2.RequestOp:
    return rpc_pb2.RequestOp(request_delete_range=rpc_pb2.DeleteRangeRequest(
        key=as_bytes(key), range_end=_range_end(key, range_end, prefix), prev_kv=prev_kv))


# ---- endpoints ----

@dataclass
class _Endpoint:
    target: str
    channel: Channel
    member_id: int = 0

    async def unary(self, method: str, request: Message, reply: type[Reply], budget: float) -> Reply:
        return _parse(reply, await self.channel.unary(method, request.SerializeToString(), budget))


def _parse(reply: type[Reply], raw: bytes) -> Reply:
    try:
        return reply.FromString(raw)
    except DecodeError as exc:  # a failed call, as grpcio reports one (the request may have been applied)
        raise RpcError(StatusCode.INTERNAL, f"undecodable {reply.__name__} from the member: {exc}") from exc


@dataclass
class WatchUpdate:
    """One watch response: events of whole revisions, in order; none for a progress notification.

    ``revision`` is the store revision the member had reached: every event up to it was delivered.
    """

    revision: int
    events: list[kv_pb2.Event] = field(default_factory=list)


@dataclass
class TLSConfig:
    """Client TLS: the CA that signed the members' certificates, and a client certificate if they ask."""

    ca_file: Path
    cert_file: Path | None = None
    key_file: Path | None = None


def _target(endpoint: str) -> tuple[str, bool]:
    for scheme, secure in (("https://", True), ("http://", False), ("unix://", False)):
        if endpoint.startswith(scheme):
            return (endpoint if scheme == "unix://" else endpoint[len(scheme):]), secure
    return endpoint, False


def _ssl_context(tls: TLSConfig) -> ssl.SSLContext:
    """Verify members against ``tls.ca_file`` (and their addresses); offer the client certificate; speak h2."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(tls.ca_file))
    if tls.cert_file is not None:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    context.set_alpn_protocols(["h2"])  # gRPC servers (grpc-go in etcd) insist on it
    return context


class StoreClient:
    """A client over all members of one store cluster."""

    def __init__(self, endpoints: Sequence[str], *, timeout: float = 5.0, tls: TLSConfig | None = None,
                 retry_backoff: float = 0.05) -> None:
        if not endpoints:
            raise ValueError("at least one store endpoint is required")
        self.timeout = timeout
        self._backoff = retry_backoff
        context = _ssl_context(tls) if tls is not None else None
        self._endpoints = [self._connect(e, context) for e in endpoints]
        self._current = 0
        self._discovered = False

    @staticmethod
    def _connect(endpoint: str, context: ssl.SSLContext | None) -> _Endpoint:
        target, secure = _target(endpoint)
        if secure and context is None:
            raise ValueError(f"endpoint {endpoint} is https: a TLS configuration (CA file) is required")
        return _Endpoint(target, Channel(target, ssl_context=context, max_message=MAX_MESSAGE_BYTES))

    async def close(self) -> None:
        for ep in self._endpoints:
            await ep.channel.close()

    async def __aenter__(self) -> StoreClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- leader tracking and retries ----

    async def _status_of(self, ep: _Endpoint) -> rpc_pb2.StatusResponse | None:
        try:
            resp = await ep.unary(_STATUS, rpc_pb2.StatusRequest(), rpc_pb2.StatusResponse, min(1.0, self.timeout))
        except RpcError:
            return None
        ep.member_id = resp.header.member_id
        return resp

    async def _discover(self) -> bool:
        """Point at the member that leads; False while the leader is unknown or one of ours yet unreachable.

        Writes sent to a follower are forwarded to the leader it believes in, and are lost if that
        leader just died: waiting to see a live leader first keeps writes unambiguous.
        """
        statuses = await asyncio.gather(*(self._status_of(ep) for ep in self._endpoints))
        ours = {ep.member_id for ep in self._endpoints if ep.member_id}
        reachable = [i for i, s in enumerate(statuses) if s is not None]
        for i in reachable:
            status = statuses[i]
            if status is not None and status.leader == self._endpoints[i].member_id:
                self._current = i
                self._discovered = True
                return True
        if reachable and self._current not in reachable:
            self._current = reachable[0]
        # A leader outside our endpoint list is reached through whichever member we can talk to.
        self._discovered = any((s := statuses[i]) is not None and s.leader and s.leader not in ours
                               for i in reachable)
        return self._discovered

    async def _find_leader(self, deadline: float) -> None:
        """Discover, retrying while there is time; after that, go on with any reachable member."""
        loop = asyncio.get_running_loop()
        attempt = 0
        while not await self._discover():
            attempt += 1
            pause = min(self._backoff * (2 ** min(attempt, 5)), 0.5)
            if loop.time() + pause >= deadline:
                return
            await asyncio.sleep(pause)

    def _failed(self, ep: _Endpoint) -> None:
        if self._endpoints[self._current] is ep:
            self._current = (self._current + 1) % len(self._endpoints)
        self._discovered = False

    async def _call(self, call: Callable[[_Endpoint, float], Awaitable[Resp]], *, idempotent: bool) -> Resp:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        attempt = 0
        while True:
            if not self._discovered:
                await self._find_leader(deadline - 1.0)
            ep = self._endpoints[self._current]
            remaining = deadline - loop.time()
            try:
                return await call(ep, max(remaining, 0.01))
            except (RpcError, EtcdError) as err:
                if isinstance(err, EtcdError):
                    failure, never_sent = err, False
                else:
                    failure, never_sent = errors.from_message(err.code, err.details), err.never_sent
                ambiguous = failure.code in _TRANSIENT_CODES and not never_sent and failure not in _NOT_APPLIED
                retry = (failure in _NOT_APPLIED or never_sent
                         or (idempotent and (failure.code in _TRANSIENT_CODES or failure == errors.TIMEOUT)))
                if not retry:
                    if not idempotent and ambiguous:
                        raise AmbiguousWriteError(failure.code, failure.message) from err
                    raise failure from err
                attempt += 1
                log.v(2, "store call failed; trying again", endpoint=ep.target, error=failure.message,
                      attempt=attempt)
                self._failed(ep)
                pause = min(self._backoff * (2 ** min(attempt, 5)), 1.0)
                if loop.time() + pause >= deadline:
                    raise failure from err
                await asyncio.sleep(pause)

    # ---- KV ----

    async def range(self, key: KeyLike, range_end: KeyLike | None = None, *, prefix: bool = False, limit: int = 0,
                    revision: int = 0, serializable: bool = False, keys_only: bool = False,
                    count_only: bool = False, sort_target: SortTarget = rpc_pb2.RangeRequest.KEY,
                    sort_order: SortOrder = rpc_pb2.RangeRequest.NONE) -> rpc_pb2.RangeResponse:
        request = rpc_pb2.RangeRequest(key=as_bytes(key), range_end=_range_end(key, range_end, prefix), limit=limit,
                                       revision=revision, serializable=serializable, keys_only=keys_only,
                                       count_only=count_only, sort_target=sort_target, sort_order=sort_order)
        return await self._call(lambda ep, t: ep.unary(_KV + "Range", request, rpc_pb2.RangeResponse, t),
                                idempotent=True)

    async def get(self, key: KeyLike, *, revision: int = 0, serializable: bool = False) -> kv_pb2.KeyValue | None:
        resp = await self.range(key, revision=revision, serializable=serializable)
        return resp.kvs[0] if resp.kvs else None

    async def put(self, key: KeyLike, value: KeyLike, *, lease: int = 0, prev_kv: bool = False) -> rpc_pb2.PutResponse:
        request = rpc_pb2.PutRequest(key=as_bytes(key), value=as_bytes(value), lease=lease, prev_kv=prev_kv)
        return await self._call(lambda ep, t: ep.unary(_KV + "Put", request, rpc_pb2.PutResponse, t), idempotent=False)

    async def delete(self, key: KeyLike, range_end: KeyLike | None = None, *, prefix: bool = False,
                     prev_kv: bool = False) -> rpc_pb2.DeleteRangeResponse:
        request = rpc_pb2.DeleteRangeRequest(key=as_bytes(key), range_end=_range_end(key, range_end, prefix),
                                             prev_kv=prev_kv)
        return await self._call(lambda ep, t: ep.unary(_KV + "DeleteRange", request, rpc_pb2.DeleteRangeResponse, t),
                                idempotent=False)

    async def txn(self, compare: Sequence[rpc_pb2.Compare], success: Sequence[rpc_pb2.RequestOp] = (),
                  failure: Sequence[rpc_pb2.RequestOp] = ()) -> rpc_pb2.TxnResponse:
        request = rpc_pb2.TxnRequest(compare=compare, success=success, failure=failure)
        writes = any(op.WhichOneof("request") != "request_range" for op in (*success, *failure))
        return await self._call(lambda ep, t: ep.unary(_KV + "Txn", request, rpc_pb2.TxnResponse, t),
                                idempotent=not writes)

    async def compact(self, revision: int, *, physical: bool = False) -> rpc_pb2.CompactionResponse:
        # Compacting to a revision twice is harmless: the second answers "compacted".
        request = rpc_pb2.CompactionRequest(revision=revision, physical=physical)
        return await self._call(lambda ep, t: ep.unary(_KV + "Compact", request, rpc_pb2.CompactionResponse, t),
                                idempotent=True)

    # ---- Watch ----

    async def watch(self, key: KeyLike, range_end: KeyLike | None = None, *, prefix: bool = False,
                    start_revision: int = 0, prev_kv: bool = False, progress_notify: bool = False,
                    no_put: bool = False, no_delete: bool = False) -> AsyncGenerator[WatchUpdate, None]:
        """Yield updates for a key or range, from ``start_revision`` (0: from now), across member failures.

        Raises ``WatchCompactedError`` when the revision to resume from is compacted away.
        """
        filters = ([rpc_pb2.WatchCreateRequest.NOPUT] if no_put else []) + (
            [rpc_pb2.WatchCreateRequest.NODELETE] if no_delete else [])
        next_rev = start_revision
        attempt = 0
        while True:
            if not self._discovered:
                await self._discover()
            ep = self._endpoints[self._current]
            create = rpc_pb2.WatchCreateRequest(key=as_bytes(key), range_end=_range_end(key, range_end, prefix),
                                                start_revision=next_rev, prev_kv=prev_kv,
                                                progress_notify=progress_notify, filters=filters)
            call: StreamCall | None = None
            try:
                # "Require leader": a member cut off from the leader ends the stream instead of going quiet.
                call = await ep.channel.stream(_WATCH, ((REQUIRE_LEADER_KEY, "true"),), self.timeout)
                await call.write(rpc_pb2.WatchRequest(create_request=create).SerializeToString())
                while (raw := await call.read()) is not None:
                    resp = _parse(rpc_pb2.WatchResponse, raw)
                    attempt = 0
                    if resp.created:
                        if next_rev <= 0:
                            next_rev = resp.header.revision + 1
                        continue
                    if resp.canceled:
                        if resp.compact_revision:
                            raise WatchCompactedError(resp.compact_revision)
                        raise EtcdError(StatusCode.CANCELLED, resp.cancel_reason or "watch canceled")
                    if resp.events:
                        events = [e for e in resp.events if e.kv.mod_revision >= next_rev]
                        if not events:
                            continue
                        next_rev = events[-1].kv.mod_revision + 1
                        yield WatchUpdate(resp.header.revision, events)
                    else:
                        next_rev = max(next_rev, resp.header.revision + 1)
                        yield WatchUpdate(resp.header.revision)
                log.v(2, "watch stream ended; resuming", endpoint=ep.target, revision=next_rev)
            except RpcError as err:
                if ep.channel.closed:
                    raise EtcdError(StatusCode.CANCELLED, "the store client is closed") from err
                log.v(2, "watch stream failed; resuming", endpoint=ep.target, revision=next_rev, error=str(err))
            finally:
                if call is not None:
                    call.cancel()
            self._failed(ep)
            attempt += 1
            await asyncio.sleep(min(self._backoff * (2 ** min(attempt, 5)), 1.0))

    # ---- Lease ----

    async def lease_grant(self, ttl: int, lease_id: int = 0) -> rpc_pb2.LeaseGrantResponse:
        request = rpc_pb2.LeaseGrantRequest(TTL=ttl, ID=lease_id)
        # With a chosen ID a repeated grant fails with "lease already exists" instead of leaking a lease.
        return await self._call(lambda ep, t: ep.unary(_LEASE + "LeaseGrant", request, rpc_pb2.LeaseGrantResponse, t),
                                idempotent=lease_id != 0)

    async def lease_revoke(self, lease_id: int) -> rpc_pb2.LeaseRevokeResponse:
        request = rpc_pb2.LeaseRevokeRequest(ID=lease_id)
        return await self._call(lambda ep, t: ep.unary(_LEASE + "LeaseRevoke", request, rpc_pb2.LeaseRevokeResponse, t),
                                idempotent=True)

    async def lease_time_to_live(self, lease_id: int, *, keys: bool = False) -> rpc_pb2.LeaseTimeToLiveResponse:
        request = rpc_pb2.LeaseTimeToLiveRequest(ID=lease_id, keys=keys)
        reply = rpc_pb2.LeaseTimeToLiveResponse
        return await self._call(lambda ep, t: ep.unary(_LEASE + "LeaseTimeToLive", request, reply, t), idempotent=True)

    async def lease_leases(self) -> rpc_pb2.LeaseLeasesResponse:
        request = rpc_pb2.LeaseLeasesRequest()
        return await self._call(lambda ep, t: ep.unary(_LEASE + "LeaseLeases", request, rpc_pb2.LeaseLeasesResponse, t),
                                idempotent=True)

    async def lease_keepalive_once(self, lease_id: int) -> int:
        """Renew once; the new TTL in seconds. Raises the 'lease not found' error when it expired."""

        async def once(ep: _Endpoint, budget: float) -> int:
            call: StreamCall | None = None
            try:
                async with asyncio.timeout(budget):
                    call = await ep.channel.stream(_LEASE_KEEPALIVE, connect_budget=budget)
                    await call.write(rpc_pb2.LeaseKeepAliveRequest(ID=lease_id).SerializeToString())
                    raw = await call.read()
            except TimeoutError:
                raise RpcError(StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded") from None
            finally:
                if call is not None:
                    call.cancel()
            if raw is None:
                raise errors.STOPPED  # the member closed the stream without answering
            return _parse(rpc_pb2.LeaseKeepAliveResponse, raw).TTL

        ttl = await self._call(once, idempotent=True)
        if ttl <= 0:
            raise errors.LEASE_NOT_FOUND
        return ttl

    async def lease_keepalive(self, lease_id: int) -> AsyncGenerator[int, None]:
        """Keep a lease alive, renewing at a third of its TTL; yields each new TTL until it is lost."""
        while True:
            ttl = await self.lease_keepalive_once(lease_id)
            yield ttl
            await asyncio.sleep(max(ttl / 3, 0.5))

    # ---- Cluster and Maintenance ----

    async def member_list(self) -> rpc_pb2.MemberListResponse:
        request = rpc_pb2.MemberListRequest()
        return await self._call(lambda ep, t: ep.unary(_MEMBER_LIST, request, rpc_pb2.MemberListResponse, t),
                                idempotent=True)

    async def status(self, endpoint: str | None = None) -> rpc_pb2.StatusResponse:
        """The status of one member (by endpoint as given to the client), or of the current one."""
        request = rpc_pb2.StatusRequest()
        if endpoint is None:
            return await self._call(lambda ep, t: ep.unary(_STATUS, request, rpc_pb2.StatusResponse, t),
                                    idempotent=True)
        target, _ = _target(endpoint)
        for ep in self._endpoints:
            if ep.target == target:
                try:
                    return await ep.unary(_STATUS, request, rpc_pb2.StatusResponse, self.timeout)
                except RpcError as err:
                    raise errors.from_message(err.code, err.details) from err
        raise ValueError(f"{endpoint} is not one of this client's endpoints")

    async def move_leader(self, target_member_id: int) -> rpc_pb2.MoveLeaderResponse:
        """Hand leadership to ``target_member_id`` (asks the current leader, as etcdctl does)."""
        await self._find_leader(asyncio.get_running_loop().time() + self.timeout)
        request = rpc_pb2.MoveLeaderRequest(targetID=target_member_id)
        return await self._call(lambda ep, t: ep.unary(_MOVE_LEADER, request, rpc_pb2.MoveLeaderResponse, t),
                                idempotent=False)

    async def leader_endpoint(self) -> str:
        """The endpoint of the member that currently leads (or a reachable one if none is known in time)."""
        await self._find_leader(asyncio.get_running_loop().time() + self.timeout)
        return self._endpoints[self._current].target

