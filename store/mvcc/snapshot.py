"""The store's replicated state as msgpack documents, for Raft snapshots and restarts.

A snapshot is a chain: one whole-state document, then any number of deltas, each holding the versions
written after the revision the previous link ends at (plus the compaction revision and the leases of
its own moment). A member writes a delta instead of its whole state when it can, so the work of a
snapshot follows the writes since the last one rather than the size of the store.

Versions travel as flat arrays of six fields rather than one array per version: msgpack then builds
a single list on decode, which makes a 100k-key restore several times faster.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, starmap
from typing import Any

import msgpack  # type: ignore[import-untyped]

from store.mvcc.index import KeyIndex
from store.mvcc.lessor import Lessor
from store.mvcc.types import KeyValue

FORMAT_VERSION = 1
DELTA_VERSION = 2
_FIELDS = 6


@dataclass(slots=True)
class SnapshotState:
    """A decoded snapshot: revisions, the rebuilt key index, and the leases' (id, ttl, remaining_ttl)."""

    revision: int
    compact_revision: int
    index: KeyIndex
    leases: list[tuple[int, int, int]]


def dump(revision: int, compact_revision: int, index: KeyIndex, lessor: Lessor) -> bytes:
    """Encode the whole state; the same state always gives the same bytes."""
    base, logged = index.export(compact_revision)
    document = [FORMAT_VERSION, revision, compact_revision, _flatten(base), _flatten(logged), lessor.export()]
    packed: bytes = msgpack.packb(document, use_bin_type=True)
    return packed


def can_extend(since: int, revision: int, compact_revision: int) -> bool:
    """Whether a delta from ``since`` can be dumped: every event after it is still in the index's log."""
    return compact_revision <= since + 1 and since <= revision


def dump_delta(since: int, revision: int, compact_revision: int, index: KeyIndex, lessor: Lessor) -> bytes:
    """Encode what changed after revision ``since`` (``can_extend`` must hold): ``load`` puts it on top."""
    logged = [event.kv for event in index.events_from(since + 1)]
    document = [DELTA_VERSION, revision, compact_revision, since, _flatten(logged), lessor.export()]
    packed: bytes = msgpack.packb(document, use_bin_type=True)
    return packed


def load(parts: Sequence[bytes | memoryview]) -> SnapshotState:
    """Decode a chain: a whole-state document from ``dump``, then deltas from ``dump_delta`` in order."""
    documents: list[list[Any]] = [msgpack.unpackb(part, raw=False, use_list=True) for part in parts]
    version, revision, compact_revision, base, logged, leases = documents[0]
    if version != FORMAT_VERSION:
        raise ValueError(f"mvcc snapshot format {version} is not {FORMAT_VERSION}; this build cannot read it")
    logged_parts = [logged]
    first_compact = compact_revision
    for document in documents[1:]:
        version, delta_revision, compact_revision, since, logged, leases = document
        if version != DELTA_VERSION:
            raise ValueError(f"mvcc snapshot delta format {version} is not {DELTA_VERSION}")
        if since != revision:
            raise ValueError(f"mvcc snapshot delta starts after revision {since}, the chain ends at {revision}")
        revision = delta_revision
        logged_parts.append(logged)
    index = KeyIndex.rebuild(_unflatten(base), chain.from_iterable(map(_unflatten, logged_parts)))
    if compact_revision > first_compact:
        # Compacting after the replay drops what compacting between the deltas dropped: compaction only
        # touches versions below its revision, and every later write is above it.
        index.compact(compact_revision)
    return SnapshotState(revision, compact_revision, index, [(i, ttl, rem) for i, ttl, rem in leases])


def _flatten(kvs: list[KeyValue]) -> list[bytes | int]:
    flat: list[bytes | int] = []
    extend = flat.extend
    for kv in kvs:
        extend((kv.key, kv.create_revision, kv.mod_revision, kv.version, kv.value, kv.lease))
    return flat


def _unflatten(flat: list[Any]) -> Iterator[KeyValue]:
    fields = iter(flat)
    return starmap(KeyValue, zip(*([fields] * _FIELDS), strict=True))
