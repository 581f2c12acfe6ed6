"""Exponential backoff with jitter, the shape client-go's reflectors and leader electors use.

Jitter spreads the retries of many clients (every kubelet's informers after an apiserver
restart) so they do not arrive in lockstep; the reset window lets a long healthy period forget
old failures instead of making the next blip wait the maximum.
"""

from __future__ import annotations

import random

from client.clock import Clock, RealClock


def jittered(duration: float, factor: float, rng: random.Random | None = None) -> float:
    """``duration`` plus up to ``factor`` times itself, at random (client-go's ``wait.Jitter``)."""
    if factor <= 0:
        return duration
    return duration + (rng or random).random() * factor * duration


class Backoff:
    """Delays that double from ``initial`` up to ``maximum``; after ``reset_after`` quiet seconds they start over."""

    def __init__(self, initial: float = 0.8, maximum: float = 30.0, *, factor: float = 2.0, jitter: float = 1.0,
                 reset_after: float = 120.0, clock: Clock | None = None, rng: random.Random | None = None) -> None:
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self.reset_after = reset_after
        self.clock = clock or RealClock()
        self._rng = rng
        self._current = 0.0
        self._last: float | None = None

    def next_delay(self) -> float:
        """The delay before the next attempt (grows with every call until reset)."""
        now = self.clock.now()
        if self._last is not None and now - self._last > self.reset_after:
            self._current = 0.0
        self._last = now
        self._current = self.initial if self._current == 0 else min(self.maximum, self._current * self.factor)
        return min(self.maximum, jittered(self._current, self.jitter, self._rng))

    def reset(self) -> None:
        """Forget past failures: the next delay is ``initial`` again."""
        self._current = 0.0
        self._last = None

    async def wait(self) -> None:
        """Sleep for ``next_delay()`` on the backoff's clock."""
        await self.clock.sleep(self.next_delay())
