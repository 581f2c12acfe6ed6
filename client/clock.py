"""Time for the client library behind one small interface, so timers can be faked in tests.

Work-queue delays, leader-election deadlines and informer resyncs read time only through a
``Clock``. ``RealClock`` uses the event loop's monotonic clock; ``FakeClock`` moves only when a
test calls ``advance``, so a test of a 1000-second backoff takes microseconds. ``FakeClock`` lives
here rather than under ``tests/`` because every component built on ``client/`` tests its own
timers with it, as Go components use ``k8s.io/utils/clock/testing``.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class TimerHandle(Protocol):
    """A scheduled callback that may still be cancelled."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """Monotonic time for deadlines, wall time for timestamps written into objects, and timers."""

    def now(self) -> float:
        """Monotonic seconds: only differences mean anything."""
        ...

    def wall(self) -> datetime:
        """UTC wall-clock time, for timestamps other processes read (Lease renewTime)."""
        ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback`` once ``delay`` seconds have passed on this clock."""
        ...

    async def sleep(self, delay: float) -> None:
        """Suspend the calling task for ``delay`` seconds of this clock."""
        ...


class RealClock:
    """The running event loop's clock (monotonic) and the system's UTC time."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def wall(self) -> datetime:
        return datetime.now(UTC)

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        return asyncio.get_running_loop().call_later(max(0.0, delay), callback)

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(max(0.0, delay))


class _FakeTimer:
    def __init__(self, deadline: float, callback: Callable[[], None]) -> None:
        self.deadline = deadline
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A clock that stands still until ``advance`` is called; timers fire in deadline order."""

    def __init__(self, start: float = 1000.0, wall_start: datetime | None = None) -> None:
        self._now = start
        self._start = start
        self._wall_start = wall_start or datetime(2026, 1, 1, tzinfo=UTC)
        self._timers: list[tuple[float, int, _FakeTimer]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def wall(self) -> datetime:
        return self._wall_start + timedelta(seconds=self._now - self._start)

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        timer = _FakeTimer(self._now + max(0.0, delay), callback)
        heapq.heappush(self._timers, (timer.deadline, next(self._seq), timer))
        return timer

    async def sleep(self, delay: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        timer = self.call_later(delay, wake)
        try:
            await future
        finally:
            timer.cancel()

    def advance(self, seconds: float) -> None:
        """Move time forward, firing every timer that falls due, each at its own deadline."""
        target = self._now + seconds
        while self._timers and self._timers[0][0] <= target:
            deadline, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._now = max(self._now, deadline)
            timer.callback()
        self._now = target

    def next_timer_in(self) -> float | None:
        """Seconds until the next live timer fires (None if none), to advance exactly that far."""
        live = [deadline for deadline, _, t in self._timers if not t.cancelled]
        return min(live) - self._now if live else None

    def pending(self) -> int:
        """How many live timers are waiting (lets a test check that nothing is scheduled)."""
        return sum(1 for _, _, t in self._timers if not t.cancelled)

    async def settle(self, rounds: int = 5) -> None:
        """Let woken tasks run: timers only resolve futures, the tasks behind them need loop turns."""
        for _ in range(rounds):
            await asyncio.sleep(0)
