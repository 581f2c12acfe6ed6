"""The kubelet's CRI client against an in-process CRI server that counts calls: status questions are asked once
per object and state, and concurrent image questions share one ImageStatus."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from kubelet.cri import CriClient
from kubelet.cri_config import POD_UID
from kubelet.runtime_view import EXITED, RUNNING, SANDBOX_NOTREADY, SANDBOX_READY
from protos.cri import api_pb2 as cri

UID = "uid-1"


class CountingRuntime:
    """One pod (a sandbox and a container) whose states the test changes; every call is counted."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.sandbox_state = cri.SANDBOX_READY
        self.container_state = cri.CONTAINER_RUNNING
        self.container_listed = True
        self.image_gate = asyncio.Event()
        self.image_gate.set()

    async def ListPodSandbox(self, request: cri.ListPodSandboxRequest, context: Any) -> cri.ListPodSandboxResponse:
        self.calls["ListPodSandbox"] += 1
        return cri.ListPodSandboxResponse(items=[cri.PodSandbox(
            id="s1", metadata=cri.PodSandboxMetadata(name="p", uid=UID, namespace="ns"), state=self.sandbox_state,
            labels={POD_UID: UID})])

    async def PodSandboxStatus(self, request: cri.PodSandboxStatusRequest,
                               context: Any) -> cri.PodSandboxStatusResponse:
        self.calls["PodSandboxStatus"] += 1
        return cri.PodSandboxStatusResponse(status=cri.PodSandboxStatus(
            id="s1", metadata=cri.PodSandboxMetadata(name="p", uid=UID, namespace="ns"), state=self.sandbox_state,
            network=cri.PodSandboxNetworkStatus(ip="10.244.1.2")))

    async def ListContainers(self, request: cri.ListContainersRequest, context: Any) -> cri.ListContainersResponse:
        self.calls["ListContainers"] += 1
        return cri.ListContainersResponse(containers=[cri.Container(
            id="c1", pod_sandbox_id="s1", metadata=cri.ContainerMetadata(name="app"), state=self.container_state,
            labels={POD_UID: UID})] if self.container_listed else [])

    async def ContainerStatus(self, request: cri.ContainerStatusRequest, context: Any) -> cri.ContainerStatusResponse:
        self.calls["ContainerStatus"] += 1
        exited = self.container_state == cri.CONTAINER_EXITED
        return cri.ContainerStatusResponse(status=cri.ContainerStatus(
            id="c1", metadata=cri.ContainerMetadata(name="app"), state=self.container_state, started_at=10**9,
            finished_at=2 * 10**9 if exited else 0, exit_code=3 if exited else 0, reason="Error" if exited else ""))

    async def RemoveContainer(self, request: cri.RemoveContainerRequest,
                              context: Any) -> cri.RemoveContainerResponse:
        self.calls["RemoveContainer"] += 1
        return cri.RemoveContainerResponse()

    async def ImageStatus(self, request: cri.ImageStatusRequest, context: Any) -> cri.ImageStatusResponse:
        self.calls["ImageStatus"] += 1
        await self.image_gate.wait()
        return cri.ImageStatusResponse(image=cri.Image(id="sha256:abc"))


def _service(name: str, runtime: CountingRuntime, methods: list[str]) -> grpc.GenericRpcHandler[Any, Any]:
    """Serve ``methods`` of CRI service ``name`` from ``runtime`` (a CRI method's messages are named after it)."""
    return grpc.method_handlers_generic_handler(f"runtime.v1.{name}", {
        method: grpc.unary_unary_rpc_method_handler(
            getattr(runtime, method), request_deserializer=getattr(cri, f"{method}Request").FromString,
            response_serializer=getattr(cri, f"{method}Response").SerializeToString)
        for method in methods})


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[CountingRuntime, CriClient]]:
    runtime = CountingRuntime()
    server = grpc.aio.server()
    server.add_generic_rpc_handlers([
        _service("RuntimeService", runtime, ["ListPodSandbox", "PodSandboxStatus", "ListContainers",
                                             "ContainerStatus", "RemoveContainer"]),
        _service("ImageService", runtime, ["ImageStatus"])])
    endpoint = f"unix://{tmp_path}/cri.sock"
    server.add_insecure_port(endpoint)
    await server.start()
    client = CriClient(endpoint)
    try:
        yield runtime, client
    finally:
        await client.close()
        await server.stop(None)


async def test_status_is_asked_again_only_when_a_list_shows_a_new_state(
        served: tuple[CountingRuntime, CriClient]) -> None:
    runtime, client = served
    first = await client.pod_runtime(UID)
    again = await client.pod_runtime(UID)
    assert first == again and [c.state for c in again.containers] == [RUNNING]
    assert (runtime.calls["PodSandboxStatus"], runtime.calls["ContainerStatus"]) == (1, 1)
    assert runtime.calls["ListContainers"] == 2

    runtime.container_state = cri.CONTAINER_EXITED
    runtime.sandbox_state = cri.SANDBOX_NOTREADY
    ended = await client.pod_runtime(UID)
    (container,) = ended.containers
    assert (container.state, container.exit_code, container.reason) == (EXITED, 3, "Error")
    (sandbox,) = ended.sandboxes
    assert (sandbox.state, sandbox.ip) == (SANDBOX_NOTREADY, "10.244.1.2")  # the IP outlives the stop
    assert (runtime.calls["PodSandboxStatus"], runtime.calls["ContainerStatus"]) == (1, 2)


async def test_removed_or_unlisted_objects_are_asked_about_afresh(served: tuple[CountingRuntime, CriClient]) -> None:
    runtime, client = served
    await client.pod_runtime(UID)
    await client.remove_container("c1")  # the client forgets what it removes...
    await client.pod_runtime(UID)
    assert runtime.calls["ContainerStatus"] == 2
    runtime.container_listed = False  # ...and what a relist no longer shows
    assert (await client.pod_states())[UID] == ((("s1", SANDBOX_READY),), ())
    runtime.container_listed = True
    await client.pod_runtime(UID)
    assert runtime.calls["ContainerStatus"] == 3
    assert runtime.calls["PodSandboxStatus"] == 1


async def test_one_container_read_back_alone_is_remembered(served: tuple[CountingRuntime, CriClient]) -> None:
    runtime, client = served
    view = await client.container("c1")  # what a worker asks after a start: no list
    assert view is not None and (view.name, view.state) == ("app", RUNNING)
    assert (runtime.calls["ListContainers"], runtime.calls["ContainerStatus"]) == (0, 1)
    await client.pod_runtime(UID)  # the next fetch finds it in the state it was read in
    assert runtime.calls["ContainerStatus"] == 1


async def test_concurrent_image_questions_share_one_image_status(served: tuple[CountingRuntime, CriClient]) -> None:
    runtime, client = served
    runtime.image_gate.clear()
    asking = [asyncio.ensure_future(client.image_ref("busybox:latest")) for _ in range(10)]
    while runtime.calls["ImageStatus"] == 0:
        await asyncio.sleep(0.01)
    runtime.image_gate.set()
    assert await asyncio.gather(*asking) == ["sha256:abc"] * 10
    assert runtime.calls["ImageStatus"] == 1
    assert await client.image_ref("busybox:latest") == "sha256:abc"  # a later question is asked afresh
    assert runtime.calls["ImageStatus"] == 2
