"""The action executor's driver rules against a real apiserver: ordering and stop-on-failure, slow-start
batches and the expectations they lower, resourceVersion chaining, non-fatal events, deletes and RequireAbsent."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from client.errors import Conflict, Invalid, NotFound
from client.events import EventRecorder
from client.kubeconfig import load_client_config
from client.rest import RestClient
from controller_manager.actions import (
    Action,
    Create,
    Delete,
    Expect,
    RecordEvent,
    RequeueAfter,
    RequireAbsent,
    Update,
    UpdateStatus,
)
from controller_manager.executor import ActionFailed, Executor, ObjectStillExists
from controller_manager.expectations import Expectations
from controller_manager.view import CONFIG_MAPS, NAMESPACES, PODS, REPLICA_SETS
from tests.support.apiserver_cluster import ApiserverCluster, cluster_fixture

pytestmark = pytest.mark.slow  # starts a store and an apiserver

NS = "executor-test"
KEY = f"{NS}/owner"


cluster = cluster_fixture("executor")


class Harness:
    """An executor with recorded requeues, and the client it writes through."""

    def __init__(self, rest: RestClient) -> None:
        self.rest = rest
        self.requeues: list[tuple[str, float]] = []
        self.expectations = Expectations()
        self.recorder = EventRecorder(rest, "executor-test")
        self.executor = Executor(rest, self.recorder, lambda k, s: self.requeues.append((k, s)),
                                 expectations=self.expectations, now=lambda: datetime.now(UTC))


@pytest.fixture
async def h(cluster: ApiserverCluster) -> AsyncIterator[Harness]:
    rest = RestClient(load_client_config(cluster.apiservers[0].kubeconfig))
    await rest.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    try:
        yield Harness(rest)
    finally:
        await rest.delete_collection(PODS, NS, grace_period_seconds=0)
        await rest.delete(NAMESPACES, NS)
        for _ in range(100):  # no namespace controller here: finalize the namespace ourselves
            try:
                ns = await rest.get(NAMESPACES, NS)
            except NotFound:
                break
            ns["spec"]["finalizers"] = []
            with contextlib.suppress(Conflict, NotFound):
                await rest.update(NAMESPACES, ns, subresource="finalize")
            await asyncio.sleep(0.1)
        await rest.close()


def _pod(name: str | None = None, image: str = "busybox") -> dict[str, Any]:
    m: dict[str, Any] = {"namespace": NS, **({"name": name} if name else {"generateName": "p-"})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": m,
            "spec": {"containers": [{"name": "c", "image": image}]}}


async def _pod_names(rest: RestClient) -> list[str]:
    return [p["metadata"]["name"] for p in (await rest.list(PODS, NS))["items"]]


async def test_a_failed_batch_stops_later_batches_and_lowers_expectations(h: Harness) -> None:
    bad = _pod("bad", image="")  # invalid: an image is required
    actions: list[Action] = [Expect(KEY, creations=4),
               Create(PODS, _pod(), 0, KEY), Create(PODS, _pod(), 1, KEY), Create(PODS, bad, 1, KEY),
               Create(PODS, _pod(), 2, KEY), RequeueAfter(KEY, 5.0)]
    with pytest.raises(ActionFailed) as failed:
        await h.executor.execute(actions)
    assert failed.value.index == 3 and isinstance(failed.value.cause, Invalid)
    assert len(await _pod_names(h.rest)) == 2  # batch 0 and the good member of batch 1; batch 2 skipped
    assert h.requeues == []  # actions after the failure do not run
    now = datetime.now(UTC)
    assert not h.expectations.satisfied(KEY, now)  # the two created pods are still to be observed
    h.expectations.creation_observed(KEY)
    h.expectations.creation_observed(KEY)
    assert h.expectations.satisfied(KEY, now)


async def test_repeated_writes_of_one_object_are_chained(h: Harness) -> None:
    cm = await h.rest.create(CONFIG_MAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                           "metadata": {"name": "chain", "namespace": NS}, "data": {"a": "1"}})
    first = {**cm, "data": {"a": "2"}}
    second = {**cm, "data": {"a": "3"}}  # computed from the same version as the first write
    await h.executor.execute([Update(CONFIG_MAPS, first), Update(CONFIG_MAPS, second)])
    assert (await h.rest.get(CONFIG_MAPS, "chain", NS))["data"] == {"a": "3"}
    with pytest.raises(ActionFailed) as stale:  # a new list starts a new chain: the old version is stale now
        await h.executor.execute([Update(CONFIG_MAPS, first)])
    assert isinstance(stale.value.cause, Conflict)


async def test_status_write_with_a_stale_version_conflicts(h: Harness) -> None:
    rs = await h.rest.create(REPLICA_SETS, {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs", "namespace": NS},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"a": "b"}},
                 "template": {"metadata": {"labels": {"a": "b"}},
                              "spec": {"containers": [{"name": "c", "image": "i"}]}}}})
    await h.executor.execute([UpdateStatus(REPLICA_SETS, {**rs, "status": {"replicas": 0, "observedGeneration": 1}})])
    with pytest.raises(ActionFailed) as stale:
        await h.executor.execute([UpdateStatus(REPLICA_SETS, {**rs, "status": {"replicas": 0}})])
    assert isinstance(stale.value.cause, Conflict)


async def test_failed_event_is_not_fatal_and_missing_delete_lowers_expectations(h: Harness) -> None:
    nowhere = {"kind": "Pod", "apiVersion": "v1", "name": "x", "namespace": "no-such-namespace", "uid": "u"}
    h.expectations.expect(KEY, 0, [f"{NS}/ghost"], datetime.now(UTC))
    await h.executor.execute([RecordEvent(nowhere, "Normal", "Testing", "goes nowhere"),
                              Delete(PODS, NS, "ghost", expectations_key=KEY), RequeueAfter(KEY, 2.0)])
    await h.recorder.flush()
    assert h.requeues == [(KEY, 2.0)]
    assert h.expectations.satisfied(KEY, datetime.now(UTC))


async def test_require_absent_stops_the_list_when_the_object_exists(h: Harness) -> None:
    pod = await h.rest.create(PODS, _pod("present"))
    await h.executor.execute([RequireAbsent(PODS, NS, "present", "another-uid"), RequeueAfter(KEY, 1.0)])
    with pytest.raises(ActionFailed) as found:
        await h.executor.execute([RequireAbsent(PODS, NS, "present", pod["metadata"]["uid"]),
                                  Delete(PODS, NS, "present", pod["metadata"]["uid"])])
    assert isinstance(found.value.cause, ObjectStillExists)
    assert "present" in await _pod_names(h.rest)
    assert h.requeues == [(KEY, 1.0)]
