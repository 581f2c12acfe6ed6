"""CRI v1 RuntimeService over grpc.aio: translates CRI messages to and from the runtime engine.

Engine calls block (forks, files, waits), so each runs in a worker thread; the event loop only
moves messages. Queries (status, lists, stats) have threads of their own: a kubelet's relist must not
wait behind a burst of sandbox creations or stops (30 pods at once fill the shared pool for seconds).
So do container creations and starts, the steps that finish a pod: behind 30 sandbox creations (each
waiting on its CNI plugin) every pod's container waited until the last pod's network was up.
Errors become gRPC statuses carrying the engine's message.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NoReturn, TypeVar

import grpc

from process.log import get_logger
from process.version import __version__
from protos.cri import api_pb2 as cri
from protos.cri import api_pb2_grpc
from runtime.cni import CNIError
from runtime.containers import EXITED, RUNNING, ContainerError, ContainerRequest, ContainerState
from runtime.engine import Runtime
from runtime.linux.cgroups import CgroupError, Resources, Stats
from runtime.linux.netdev import read_net_dev
from runtime.linux.rootfs import BindMount
from runtime.records import ContainerRecord, SandboxRecord
from runtime.sandbox import SandboxRequest
from runtime.shimclient import LaunchError
from runtime.streaming import StreamingServer

log = get_logger("runtime.service")

T = TypeVar("T")

RUNTIME_NAME = "tinykube"
CRI_VERSION = "v1"
STATE_TO_CRI = {"created": cri.CONTAINER_CREATED, "running": cri.CONTAINER_RUNNING, "exited": cri.CONTAINER_EXITED,
                "unknown": cri.CONTAINER_UNKNOWN}
PROPAGATION = {cri.PROPAGATION_PRIVATE: "private", cri.PROPAGATION_HOST_TO_CONTAINER: "rslave",
               cri.PROPAGATION_BIDIRECTIONAL: "rshared"}
PROPAGATION_BACK = {v: k for k, v in PROPAGATION.items()}
PID_MODE = {cri.POD: "pod", cri.CONTAINER: "container", cri.NODE: "node", cri.TARGET: "target"}
PROTOCOLS = {cri.TCP: "tcp", cri.UDP: "udp", cri.SCTP: "sctp"}


async def _abort(context: grpc.aio.ServicerContext[Any, Any], exc: BaseException) -> NoReturn:
    if isinstance(exc, ContainerError):
        code = getattr(grpc.StatusCode, exc.code, grpc.StatusCode.UNKNOWN)
    elif isinstance(exc, FileNotFoundError):
        code = grpc.StatusCode.NOT_FOUND
    elif isinstance(exc, ValueError):
        code = grpc.StatusCode.INVALID_ARGUMENT
    elif isinstance(exc, CNIError | LaunchError | CgroupError | OSError):
        code = grpc.StatusCode.INTERNAL
    else:
        log.error("unexpected error", exc_info=True)
        code = grpc.StatusCode.UNKNOWN
    await context.abort(code, str(exc))


async def _unimplemented(context: grpc.aio.ServicerContext[Any, Any], message: str) -> NoReturn:
    await context.abort(grpc.StatusCode.UNIMPLEMENTED, message)


_QUERIES = ThreadPoolExecutor(max_workers=4, thread_name_prefix="cri-query")
_STARTS = ThreadPoolExecutor(max_workers=6, thread_name_prefix="cri-start")  # create and start, never stops
# Calls that wait on processes (a stop's grace period, an exec probe's command) hold a thread but no CPU for
# up to their timeout: on the loop's default pool (6 threads here) a few pods terminating held every
# RunPodSandbox queued behind them for their whole grace period.
_WAITS = ThreadPoolExecutor(max_workers=64, thread_name_prefix="cri-wait")


async def _call(context: grpc.aio.ServicerContext[Any, Any], fn: Callable[..., T], *args: Any,
                pool: ThreadPoolExecutor | None = None) -> T:
    """``fn(*args)`` on a worker thread (of ``pool``, or the loop's default); an error aborts the RPC."""
    try:
        if pool is None:
            return await asyncio.to_thread(fn, *args)
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
    except grpc.aio.AbortError:
        raise
    except Exception as exc:
        await _abort(context, exc)


def resources_from_cri(r: cri.LinuxContainerResources) -> Resources:
    # CRI has no pids field; a pids limit arrives, as for cgroup v2, through ``unified``.
    """CRI LinuxContainerResources as the cgroup drivers' Resources."""
    pids = r.unified.get("pids.max", "")
    return Resources(memory_limit=r.memory_limit_in_bytes, cpu_shares=r.cpu_shares, cpu_quota=r.cpu_quota,
                     cpu_period=r.cpu_period, cpuset_cpus=r.cpuset_cpus, cpuset_mems=r.cpuset_mems,
                     pids_limit=int(pids) if pids.isdigit() else 0)


def resources_to_cri(raw: dict[str, Any]) -> cri.LinuxContainerResources:
    """Stored resources back as CRI LinuxContainerResources (for ContainerStatus)."""
    return cri.LinuxContainerResources(memory_limit_in_bytes=raw.get("memory_limit", 0),
                                       cpu_shares=raw.get("cpu_shares", 0), cpu_quota=raw.get("cpu_quota", 0),
                                       cpu_period=raw.get("cpu_period", 0), cpuset_cpus=raw.get("cpuset_cpus", ""),
                                       cpuset_mems=raw.get("cpuset_mems", ""))


def sandbox_request(config: cri.PodSandboxConfig, runtime_handler: str = "") -> SandboxRequest:
    """RunPodSandbox's config as the engine's SandboxRequest."""
    sec = config.linux.security_context
    ns = sec.namespace_options
    ports = [{"hostPort": p.host_port, "containerPort": p.container_port, "protocol": PROTOCOLS.get(p.protocol, "tcp"),
              "hostIP": p.host_ip} for p in config.port_mappings]
    return SandboxRequest(
        name=config.metadata.name, namespace=config.metadata.namespace, uid=config.metadata.uid,
        attempt=config.metadata.attempt, hostname=config.hostname, log_directory=config.log_directory,
        dns_servers=list(config.dns_config.servers), dns_searches=list(config.dns_config.searches),
        dns_options=list(config.dns_config.options), port_mappings=ports, labels=dict(config.labels),
        annotations=dict(config.annotations), cgroup_parent=config.linux.cgroup_parent,
        host_network=ns.network == cri.NODE, host_pid=ns.pid == cri.NODE, host_ipc=ns.ipc == cri.NODE,
        share_pid=ns.pid == cri.POD, sysctls=dict(config.linux.sysctls),
        resources=resources_from_cri(config.linux.resources),
        extra={"log_directory": config.log_directory, "runtime_handler": runtime_handler},
    )


def container_request(config: cri.ContainerConfig, log_directory: str) -> tuple[ContainerRequest, str]:
    """The engine's request and the PID namespace mode (pod/container/node/target)."""
    sec = config.linux.security_context
    seccomp = True
    if sec.HasField("seccomp"):
        if sec.seccomp.profile_type == cri.SecurityProfile.Localhost:
            raise ContainerError("Localhost seccomp profiles are not supported", "INVALID_ARGUMENT")
        seccomp = sec.seccomp.profile_type == cri.SecurityProfile.RuntimeDefault
    elif sec.seccomp_profile_path in ("unconfined",):
        seccomp = False
    mounts = [BindMount(m.host_path, m.container_path, m.readonly, PROPAGATION.get(m.propagation, "private"))
              for m in config.mounts]
    res = config.linux.resources
    log_path = os.path.join(log_directory, config.log_path) if config.log_path and log_directory else config.log_path
    req = ContainerRequest(
        name=config.metadata.name, attempt=config.metadata.attempt, image=config.image.image,
        command=list(config.command), args=list(config.args), working_dir=config.working_dir,
        env=[(kv.key, kv.value) for kv in config.envs], mounts=mounts, labels=dict(config.labels),
        annotations=dict(config.annotations), log_path=log_path, tty=config.tty, stdin=config.stdin,
        stdin_once=config.stdin_once, resources=resources_from_cri(res),
        oom_score_adj=res.oom_score_adj if res.oom_score_adj else None, privileged=sec.privileged,
        caps_add=list(sec.capabilities.add_capabilities), caps_drop=list(sec.capabilities.drop_capabilities),
        caps_ambient=list(sec.capabilities.add_ambient_capabilities),
        run_as_user=sec.run_as_user.value if sec.HasField("run_as_user") else None,
        run_as_group=sec.run_as_group.value if sec.HasField("run_as_group") else None,
        run_as_username=sec.run_as_username, supplemental_groups=list(sec.supplemental_groups),
        readonly_rootfs=sec.readonly_rootfs, no_new_privs=sec.no_new_privs, seccomp=seccomp,
        masked_paths=list(sec.masked_paths) or None, readonly_paths=list(sec.readonly_paths) or None,
        extra={"image": config.image.image, "image_annotations": dict(config.image.annotations),
               "user_specified_image": config.image.user_specified_image,
               "mounts": [{"host_path": m.host_path, "container_path": m.container_path, "readonly": m.readonly,
                           "propagation": PROPAGATION.get(m.propagation, "private")} for m in config.mounts]},
    )
    return req, PID_MODE.get(sec.namespace_options.pid, "pod")


def _image_spec(rec: ContainerRecord) -> cri.ImageSpec:
    return cri.ImageSpec(image=rec.extra.get("image", rec.image), annotations=rec.extra.get("image_annotations", {}),
                         user_specified_image=rec.extra.get("user_specified_image", ""))


def _container_metadata(rec: ContainerRecord) -> cri.ContainerMetadata:
    return cri.ContainerMetadata(name=rec.name, attempt=rec.attempt)


def _sandbox_metadata(rec: SandboxRecord) -> cri.PodSandboxMetadata:
    return cri.PodSandboxMetadata(name=rec.name, uid=rec.uid, namespace=rec.namespace, attempt=rec.attempt)


def container_status(st: ContainerState) -> cri.ContainerStatus:
    """A container's record and state as CRI ContainerStatus."""
    rec = st.record
    mounts = [cri.Mount(host_path=m["host_path"], container_path=m["container_path"], readonly=m["readonly"],
                        propagation=PROPAGATION_BACK.get(m["propagation"], cri.PROPAGATION_PRIVATE))
              for m in rec.extra.get("mounts", [])]
    return cri.ContainerStatus(
        id=rec.id, metadata=_container_metadata(rec), state=STATE_TO_CRI[st.state], created_at=rec.created_at,
        started_at=st.started_at, finished_at=st.finished_at if st.state == EXITED else 0,
        exit_code=st.exit_code if st.state == EXITED else 0, image=_image_spec(rec), image_ref=rec.image_id,
        image_id=rec.image_id, reason=st.reason if st.state == EXITED else "", message=st.message,
        labels=rec.labels, annotations=rec.annotations, mounts=mounts, log_path=rec.log_path,
        resources=cri.ContainerResources(linux=resources_to_cri(rec.extra.get("resources", {}))),
    )


def _labels_match(labels: dict[str, str], selector: Any) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _u64(value: int) -> cri.UInt64Value:
    return cri.UInt64Value(value=max(0, int(value)))


class RuntimeServicer(api_pb2_grpc.RuntimeServiceServicer):
    """The CRI RuntimeService of one runtime engine."""

    def __init__(self, runtime: Runtime, streaming: StreamingServer | None = None) -> None:
        self.rt = runtime
        self.streaming = streaming

    # ---- runtime ----------------------------------------------------------------------------

    async def Version(self, request: cri.VersionRequest, context: Any) -> cri.VersionResponse:
        return cri.VersionResponse(version="0.1.0", runtime_name=RUNTIME_NAME, runtime_version=__version__,
                                   runtime_api_version=CRI_VERSION)

    async def Status(self, request: cri.StatusRequest, context: Any) -> cri.StatusResponse:
        net = self.rt.sandboxes.cni.network()
        conditions = [
            cri.RuntimeCondition(type="RuntimeReady", status=True),
            cri.RuntimeCondition(type="NetworkReady", status=net is not None,
                                 reason="" if net else "NetworkPluginNotReady",
                                 message="" if net else f"no CNI config in {self.rt.sandboxes.cni.conf_dir}"),
        ]
        info = {}
        if request.verbose:
            info["config"] = (f'{{"root": "{self.rt.root}", "state": "{self.rt.store.root}", '
                              f'"cgroupRoot": "{self.rt.cgroup_root}", "cgroupDriver": "{self.rt.cgroups.name}"}}')
        return cri.StatusResponse(status=cri.RuntimeStatus(conditions=conditions), info=info,
                                  runtime_handlers=[cri.RuntimeHandler(name="")])

    async def UpdateRuntimeConfig(self, request: cri.UpdateRuntimeConfigRequest,
                                  context: Any) -> cri.UpdateRuntimeConfigResponse:
        # The pod CIDR lives in the CNI config, which the node's network daemon writes; nothing to keep here.
        return cri.UpdateRuntimeConfigResponse()

    async def RuntimeConfig(self, request: cri.RuntimeConfigRequest, context: Any) -> cri.RuntimeConfigResponse:
        return cri.RuntimeConfigResponse(linux=cri.LinuxRuntimeConfiguration(cgroup_driver=cri.CGROUPFS))

    # ---- sandboxes --------------------------------------------------------------------------

    async def RunPodSandbox(self, request: cri.RunPodSandboxRequest, context: Any) -> cri.RunPodSandboxResponse:
        if request.runtime_handler:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                f"unknown runtime handler {request.runtime_handler!r}")
        rec = await _call(context, self.rt.sandboxes.run, sandbox_request(request.config, request.runtime_handler))
        return cri.RunPodSandboxResponse(pod_sandbox_id=rec.id)

    async def StopPodSandbox(self, request: cri.StopPodSandboxRequest, context: Any) -> cri.StopPodSandboxResponse:
        def stop() -> None:
            try:
                self.rt.stop_sandbox(request.pod_sandbox_id)
            except ContainerError as exc:
                if exc.code != "NOT_FOUND":
                    raise

        await _call(context, stop, pool=_WAITS)
        return cri.StopPodSandboxResponse()

    async def RemovePodSandbox(self, request: cri.RemovePodSandboxRequest,
                               context: Any) -> cri.RemovePodSandboxResponse:
        await _call(context, self.rt.remove_sandbox, request.pod_sandbox_id)
        return cri.RemovePodSandboxResponse()

    def _sandbox_status(self, rec: SandboxRecord) -> cri.PodSandboxStatus:
        ns = cri.NamespaceOption(network=cri.NODE if rec.host_network else cri.POD,
                                 pid=cri.NODE if rec.host_pid else (cri.POD if rec.share_pid else cri.CONTAINER),
                                 ipc=cri.NODE if rec.host_ipc else cri.POD)
        return cri.PodSandboxStatus(
            id=rec.id, metadata=_sandbox_metadata(rec),
            state=cri.SANDBOX_READY if self.rt.sandboxes.ready(rec) else cri.SANDBOX_NOTREADY,
            created_at=rec.created_at,
            network=cri.PodSandboxNetworkStatus(ip=rec.ip,
                                                additional_ips=[cri.PodIP(ip=i) for i in rec.additional_ips]),
            linux=cri.LinuxPodSandboxStatus(namespaces=cri.Namespace(options=ns)), labels=rec.labels,
            annotations=rec.annotations, runtime_handler=rec.extra.get("runtime_handler", ""))

    async def PodSandboxStatus(self, request: cri.PodSandboxStatusRequest,
                               context: Any) -> cri.PodSandboxStatusResponse:
        def status() -> cri.PodSandboxStatusResponse:
            rec = self.rt.sandboxes.get(request.pod_sandbox_id)
            info = {}
            if request.verbose:
                info["info"] = (f'{{"pid": {self.rt.sandboxes.holder_pid(rec)}, "netns": "{rec.netns}", '
                                f'"cgroupParent": "{rec.cgroup_parent}", "hostname": "{rec.hostname}"}}')
            return cri.PodSandboxStatusResponse(status=self._sandbox_status(rec), info=info,
                                                timestamp=time.time_ns())

        return await _call(context, status, pool=_QUERIES)

    async def ListPodSandbox(self, request: cri.ListPodSandboxRequest, context: Any) -> cri.ListPodSandboxResponse:
        def listing() -> cri.ListPodSandboxResponse:
            f = request.filter
            items = []
            for rec in sorted(self.rt.sandboxes.records(), key=lambda r: r.created_at):
                # Filters on the record first: the state costs file reads, and a kubelet asks per pod.
                if f.id and not rec.id.startswith(f.id):
                    continue
                if not _labels_match(rec.labels, f.label_selector):
                    continue
                state = cri.SANDBOX_READY if self.rt.sandboxes.ready(rec) else cri.SANDBOX_NOTREADY
                if f.HasField("state") and f.state.state != state:
                    continue
                items.append(cri.PodSandbox(id=rec.id, metadata=_sandbox_metadata(rec), state=state,
                                            created_at=rec.created_at, labels=rec.labels,
                                            annotations=rec.annotations,
                                            runtime_handler=rec.extra.get("runtime_handler", "")))
            return cri.ListPodSandboxResponse(items=items)

        return await _call(context, listing, pool=_QUERIES)

    # ---- containers -------------------------------------------------------------------------

    async def CreateContainer(self, request: cri.CreateContainerRequest,
                              context: Any) -> cri.CreateContainerResponse:
        def create() -> str:
            sandbox = self.rt.sandboxes.get(request.pod_sandbox_id)
            log_dir = request.sandbox_config.log_directory or sandbox.extra.get("log_directory", "")
            req, pid_mode = container_request(request.config, log_dir)
            target = 0
            if pid_mode == "target":
                target = self.rt.containers.state(request.config.linux.security_context.namespace_options
                                                  .target_id).pid
            return self.rt.create_container(sandbox.id, req, pid_mode, target).id

        return cri.CreateContainerResponse(container_id=await _call(context, create, pool=_STARTS))

    async def StartContainer(self, request: cri.StartContainerRequest, context: Any) -> cri.StartContainerResponse:
        await _call(context, self.rt.start_container, request.container_id, pool=_STARTS)
        return cri.StartContainerResponse()

    async def StopContainer(self, request: cri.StopContainerRequest, context: Any) -> cri.StopContainerResponse:
        await _call(context, self.rt.containers.stop, request.container_id, float(request.timeout), pool=_WAITS)
        return cri.StopContainerResponse()

    async def RemoveContainer(self, request: cri.RemoveContainerRequest,
                              context: Any) -> cri.RemoveContainerResponse:
        await _call(context, self.rt.containers.remove, request.container_id, pool=_WAITS)
        return cri.RemoveContainerResponse()

    async def ListContainers(self, request: cri.ListContainersRequest, context: Any) -> cri.ListContainersResponse:
        def listing() -> cri.ListContainersResponse:
            f = request.filter
            out = []
            for rec in sorted(self.rt.containers.records(), key=lambda r: r.created_at):
                if f.id and not rec.id.startswith(f.id):
                    continue
                if f.pod_sandbox_id and not rec.sandbox_id.startswith(f.pod_sandbox_id):
                    continue
                if not _labels_match(rec.labels, f.label_selector):
                    continue
                state = STATE_TO_CRI[self.rt.containers.state(rec.id).state]
                if f.HasField("state") and f.state.state != state:
                    continue
                out.append(cri.Container(id=rec.id, pod_sandbox_id=rec.sandbox_id, metadata=_container_metadata(rec),
                                         image=_image_spec(rec), image_ref=rec.image_id, image_id=rec.image_id,
                                         state=state, created_at=rec.created_at, labels=rec.labels,
                                         annotations=rec.annotations))
            return cri.ListContainersResponse(containers=out)

        return await _call(context, listing, pool=_QUERIES)

    async def ContainerStatus(self, request: cri.ContainerStatusRequest,
                              context: Any) -> cri.ContainerStatusResponse:
        def status() -> cri.ContainerStatusResponse:
            st = self.rt.containers.state(request.container_id)
            info = {}
            if request.verbose:
                info["info"] = (f'{{"pid": {st.pid if st.state == RUNNING else 0}, '
                                f'"sandboxID": "{st.record.sandbox_id}", "cgroup": "{st.record.cgroup_path}", '
                                f'"bundle": "{st.record.bundle}"}}')
            return cri.ContainerStatusResponse(status=container_status(st), info=info)

        return await _call(context, status, pool=_QUERIES)

    async def UpdateContainerResources(self, request: cri.UpdateContainerResourcesRequest,
                                       context: Any) -> cri.UpdateContainerResourcesResponse:
        await _call(context, self.rt.containers.update_resources, request.container_id,
                    resources_from_cri(request.linux))
        return cri.UpdateContainerResourcesResponse()

    async def ReopenContainerLog(self, request: cri.ReopenContainerLogRequest,
                                 context: Any) -> cri.ReopenContainerLogResponse:
        await _call(context, self.rt.containers.reopen_log, request.container_id)
        return cri.ReopenContainerLogResponse()

    async def ExecSync(self, request: cri.ExecSyncRequest, context: Any) -> cri.ExecSyncResponse:
        result = await _call(context, self.rt.containers.exec_sync, request.container_id, list(request.cmd),
                             float(request.timeout), pool=_WAITS)
        return cri.ExecSyncResponse(stdout=result.stdout, stderr=result.stderr, exit_code=result.exit_code)

    async def Exec(self, request: cri.ExecRequest, context: Any) -> cri.ExecResponse:
        if self.streaming is None:
            await _unimplemented(context, "this runtime serves no streaming endpoint; use ExecSync")
        if request.tty and request.stderr:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "tty and stderr cannot both be set")
        url = await _call(context, self.streaming.exec_url, request.container_id, list(request.cmd), request.tty,
                          request.stdin)
        return cri.ExecResponse(url=url)

    async def Attach(self, request: cri.AttachRequest, context: Any) -> cri.AttachResponse:
        if self.streaming is None:
            await _unimplemented(context, "this runtime serves no streaming endpoint")
        url = await _call(context, self.streaming.attach_url, request.container_id)
        return cri.AttachResponse(url=url)

    async def PortForward(self, request: cri.PortForwardRequest, context: Any) -> cri.PortForwardResponse:
        if self.streaming is None:
            await _unimplemented(context, "this runtime serves no streaming endpoint")
        url = await _call(context, self.streaming.port_forward_url, request.pod_sandbox_id, list(request.port))
        return cri.PortForwardResponse(url=url)

    async def CheckpointContainer(self, request: cri.CheckpointContainerRequest,
                                  context: Any) -> cri.CheckpointContainerResponse:
        await _unimplemented(context, "checkpointing is not supported")

    async def GetContainerEvents(self, request: cri.GetEventsRequest,
                                 context: Any) -> AsyncIterator[cri.ContainerEventResponse]:
        await _unimplemented(context, "container events are not implemented; poll instead")
        yield cri.ContainerEventResponse()  # type: ignore[unreachable]  # the yield makes a streaming handler

    async def ListMetricDescriptors(self, request: cri.ListMetricDescriptorsRequest,
                                    context: Any) -> cri.ListMetricDescriptorsResponse:
        return cri.ListMetricDescriptorsResponse()

    async def ListPodSandboxMetrics(self, request: cri.ListPodSandboxMetricsRequest,
                                    context: Any) -> cri.ListPodSandboxMetricsResponse:
        return cri.ListPodSandboxMetricsResponse()

    # ---- stats ------------------------------------------------------------------------------

    def _container_stats(self, rec: ContainerRecord) -> cri.ContainerStats:
        cg, used, inodes = self.rt.containers.stats(rec.id)
        now = time.time_ns()
        return cri.ContainerStats(
            attributes=cri.ContainerAttributes(id=rec.id, metadata=_container_metadata(rec), labels=rec.labels,
                                               annotations=rec.annotations),
            cpu=cri.CpuUsage(timestamp=now, usage_core_nano_seconds=_u64(cg.cpu_usage_ns)),
            memory=self._memory(cg, now),
            writable_layer=cri.FilesystemUsage(timestamp=now,
                                               fs_id=cri.FilesystemIdentifier(mountpoint=rec.rootfs_dir),
                                               used_bytes=_u64(used), inodes_used=_u64(inodes)),
        )

    @staticmethod
    def _memory(cg: Stats, now: int) -> cri.MemoryUsage:
        available = max(0, cg.memory_limit - cg.memory_working_set) if 0 < cg.memory_limit < 1 << 62 else 0
        return cri.MemoryUsage(timestamp=now, working_set_bytes=_u64(cg.memory_working_set),
                               usage_bytes=_u64(cg.memory_usage), available_bytes=_u64(available),
                               rss_bytes=_u64(cg.memory_rss))

    async def ContainerStats(self, request: cri.ContainerStatsRequest, context: Any) -> cri.ContainerStatsResponse:
        def stats() -> cri.ContainerStatsResponse:
            return cri.ContainerStatsResponse(stats=self._container_stats(self.rt.containers.get(request.container_id)))

        return await _call(context, stats, pool=_QUERIES)

    async def ListContainerStats(self, request: cri.ListContainerStatsRequest,
                                 context: Any) -> cri.ListContainerStatsResponse:
        def stats() -> cri.ListContainerStatsResponse:
            f = request.filter
            out = []
            for rec in self.rt.containers.records():
                if f.id and not rec.id.startswith(f.id):
                    continue
                if f.pod_sandbox_id and not rec.sandbox_id.startswith(f.pod_sandbox_id):
                    continue
                if not _labels_match(rec.labels, f.label_selector):
                    continue
                if self.rt.containers.state(rec.id).state != RUNNING:
                    continue
                out.append(self._container_stats(rec))
            return cri.ListContainerStatsResponse(stats=out)

        return await _call(context, stats, pool=_QUERIES)

    def _sandbox_stats(self, rec: SandboxRecord) -> cri.PodSandboxStats:
        now = time.time_ns()
        try:
            cg = self.rt.cgroups.stats(rec.cgroup_parent)
        except OSError:
            cg = Stats()
        containers = [self._container_stats(c) for c in self.rt.containers_of(rec.id)
                      if self.rt.containers.state(c.id).state == RUNNING]
        return cri.PodSandboxStats(
            attributes=cri.PodSandboxAttributes(id=rec.id, metadata=_sandbox_metadata(rec), labels=rec.labels,
                                                annotations=rec.annotations),
            linux=cri.LinuxPodSandboxStats(
                cpu=cri.CpuUsage(timestamp=now, usage_core_nano_seconds=_u64(cg.cpu_usage_ns)),
                memory=self._memory(cg, now),
                process=cri.ProcessUsage(timestamp=now, process_count=_u64(cg.pids)),
                network=self._network(rec, now),
                containers=containers))

    def _network(self, rec: SandboxRecord, now: int) -> cri.NetworkUsage | None:
        """The pod network namespace's interfaces, read through the holder (none for host-network pods)."""
        pid = self.rt.sandboxes.holder_pid(rec) if rec.netns else 0
        interfaces = [cri.NetworkInterfaceUsage(name=i.name, rx_bytes=_u64(i.rx_bytes), rx_errors=_u64(i.rx_errors),
                                                tx_bytes=_u64(i.tx_bytes), tx_errors=_u64(i.tx_errors))
                      for i in (read_net_dev(pid) if pid > 0 else [])]
        if not interfaces:
            return None
        default = next((i for i in interfaces if i.name == "eth0"), interfaces[0])
        return cri.NetworkUsage(timestamp=now, default_interface=default, interfaces=interfaces)

    async def PodSandboxStats(self, request: cri.PodSandboxStatsRequest,
                              context: Any) -> cri.PodSandboxStatsResponse:
        def stats() -> cri.PodSandboxStatsResponse:
            return cri.PodSandboxStatsResponse(stats=self._sandbox_stats(self.rt.sandboxes.get(request.pod_sandbox_id)))

        return await _call(context, stats, pool=_QUERIES)

    async def ListPodSandboxStats(self, request: cri.ListPodSandboxStatsRequest,
                                  context: Any) -> cri.ListPodSandboxStatsResponse:
        def stats() -> cri.ListPodSandboxStatsResponse:
            f = request.filter
            out = [self._sandbox_stats(rec) for rec in self.rt.sandboxes.records()
                   if (not f.id or rec.id.startswith(f.id)) and _labels_match(rec.labels, f.label_selector)
                   and self.rt.sandboxes.ready(rec)]
            return cri.ListPodSandboxStatsResponse(stats=out)

        return await _call(context, stats, pool=_QUERIES)
