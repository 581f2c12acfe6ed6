"""The deterministic applier: a committed entry's etcd request, applied to the data model.

Raft entries carry ``msgpack([request_id, kind, payload])`` with ``payload`` the serialized etcd
protobuf request. Every member applies the same entries in the same order; the result (the
protobuf response, or the ``EtcdError`` etcd would answer) is returned, never raised, so a request
that fails fails identically everywhere and never stops the apply loop. The proposer's server
completes the response header with its ids and term.

Besides the key space and leases (``KVStore``), the replicated state includes the alarms (NOSPACE
after ``--quota-backend-bytes`` is hit), so ``snapshot``/``restore`` here wrap the data model's.
"""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import msgpack  # type: ignore[import-untyped]
from google.protobuf.message import DecodeError

from process.metrics import Histogram
from protos.etcd import rpc_pb2
from store import convert, errors
from store.errors import EtcdError
from store.grpc_status import StatusCode
from store.mvcc.errors import LeaseNotFoundError, MVCCError, NotPrimaryError
from store.mvcc.kvstore import KVStore

_SNAPSHOT_FORMAT = 2
_SNAPSHOT_HEAD = struct.Struct(">I")  # length of the msgpack head before the data model's bytes


# One packer for every entry: ``msgpack.packb`` builds a Packer per call, which cost more than the packing
# (0.8 against 0.3 µs per 1 KiB put). Packing never calls back into Python, so no other thread can interleave.
_ENTRY_PACKER = msgpack.Packer(use_bin_type=True)


def encode_entry(request_id: int, kind: str, payload: bytes) -> bytes:
    """A normal Raft entry's data: the proposer's request id, the request kind and its protobuf bytes."""
    return _ENTRY_PACKER.pack([request_id, kind, payload])  # type: ignore[no-any-return]


def decode_entry(data: bytes) -> tuple[int, str, bytes]:
    """The inverse of ``encode_entry``; ValueError for data no member wrote."""
    try:
        request_id, kind, payload = msgpack.unpackb(data, raw=False)
    except (ValueError, TypeError, msgpack.UnpackException) as err:
        raise ValueError(f"not a store entry: {err}") from err
    if not isinstance(request_id, int) or not isinstance(kind, str) or not isinstance(payload, bytes):
        raise ValueError("not a store entry: fields have the wrong types")
    return request_id, kind, payload


def lease_revoke_proposal(lease_id: int) -> tuple[str, bytes]:
    """What the leader's node proposes for a lease its lessor found expired."""
    return "lease_revoke", rpc_pb2.LeaseRevokeRequest(ID=lease_id).SerializeToString()


def compact_proposal(revision: int) -> tuple[str, bytes]:
    """What the auto-compactor proposes."""
    return "compact", rpc_pb2.CompactionRequest(revision=revision).SerializeToString()


def _header(revision: int) -> rpc_pb2.ResponseHeader:
    return rpc_pb2.ResponseHeader(revision=revision)


def _txn_writes(request: rpc_pb2.TxnRequest) -> bool:
    for op in (*request.success, *request.failure):
        which = op.WhichOneof("request")
        if which in ("request_put", "request_delete_range") or (which == "request_txn"
                                                                 and _txn_writes(op.request_txn)):
            return True
    return False


class Applier:
    """Applies entries to one member's ``KVStore`` and answers the reads served without Raft."""

    def __init__(self, kv: KVStore, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.kv = kv
        self._clock = clock
        self._alarms: set[tuple[int, int]] = set()  # (member id, AlarmType)
        self._no_space = False  # whether any NOSPACE alarm is raised: asked on every write, kept up to date
        self.apply_seconds = Histogram("etcd_server_apply_duration_seconds",
                                       "Time to apply one committed entry to the state machine.")
        self._handlers: dict[str, Callable[[bytes], Any]] = {
            "put": self._put, "delete": self._delete, "txn": self._txn, "compact": self._compact,
            "lease_grant": self._lease_grant, "lease_revoke": self._lease_revoke, "alarm": self._alarm,
        }
        self._responses: dict[str, Callable[[Any], Any]] = {
            "put": convert.put_to_pb, "delete": convert.delete_to_pb, "txn": convert.txn_to_pb,
        }

    # ---- state the server reads ----

    @property
    def revision(self) -> int:
        return self.kv.revision

    @property
    def db_size(self) -> int:
        return self.kv.size_bytes

    @property
    def no_space(self) -> bool:
        return self._no_space

    def _alarms_changed(self) -> None:
        self._no_space = any(alarm == rpc_pb2.NOSPACE for _, alarm in self._alarms)

    # ---- applying committed entries ----

    def apply(self, kind: str, payload: bytes, respond: bool = True) -> object:
        """Apply one committed request; returns its response or the EtcdError it fails with.

        With ``respond=False`` (nobody on this member waits for the answer: a follower applying the
        leader's writes) a put, delete or txn returns None instead of a protobuf response nobody reads.
        """
        started = time.perf_counter()
        try:
            handler = self._handlers.get(kind)
            if handler is None:
                return EtcdError(StatusCode.INVALID_ARGUMENT, f"etcdserver: unknown request kind {kind!r}")
            result = handler(payload)
            to_pb = self._responses.get(kind)
            if to_pb is None:
                return result
            return to_pb(result) if respond else None
        except EtcdError as err:
            return err
        except MVCCError as err:
            return errors.from_mvcc(err)
        except (DecodeError, ValueError) as err:
            return EtcdError(StatusCode.INVALID_ARGUMENT, f"etcdserver: malformed {kind} request: {err}")
        finally:
            self.apply_seconds.observe(time.perf_counter() - started)

    # put, delete and txn return the data model's result; ``apply`` converts it when someone waits for it.

    def _put(self, payload: bytes) -> Any:
        if self._no_space:
            raise errors.NO_SPACE
        request = rpc_pb2.PutRequest.FromString(payload)
        return self.kv.execute(convert.put_from_pb(request))

    def _delete(self, payload: bytes) -> Any:
        request = rpc_pb2.DeleteRangeRequest.FromString(payload)
        return self.kv.execute(convert.delete_from_pb(request))

    def _txn(self, payload: bytes) -> Any:
        request = rpc_pb2.TxnRequest.FromString(payload)
        if self._no_space and _txn_writes(request):
            raise errors.NO_SPACE
        return self.kv.execute(convert.txn_from_pb(request))

    def _compact(self, payload: bytes) -> rpc_pb2.CompactionResponse:
        request = rpc_pb2.CompactionRequest.FromString(payload)
        return rpc_pb2.CompactionResponse(header=_header(self.kv.compact(request.revision)))

    def _lease_grant(self, payload: bytes) -> rpc_pb2.LeaseGrantResponse:
        if self._no_space:
            raise errors.NO_SPACE
        request = rpc_pb2.LeaseGrantRequest.FromString(payload)
        ttl = self.kv.lessor.grant(request.ID, request.TTL, self._clock())
        return rpc_pb2.LeaseGrantResponse(header=_header(self.kv.revision), ID=request.ID, TTL=ttl)

    def _lease_revoke(self, payload: bytes) -> rpc_pb2.LeaseRevokeResponse:
        request = rpc_pb2.LeaseRevokeRequest.FromString(payload)
        return rpc_pb2.LeaseRevokeResponse(header=_header(self.kv.lease_revoke(request.ID)))

    def _alarm(self, payload: bytes) -> rpc_pb2.AlarmResponse:
        request = rpc_pb2.AlarmRequest.FromString(payload)
        entry = (request.memberID, int(request.alarm))
        changed: list[tuple[int, int]] = []
        if request.action == rpc_pb2.AlarmRequest.ACTIVATE and request.alarm != rpc_pb2.NONE:
            if entry not in self._alarms:
                self._alarms.add(entry)
                changed.append(entry)
        elif request.action == rpc_pb2.AlarmRequest.DEACTIVATE and entry in self._alarms:
            self._alarms.discard(entry)
            changed.append(entry)
        self._alarms_changed()
        members = [rpc_pb2.AlarmMember(memberID=m, alarm=a) for m, a in changed]  # type: ignore[arg-type]
        return rpc_pb2.AlarmResponse(header=_header(self.kv.revision), alarms=members)

    # ---- reads served locally (after a ReadIndex barrier, or serializable) ----

    def range(self, request: rpc_pb2.RangeRequest) -> rpc_pb2.RangeResponse:
        return convert.range_to_pb(self.kv.execute(convert.range_from_pb(request)))  # type: ignore[arg-type]

    def txn_read_only(self, request: rpc_pb2.TxnRequest) -> rpc_pb2.TxnResponse:
        return convert.txn_to_pb(self.kv.execute(convert.txn_from_pb(request)))  # type: ignore[arg-type]

    def alarms(self, request: rpc_pb2.AlarmRequest) -> list[rpc_pb2.AlarmMember]:
        """Active alarms, of one member when the request names one."""
        return [rpc_pb2.AlarmMember(memberID=m, alarm=a)  # type: ignore[arg-type]
                for m, a in sorted(self._alarms) if not request.memberID or m == request.memberID]

    def lease_renew(self, lease_id: int) -> int:
        """A keep-alive on the leader's lessor: the TTL, or 0 when the lease is gone (etcd's answer)."""
        try:
            return self.kv.lessor.renew(lease_id, self._clock())
        except LeaseNotFoundError:
            return 0
        except NotPrimaryError:
            raise errors.NOT_LEADER from None

    def lease_time_to_live(self, request: rpc_pb2.LeaseTimeToLiveRequest) -> rpc_pb2.LeaseTimeToLiveResponse:
        try:
            status = self.kv.lessor.time_to_live(request.ID, self._clock(), keys=request.keys)
        except LeaseNotFoundError:
            # etcd answers an unknown lease with TTL -1, not an error ("lease ... already expired").
            return rpc_pb2.LeaseTimeToLiveResponse(header=_header(self.kv.revision), ID=request.ID, TTL=-1)
        return rpc_pb2.LeaseTimeToLiveResponse(header=_header(self.kv.revision), ID=status.id, TTL=status.ttl,
                                               grantedTTL=status.granted_ttl, keys=status.keys)

    def lease_ids(self) -> list[int]:
        return self.kv.lessor.leases()

    def hash_kv(self, revision: int) -> tuple[int, int]:
        """CRC32 of every key's version as of ``revision`` (0: now), and the compaction revision.

        Equal on every member that applied the same entries: a cheap consistency check.
        """
        resp = self.kv.execute(convert.range_from_pb(rpc_pb2.RangeRequest(key=b"\0", range_end=b"\0",
                                                                            revision=revision)))
        crc = 0
        for kv in resp.kvs:  # type: ignore[union-attr]
            crc = zlib.crc32(kv.key, crc)
            crc = zlib.crc32(kv.value, crc)
            crc = zlib.crc32(b"%d,%d,%d,%d" % (kv.create_revision, kv.mod_revision, kv.version, kv.lease), crc)
        return crc, self.kv.compact_revision

    # ---- snapshots ----

    def snapshot(self) -> bytes:
        """The replicated state: ``u32 length | msgpack([format, alarms])``, then the data model's snapshot.

        The data model's bytes follow the head rather than being packed inside it: packing and
        unpacking would each copy them, and they are the bulk of a snapshot.
        """
        return b"".join(self.snapshot_parts())

    def snapshot_parts(self, since: int = 0) -> list[bytes]:
        """``snapshot()`` as pieces to write one after the other: joining them copies the whole state once more.

        With ``since`` (``can_extend(since)`` must hold), a delta: what ``restore`` puts on top of the
        snapshot taken at revision ``since``.
        """
        head: bytes = msgpack.packb([_SNAPSHOT_FORMAT, sorted(self._alarms)], use_bin_type=True)
        return [_SNAPSHOT_HEAD.pack(len(head)), head, self.kv.snapshot(since)]

    def can_extend(self, since: int) -> bool:
        """Whether a delta on top of the snapshot taken at revision ``since`` can still be taken."""
        return self.kv.can_extend(since)

    def restore(self, data: bytes | memoryview, deltas: Sequence[bytes | memoryview] = ()) -> None:
        """Replace the state with a snapshot's and the deltas taken after it, in order."""
        kv_parts = []
        alarms: list[list[int]] = []
        for part in (data, *deltas):
            view = memoryview(part)
            (head_len,) = _SNAPSHOT_HEAD.unpack_from(view)
            end = _SNAPSHOT_HEAD.size + head_len
            version, alarms = msgpack.unpackb(view[_SNAPSHOT_HEAD.size:end], raw=False)
            if version != _SNAPSHOT_FORMAT:
                raise ValueError(f"store snapshot format {version} is not {_SNAPSHOT_FORMAT}")
            kv_parts.append(view[end:])
        self.kv.restore(kv_parts[0], kv_parts[1:])
        self._alarms = {(int(m), int(a)) for m, a in alarms}
        self._alarms_changed()
