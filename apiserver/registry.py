"""Objects over the store: Kubernetes' key layout, optimistic concurrency and resourceVersion = mod_revision.

Values are JSON without `metadata.resourceVersion`; the revision the store wrote them at is put back
on every read, so the version can never disagree with the store. Creates are transactions on
`create_revision == 0`, updates on `mod_revision == rv`; a failed compare becomes AlreadyExists or
Conflict. Extra compares and operations ride in the same transaction (ClusterIP and NodePort
reservations), so a rejected write leaves nothing half-written.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from api import status
from api.schema import JSON, Resource
from apiserver import json_codec
from apiserver.encryption import PLAINTEXT, Transformer, TransformError
from apiserver.errors import APIError, bad_request, from_store
from apiserver.read_barrier import ReadBarrier
from protos.etcd import kv_pb2, rpc_pb2
from store import client as store
from store.errors import EtcdError

T = TypeVar("T")
Decoded = Callable[[bytes, int], dict[str, JSON] | None]
"""The already-decoded object at a key if it is the version written at a revision (the watch cache's copy)."""

COMPACTED_MESSAGE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new "
    "list without the continue parameter, or use the continue token in this response to retrieve the "
    "remainder of the results. Continuing with the provided token results in an inconsistent list - "
    "objects that were created, modified, or deleted between the time the first chunk was returned and "
    "now may show up in the list."
)


def encode(obj: JSON) -> bytes:
    """The stored form: compact JSON without the resourceVersion the store tracks itself."""
    meta = obj.get("metadata") or {}
    if "resourceVersion" in meta:
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "resourceVersion"}}
    return json_codec.dumps(obj)


def decode(
    kv: kv_pb2.KeyValue, revision: int | None = None, transformer: Transformer = PLAINTEXT
) -> dict[str, JSON]:
    """A stored object with its resourceVersion (the key's mod_revision unless `revision` says otherwise),
    decrypted when the value was stored encrypted; 500 InternalError when it cannot be."""
    try:
        plain = transformer.from_store(kv.key.decode(), kv.value).data
    except TransformError as err:
        raise APIError(status.internal_error(str(err))) from None
    obj = json_codec.loads(plain)
    assert isinstance(obj, dict)
    obj.setdefault("metadata", {})["resourceVersion"] = str(revision if revision is not None else kv.mod_revision)
    return obj


READ_CHUNK = 500
"""Keys per store read: a whole 10k-object list in one range would exceed the gRPC message limit."""
KEYS_CHUNK = 5000
"""Keys per store read without values (a few dozen bytes each)."""


async def read_range(
    client: store.StoreClient, start: bytes, end: bytes, limit: int, revision: int, *, keys_only: bool = False
) -> rpc_pb2.RangeResponse:
    """One range of at most `limit` keys (without values if `keys_only`), fewer when their values are too large
    for one gRPC message."""
    while True:
        try:
            return await client.range(start, end, limit=limit, revision=revision, keys_only=keys_only)
        except EtcdError as err:
            if "larger than max" not in err.message or limit <= 1:
                raise
            limit //= 2


async def scan(client: store.StoreClient, prefix: bytes, revision: int = 0) -> tuple[list[kv_pb2.KeyValue], int]:
    """Every key under `prefix` at one revision (the current one when 0), read in chunks."""
    end = store.prefix_end(prefix)
    start = prefix
    out: list[kv_pb2.KeyValue] = []
    while True:
        resp = await read_range(client, start, end, READ_CHUNK, revision)
        revision = revision or int(resp.header.revision)
        out.extend(resp.kvs)
        if not resp.more or not resp.kvs:
            return out, revision
        start = resp.kvs[-1].key + b"\0"


@dataclass
class Page:
    """One list result: items, the revision they were read at, and where the next page starts."""

    items: list[dict[str, JSON]]
    revision: int
    continue_token: str = ""
    remaining: int | None = None


def continue_token(revision: int, start: bytes) -> str:
    """kube-apiserver's token shape: base64 JSON with the snapshot revision and the next key."""
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": base64.b64encode(start).decode()})
    return base64.urlsafe_b64encode(raw.encode()).decode()


def parse_continue(token: str, prefix: bytes) -> tuple[int, bytes]:
    """The snapshot revision and next key of a continue token; 400 if it is not one of ours."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
        revision, start = int(raw["rv"]), base64.b64decode(raw["start"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise bad_request("continue key is not valid: unable to decode the continue token") from None
    if not start.startswith(prefix) or revision <= 0:
        raise bad_request("continue key is not valid: the token does not belong to this list")
    return revision, start


def _all_cached(kvs: Sequence[kv_pb2.KeyValue], decoded: Decoded) -> list[dict[str, JSON]] | None:
    """The cached objects of exactly these versions, or None if one is missing."""
    out = []
    for kv in kvs:
        obj = decoded(kv.key, kv.mod_revision)
        if obj is None:
            return None
        out.append(obj)
    return out


class Registry:
    """Typed reads and conditional writes of objects, as kube-apiserver's generic registry does them."""

    def __init__(self, client: store.StoreClient, transformer: Transformer = PLAINTEXT) -> None:
        self.client = client
        self.transformer = transformer
        self.barrier = ReadBarrier(client)
        """Consistent reads of single keys and of the revision, batched with the reads asked for alongside."""

    def value(self, key: str, obj: JSON) -> bytes:
        """The stored bytes of `obj` at `key`: JSON, encrypted where --encryption-provider-config says so."""
        return self.transformer.to_store(key, encode(obj))

    async def stale(self, key: str) -> bool:
        """Whether the value at `key` was written with an older encryption provider or key (so an update
        that changes nothing must still rewrite it)."""
        if not self.transformer.covers(key):
            return False
        kv: kv_pb2.KeyValue | None = await self._call(self.client.get(key))
        if kv is None:
            return False
        try:
            return self.transformer.from_store(key, kv.value).stale
        except TransformError as err:
            raise APIError(status.internal_error(str(err))) from None

    async def _call(self, coro: Awaitable[T]) -> T:
        try:
            return await coro
        except (EtcdError, TimeoutError) as err:
            raise from_store(err) from err

    async def revision(self) -> int:
        """The store's current revision (a consistent read, batched with the reads asked for alongside)."""
        _, revision = await self._call(self.barrier.read())
        return revision

    async def get(self, key: str, decoded: Decoded | None = None) -> dict[str, JSON] | None:
        """The object at `key` (a consistent read, batched with the reads asked for alongside), or None. `decoded`
        as for `list`: a cached copy of the very version read, shared, so the caller must not change it."""
        kv, _ = await self._call(self.barrier.read(key.encode()))
        if kv is None:
            return None
        return (decoded and decoded(kv.key, kv.mod_revision)) or decode(kv, transformer=self.transformer)

    async def require(self, res: Resource, key: str, name: str, decoded: Decoded | None = None) -> dict[str, JSON]:
        """The object at `key`, or 404 NotFound."""
        obj = await self.get(key, decoded)
        if obj is None:
            raise APIError(status.not_found(res.plural, res.group, name))
        return obj

    async def list(
        self,
        prefix: str,
        *,
        limit: int = 0,
        token: str = "",
        revision: int = 0,
        keep: Callable[[dict[str, JSON]], bool] | None = None,
        decoded: Decoded | None = None,
    ) -> Page:
        """A page of objects under `prefix` (ending in `/`) read at one snapshot; `keep` filters them.

        `decoded(key, mod_revision)` may hand back the object already decoded (the watch cache's copy of that
        very version). Given it, each chunk is first read without values: when the cache holds every version
        the store lists, the page is those objects (exactly the store's state at the snapshot) and no value
        crosses the wire or is decoded; otherwise the chunk is read again with values. Cached objects are
        shared, so the caller must not change them."""
        pfx = prefix.encode()
        end = store.prefix_end(pfx)
        start = pfx
        if token:
            revision, start = parse_continue(token, pfx)
        items: list[dict[str, JSON]] = []
        while True:
            batch = min(READ_CHUNK, limit - len(items)) if limit else READ_CHUNK
            objs: list[dict[str, JSON]] | None = None
            if decoded is not None:
                resp = await self._read(start, end, batch if limit else KEYS_CHUNK, revision, keys_only=True)
                revision = revision or int(resp.header.revision)
                objs = _all_cached(resp.kvs, decoded)
            if objs is None:
                resp = await self._read(start, end, batch, revision)
                revision = revision or int(resp.header.revision)
                objs = [
                    (decoded and decoded(kv.key, kv.mod_revision)) or decode(kv, transformer=self.transformer)
                    for kv in resp.kvs
                ]
            items += objs if keep is None else [o for o in objs if keep(o)]
            if not resp.more or not resp.kvs:
                return Page(items, revision)
            start = resp.kvs[-1].key + b"\0"
            if limit and len(items) >= limit:
                return Page(items, revision, continue_token(revision, start))

    async def _read(
        self, start: bytes, end: bytes, limit: int, revision: int, *, keys_only: bool = False
    ) -> rpc_pb2.RangeResponse:
        """One chunk of a list, store errors as kube-apiserver reports them."""
        try:
            return await read_range(self.client, start, end, limit, revision, keys_only=keys_only)
        except EtcdError as err:
            if err.message.endswith("compacted"):
                raise APIError(status.expired(COMPACTED_MESSAGE)) from err
            if "future revision" in err.message:
                raise APIError(status.failure("Timeout", f"Too large resource version: {revision}")) from err
            raise from_store(err) from err
        except TimeoutError as err:
            raise from_store(err) from err

    async def create(
        self,
        res: Resource,
        key: str,
        obj: dict[str, JSON],
        *,
        compares: Sequence[rpc_pb2.Compare] = (),
        ops: Sequence[rpc_pb2.RequestOp] = (),
        conflict: str = "",
    ) -> dict[str, JSON]:
        """Write a new object; 409 AlreadyExists if the key exists, Conflict (`conflict`) if an extra compare fails."""
        name = str((obj.get("metadata") or {}).get("name", ""))
        resp: rpc_pb2.TxnResponse = await self._call(
            self.client.txn(
                [store.compare_create(key, "==", 0), *compares],
                [store.op_put(key, self.value(key, obj)), *ops],
                [store.op_get(key)],
            )
        )
        if not resp.succeeded:
            if resp.responses[0].response_range.kvs:
                raise APIError(status.already_exists(res.plural, res.group, name))
            raise APIError(status.conflict(res.plural, res.group, name, conflict))
        obj.setdefault("metadata", {})["resourceVersion"] = str(resp.header.revision)
        return obj

    async def update(
        self,
        res: Resource,
        key: str,
        obj: dict[str, JSON],
        expected: int,
        *,
        compares: Sequence[rpc_pb2.Compare] = (),
        ops: Sequence[rpc_pb2.RequestOp] = (),
    ) -> dict[str, JSON]:
        """Replace the object last written at revision `expected`; 409 Conflict if it (or an extra compare) changed."""
        name = str((obj.get("metadata") or {}).get("name", ""))
        resp: rpc_pb2.TxnResponse = await self._call(
            self.client.txn(
                [store.compare_mod(key, "==", expected), *compares],
                [store.op_put(key, self.value(key, obj)), *ops],
                [store.op_get(key)],
            )
        )
        if not resp.succeeded:
            if not resp.responses[0].response_range.kvs:
                raise APIError(status.not_found(res.plural, res.group, name))
            raise APIError(
                status.conflict(
                    res.plural,
                    res.group,
                    name,
                    "the object has been modified; please apply your changes to the latest version and try again",
                )
            )
        obj.setdefault("metadata", {})["resourceVersion"] = str(resp.header.revision)
        return obj

    async def delete(
        self, res: Resource, key: str, name: str, expected: int, *, ops: Sequence[rpc_pb2.RequestOp] = ()
    ) -> int:
        """Remove the object last written at `expected`; returns the deletion's revision."""
        resp: rpc_pb2.TxnResponse = await self._call(
            self.client.txn([store.compare_mod(key, "==", expected)], [store.op_delete(key), *ops], [store.op_get(key)])
        )
        if not resp.succeeded:
            if not resp.responses[0].response_range.kvs:
                raise APIError(status.not_found(res.plural, res.group, name))
            raise APIError(
                status.conflict(
                    res.plural,
                    res.group,
                    name,
                    "the object has been modified; please apply your changes to the latest version and try again",
                )
            )
        return int(resp.header.revision)
