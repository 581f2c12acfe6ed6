"""Event recording: the Event's shape, aggregation of repeats, and best-effort background writes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from client.clock import FakeClock
from client.events import EVENTS, NORMAL, WARNING, EventRecorder
from client.kubeconfig import ClientConfig
from client.rest import RestClient
from tests.support.fake_apiserver import FakeApiserver, status

POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "web-0", "namespace": "team", "uid": "u-1", "resourceVersion": "7"}}
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1", "uid": "u-n"}}


@pytest.fixture
async def api() -> AsyncIterator[FakeApiserver]:
    server = FakeApiserver()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def rest(api: FakeApiserver) -> AsyncIterator[RestClient]:
    async with RestClient(ClientConfig(servers=[api.url])) as c:
        yield c


async def test_event_shape_and_aggregation(api: FakeApiserver, rest: RestClient):
    clock = FakeClock()
    recorder = EventRecorder(rest, "default-scheduler", host="node1", clock=clock)
    first = await recorder.emit(POD, WARNING, "FailedScheduling", "0/3 nodes are available")
    assert first["metadata"]["namespace"] == "team"
    assert first["metadata"]["name"].startswith("web-0.")
    assert first["involvedObject"] == {"kind": "Pod", "name": "web-0", "apiVersion": "v1", "namespace": "team",
                                       "uid": "u-1", "resourceVersion": "7"}
    assert (first["type"], first["reason"], first["count"]) == ("Warning", "FailedScheduling", 1)
    assert first["source"] == {"component": "default-scheduler", "host": "node1"}
    assert first["firstTimestamp"] == first["lastTimestamp"] == "2026-01-01T00:00:00Z"
    clock.advance(61)
    again = await recorder.emit(POD, WARNING, "FailedScheduling", "0/3 nodes are available")
    assert again["metadata"]["name"] == first["metadata"]["name"]
    assert (again["count"], again["lastTimestamp"]) == (2, "2026-01-01T00:01:01Z")
    assert api.seen("PATCH")[0].headers["Content-Type"] == "application/merge-patch+json"
    other = await recorder.emit(POD, NORMAL, "Scheduled", "assigned team/web-0 to node1")
    assert other["metadata"]["name"] != first["metadata"]["name"]
    node_event = await recorder.emit(NODE, NORMAL, "NodeReady", "node1 is ready")
    assert node_event["metadata"]["namespace"] == "default"       # cluster-scoped objects
    # The aggregated Event expired meanwhile: a fresh one is created.
    api.remove("events", "team", first["metadata"]["name"])
    fresh = await recorder.emit(POD, WARNING, "FailedScheduling", "0/3 nodes are available")
    assert fresh["count"] == 1
    with pytest.raises(ValueError, match="Normal or Warning"):
        await recorder.emit(POD, "Error", "X", "y")


async def test_background_recording_never_raises(api: FakeApiserver, rest: RestClient):
    recorder = EventRecorder(rest, "kubelet")
    api.fail_next("POST", "/events", 403, status(403, "Forbidden", "events is forbidden"))
    recorder.event(POD, NORMAL, "Pulled", "image pulled")
    recorder.event(POD, NORMAL, "Started", "container started")
    await recorder.flush()
    assert [r["reason"] for r in (await rest.list(EVENTS, "team"))["items"]] == ["Started"]
