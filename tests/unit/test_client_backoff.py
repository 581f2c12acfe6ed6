"""Exponential backoff with jitter (reflector and leader-election retries), on a fake clock."""

from __future__ import annotations

import asyncio
import random

from client.backoff import Backoff, jittered
from client.clock import FakeClock


def test_doubles_to_the_cap_without_jitter():
    backoff = Backoff(0.8, 30.0, jitter=0.0, clock=FakeClock())
    assert [backoff.next_delay() for _ in range(8)] == [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0]
    backoff.reset()
    assert backoff.next_delay() == 0.8


def test_jitter_stays_within_its_factor_and_varies():
    rng = random.Random(7)
    delays = [jittered(2.0, 1.2, rng) for _ in range(200)]
    assert all(2.0 <= d <= 2.0 * 2.2 for d in delays)
    assert len({round(d, 6) for d in delays}) > 150
    assert jittered(2.0, 0.0) == 2.0


def test_a_long_quiet_period_forgets_past_failures():
    clock = FakeClock()
    backoff = Backoff(1.0, 60.0, jitter=0.0, reset_after=120.0, clock=clock)
    assert [backoff.next_delay() for _ in range(4)] == [1.0, 2.0, 4.0, 8.0]
    clock.advance(119)
    assert backoff.next_delay() == 16.0
    clock.advance(121)
    assert backoff.next_delay() == 1.0


async def test_wait_sleeps_on_the_clock():
    clock = FakeClock()
    backoff = Backoff(5.0, 10.0, jitter=0.0, clock=clock)
    waiter = asyncio.create_task(backoff.wait())
    await clock.settle()
    assert clock.next_timer_in() == 5.0
    clock.advance(5.0)
    await asyncio.wait_for(waiter, 1)
