"""The kubelet's CRI client: RuntimeService and ImageService over gRPC, answers converted to the runtime view.

The only way the kubelet touches containers. Every call carries a deadline so a wedged runtime shows up
as an error on the pod (and the node's Ready condition), not as a hung worker.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import Final

import grpc

from kubelet.cri_config import CONTAINER_HASH, POD_UID
from kubelet.image_gc import RuntimeImage
from kubelet.nodestatus import ImageInfo
from kubelet.runtime_view import (
    CREATED,
    EXITED,
    RUNNING,
    SANDBOX_NOTREADY,
    SANDBOX_READY,
    UNKNOWN,
    ContainerView,
    PodRuntime,
    PodStates,
    SandboxView,
)
from protos.cri import api_pb2 as cri
from protos.cri import api_pb2_grpc

CALL_TIMEOUT: Final = 30.0
PULL_TIMEOUT: Final = 600.0

_STATES: Final = {cri.CONTAINER_CREATED: CREATED, cri.CONTAINER_RUNNING: RUNNING, cri.CONTAINER_EXITED: EXITED,
                  cri.CONTAINER_UNKNOWN: UNKNOWN}


def _seconds(ns: int) -> float:
    return ns / 1e9


@dataclass(frozen=True)
class ContainerUsage:
    """One container's measured usage (what eviction ranks pods by)."""

    pod_uid: str
    name: str
    memory_working_set: int
    disk_bytes: int


@dataclass(frozen=True)
class ContainerRef:
    """A container as ListContainers names it: enough to update its cpuset or see which image it uses."""

    id: str
    pod_uid: str
    name: str
    image_ref: str


@dataclass(frozen=True)
class ImageFs:
    """ImageFsInfo's answer: where the runtime keeps images and how many bytes they take."""

    mountpoint: str
    used_bytes: int


@dataclass(frozen=True)
class RuntimeVersion:
    """The runtime's name and version, as the Node's containerRuntimeVersion shows them."""
    name: str
    version: str


class CriClient:
    """An async CRI client on ``unix://PATH``.

    It remembers what the status calls said about each sandbox and container and asks again only when a
    list shows the object in another state (as upstream's PLEG re-inspects only pods whose containers changed):
    a sandbox's IPs and namespaces are fixed for its life, and a container's status changes only with its state.
    Every pod sync otherwise paid one status call per object on top of the two lists.
    """

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self._channel = grpc.aio.insecure_channel(endpoint)
        self.runtime = api_pb2_grpc.RuntimeServiceStub(self._channel)
        self.images = api_pb2_grpc.ImageServiceStub(self._channel)
        self._sandbox_views: dict[str, SandboxView] = {}
        self._container_views: dict[str, ContainerView] = {}
        self._image_queries: dict[str, asyncio.Future[str]] = {}

    async def close(self) -> None:
        """Close the gRPC channel."""
        await self._channel.close(None)

    async def version(self) -> RuntimeVersion:
        """CRI Version; also the kubelet's liveness check of the runtime."""
        reply = await self.runtime.Version(cri.VersionRequest(version="v1"), timeout=CALL_TIMEOUT)
        return RuntimeVersion(reply.runtime_name, reply.runtime_version)

    async def wait_version(self, patience: float = 120.0) -> RuntimeVersion:
        """The runtime's version once it answers: a kubelet started with its runtime waits for the socket."""
        delay, waited = 0.1, 0.0
        while True:
            try:
                return await self.version()
            except grpc.aio.AioRpcError as err:
                if err.code() != grpc.StatusCode.UNAVAILABLE or waited >= patience:
                    raise
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 2.0)

    async def pod_runtime(self, uid: str) -> PodRuntime:
        """Every sandbox and container of pod ``uid``, with the detail the cores need."""
        return (await self._collect({POD_UID: uid})).get(uid, PodRuntime())

    async def all_pods(self) -> dict[str, PodRuntime]:
        """The runtime's view of every pod it holds, by uid (for restart recovery and orphan cleanup)."""
        return await self._collect({})

    async def pod_states(self) -> dict[str, PodStates]:
        """Per pod uid, the (id, state) of each sandbox and container: what the PLEG compares between relists.

        Two list calls per relist, where ``all_pods`` also asks for the status of what it has not seen in its
        current state. What the lists no longer show is forgotten here.
        """
        sandboxes, containers = await asyncio.gather(
            self.runtime.ListPodSandbox(cri.ListPodSandboxRequest(), timeout=CALL_TIMEOUT),
            self.runtime.ListContainers(cri.ListContainersRequest(), timeout=CALL_TIMEOUT))
        self._forget_except({s.id for s in sandboxes.items}, {c.id for c in containers.containers})
        found: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]]]] = {}
        for s in sandboxes.items:
            state = SANDBOX_READY if s.state == cri.SANDBOX_READY else SANDBOX_NOTREADY
            found.setdefault(s.labels.get(POD_UID, s.metadata.uid), ([], []))[0].append((s.id, state))
        for c in containers.containers:
            found.setdefault(c.labels.get(POD_UID, ""), ([], []))[1].append((c.id, _STATES.get(c.state, UNKNOWN)))
        return {uid: (tuple(sorted(pods)), tuple(sorted(ctrs))) for uid, (pods, ctrs) in found.items()}

    async def _collect(self, selector: dict[str, str]) -> dict[str, PodRuntime]:
        out: dict[str, PodRuntime] = {}
        sandboxes, containers = await asyncio.gather(
            self.runtime.ListPodSandbox(cri.ListPodSandboxRequest(filter=cri.PodSandboxFilter(label_selector=selector)),
                                        timeout=CALL_TIMEOUT),
            self.runtime.ListContainers(cri.ListContainersRequest(filter=cri.ContainerFilter(label_selector=selector)),
                                        timeout=CALL_TIMEOUT))
        for item in sandboxes.items:
            uid = item.labels.get(POD_UID, item.metadata.uid)
            state = SANDBOX_READY if item.state == cri.SANDBOX_READY else SANDBOX_NOTREADY
            known = self._sandbox_views.get(item.id)
            view = dataclasses.replace(known, state=state) if known is not None else await self.sandbox(item.id)
            out.setdefault(uid, PodRuntime()).sandboxes.append(view)
        for c in containers.containers:
            known_container = self._container_views.get(c.id)
            if known_container is not None and known_container.state == _STATES.get(c.state, UNKNOWN):
                container_view: ContainerView | None = known_container
            else:
                container_view = await self.container(c.id, fallback_hash=c.annotations.get(CONTAINER_HASH, ""))
            if container_view is not None:
                out.setdefault(c.labels.get(POD_UID, ""), PodRuntime()).containers.append(container_view)
        return out

    async def container(self, container_id: str, *, fallback_hash: str = "") -> ContainerView | None:
        """One container from ContainerStatus alone (remembered), or None if the runtime no longer has it.

        What a worker asks after starting a container: its pod's other objects have not changed under it, so
        the two lists of a whole-pod fetch would only repeat what the worker already holds.
        """
        try:
            s = (await self.runtime.ContainerStatus(cri.ContainerStatusRequest(container_id=container_id),
                                                    timeout=CALL_TIMEOUT)).status
        except grpc.aio.AioRpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                return None  # removed between the list (or the start) and the status
            raise
        view = ContainerView(
            id=container_id, name=s.metadata.name, state=_STATES.get(s.state, UNKNOWN),
            created_at=_seconds(s.created_at), attempt=s.metadata.attempt, started_at=_seconds(s.started_at),
            finished_at=_seconds(s.finished_at), exit_code=s.exit_code, reason=s.reason, message=s.message,
            image=s.image.user_specified_image or s.image.image, image_ref=s.image_ref,
            spec_hash=s.annotations.get(CONTAINER_HASH, fallback_hash))
        self._container_views[container_id] = view
        return view

    def _forget_except(self, sandbox_ids: set[str], container_ids: set[str]) -> None:
        """Drop what is remembered of objects the runtime no longer lists."""
        for gone in self._sandbox_views.keys() - sandbox_ids:
            del self._sandbox_views[gone]
        for gone in self._container_views.keys() - container_ids:
            del self._container_views[gone]

    async def sandbox(self, sandbox_id: str) -> SandboxView:
        """One sandbox, from PodSandboxStatus (which alone carries its IPs and namespace modes); remembered."""
        status = (await self.runtime.PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id),
                                                      timeout=CALL_TIMEOUT)).status
        view = SandboxView(
            id=status.id, state=SANDBOX_READY if status.state == cri.SANDBOX_READY else SANDBOX_NOTREADY,
            created_at=_seconds(status.created_at), attempt=status.metadata.attempt, ip=status.network.ip,
            additional_ips=tuple(i.ip for i in status.network.additional_ips),
            host_network=status.linux.namespaces.options.network == cri.NODE)
        self._sandbox_views[view.id] = view
        return view

    async def run_sandbox(self, config: cri.PodSandboxConfig) -> str:
        """RunPodSandbox; the long deadline covers CNI setup and the pause image."""
        reply = await self.runtime.RunPodSandbox(cri.RunPodSandboxRequest(config=config), timeout=PULL_TIMEOUT)
        return reply.pod_sandbox_id

    async def stop_sandbox(self, sandbox_id: str) -> None:
        """StopPodSandbox: stops its containers and tears down its network."""
        await self.runtime.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=sandbox_id),
                                          timeout=CALL_TIMEOUT)

    async def remove_sandbox(self, sandbox_id: str) -> None:
        """RemovePodSandbox, with whatever containers it still holds."""
        await self.runtime.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id),
                                            timeout=CALL_TIMEOUT)
        self._sandbox_views.pop(sandbox_id, None)

    async def create_container(self, sandbox_id: str, config: cri.ContainerConfig,
                               sandbox_config: cri.PodSandboxConfig) -> str:
        """CreateContainer in ``sandbox_id``; returns the container id."""
        reply = await self.runtime.CreateContainer(
            cri.CreateContainerRequest(pod_sandbox_id=sandbox_id, config=config, sandbox_config=sandbox_config),
            timeout=CALL_TIMEOUT)
        return reply.container_id

    async def start_container(self, container_id: str) -> None:
        """StartContainer."""
        await self.runtime.StartContainer(cri.StartContainerRequest(container_id=container_id),
                                          timeout=CALL_TIMEOUT)

    async def stop_container(self, container_id: str, grace_seconds: int) -> None:
        """StopContainer: SIGTERM, then SIGKILL after ``grace_seconds``."""
        await self.runtime.StopContainer(cri.StopContainerRequest(container_id=container_id, timeout=grace_seconds),
                                         timeout=grace_seconds + CALL_TIMEOUT)

    async def remove_container(self, container_id: str) -> None:
        """RemoveContainer."""
        await self.runtime.RemoveContainer(cri.RemoveContainerRequest(container_id=container_id),
                                           timeout=CALL_TIMEOUT)
        self._container_views.pop(container_id, None)

    async def exec_sync(self, container_id: str, argv: list[str], limit: int) -> tuple[int, bytes]:
        """Run ``argv`` in the container; TimeoutError when it outlives ``limit`` seconds (probe semantics)."""
        try:
            reply = await self.runtime.ExecSync(cri.ExecSyncRequest(container_id=container_id, cmd=argv,
                                                                    timeout=limit),
                                                timeout=limit + CALL_TIMEOUT)
        except grpc.aio.AioRpcError as err:
            if err.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise TimeoutError(f"exec in {container_id[:12]} timed out after {limit}s") from err
            raise
        return reply.exit_code, reply.stdout + reply.stderr

    async def containers(self, running_only: bool = False) -> list[ContainerRef]:
        """Every container the runtime holds (or only the running ones), from a single ListContainers."""
        request = cri.ListContainersRequest()
        if running_only:
            request.filter.state.state = cri.CONTAINER_RUNNING
        reply = await self.runtime.ListContainers(request, timeout=CALL_TIMEOUT)
        return [ContainerRef(c.id, c.labels.get(POD_UID, ""), c.metadata.name, c.image_ref)
                for c in reply.containers]

    async def update_cpuset(self, container_id: str, cpus: str) -> None:
        """UpdateContainerResources with only cpuset_cpus set (the CPU manager's reconcile)."""
        await self.runtime.UpdateContainerResources(
            cri.UpdateContainerResourcesRequest(container_id=container_id,
                                                linux=cri.LinuxContainerResources(cpuset_cpus=cpus)),
            timeout=CALL_TIMEOUT)

    async def container_usage(self) -> list[ContainerUsage]:
        """Every container's memory working set and writable-layer size (for eviction ranking)."""
        reply = await self.runtime.ListContainerStats(cri.ListContainerStatsRequest(), timeout=CALL_TIMEOUT)
        return [ContainerUsage(pod_uid=s.attributes.labels.get(POD_UID, ""), name=s.attributes.metadata.name,
                               memory_working_set=s.memory.working_set_bytes.value,
                               disk_bytes=s.writable_layer.used_bytes.value)
                for s in reply.stats]

    async def image_ref(self, image: str) -> str:
        """The image's id if the runtime holds it, else "".

        Callers asking about an image while a question about it is in flight share its answer: a burst of
        pods of one image costs the runtime one ImageStatus, not one per pod.
        """
        pending = self._image_queries.get(image)
        if pending is None:
            pending = asyncio.ensure_future(self._image_status(image))
            self._image_queries[image] = pending
            pending.add_done_callback(lambda _: self._image_queries.pop(image, None))
        return await asyncio.shield(pending)

    async def _image_status(self, image: str) -> str:
        reply = await self.images.ImageStatus(cri.ImageStatusRequest(image=cri.ImageSpec(image=image)),
                                              timeout=CALL_TIMEOUT)
        return reply.image.id if reply.HasField("image") else ""

    async def pull_image(self, image: str, sandbox_config: cri.PodSandboxConfig | None = None) -> str:
        """PullImage; returns the image's id."""
        request = cri.PullImageRequest(image=cri.ImageSpec(image=image))
        if sandbox_config is not None:
            request.sandbox_config.CopyFrom(sandbox_config)
        return (await self.images.PullImage(request, timeout=PULL_TIMEOUT)).image_ref

    async def list_images(self) -> list[ImageInfo]:
        """The runtime's images, for the Node's ``status.images``."""
        reply = await self.images.ListImages(cri.ListImagesRequest(), timeout=CALL_TIMEOUT)
        return [ImageInfo(tuple([*i.repo_digests, *i.repo_tags]), int(i.size)) for i in reply.images]

    async def runtime_images(self) -> list[RuntimeImage]:
        """The runtime's images with their ids, sizes and whether they are pinned (for image GC)."""
        reply = await self.images.ListImages(cri.ListImagesRequest(), timeout=CALL_TIMEOUT)
        return [RuntimeImage(i.id, int(i.size), i.pinned) for i in reply.images]

    async def image_fs(self) -> ImageFs:
        """ImageFsInfo: the image filesystem's mountpoint and the bytes images use on it."""
        reply = await self.images.ImageFsInfo(cri.ImageFsInfoRequest(), timeout=CALL_TIMEOUT)
        if not reply.image_filesystems:
            raise RuntimeError("the runtime reported no image filesystem")
        fs = reply.image_filesystems[0]
        return ImageFs(fs.fs_id.mountpoint, fs.used_bytes.value)

    async def remove_image(self, image_id: str) -> None:
        """RemoveImage (removing an absent image succeeds)."""
        await self.images.RemoveImage(cri.RemoveImageRequest(image=cri.ImageSpec(image=image_id)),
                                      timeout=CALL_TIMEOUT)
