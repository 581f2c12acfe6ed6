"""Pod workers: one asyncio task per pod drives the pure decision (podsync) through CRI and reports status.

Data flows one way: a pod update (from the API or a test) wakes the pod's worker; the worker reads the
runtime's view (the PLEG's relist, or a fresh query after acting), asks ``compute_pod_actions`` what to do,
does it, and hands the status from ``pod_status`` to its sink. Probe tasks feed results back by waking the
worker. Nothing here decides Kubernetes semantics; the cores do.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

import grpc

from kubelet.admission import Rejection, admit
from kubelet.cgroups_plan import container_resources, pod_cgroup_parent
from kubelet.cpu_manager import CpuManager
from kubelet.cri import CriClient
from kubelet.cri_config import ContainerInputs, DNSSettings, container_config, etc_hosts, sandbox_config
from kubelet.env import ConfigMapLookup, ContainerConfigError, SecretLookup, expand_command, make_environment
from kubelet.hooks import HookError, run_hook
from kubelet.logs import LogOptions, parse_lines, render
from kubelet.podsync import (
    DEADLINE_EXCEEDED,
    DEADLINE_MESSAGE,
    KillContainer,
    PodActions,
    ProbeView,
    StartContainer,
    SyncState,
    compute_pod_actions,
    container_hash,
    deadline_exceeded,
    grace_seconds,
    image_key,
    is_terminating,
    remaining_grace,
)
from kubelet.probes import (
    LIVENESS,
    READINESS,
    STARTUP,
    Outcome,
    ProbeSpec,
    ProbeTarget,
    ProbeTracker,
    Result,
    run_probe,
)
from kubelet.runtime_view import EXITED, RUNNING, SANDBOX_READY, ContainerView, PodRuntime
from kubelet.status import ProbeResults, StatusInputs, pod_status
from kubelet.tokens import TokenCache
from kubelet.volumes.manager import Mount, PreparedVolume, VolumeManager
from kubelet.volumes.sources import VolumeSourceError
from process.log import get_logger
from protos.cri import api_pb2 as cri

log = get_logger("kubelet.worker")

NORMAL: Final = "Normal"
WARNING: Final = "Warning"
MAX_MESSAGE_BYTES: Final = 4096
FALLBACK_LOG_LINES: Final = 80
MAX_FALLBACK_BYTES: Final = 2048
BUSY_RESYNC: Final = 1.0
IDLE_RESYNC: Final = 10.0
POST_START_BUDGET: Final = 30.0


class EventSink(Protocol):
    """Records an Event about a pod: (pod, type, reason, message)."""
    def __call__(self, pod: dict[str, Any], type_: str, reason: str, message: str) -> None: ...


@dataclass
class NodeContext:
    """Node facts the workers need to build CRI requests."""

    node_name: str
    host_ips: tuple[str, ...]
    root_dir: Path
    memory_capacity: int
    cgroup_root: str = ""
    dns: DNSSettings = field(default_factory=DNSSettings)
    node_allocatable: Mapping[str, str] = field(default_factory=dict)
    runtime_name: str = "tinykube"


@dataclass
class Hub:
    """What all workers share."""

    cri: CriClient
    volumes: VolumeManager
    node: NodeContext
    config_maps: ConfigMapLookup
    secrets: SecretLookup
    report: Callable[[dict[str, Any], dict[str, Any]], Awaitable[bool]]  # False: not written, try again later
    on_terminated: Callable[[dict[str, Any]], Awaitable[None]]
    events: EventSink
    state: SyncState = field(default_factory=SyncState)
    pull_lock: asyncio.Lock | None = None  # set when --serialize-image-pulls
    tokens: TokenCache | None = None  # service account tokens for projected volumes (needs the API)
    cpus: CpuManager | None = None  # --cpu-manager-policy: exclusive CPUs at admission, cpusets at creation


@dataclass(frozen=True)
class _Placement:
    """Where this sync's containers go: the sandbox, its config and IP, the pod's volumes and /etc/hosts."""

    sandbox_id: str
    sandbox_config: cri.PodSandboxConfig
    pod_ip: str
    volumes: Mapping[str, PreparedVolume]
    hosts: Mount | None


def _desired(pod: Mapping[str, Any]) -> tuple[Any, ...]:
    """What the worker acts on: the spec, deletion and metadata the environment reads, not the status."""
    meta = pod.get("metadata") or {}
    return (pod.get("spec"), meta.get("deletionTimestamp"), meta.get("deletionGracePeriodSeconds"),
            meta.get("labels"), meta.get("annotations"))


def _describe_rpc(err: grpc.aio.AioRpcError) -> str:
    return err.details() or str(err.code())


class PodWorker:
    """Keeps one pod converging on its spec until it is terminated and forgotten."""

    def __init__(self, hub: Hub, pod: dict[str, Any], *, unknown_to_runtime: bool = False) -> None:
        self.hub = hub
        self.pod = pod
        self.uid: str = pod["metadata"]["uid"]
        self.runtime = PodRuntime()
        # The node's last relist held nothing of this pod, so its first sync need not ask the runtime again.
        self._runtime_known_empty = unknown_to_runtime
        self.reasons: dict[str, tuple[str, str]] = {}
        self.last_status: dict[str, Any] | None = None  # what status generation builds on
        self.reported: dict[str, Any] | None = None  # what the sink was last given
        self.removed = False  # the pod object is gone from its source: clean up fully
        self.cleaned_up = False  # containers, sandboxes and volumes removed; deletion confirmed
        self.grace_override: int | None = None  # eviction stops containers without their grace period
        self.finished = asyncio.Event()
        self._wake = asyncio.Event()
        self._trackers: dict[tuple[str, str], ProbeTracker] = {}
        self._probe_tasks: list[asyncio.Task[None]] = []
        self._task: asyncio.Task[None] | None = None

    # -- inputs ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker's task (and its probes)."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"pod-{self.uid}")

    def update(self, pod: dict[str, Any]) -> None:
        """The pod changed at its source; sync again now unless only its status (our own write) changed."""
        before, self.pod = self.pod, pod
        if _desired(before) != _desired(pod):
            self._wake.set()

    def wake(self) -> None:
        """Sync again now (the runtime or a probe result changed)."""
        self._wake.set()

    def remove(self) -> None:
        """The pod was deleted from its source: stop it (with its last grace period) and clean up."""
        self.removed = True
        if not (self.pod.get("metadata") or {}).get("deletionTimestamp"):
            meta = {**self.pod["metadata"], "deletionTimestamp": "removed"}
            self.pod = {**self.pod, "metadata": meta}
        self._wake.set()

    def evict(self, status_patch: dict[str, Any]) -> None:
        """Node-pressure eviction: the pod becomes Failed/Evicted and its containers stop at once."""
        base = self.last_status if self.last_status is not None else dict(self.pod.get("status") or {})
        conditions = [c for c in base.get("conditions") or [] if c.get("type") != "DisruptionTarget"]
        self.last_status = {**base, **status_patch, "conditions": [*conditions, *status_patch["conditions"]]}
        self.grace_override = 0
        self._wake.set()

    async def stop(self) -> None:
        """Stop driving the pod, leaving its containers as they are (kubelet shutdown or restart)."""
        for task in [*self._probe_tasks, *([self._task] if self._task else [])]:
            task.cancel()
        for task in [*self._probe_tasks, *([self._task] if self._task else [])]:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- the loop -------------------------------------------------------------------------------------------

    async def _run(self) -> None:
        self._start_probes()
        while True:
            busy = True
            try:
                busy = await self._sync()
            except (grpc.aio.AioRpcError, OSError) as err:
                log.warning("pod sync failed", pod=self._name(), error=str(err))
            except Exception:  # a worker must outlive any one bad sync, or its pod is silently abandoned
                log.error("pod sync crashed", exc_info=True, pod=self._name())
            if self.finished.is_set():
                return
            self._wake.clear()
            pause = BUSY_RESYNC if busy else IDLE_RESYNC
            if (self.pod.get("spec") or {}).get("activeDeadlineSeconds") is not None:
                pause = BUSY_RESYNC  # an idle pod may still run out of time
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), pause)

    def _name(self) -> str:
        meta = self.pod.get("metadata") or {}
        return f"{meta.get('namespace', '')}/{meta.get('name', '')}"

    async def _sync(self) -> bool:
        """One pass; True when something is still in motion (so the next pass comes soon)."""
        hub = self.hub
        if self._runtime_known_empty:
            self._runtime_known_empty = False
            self.runtime = PodRuntime()
        else:
            self.runtime = await self._fetch_runtime()
        pod = self._pod_view()
        if deadline_exceeded(pod, time.time()):
            hub.events(self.pod, WARNING, DEADLINE_EXCEEDED, DEADLINE_MESSAGE)
            self.last_status = {**pod["status"], "phase": "Failed", "reason": DEADLINE_EXCEEDED,
                                "message": DEADLINE_MESSAGE}
            pod = self._pod_view()
        images = {c.get("image", "") for c in self._all_containers()}
        refs = {img: ref for img in images if img and (ref := await hub.cri.image_ref(img))}
        if not is_terminating(pod):
            if hub.tokens is not None:
                await hub.tokens.ensure(pod)
            try:
                volumes = hub.volumes.setup(pod)
            except (VolumeSourceError, OSError) as err:
                hub.events(self.pod, WARNING, "FailedMount", str(err))
                await self._report(pod)
                return True
        else:
            volumes = {}
        actions = compute_pod_actions(pod, self.runtime, probes=self._probe_view(), state=hub.state,
                                      has_image=refs.__contains__, now=time.time())
        for blocked in actions.blocked:
            if self.reasons.get(blocked.name, ("", ""))[0] != blocked.reason:
                event = "BackOff" if blocked.reason in ("CrashLoopBackOff", "ImagePullBackOff") else "Failed"
                hub.events(self.pod, WARNING, event, blocked.message)
            self.reasons[blocked.name] = (blocked.reason, blocked.message)
        if not actions.is_noop():
            started = await self._execute(pod, actions, volumes, refs)
            if actions.kill_pod or actions.kill or actions.stop_sandboxes or not await self._refresh(started):
                self.runtime = await self._fetch_runtime()
            await self._remove_dead_containers()
        if is_terminating(pod) and not self._anything_running():
            await self._finish(pod)
            return False
        await self._report(pod)
        # A container started and seen running is settled: the PLEG wakes the worker when it changes.
        unsettled = any((c := self.runtime.latest(s.name)) is None or c.state != RUNNING for s in actions.start)
        return bool(unsettled or actions.kill or actions.blocked or (actions.create_sandbox and not actions.start)
                    ) or any(c.state != RUNNING for c in self._latest_instances())

    def _pod_view(self) -> dict[str, Any]:
        """The pod with the status we last reported (the API copy may lag behind our own writes)."""
        if self.last_status is None:
            return self.pod
        return {**self.pod, "status": self.last_status}

    def _all_containers(self) -> list[dict[str, Any]]:
        spec = self.pod.get("spec") or {}
        return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]

    def _latest_instances(self) -> list[Any]:
        out = []
        for c in (self.pod.get("spec") or {}).get("containers") or []:
            latest = self.runtime.latest(c.get("name", ""))
            if latest is not None:
                out.append(latest)
        return out

    def _anything_running(self) -> bool:
        return any(c.state == RUNNING for c in self.runtime.containers) or any(
            s.state == SANDBOX_READY for s in self.runtime.sandboxes)

    async def _report(self, pod: dict[str, Any], terminal: bool = False) -> None:
        status = pod_status(pod, self.runtime, StatusInputs(
            now=time.time(), host_ips=self.hub.node.host_ips, probes=self._probe_results(),
            reasons=dict(self.reasons), runtime_name=self.hub.node.runtime_name, terminal=terminal))
        self.last_status = status
        if status != self.reported and await self.hub.report(self.pod, status):
            self.reported = status

    async def _finish(self, pod: dict[str, Any]) -> None:
        """Everything is stopped: write the final status, clean up if the pod is gone, and retire."""
        await self._report(pod, terminal=True)
        for task in self._probe_tasks:
            task.cancel()
        if self.removed or (self.pod.get("metadata") or {}).get("deletionTimestamp"):
            for c in self.runtime.containers:
                with contextlib.suppress(grpc.aio.AioRpcError):
                    await self.hub.cri.remove_container(c.id)
            # Newest first: the first sandbox may own the pod's cgroup, which must be emptied of the others.
            for s in sorted(self.runtime.sandboxes, key=lambda s: (s.created_at, s.attempt), reverse=True):
                with contextlib.suppress(grpc.aio.AioRpcError):
                    await self.hub.cri.remove_sandbox(s.id)
            self.hub.volumes.teardown(self.uid)
            if self.hub.tokens is not None:
                self.hub.tokens.forget(self.uid)
            self.cleaned_up = True
        await self.hub.on_terminated(self.pod)
        self.finished.set()

    # -- acting ---------------------------------------------------------------------------------------------

    async def _execute(self, pod: dict[str, Any], actions: PodActions, volumes: Mapping[str, PreparedVolume],
                       refs: Mapping[str, str]) -> list[str]:
        """Kill, stop, create the sandbox and start containers; ``refs`` are the ids of the images present.

        Returns the ids of the containers created (started or not), which ``_refresh`` reads back.
        """
        specs = {c.get("name", ""): c for c in self._all_containers()}
        created: list[str] = []
        if actions.kill:
            await asyncio.gather(*(self._kill(pod, k, specs.get(k.name)) for k in actions.kill))
        for sandbox_id in actions.stop_sandboxes:
            await self.hub.cri.stop_sandbox(sandbox_id)
        if actions.kill_pod and not actions.create_sandbox:
            return created
        sandbox_cfg = sandbox_config(pod, actions.sandbox_attempt, dns=self.hub.node.dns,
                                     log_directory=str(self._log_dir()),
                                     cgroup_parent=pod_cgroup_parent(pod, self.hub.node.cgroup_root))
        sandbox_id = actions.sandbox_id
        if actions.create_sandbox:
            try:
                sandbox_id = await self.hub.cri.run_sandbox(sandbox_cfg)
            except grpc.aio.AioRpcError as err:
                self.hub.events(self.pod, WARNING, "FailedCreatePodSandBox",
                                f"Failed to create pod sandbox: {_describe_rpc(err)}")
                return created
            # Its IP from PodSandboxStatus alone, as upstream asks: not a relist of the whole pod.
            self.runtime.sandboxes.append(await self.hub.cri.sandbox(sandbox_id))
        sandbox = next((s for s in self.runtime.sandboxes if s.id == sandbox_id), None)
        pod_ip = sandbox.ip if sandbox is not None else ""
        where = _Placement(sandbox_id, sandbox_cfg, pod_ip, volumes, self._write_etc_hosts(pod, pod_ip))
        for start in actions.start:
            ok = await self._start(pod, start, specs[start.name], where, refs, created=created)
            if start.init and not ok:
                break
        return created

    async def _refresh(self, created: list[str]) -> bool:
        """Read back only the containers this sync created into the view fetched at its start; False when that
        is not enough (one is gone, or already exited and so needs its termination message): fetch the pod.

        Nothing else of the pod changed meanwhile but through this worker (a sandbox it created is in the view
        already), so the whole-pod fetch's two lists only repeated it; the PLEG's relist still catches the rest.
        """
        views = []
        for cid in created:
            view = await self.hub.cri.container(cid)
            if view is None or view.state == EXITED:
                return False
            views.append(view)
        fresh = {v.id for v in views}
        self.runtime.containers = [*(c for c in self.runtime.containers if c.id not in fresh), *views]
        return True

    async def _kill(self, pod: dict[str, Any], kill: KillContainer, spec: Mapping[str, Any] | None) -> None:
        grace = kill.grace_seconds if self.grace_override is None else min(kill.grace_seconds, self.grace_override)
        self.hub.events(self.pod, NORMAL, "Killing", kill.message if kill.reason else
                        f"Stopping container {kill.name}")
        pre_stop = ((spec or {}).get("lifecycle") or {}).get("preStop")
        took = 0.0
        if pre_stop and grace > 0:
            try:
                took = await run_hook(pre_stop, spec or {}, container_id=kill.container_id, pod_ip=self._pod_ip(),
                                      exec_sync=self.hub.cri.exec_sync, budget=grace)
            except HookError as err:
                self.hub.events(self.pod, WARNING, "FailedPreStopHook", str(err))
                took = float(grace)
        try:
            await self.hub.cri.stop_container(kill.container_id, remaining_grace(grace, took))
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.NOT_FOUND:
                raise

    def _pod_ip(self) -> str:
        sandbox = self.runtime.latest_sandbox()
        return sandbox.ip if sandbox is not None else ""

    async def _remove_dead_containers(self) -> None:
        """Keep, per container name, the newest instance and one dead one before it (lastState, --previous).

        Upstream's default of one dead container per container: a crash-looping container must not pile up
        exited instances in the runtime. (Dead sandboxes are only removed with the pod: a runtime that made
        the pod's cgroup with its first sandbox cannot remove that one while later ones live in it.)
        """
        for name in {c.name for c in self.runtime.containers}:
            instances = self.runtime.instances(name)
            for old in [c for c in instances[2:] if c.state == EXITED]:
                with contextlib.suppress(grpc.aio.AioRpcError):
                    await self.hub.cri.remove_container(old.id)
                    self.runtime.containers.remove(old)


    async def _fetch_runtime(self) -> PodRuntime:
        """The runtime's view, with each exited container's termination message filled in."""
        runtime = await self.hub.cri.pod_runtime(self.uid)
        specs = {c.get("name", ""): c for c in self._all_containers()}
        exited = [c for c in runtime.containers if c.state == EXITED and c.name in specs]
        if not exited:
            return runtime
        messages = await asyncio.to_thread(self._termination_messages, exited, specs)
        runtime.containers = [dataclasses.replace(c, message=messages[c.id]) if messages.get(c.id) else c
                              for c in runtime.containers]
        return runtime

    def _termination_messages(self, exited: list[ContainerView],
                              specs: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
        out: dict[str, str] = {}
        for c in exited:
            path = self._message_file(c.name, c.attempt)
            text = path.read_bytes()[:MAX_MESSAGE_BYTES] if path.exists() else b""
            policy = specs[c.name].get("terminationMessagePolicy", "File")
            if not text.strip() and policy == "FallbackToLogsOnError" and c.exit_code != 0:
                log_file = self._log_dir() / c.name / f"{c.attempt}.log"
                if log_file.exists():
                    lines = parse_lines(log_file.read_bytes().splitlines(keepends=True))
                    text = render(lines, LogOptions(tail_lines=FALLBACK_LOG_LINES))[-MAX_FALLBACK_BYTES:]
            if text:
                out[c.id] = text.decode("utf-8", "replace")
        return out

    def _message_file(self, name: str, attempt: int) -> Path:
        return self.hub.volumes.pod_dir(self.uid) / "containers" / name / str(attempt)

    def _log_dir(self) -> Path:
        meta = self.pod.get("metadata") or {}
        return self.hub.node.root_dir / "pod-logs" / f"{meta.get('namespace')}_{meta.get('name')}_{self.uid}"

    def _write_etc_hosts(self, pod: dict[str, Any], pod_ip: str) -> Mount | None:
        if (pod.get("spec") or {}).get("hostNetwork"):
            return None
        path = self.hub.volumes.pod_dir(self.uid) / "etc-hosts"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(etc_hosts(pod, pod_ip, self.hub.node.dns))
        return Mount(str(path), "/etc/hosts")

    async def _start(self, pod: dict[str, Any], start: StartContainer, spec: Mapping[str, Any],
                     where: _Placement, refs: Mapping[str, str], *, created: list[str]) -> bool:
        """Pull, configure, create, start and run postStart; False (with the reason recorded) on failure.

        A present image's id comes from this sync's own ImageStatus (``refs``): one question per image, not two.
        The new container's id goes onto ``created``.
        """
        hub = self.hub
        sandbox_cfg = where.sandbox_config
        name = start.name
        image = start.image
        if start.pull:
            hub.events(self.pod, NORMAL, "Pulling", f'Pulling image "{image}"')
            began = time.monotonic()
            try:
                if hub.pull_lock is not None:
                    async with hub.pull_lock:
                        ref = await hub.cri.pull_image(image, sandbox_cfg)
                else:
                    ref = await hub.cri.pull_image(image, sandbox_cfg)
            except grpc.aio.AioRpcError as err:
                now = time.time()
                hub.state.image_pull.next(image_key(pod, image), now, now)
                message = f'Failed to pull image "{image}": {_describe_rpc(err)}'
                hub.events(self.pod, WARNING, "Failed", message)
                self.reasons[name] = ("ErrImagePull", message)
                return False
            hub.events(self.pod, NORMAL, "Pulled",
                       f'Successfully pulled image "{image}" in {time.monotonic() - began:.3f}s')
        else:
            ref = refs.get(image) or await hub.cri.image_ref(image)
            hub.events(self.pod, NORMAL, "Pulled", f'Container image "{image}" already present on machine')
        try:
            env = make_environment(pod, spec, config_maps=hub.config_maps, secrets=hub.secrets,
                                   node_allocatable=hub.node.node_allocatable)
            env_map = env.as_dict()
            mounts = hub.volumes.mounts_for(spec, where.volumes, env_map)
        except (ContainerConfigError, VolumeSourceError) as err:
            hub.events(self.pod, WARNING, "Failed", f"Error: {err}")
            self.reasons[name] = ("CreateContainerConfigError", str(err))
            return False
        if env.invalid_names:
            hub.events(self.pod, WARNING, "InvalidEnvironmentVariableNames",
                       "Keys [" + ", ".join(env.invalid_names) + "] from the EnvFrom configMap "
                       f"{self._name().split('/')[0]}/... were skipped since they are considered invalid "
                       "environment variable names.")
        if where.hosts is not None and not any(m.container_path == "/etc/hosts" for m in mounts):
            mounts.append(where.hosts)
        message_path = spec.get("terminationMessagePath", "/dev/termination-log")
        if message_path:
            message_file = self._message_file(name, start.attempt)
            message_file.parent.mkdir(parents=True, exist_ok=True)
            message_file.write_bytes(b"")
            message_file.chmod(0o666)
            mounts.append(Mount(str(message_file), message_path))
        command, args = expand_command(spec, env_map)
        inputs = ContainerInputs(
            attempt=start.attempt, image_ref=ref or image, command=command, args=args, env=env.env, mounts=mounts,
            resources=container_resources(pod, spec, hub.node.memory_capacity,
                                          hub.cpus.cpuset(self.uid, name) if hub.cpus is not None else ""),
            spec_hash=container_hash(spec),
            log_path=f"{name}/{start.attempt}.log")
        try:
            cid = await hub.cri.create_container(where.sandbox_id, container_config(pod, spec, inputs), sandbox_cfg)
        except grpc.aio.AioRpcError as err:
            hub.events(self.pod, WARNING, "Failed", f"Error: {_describe_rpc(err)}")
            self.reasons[name] = ("CreateContainerError", _describe_rpc(err))
            return False
        created.append(cid)
        hub.events(self.pod, NORMAL, "Created", f"Created container {name}")
        try:
            await hub.cri.start_container(cid)
        except grpc.aio.AioRpcError as err:
            hub.events(self.pod, WARNING, "Failed", f"Error: {_describe_rpc(err)}")
            self.reasons[name] = ("RunContainerError", _describe_rpc(err))
            return False
        hub.events(self.pod, NORMAL, "Started", f"Started container {name}")
        self.reasons.pop(name, None)
        post_start = (spec.get("lifecycle") or {}).get("postStart")
        if post_start:
            try:
                await run_hook(post_start, spec, container_id=cid, pod_ip=where.pod_ip, exec_sync=hub.cri.exec_sync,
                               budget=POST_START_BUDGET)
            except HookError as err:
                hub.events(self.pod, WARNING, "FailedPostStartHook", str(err))
                await hub.cri.stop_container(cid, remaining_grace(grace_seconds(pod, spec), 0))
                return False
        return True

    # -- probes ---------------------------------------------------------------------------------------------

    def _start_probes(self) -> None:
        restart_never = (self.pod.get("spec") or {}).get("restartPolicy") == "Never"
        loop = asyncio.get_running_loop()
        for c in (self.pod.get("spec") or {}).get("containers") or []:
            for kind, key in ((STARTUP, "startupProbe"), (LIVENESS, "livenessProbe"),
                              (READINESS, "readinessProbe")):
                if c.get(key):
                    tracker = ProbeTracker(kind, ProbeSpec.from_api(c[key]), restart_never)
                    self._trackers[(c["name"], kind)] = tracker
                    self._probe_tasks.append(loop.create_task(self._probe_loop(c, c[key], tracker)))

    def _target(self, name: str) -> ProbeTarget:
        latest = self.runtime.latest(name)
        if latest is None:
            return ProbeTarget("", running=False)
        startup = self._trackers.get((name, STARTUP))
        started = startup is None or (startup.container_id == latest.id and startup.result is Result.SUCCESS)
        return ProbeTarget(latest.id, running=latest.state == RUNNING, started_at=latest.started_at,
                           terminated=latest.state != RUNNING, started=started,
                           deleting=bool((self.pod.get("metadata") or {}).get("deletionTimestamp")))

    async def _probe_loop(self, container: Mapping[str, Any], probe: Mapping[str, Any],
                          tracker: ProbeTracker) -> None:
        name = container.get("name", "")
        label = {LIVENESS: "Liveness", READINESS: "Readiness", STARTUP: "Startup"}[tracker.kind]
        while not tracker.stopped:
            target = self._target(name)
            if tracker.should_probe(target, time.time()):
                try:
                    outcome = await run_probe(probe, container, container_id=target.container_id,
                                              pod_ip=self._pod_ip(), exec_sync=self.hub.cri.exec_sync)
                except (ValueError, grpc.aio.AioRpcError) as err:
                    # A prober error (unknown port name, container gone mid-exec) is no verdict: upstream
                    # discards it rather than count it as a failure.
                    log.v(2, "probe error", pod=self._name(), container=name, error=str(err))
                    outcome = Outcome(Result.UNKNOWN, str(err))
                if outcome.result is Result.FAILURE:
                    self.hub.events(self.pod, WARNING, "Unhealthy", f"{label} probe failed: {outcome.output}")
                if tracker.record(outcome.result):
                    self.wake()
            elif tracker.result is Result.FAILURE and tracker.kind == READINESS:
                self.wake()  # a stopped container turned its readiness false: report it
            await asyncio.sleep(tracker.spec.period)

    def _probe_view(self) -> ProbeView:
        live = frozenset(t.container_id for (_, kind), t in self._trackers.items()
                         if kind == LIVENESS and t.result is Result.FAILURE)
        startup = frozenset(t.container_id for (_, kind), t in self._trackers.items()
                            if kind == STARTUP and t.result is Result.FAILURE)
        return ProbeView(liveness_failed=live, startup_failed=startup)

    def _probe_results(self) -> ProbeResults:
        ready = {t.container_id: t.result is Result.SUCCESS for (_, kind), t in self._trackers.items()
                 if kind == READINESS}
        started = {t.container_id: t.result is Result.SUCCESS for (_, kind), t in self._trackers.items()
                   if kind == STARTUP}
        return ProbeResults(ready=ready, started=started)


class PodWorkers:
    """All pod workers of a node, keyed by uid."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.workers: dict[str, PodWorker] = {}
        self._listed: frozenset[str] | None = None  # pod uids in the runtime at the last relist; None before one

    def update(self, pod: dict[str, Any]) -> None:
        """A pod was added or changed at its source."""
        uid = pod["metadata"]["uid"]
        worker = self.workers.get(uid)
        if worker is not None and not worker.finished.is_set():
            worker.update(pod)
            return
        if worker is not None and (worker.cleaned_up or not (pod.get("metadata") or {}).get("deletionTimestamp")):
            return  # a finished pod: nothing changes until it is deleted, and then only once
        rejection = None if worker is not None or is_terminating(pod) else admit(
            pod, self._active(), self.hub.node.node_allocatable) or self._admit_cpus(pod)
        if rejection is None:
            self._spawn(pod)
            return
        # Rejected: the worker only writes the terminal status (and later confirms a deletion).
        self.hub.events(pod, WARNING, rejection.reason, rejection.message)
        status = {**(pod.get("status") or {}), "phase": "Failed", "reason": rejection.reason,
                  "message": rejection.message}
        self._spawn({**pod, "status": status})

    def _admit_cpus(self, pod: dict[str, Any]) -> Rejection | None:
        return self.hub.cpus.admit(pod) if self.hub.cpus is not None else None

    def _active(self) -> list[dict[str, Any]]:
        """Pods that hold resources on the node: running or starting, not finished or being torn down."""
        return [w.pod for w in self.workers.values()
                if not w.finished.is_set() and not is_terminating(w._pod_view())]

    def remove(self, uid: str) -> None:
        """The pod is gone from its source: stop it if it runs, and remove what a finished pod left behind."""
        worker = self.workers.get(uid)
        if worker is None:
            return
        if not worker.finished.is_set():
            worker.remove()
        elif worker.cleaned_up:
            del self.workers[uid]
        else:
            self._spawn(worker.pod).remove()

    async def evict(self, pod: dict[str, Any], status_patch: dict[str, Any]) -> None:
        """Evict a running pod (the eviction manager's decision)."""
        worker = self.workers.get(pod["metadata"]["uid"])
        if worker is not None and not worker.finished.is_set():
            self.hub.events(worker.pod, WARNING, "Evicted", status_patch["message"])
            worker.evict(status_patch)

    def _spawn(self, pod: dict[str, Any]) -> PodWorker:
        """A worker for ``pod``; one for a uid this kubelet has no worker for and that the last relist (made by
        this process, so after any earlier kubelet's work) did not show skips its first runtime query: a burst
        of new pods then goes straight to RunPodSandbox."""
        uid = pod["metadata"]["uid"]
        fresh = uid not in self.workers and self._listed is not None and uid not in self._listed
        worker = PodWorker(self.hub, pod, unknown_to_runtime=fresh)
        self.workers[uid] = worker
        worker.start()
        return worker

    async def relist(self, period: float = 1.0) -> None:
        """The PLEG: relist the runtime every ``period`` and wake the workers whose pods changed.

        One relist for the whole node keeps runtime calls proportional to pods, not pods times the resync rate.
        A worker is woken while the runtime differs from the view its last sync fetched: not for the container
        it has just started and already seen, and again at the next relist if a wake came while it was syncing
        (and was spent on that sync).
        """
        while True:
            try:
                current = await self.hub.cri.pod_states()
            except grpc.aio.AioRpcError as err:
                log.warning("relist failed", error=_describe_rpc(err))
            else:
                self._listed = frozenset(current)
                for uid, mark in current.items():
                    worker = self.workers.get(uid)
                    if worker is not None and worker.runtime.states() != mark:
                        worker.wake()
            now = time.time()
            self.hub.state.crash.gc(now)
            self.hub.state.image_pull.gc(now)
            await asyncio.sleep(period)

    async def stop(self) -> None:
        """Stop every worker without touching their containers."""
        await asyncio.gather(*(w.stop() for w in self.workers.values()))
