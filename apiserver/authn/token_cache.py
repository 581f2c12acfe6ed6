"""A short-lived cache of expensive token checks, as kube-apiserver keeps one in front of its authenticators.

Only successes are kept, for a few seconds and at most `capacity` of them; the cheap per-request checks
(expiry, bound objects still existing) run on every request regardless, so caching never extends a
token's life.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")

SUCCESS_TTL = 10.0
"""kube-apiserver's default success TTL for cached token authentications."""


class TokenCache(Generic[V]):
    """Least-recently-used, time-limited map from a token to what checking it found."""

    def __init__(self, capacity: int = 4096, ttl: float = SUCCESS_TTL, clock: Callable[[], float] = time.monotonic):
        self.capacity = capacity
        self.ttl = ttl
        self.clock = clock
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def get(self, token: str) -> V | None:
        """The cached value, if still fresh."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        if entry[0] <= self.clock():
            del self._entries[token]
            return None
        self._entries.move_to_end(token)
        return entry[1]

    def put(self, token: str, value: V) -> None:
        """Remember a success; the oldest entry goes when full."""
        self._entries[token] = (self.clock() + self.ttl, value)
        self._entries.move_to_end(token)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
