"""The apiserver's long-lived heap kept out of the cyclic collector's full passes (``gc.freeze``).

A full (oldest-generation) collection walks every tracked object, and the apiserver's are mostly
long-lived: modules, schemas and OpenAPI documents (55k objects, 27-37 ms of CPU per pass) and the watch
caches' decoded objects and event rings (hundreds of thousands with 10k pods). Each pass stalled every
request in flight: 60-94 ms in the 64-client GET rows, 90-203 ms while 10k pods were created. Frozen
objects are still freed by reference counting (decoded objects and cache events hold no cycles); what a
freeze could cost is cyclic garbage that was alive at that moment, never freed. So the heap is frozen once
at start-up and then after each full collection that leaves at least `FREEZE_AFTER` survivors outside the
frozen set, so a later pass walks about that many at most. Freezing after every full pass, forced every
2 s through GET, create, update, list and watch load with 100 and 300 watchers coming and going, left no
cyclic garbage behind (unfreezing and collecting afterwards found none).

The young generations are collected less often (`THRESHOLDS`): with CPython's 700 allocations, a pass came
every few requests and mostly walked the live objects of the requests in flight.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterable
from typing import Any

FREEZE_AFTER = 10_000
"""Unfrozen survivors of a full collection that get frozen (a pass over that many takes a few ms of CPU)."""
THRESHOLDS = (2_000, 5, 5)
"""Allocations before a young pass, young passes before a middle one, middle ones before a full one. In the
16- and 64-client GET rows (one run each, shared machine at load 8-15) the collector took 15-20 µs of CPU per
GET in 60-75 passes per apiserver of up to 47-59 ms, against 0.4-0.6 µs in 3-4 young passes of at most 2 ms;
creating, listing and deleting 10k pods, passes of at most 14 ms (middle) and 36 ms (full) instead of 149 ms.
(10_000, 10, 10) let the unfrozen heap grow to a 126 ms pass, (10_000, 2, 2) had passes of 20-80 ms."""
CACHES_WAIT = 10.0
"""Seconds start-up waits for the caches' first lists before freezing without them (a later pass does)."""


async def settle(caches_ready: Iterable[asyncio.Event]) -> None:
    """Once the caches hold their first lists, collect, freeze what survives (so no garbage cycle is frozen
    with it); from then on collect the young generation less often and freeze what survives each full
    collection that finds enough to freeze."""
    waits = [asyncio.ensure_future(ready.wait()) for ready in caches_ready]
    if waits:
        _, pending = await asyncio.wait(waits, timeout=CACHES_WAIT)
        for wait in pending:
            wait.cancel()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    if _after_collection not in gc.callbacks:
        gc.callbacks.append(_after_collection)


def _after_collection(phase: str, info: dict[str, Any]) -> None:
    # Run at the end of a full pass, before anything else allocates: every tracked object is a survivor.
    if phase == "stop" and info["generation"] == 2 and len(gc.get_objects(generation=2)) >= FREEZE_AFTER:
        gc.freeze()
