"""Work queue semantics (client-go's), with a fake clock: no real sleeps."""

from __future__ import annotations

import asyncio

import pytest

from client.clock import FakeClock
from client.workqueue import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    ShutDown,
    WorkQueue,
    default_controller_rate_limiter,
    run_workers,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def queue(clock: FakeClock) -> WorkQueue[str]:
    return WorkQueue("test", clock=clock)


async def test_adds_of_a_queued_item_coalesce(queue: WorkQueue[str]):
    queue.add("a")
    queue.add("b")
    queue.add("a")
    assert len(queue) == 2
    assert await queue.get() == "a"
    assert await queue.get() == "b"
    assert len(queue) == 0


async def test_item_added_while_processing_is_requeued_after_done(queue: WorkQueue[str]):
    queue.add("a")
    item = await queue.get()
    queue.add("a")
    queue.add("a")
    assert len(queue) == 0                     # never handed to a second worker concurrently
    queue.done(item)
    assert len(queue) == 1
    assert await queue.get() == "a"
    queue.done("a")
    assert len(queue) == 0


async def test_get_waits_for_an_item_and_each_item_wakes_one_getter(queue: WorkQueue[str]):
    first = asyncio.create_task(queue.get())
    second = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    assert not first.done() and not second.done()
    queue.add("x")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert [t.done() for t in (first, second)].count(True) == 1
    queue.add("y")
    assert sorted(await asyncio.gather(first, second)) == ["x", "y"]


async def test_a_cancelled_woken_getter_passes_the_item_on(queue: WorkQueue[str]):
    first = asyncio.create_task(queue.get())
    second = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.add("x")          # wakes `first`...
    first.cancel()          # ...which is cancelled before it runs
    assert await asyncio.wait_for(second, 1) == "x"


async def test_shutdown_hands_out_what_is_queued_then_raises(queue: WorkQueue[str]):
    waiting = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.shutdown()
    with pytest.raises(ShutDown):
        await waiting
    other = WorkQueue[str]("other", clock=FakeClock())
    other.add("a")
    other.shutdown()
    other.add("b")                              # ignored after shutdown
    assert other.shutting_down
    assert await other.get() == "a"
    with pytest.raises(ShutDown):
        await other.get()


async def test_shutdown_with_drain_waits_for_items_in_flight(queue: WorkQueue[str]):
    queue.add("a")
    queue.add("b")
    a = await queue.get()
    b = await queue.get()
    drain = asyncio.create_task(queue.shutdown_with_drain())
    await asyncio.sleep(0)
    queue.done(a)
    await asyncio.sleep(0)
    assert not drain.done()
    queue.done(b)
    await asyncio.wait_for(drain, 1)
    empty = WorkQueue[str]("empty", clock=FakeClock())
    await asyncio.wait_for(empty.shutdown_with_drain(), 1)    # nothing in flight: returns at once


async def test_add_after_uses_the_clock_and_the_earliest_time_wins(queue: WorkQueue[str], clock: FakeClock):
    queue.add_after("a", 10)
    queue.add_after("a", 20)                    # later: ignored
    queue.add_after("b", 5)
    queue.add_after("c", 0)                     # no delay: queued now
    assert len(queue) == 1 and queue.delayed == 2
    clock.advance(4.9)
    assert len(queue) == 1
    clock.advance(0.1)
    assert len(queue) == 2
    queue.add_after("a", 1)                     # earlier than the pending 10 s: replaces it
    clock.advance(1)
    assert len(queue) == 3 and queue.delayed == 0
    assert [await queue.get() for _ in range(3)] == ["c", "b", "a"]
    clock.advance(100)
    assert len(queue) == 0                      # the replaced timer did not fire again


async def test_shutdown_cancels_delayed_items(queue: WorkQueue[str], clock: FakeClock):
    queue.add_after("a", 1)
    queue.shutdown()
    assert clock.pending() == 0
    clock.advance(2)
    assert len(queue) == 0


def test_item_exponential_backoff_doubles_to_the_cap_and_forget_resets():
    limiter = ItemExponentialFailureRateLimiter(0.005, 1000.0)
    delays = [limiter.when("a") for _ in range(20)]
    assert delays[:4] == [0.005, 0.01, 0.02, 0.04]
    assert delays[-1] == 1000.0
    assert max(delays) == 1000.0
    assert limiter.num_requeues("a") == 20
    assert limiter.when("b") == 0.005           # per item
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0
    assert limiter.when("a") == 0.005
    for _ in range(2000):
        limiter.when("c")
    assert limiter.when("c") == 1000.0          # no overflow however long it fails


def test_bucket_allows_a_burst_then_paces_at_qps(clock: FakeClock):
    bucket = BucketRateLimiter(10, 100, clock)
    assert all(bucket.when(i) == 0 for i in range(100))
    assert bucket.when("x") == pytest.approx(0.1)
    assert bucket.when("y") == pytest.approx(0.2)
    clock.advance(1.0)                          # 10 tokens back, 2 were already promised
    assert [bucket.when(i) for i in range(8)] == [0] * 8
    assert bucket.when("z") == pytest.approx(0.1)


def test_default_controller_limiter_is_the_max_of_both(clock: FakeClock):
    limiter = default_controller_rate_limiter(clock)
    assert isinstance(limiter, MaxOfRateLimiter)
    assert limiter.when("a") == 0.005
    for i in range(99):
        limiter.when(f"other-{i}")              # spends the rest of the burst
    assert limiter.when("fresh") == pytest.approx(0.1)   # the bucket dominates a first failure
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0


async def test_add_rate_limited_and_forget(clock: FakeClock):
    queue = WorkQueue[str]("rl", clock=clock, rate_limiter=ItemExponentialFailureRateLimiter(1.0, 8.0))
    queue.add_rate_limited("a")
    assert len(queue) == 0
    clock.advance(1.0)
    assert len(queue) == 1
    item = await queue.get()
    queue.done(item)
    queue.add_rate_limited("a")                 # failed again: 2 s
    clock.advance(1.9)
    assert len(queue) == 0
    clock.advance(0.1)
    assert len(queue) == 1
    assert queue.num_requeues("a") == 2
    queue.forget("a")
    assert queue.num_requeues("a") == 0


async def test_run_workers_retries_failures_with_backoff_and_forgets_successes(clock: FakeClock):
    queue = WorkQueue[str]("ctl", clock=clock, rate_limiter=ItemExponentialFailureRateLimiter(1.0, 60.0))
    attempts: dict[str, int] = {}
    active: set[str] = set()

    async def reconcile(key: str) -> None:
        assert key not in active                 # never two workers on one key
        active.add(key)
        attempts[key] = attempts.get(key, 0) + 1
        await asyncio.sleep(0)
        active.discard(key)
        if key == "flaky" and attempts[key] < 3:
            raise RuntimeError("not yet")
        if key == "broken":
            raise RuntimeError("never")

    runner = asyncio.create_task(run_workers(queue, reconcile, workers=3, max_retries=2))
    for key in ("ok", "flaky", "broken", "ok"):
        queue.add(key)
    await clock.settle(20)
    assert attempts == {"ok": 1, "flaky": 1, "broken": 1}
    clock.advance(1.0)                           # first retries after 1 s
    await clock.settle(20)
    assert attempts == {"ok": 1, "flaky": 2, "broken": 2}
    clock.advance(2.0)                           # second retries after 2 s more
    await clock.settle(20)
    assert attempts == {"ok": 1, "flaky": 3, "broken": 3}
    assert queue.num_requeues("flaky") == 0      # forgotten on success
    assert queue.num_requeues("broken") == 0     # dropped after max_retries, and forgotten
    clock.advance(100)
    await clock.settle(20)
    assert attempts["broken"] == 3
    queue.shutdown()
    await asyncio.wait_for(runner, 1)
