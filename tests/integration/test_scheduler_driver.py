"""The scheduler driver's bind path against a scripted API: a refused binding is forgotten and retried, a
deleted pod is not. (The process tests cover the same code against a real apiserver, where bind failures
cannot be provoked on demand.)"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, cast

import pytest

from client.clock import RealClock
from client.errors import Conflict, NotFound
from client.events import EventRecorder
from client.rest import ResourceRef, RestClient
from scheduler.driver import Scheduler
from scheduler.metrics import SchedulerMetrics
from scheduler.profile import profiles_from_configuration


class ScriptedApi:
    """Records writes; bindings answer from `bind_errors` first (None means success)."""

    def __init__(self, bind_errors: list[Exception | None]) -> None:
        self.clock = RealClock()
        self.bind_errors: Iterator[Exception | None] = iter(bind_errors)
        self.bindings: list[str] = []
        self.events: list[tuple[str, str]] = []

    async def create(self, ref: ResourceRef, body: dict[str, Any], namespace: str | None = None, *,
                     name: str | None = None, subresource: str | None = None) -> dict[str, Any]:
        if subresource == "binding":
            error = next(self.bind_errors, None)
            if error is not None:
                raise error
            self.bindings.append(f"{name}->{body['target']['name']}")
            return {}
        if ref.resource == "events":
            self.events.append((body["reason"], body["message"]))
            return {"metadata": {"name": body["metadata"]["name"]}}
        raise AssertionError(f"unexpected create of {ref.resource}")

    async def patch(self, ref: ResourceRef, name: str, patch: Any, namespace: str | None = None,
                    **_options: Any) -> dict[str, Any]:
        return {}


def node(name: str) -> dict[str, Any]:
    resources = {"cpu": "4", "memory": "8Gi", "pods": "110"}
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {"allocatable": resources, "capacity": resources}}


def pod(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}",
                         "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


async def wait_until(check: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


def scheduler(api: ScriptedApi) -> Scheduler:
    rest = cast(RestClient, api)
    return Scheduler(rest, profiles_from_configuration(None), recorder=EventRecorder(rest, "default-scheduler"),
                     metrics=SchedulerMetrics())


@pytest.mark.asyncio
async def test_a_refused_binding_is_forgotten_and_retried_after_backoff() -> None:
    api = ScriptedApi([Conflict({"message": "pod p is already assigned"}), None])
    sched = scheduler(api)
    sched.node_added(node("n1"))
    sched.pod_added(pod("p"))
    loop = asyncio.get_running_loop().create_task(sched.run())
    try:
        await wait_until(lambda: sched.metrics.attempts["error"] == 1)
        assert sched.cache.pod_node("default/p") is None, "the assumption is forgotten"
        await wait_until(lambda: any(r == "FailedScheduling" for r, _ in api.events))
        assert ("FailedScheduling", "Binding rejected: Conflict (409): pod p is already assigned") in api.events
        await wait_until(lambda: api.bindings == ["p->n1"], timeout=5)  # after the 1 s initial backoff
        await sched.drain()
        assert sched.cache.pod_node("default/p") == "n1"
        assert sched.metrics.attempts == {"scheduled": 1, "unschedulable": 0, "error": 1}
        assert ("Scheduled", "Successfully assigned default/p to n1") in api.events
    finally:
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop


@pytest.mark.asyncio
async def test_a_pod_deleted_before_its_binding_is_not_retried() -> None:
    api = ScriptedApi([NotFound({"message": 'pods "p" not found'})])
    sched = scheduler(api)
    sched.node_added(node("n1"))
    sched.pod_added(pod("p"))
    loop = asyncio.get_running_loop().create_task(sched.run())
    try:
        await wait_until(lambda: sched.metrics.attempts["error"] == 1)
        await sched.drain()
        assert sched.cache.pod_node("default/p") is None
        assert sum(sched.queue_lengths().values()) == 0, "nothing left to retry"
        assert api.bindings == []
        assert not any(r == "FailedScheduling" for r, _ in api.events)
    finally:
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
