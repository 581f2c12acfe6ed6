"""client-go's rate-limited work queue, for controllers that reconcile keys one at a time.

The guarantees controllers rely on:

- An item is never processed by two workers at once: an item added while it is being processed
  is parked (``dirty``) and queued again when ``done`` is called.
- Adding an item that is already queued is a no-op, so a burst of events for one object costs
  one reconcile.
- ``add_rate_limited`` retries failing items with per-item exponential backoff (5 ms doubling up
  to 1000 s) combined with an overall token bucket (10 qps, burst 100); ``forget`` ends an item's
  backoff once it succeeds.

All timing goes through a ``Clock``, so tests drive delays with ``FakeClock.advance``.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, Protocol, TypeVar

from client.clock import Clock, RealClock, TimerHandle
from process.log import get_logger

log = get_logger("client.workqueue")

T = TypeVar("T", bound=Hashable)


class ShutDown(Exception):
    """Raised by ``get`` once the queue is shut down and holds nothing more: the worker should exit."""


class RateLimiter(Protocol):
    """Decides how long an item waits before it is retried."""

    def when(self, item: Hashable) -> float:
        """The delay for this retry of ``item`` (each call counts as one more failure)."""
        ...

    def forget(self, item: Hashable) -> None:
        """Stop tracking ``item``: its next failure starts from the smallest delay."""
        ...

    def num_requeues(self, item: Hashable) -> int:
        """How many times ``item`` has failed since it was last forgotten."""
        ...


class ItemExponentialFailureRateLimiter:
    """``base * 2**failures`` per item, capped at ``maximum``."""

    def __init__(self, base: float = 0.005, maximum: float = 1000.0) -> None:
        self.base = base
        self.maximum = maximum
        self._failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        exp = self._failures.get(item, 0)
        self._failures[item] = exp + 1
        if exp > 1000:  # math.pow would overflow; the cap was reached long before
            return self.maximum
        return min(self.maximum, self.base * math.pow(2, exp))

    def forget(self, item: Hashable) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: Hashable) -> int:
        return self._failures.get(item, 0)


class BucketRateLimiter:
    """A token bucket shared by all items (Go's ``rate.Limiter`` reservations): ``qps`` refill, ``burst`` size."""

    def __init__(self, qps: float = 10.0, burst: int = 100, clock: Clock | None = None) -> None:
        self.qps = qps
        self.burst = burst
        self.clock = clock or RealClock()
        self._tokens = float(burst)
        self._last: float | None = None

    def when(self, item: Hashable) -> float:
        now = self.clock.now()
        if self._last is not None:
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def forget(self, item: Hashable) -> None:
        return None

    def num_requeues(self, item: Hashable) -> int:
        return 0


class MaxOfRateLimiter:
    """The longest delay any of its limiters asks for (every limiter counts every failure)."""

    def __init__(self, *limiters: RateLimiter) -> None:
        self.limiters = limiters

    def when(self, item: Hashable) -> float:
        return max(limiter.when(item) for limiter in self.limiters)

    def forget(self, item: Hashable) -> None:
        for limiter in self.limiters:
            limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return max(limiter.num_requeues(item) for limiter in self.limiters)


def default_controller_rate_limiter(clock: Clock | None = None) -> MaxOfRateLimiter:
    """client-go's ``DefaultControllerRateLimiter``: 5 ms → 1000 s per item, 10 qps / burst 100 overall."""
    return MaxOfRateLimiter(ItemExponentialFailureRateLimiter(0.005, 1000.0), BucketRateLimiter(10.0, 100, clock))


class WorkQueue(Generic[T]):
    """A deduplicating FIFO of keys with delayed and rate-limited adds (client-go's RateLimitingQueue)."""

    def __init__(self, name: str = "", *, clock: Clock | None = None, rate_limiter: RateLimiter | None = None) -> None:
        self.name = name
        self.clock = clock or RealClock()
        self.rate_limiter = rate_limiter or default_controller_rate_limiter(self.clock)
        self._queue: deque[T] = deque()
        self._dirty: set[T] = set()
        self._processing: set[T] = set()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._delayed: dict[T, tuple[float, TimerHandle]] = {}
        self._shutting_down = False
        self._drained: asyncio.Event | None = None

    # --- the basic queue ----------------------------------------------------------------------

    def add(self, item: T) -> None:
        """Queue ``item`` unless it is already queued; if it is being processed, queue it after ``done``."""
        if self._shutting_down or item in self._dirty:
            return
        self._dirty.add(item)
        if item in self._processing:
            return
        self._queue.append(item)
        self._wake_one()

    def __len__(self) -> int:
        """Items waiting to be handed out (not those being processed or delayed)."""
        return len(self._queue)

    async def get(self) -> T:
        """The next item, waiting for one; the caller must call ``done(item)`` when finished with it."""
        while not self._queue:
            if self._shutting_down:
                raise ShutDown(self.name)
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                # Woken but cancelled before taking the item: pass the wake-up on.
                if waiter.done() and not waiter.cancelled() and self._queue:
                    self._wake_one()
                raise
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        item = self._queue.popleft()
        self._processing.add(item)
        self._dirty.discard(item)
        return item

    def done(self, item: T) -> None:
        """Mark ``item`` finished; if it was added meanwhile, it goes back in the queue now."""
        self._processing.discard(item)
        if item in self._dirty:
            self._queue.append(item)
            self._wake_one()
        if not self._processing and self._drained is not None:
            self._drained.set()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def shutdown(self) -> None:
        """Refuse new items and wake every waiting ``get``; queued items are still handed out, then ``ShutDown``."""
        self._shutting_down = True
        for _, timer in self._delayed.values():
            timer.cancel()
        self._delayed.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    async def shutdown_with_drain(self) -> None:
        """Shut down, then wait until every item handed out has been marked ``done``."""
        self._drained = asyncio.Event()
        self.shutdown()
        if self._processing:
            await self._drained.wait()

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    # --- delays and rate limiting -------------------------------------------------------------

    def add_after(self, item: T, delay: float) -> None:
        """Add ``item`` once ``delay`` seconds have passed; if it is already waiting, the earlier time wins."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(item)
            return
        ready_at = self.clock.now() + delay
        waiting = self._delayed.get(item)
        if waiting is not None:
            if waiting[0] <= ready_at:
                return
            waiting[1].cancel()
        self._delayed[item] = (ready_at, self.clock.call_later(delay, lambda: self._ready(item)))

    def _ready(self, item: T) -> None:
        self._delayed.pop(item, None)
        self.add(item)

    def add_rate_limited(self, item: T) -> None:
        """Re-add a failed item after the rate limiter's delay (which grows with each failure)."""
        self.add_after(item, self.rate_limiter.when(item))

    def forget(self, item: T) -> None:
        """The item succeeded: reset its backoff (it does not remove it from the queue)."""
        self.rate_limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        return self.rate_limiter.num_requeues(item)

    @property
    def delayed(self) -> int:
        """How many items are waiting out a delay."""
        return len(self._delayed)


async def run_workers(queue: WorkQueue[T], reconcile: Callable[[T], Awaitable[None]], *, workers: int = 1,
                      max_retries: int | None = None) -> None:
    """The standard controller loop on ``workers`` tasks, until the queue shuts down.

    Success forgets the item's backoff; a raised exception re-adds it rate-limited (dropped after
    ``max_retries`` failures, if given). Either way the item is marked done, so events that arrived
    meanwhile are processed next.
    """

    async def worker() -> None:
        while True:
            try:
                item = await queue.get()
            except ShutDown:
                return
            try:
                await reconcile(item)
            except asyncio.CancelledError:
                queue.done(item)
                raise
            except Exception as exc:
                if max_retries is not None and queue.num_requeues(item) >= max_retries:
                    log.warning("dropping item after repeated failures", queue=queue.name, item=item,
                                retries=max_retries, error=str(exc))
                    queue.forget(item)
                else:
                    log.v(2, "requeueing failed item", queue=queue.name, item=item, error=str(exc))
                    queue.add_rate_limited(item)
            else:
                queue.forget(item)
            queue.done(item)

    await asyncio.gather(*(worker() for _ in range(workers)))
