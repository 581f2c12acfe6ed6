"""``--auto-compaction-retention``: the leader compacts history older than the retention, as etcd does.

Periodic mode keeps a time window of history: the revision current ``retention`` seconds ago is
compacted, checked every tenth of the window (at most hourly). Revision mode keeps the last
``retention`` revisions, checked every five minutes. Only the leader proposes; followers apply.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

from process.log import get_logger
from store import errors
from store.errors import EtcdError

log = get_logger("store.compactor")

REVISION_MODE_INTERVAL = 300.0


class Compactor:
    """Decides when and to which revision to compact; the member supplies the state and the proposal."""

    def __init__(self, mode: str, retention: float, *, revision: Callable[[], int], is_leader: Callable[[], bool],
                 compact: Callable[[int], Awaitable[object]], clock: Callable[[], float] = time.monotonic) -> None:
        self.mode = mode
        self.retention = retention
        self._revision = revision
        self._is_leader = is_leader
        self._compact = compact
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque()
        self._done = 0

    @property
    def interval(self) -> float:
        if self.mode == "revision":
            return REVISION_MODE_INTERVAL
        return max(1.0, min(self.retention / 10, 3600.0))

    def target(self) -> int:
        """The revision to compact to now (0: nothing to do); records the current revision as a sample."""
        now, current = self._clock(), self._revision()
        if self.mode == "revision":
            target = current - int(self.retention)
        else:
            self._samples.append((now, current))
            target = 0
            while self._samples and self._samples[0][0] <= now - self.retention:
                target = self._samples.popleft()[1]
        return target if target > self._done else 0

    async def step(self) -> None:
        target = self.target()
        if not target or not self._is_leader():
            return
        try:
            await self._compact(target)
        except EtcdError as err:
            if err != errors.COMPACTED:
                log.warning("auto-compaction failed", revision=target, error=err.message)
                return
        self._done = target
        log.info("auto-compacted", revision=target, mode=self.mode)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.step()
