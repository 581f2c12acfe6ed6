"""etcd's client-facing errors: the exact gRPC status code and message etcd's clients recognise.

etcd clients (``clientv3``'s ``rpctypes``) match errors by message text, so these strings are part
of the wire contract, not prose. Codes are ``store.grpc_status.StatusCode``: the client side (the
apiserver) runs without grpcio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from store.grpc_status import StatusCode
from store.mvcc import errors as mvcc_errors
from store.mvcc.errors import MVCCError

if TYPE_CHECKING:
    import grpc


class EtcdError(Exception):
    """An error a member reports to a client with etcd's gRPC code and message."""

    def __init__(self, code: StatusCode | grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        # Server code may name grpcio's code; one enum keeps errors comparable.
        self.code = code if isinstance(code, StatusCode) else StatusCode[code.name]
        self.message = message

    def __repr__(self) -> str:
        return f"EtcdError({self.code.name}, {self.message!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EtcdError) and (self.code, self.message) == (other.code, other.message)

    def __hash__(self) -> int:
        return hash((self.code, self.message))


def _e(code: StatusCode, message: str) -> EtcdError:
    return EtcdError(code, "etcdserver: " + message)


_INVALID = StatusCode.INVALID_ARGUMENT
_PRECONDITION = StatusCode.FAILED_PRECONDITION
_UNAVAILABLE = StatusCode.UNAVAILABLE

EMPTY_KEY = _e(_INVALID, "key is not provided")
KEY_NOT_FOUND = _e(_INVALID, "key not found")
VALUE_PROVIDED = _e(_INVALID, "value is provided")
LEASE_PROVIDED = _e(_INVALID, "lease is provided")
TOO_MANY_OPS = _e(_INVALID, "too many operations in txn request")
DUPLICATE_KEY = _e(_INVALID, "duplicate key given in txn request")
REQUEST_TOO_LARGE = _e(_INVALID, "request is too large")
COMPACTED = _e(StatusCode.OUT_OF_RANGE, "mvcc: required revision has been compacted")
FUTURE_REV = _e(StatusCode.OUT_OF_RANGE, "mvcc: required revision is a future revision")
NO_SPACE = _e(StatusCode.RESOURCE_EXHAUSTED, "mvcc: database space exceeded")
LEASE_NOT_FOUND = _e(StatusCode.NOT_FOUND, "requested lease not found")
LEASE_EXIST = _e(_PRECONDITION, "lease already exists")
LEASE_TTL_TOO_LARGE = _e(StatusCode.OUT_OF_RANGE, "too large lease TTL")
MEMBER_EXIST = _e(_PRECONDITION, "member ID already exist")
PEER_URL_EXIST = _e(_PRECONDITION, "Peer URLs already exists")
MEMBER_NOT_ENOUGH_STARTED = _e(_PRECONDITION, "re-configuration failed due to not enough started members")
MEMBER_BAD_URLS = _e(_INVALID, "given member URLs are invalid")
MEMBER_NOT_FOUND = _e(StatusCode.NOT_FOUND, "member not found")
MEMBER_NOT_LEARNER = _e(_PRECONDITION, "can only promote a learner member")
LEARNER_NOT_READY = _e(_PRECONDITION, "can only promote a learner member which is in sync with leader")
TOO_MANY_LEARNERS = _e(_PRECONDITION, "too many learner members in cluster")
NO_LEADER = _e(_UNAVAILABLE, "no leader")
NOT_LEADER = _e(_PRECONDITION, "not leader")
LEADER_CHANGED = _e(_UNAVAILABLE, "leader changed")
STOPPED = _e(_UNAVAILABLE, "server stopped")
TIMEOUT = _e(_UNAVAILABLE, "request timed out")
TIMEOUT_DUE_TO_LEADER_FAIL = _e(_UNAVAILABLE, "request timed out, possibly due to previous leader failure")
UNHEALTHY = _e(_UNAVAILABLE, "unhealthy cluster")
CORRUPT = _e(StatusCode.DATA_LOSS, "corrupt cluster")
NOT_SUPPORTED_FOR_LEARNER = _e(_UNAVAILABLE, "rpc not supported for learner")
BAD_LEADER_TRANSFEREE = _e(_PRECONDITION, "bad leader transferee")

_BY_MESSAGE = {e.message: e for e in globals().values() if isinstance(e, EtcdError)}


def from_message(code: StatusCode | grpc.StatusCode, message: str) -> EtcdError:
    """The known error a status carries, so a client can tell e.g. 'compacted' from other failures."""
    known = _BY_MESSAGE.get(message)
    return known if known is not None and known.code.name == code.name else EtcdError(code, message)


def from_mvcc(err: MVCCError) -> EtcdError:
    """etcd's error for a data-model error (the data model raises typed exceptions, not gRPC statuses)."""
    for kind, known in _MVCC:
        if isinstance(err, kind):
            return known
    return EtcdError(StatusCode.UNKNOWN, "etcdserver: " + err.message.removeprefix("etcdserver: "))


_MVCC: list[tuple[type[MVCCError], EtcdError]] = [
    (mvcc_errors.CompactedError, COMPACTED),
    (mvcc_errors.FutureRevisionError, FUTURE_REV),
    (mvcc_errors.KeyNotFoundError, KEY_NOT_FOUND),
    (mvcc_errors.EmptyKeyError, EMPTY_KEY),
    (mvcc_errors.ValueProvidedError, VALUE_PROVIDED),
    (mvcc_errors.LeaseProvidedError, LEASE_PROVIDED),
    (mvcc_errors.DuplicateKeyError, DUPLICATE_KEY),
    (mvcc_errors.LeaseNotFoundError, LEASE_NOT_FOUND),
    (mvcc_errors.LeaseExistsError, LEASE_EXIST),
    (mvcc_errors.LeaseTTLTooLargeError, LEASE_TTL_TOO_LARGE),
    (mvcc_errors.NotPrimaryError, NOT_LEADER),
]
