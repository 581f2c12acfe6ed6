"""Run the first operation of each kind alone, and every later one concurrently."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar

T = TypeVar("T")


class FirstAlone:
    """The first sandbox under a cgroup parent (``kubepods/besteffort``) creates that parent: runtimes
    create missing parent cgroups on demand, and concurrent first creations race (a cpuset parent seen
    before its cpus are copied leaves children unable to take tasks). Only that first one needs to be
    alone; callers that queued behind it, and all later ones, run concurrently."""

    def __init__(self) -> None:
        self._done: set[Hashable] = set()
        self._lock = asyncio.Lock()

    async def run(self, key: Hashable, op: Callable[[], Awaitable[T]]) -> T:
        if key not in self._done:
            async with self._lock:
                if key not in self._done:
                    result = await op()  # a failure leaves the key for the next caller to try alone
                    self._done.add(key)
                    return result
        return await op()
