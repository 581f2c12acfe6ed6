"""The apiserver's heap freezing: after start-up once the caches are filled, then after full collections that
leave enough unfrozen survivors, never freezing garbage."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from apiserver import heap


@pytest.fixture
def thawed() -> Iterator[None]:
    """This worker's heap unfrozen, with its thresholds and without the apiserver's callback, after the test."""
    thresholds = gc.get_threshold()
    gc.unfreeze()
    yield
    if heap._after_collection in gc.callbacks:
        gc.callbacks.remove(heap._after_collection)
    gc.set_threshold(*thresholds)
    gc.unfreeze()


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


async def test_start_up_heap_is_frozen_once_the_caches_are_filled(thawed: None) -> None:
    filled = asyncio.Event()
    settling = asyncio.create_task(heap.settle([filled]))
    await asyncio.sleep(0.01)
    assert gc.get_freeze_count() == 0
    filled.set()
    await asyncio.wait_for(settling, 5)
    assert gc.get_freeze_count() > 0
    assert heap._after_collection in gc.callbacks
    assert gc.get_threshold() == heap.THRESHOLDS


async def test_full_collection_freezes_enough_survivors_but_no_garbage(
    thawed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    await heap.settle([])
    frozen = gc.get_freeze_count()
    cached = [[i] for i in range(2_000)]
    monkeypatch.setattr(heap, "FREEZE_AFTER", 10 * len(cached))
    gc.collect()
    assert gc.get_freeze_count() == frozen  # too few survivors: a later pass walks them again
    monkeypatch.setattr(heap, "FREEZE_AFTER", len(cached))
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    cycle = weakref.ref(a)
    del a, b
    gc.collect()
    assert gc.get_freeze_count() >= frozen + len(cached)
    assert cycle() is None  # collected before the survivors were frozen
