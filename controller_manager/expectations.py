"""Controller expectations: creates and deletes in flight that the informer has not reported yet.

A ReplicaSet that asked for 5 pods must not ask again before its cache shows them, or a slow
watch would double the pods. The driver owns one ``Expectations`` per controller kind: it applies
``Expect`` actions, lowers counts from informer events and from failed or skipped writes, and hands
the object to the reconcile functions read-only. Records expire after 5 minutes, as upstream, so a
lost event can delay a controller but never wedge it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

TTL: Final = timedelta(minutes=5)


@dataclass
class _Record:
    adds: int
    deletes: set[str] = field(default_factory=set)
    timestamp: datetime | None = None


class Expectations:
    """Pending creations (a count) and deletions (pod keys) per controller key."""

    def __init__(self) -> None:
        self._records: dict[str, _Record] = {}

    def expect(self, key: str, creations: int, deletions: Iterable[str], now: datetime) -> None:
        """Replace the record for ``key`` (a new sync only runs once the old one was satisfied)."""
        self._records[key] = _Record(creations, set(deletions), now)

    def creation_observed(self, key: str) -> None:
        """A pod of ``key`` appeared in the cache, or a create was abandoned."""
        rec = self._records.get(key)
        if rec is not None:
            rec.adds -= 1

    def deletion_observed(self, key: str, pod_key: str) -> None:
        """``pod_key`` disappeared from the cache (or its delete failed)."""
        rec = self._records.get(key)
        if rec is not None:
            rec.deletes.discard(pod_key)

    def forget(self, key: str) -> None:
        """The controller object is gone."""
        self._records.pop(key, None)

    def satisfied(self, key: str, now: datetime) -> bool:
        """Whether the controller may act on its pods: nothing pending, or the record has expired."""
        rec = self._records.get(key)
        if rec is None:
            return True
        if rec.adds <= 0 and not rec.deletes:
            return True
        return rec.timestamp is not None and now - rec.timestamp > TTL
