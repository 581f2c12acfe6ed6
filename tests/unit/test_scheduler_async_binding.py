"""The driver's binding cycle against a scripted API: cycles assume pods and move on while bindings are in
flight (at most MAX_WRITES_IN_FLIGHT at once); a binding that fails unreserves, forgets the assumption and
requeues the pod with backoff, never leaving it assumed. The clock is frozen, so backoff never expires here."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from client.clock import RealClock
from client.errors import Conflict
from client.events import EventRecorder
from client.rest import ResourceRef, RestClient
from scheduler.cache import Cache
from scheduler.driver import MAX_WRITES_IN_FLIGHT, Scheduler
from scheduler.framework import CycleState, ReservePlugin, Status
from scheduler.metrics import SchedulerMetrics
from scheduler.podinfo import PodInfo
from scheduler.profile import profiles_from_configuration
from scheduler.queue import BACKOFF
from tests.unit.scheduler_fixtures import node, pod


class GatedApi:
    """Holds every binding until `release(error)`; then each answers with `error` (None: success)."""

    def __init__(self) -> None:
        self.clock = RealClock()  # event timestamps only
        self.gate = asyncio.Event()
        self.error: Exception | None = None
        self.in_flight = 0
        self.peak = 0
        self.bindings: list[str] = []

    def release(self, error: Exception | None) -> None:
        self.error = error
        self.gate.set()

    async def create(self, ref: ResourceRef, body: dict[str, Any], namespace: str | None = None, *,
                     name: str | None = None, subresource: str | None = None) -> dict[str, Any]:
        if subresource != "binding":
            return {"metadata": {"name": body["metadata"].get("name", "")}}  # events
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await self.gate.wait()
        finally:
            self.in_flight -= 1
        if self.error is not None:
            raise self.error
        self.bindings.append(f"{name}->{body['target']['name']}")
        return {}

    async def patch(self, ref: ResourceRef, name: str, patch: Any, namespace: str | None = None,
                    **_options: Any) -> dict[str, Any]:
        return {}


class RecordingReserve(ReservePlugin):
    """Remembers which pods were reserved and unreserved."""

    name = "RecordingReserve"

    def __init__(self) -> None:
        self.reserved: list[str] = []
        self.unreserved: list[str] = []

    def reserve(self, state: CycleState, pod: PodInfo, node: str, snapshot: Cache) -> Status | None:
        self.reserved.append(pod.key)
        return None

    def unreserve(self, state: CycleState, pod: PodInfo, node: str, snapshot: Cache) -> None:
        self.unreserved.append(pod.key)


async def wait_until(check: Any) -> None:
    async with asyncio.timeout(10):
        while not check():
            await asyncio.sleep(0.01)


def scheduler(api: GatedApi) -> tuple[Scheduler, RecordingReserve]:
    rest = cast(RestClient, api)
    sched = Scheduler(rest, profiles_from_configuration(None), recorder=EventRecorder(rest, "default-scheduler"),
                      metrics=SchedulerMetrics(), clock=lambda: 0.0)
    recorder = RecordingReserve()
    sched.profiles["default-scheduler"].framework.reservers.append(recorder)
    return sched, recorder


@pytest.mark.asyncio
async def test_cycles_go_on_while_bindings_are_in_flight_and_failed_ones_are_unreserved_and_requeued() -> None:
    pods = MAX_WRITES_IN_FLIGHT + 6
    api = GatedApi()
    sched, recorder = scheduler(api)
    for i in range(2):
        sched.node_added(node(f"n{i}", cpu="100", memory="100Gi", pods=110))
    keys = [f"default/p{i:03}" for i in range(pods)]
    for i in range(pods):
        sched.pod_added(pod(f"p{i:03}", cpu="100m"))
    loop = asyncio.get_running_loop().create_task(sched.run())
    try:
        # Every pod is assumed before any binding returns; the bindings wait for a slot beyond the bound.
        await wait_until(lambda: api.in_flight == MAX_WRITES_IN_FLIGHT)
        assert all(sched.cache.is_assumed(k) for k in keys)
        assert sorted(recorder.reserved) == keys
        assert api.peak == MAX_WRITES_IN_FLIGHT

        api.release(Conflict({"message": "pod is already assigned"}))
        await wait_until(lambda: sched.metrics.attempts["error"] == pods)
        await sched.drain()
        assert sorted(recorder.unreserved) == keys
        assert all(sched.cache.pod_node(k) is None for k in keys), "no pod stays assumed"
        queue = sched.profiles["default-scheduler"].queue
        assert all(queue.where(k) == BACKOFF for k in keys), "each pod waits out its backoff to be retried"
        assert api.bindings == []
    finally:
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop


@pytest.mark.asyncio
async def test_a_successful_binding_keeps_the_assumption_until_the_informer_confirms_it() -> None:
    api = GatedApi()
    sched, recorder = scheduler(api)
    sched.node_added(node("n0"))
    sched.pod_added(pod("p"))
    loop = asyncio.get_running_loop().create_task(sched.run())
    try:
        await wait_until(lambda: api.in_flight == 1)
        api.release(None)
        await wait_until(lambda: sched.metrics.attempts["scheduled"] == 1)
        assert api.bindings == ["p->n0"]
        assert sched.cache.is_assumed("default/p") and recorder.unreserved == []
        sched.pod_updated(pod("p"), pod("p", node_name="n0"))
        assert sched.cache.pod_node("default/p") == "n0" and not sched.cache.is_assumed("default/p")
    finally:
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
        await sched.drain()
