"""Typed errors of the data model; each carries etcd's exact message so the server can send it verbatim."""

from __future__ import annotations


class MVCCError(Exception):
    """Base of every error the data model raises; ``message`` is etcd's text for it."""

    message = "mvcc: error"

    def __init__(self, detail: str = "") -> None:
        # The context (which key, which revision) goes after etcd's text so logs say what failed
        # while ``message`` stays byte-identical to etcd's for clients that match on it.
        super().__init__(f"{self.message} ({detail})" if detail else self.message)


class CompactedError(MVCCError):
    """The requested revision is older than the compaction revision."""

    message = "mvcc: required revision has been compacted"


class FutureRevisionError(MVCCError):
    """The requested revision is newer than the store's current revision."""

    message = "mvcc: required revision is a future revision"


class KeyNotFoundError(MVCCError):
    """A put with ignore_value or ignore_lease named a key that does not exist."""

    message = "etcdserver: key not found"


class EmptyKeyError(MVCCError):
    """A request named the empty key, which etcd reserves."""

    message = "etcdserver: key is not provided"


class ValueProvidedError(MVCCError):
    """A put asked to keep the old value yet carried a new one."""

    message = "etcdserver: value is provided"


class LeaseProvidedError(MVCCError):
    """A put asked to keep the old lease yet carried a new one."""

    message = "etcdserver: lease is provided"


class DuplicateKeyError(MVCCError):
    """A txn writes one key in two operations of the same branch."""

    message = "etcdserver: duplicate key given in txn request"


class LeaseNotFoundError(MVCCError):
    """The lease does not exist (never granted, revoked, or already expired)."""

    message = "etcdserver: requested lease not found"


class LeaseExistsError(MVCCError):
    """A grant named a lease id that is already in use."""

    message = "etcdserver: lease already exists"


class LeaseTTLTooLargeError(MVCCError):
    """A grant asked for a TTL above etcd's maximum."""

    message = "etcdserver: too large lease TTL"


class NotPrimaryError(MVCCError):
    """Keep-alives are answered only by the leader's lessor."""

    message = "not a primary lessor"
