"""The pod worker's decision: from the pod spec, the runtime's view, probe results and now, the next CRI actions.

This is Kubernetes' computePodActions plus the checks SyncPod makes before each start (crash-loop and
image-pull backoff, pull policy), written as one pure function so every branch is a unit test. The worker
executes the actions in order: kill (pod or containers), create the sandbox, then the starts.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from kubelet.backoff import Backoff, go_duration
from kubelet.runtime_view import CREATED, EXITED, RUNNING, SANDBOX_READY, UNKNOWN, ContainerView, PodRuntime

DEFAULT_GRACE_SECONDS: Final = 30
MIN_GRACE_SECONDS: Final = 2

CRASH_LOOP_BACK_OFF: Final = "CrashLoopBackOff"
IMAGE_PULL_BACK_OFF: Final = "ImagePullBackOff"
ERR_IMAGE_NEVER_PULL: Final = "ErrImageNeverPull"

KILL_LIVENESS: Final = "Unhealthy"
KILL_STARTUP: Final = "StartupProbeFailed"


@dataclass(frozen=True)
class KillContainer:
    """Stop one container instance, running its preStop hook within ``grace_seconds`` first."""

    container_id: str
    name: str
    grace_seconds: int
    message: str
    reason: str = ""


@dataclass(frozen=True)
class StartContainer:
    """Create and start container ``name`` (pulling its image first when ``pull``)."""

    name: str
    init: bool
    attempt: int
    image: str
    pull: bool


@dataclass(frozen=True)
class Blocked:
    """A container the core will not start yet, with the waiting reason the status shows."""

    name: str
    reason: str
    message: str


@dataclass
class PodActions:
    """Everything one sync must do, in execution order."""

    kill_pod: bool = False
    create_sandbox: bool = False
    sandbox_id: str = ""
    sandbox_attempt: int = 0
    kill: list[KillContainer] = field(default_factory=list)
    stop_sandboxes: list[str] = field(default_factory=list)
    start: list[StartContainer] = field(default_factory=list)
    blocked: list[Blocked] = field(default_factory=list)

    def is_noop(self) -> bool:
        """Nothing to do this sync (blocked starts only change the status)."""
        return not (self.kill_pod or self.create_sandbox or self.kill or self.stop_sandboxes or self.start)


@dataclass(frozen=True)
class ProbeView:
    """Container ids whose liveness or startup probe has reached its failure threshold."""

    liveness_failed: frozenset[str] = frozenset()
    startup_failed: frozenset[str] = frozenset()


@dataclass
class SyncState:
    """What the worker keeps between syncs: the two backoffs (shared by all pods of the node)."""

    crash: Backoff = field(default_factory=Backoff)
    image_pull: Backoff = field(default_factory=Backoff)


def container_hash(container: Mapping[str, Any]) -> str:
    """A stable hash of a container's spec: a different hash on a running container means "restart it"."""
    blob = json.dumps(container, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def default_pull_policy(image: str) -> str:
    """``Always`` for ``:latest`` or an untagged image, ``IfNotPresent`` otherwise (API defaulting's rule)."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last or last.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def pod_key(pod: Mapping[str, Any]) -> str:
    """``name_namespace(uid)``: how kubelet names a pod in messages."""
    meta = pod.get("metadata") or {}
    return f"{meta.get('name', '')}_{meta.get('namespace', '')}({meta.get('uid', '')})"


def crash_key(pod: Mapping[str, Any], container: Mapping[str, Any]) -> str:
    """The CrashLoopBackOff key: pod uid, container name and spec hash (a new spec starts afresh)."""
    meta = pod.get("metadata") or {}
    return f"{meta.get('uid', '')}/{container.get('name', '')}/{container_hash(container)}"


def image_key(pod: Mapping[str, Any], image: str) -> str:
    """The ImagePullBackOff key: pod uid and image."""
    return f"{(pod.get('metadata') or {}).get('uid', '')}_{image}"


def is_terminating(pod: Mapping[str, Any]) -> bool:
    """Deleted, or already in a terminal phase: the worker only tears down from here on."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return True
    phase = str((pod.get("status") or {}).get("phase", ""))
    return phase in ("Succeeded", "Failed")


def deadline_exceeded(pod: Mapping[str, Any], now: float) -> bool:
    """Whether the pod has been active longer than spec.activeDeadlineSeconds (counted from status.startTime)."""
    deadline = (pod.get("spec") or {}).get("activeDeadlineSeconds")
    started = (pod.get("status") or {}).get("startTime")
    if deadline is None or not started or is_terminating(pod):
        return False
    start = calendar.timegm(time.strptime(str(started), "%Y-%m-%dT%H:%M:%SZ"))
    return now - start >= int(deadline)


DEADLINE_EXCEEDED: Final = "DeadlineExceeded"
DEADLINE_MESSAGE: Final = "Pod was active on the node longer than the specified deadline"


def grace_seconds(pod: Mapping[str, Any], container: Mapping[str, Any] | None, reason: str = "") -> int:
    """The grace period for stopping a container: deletion's, else the pod's, else the failing probe's override."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    grace = DEFAULT_GRACE_SECONDS
    if meta.get("deletionGracePeriodSeconds") is not None:
        grace = int(meta["deletionGracePeriodSeconds"])
    elif spec.get("terminationGracePeriodSeconds") is not None:
        grace = int(spec["terminationGracePeriodSeconds"])
    if container is not None and reason in (KILL_LIVENESS, KILL_STARTUP):
        probe = container.get("livenessProbe" if reason == KILL_LIVENESS else "startupProbe") or {}
        if probe.get("terminationGracePeriodSeconds") is not None:
            grace = int(probe["terminationGracePeriodSeconds"])
    return grace


def remaining_grace(grace: int, pre_stop_took: float) -> int:
    """What is left for SIGTERM after the preStop hook; never under the 2 s that avoids needless SIGKILLs."""
    return max(MIN_GRACE_SECONDS, grace - int(pre_stop_took))


def should_restart_on_failure(pod: Mapping[str, Any]) -> bool:
    """False only for restartPolicy Never."""
    return str((pod.get("spec") or {}).get("restartPolicy", "Always")) != "Never"


def should_container_be_restarted(pod: Mapping[str, Any], container: Mapping[str, Any], runtime: PodRuntime) -> bool:
    """Kubernetes' ShouldContainerBeRestarted: never after deletion; by restartPolicy and exit code otherwise."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    status = runtime.latest(container.get("name", ""))
    if status is None:
        return True
    if status.state == RUNNING:
        return False
    if status.state in (UNKNOWN, CREATED):
        return True
    policy = (pod.get("spec") or {}).get("restartPolicy", "Always")
    if policy == "Never":
        return False
    return not (policy == "OnFailure" and status.exit_code == 0)


def _init_failed(status: ContainerView) -> bool:
    return (status.state == EXITED and status.exit_code != 0) or status.state == UNKNOWN


def next_init_container(pod: Mapping[str, Any], runtime: PodRuntime
                        ) -> tuple[ContainerView | None, Mapping[str, Any] | None, bool]:
    """(last failed init status, next init container to run, all done) — findNextInitContainerToRun."""
    spec = pod.get("spec") or {}
    inits = list(spec.get("initContainers") or [])
    if not inits:
        return None, None, True
    for c in spec.get("containers") or []:
        s = runtime.latest(c.get("name", ""))
        if s is not None and s.state == RUNNING:
            return None, None, True
    for c in reversed(inits):
        s = runtime.latest(c.get("name", ""))
        if s is not None and _init_failed(s):
            return s, c, False
    for i in range(len(inits) - 1, -1, -1):
        s = runtime.latest(inits[i].get("name", ""))
        if s is None:
            continue
        if s.state == RUNNING:
            return None, None, False
        if s.state == EXITED:
            if i == len(inits) - 1:
                return None, None, True
            return None, inits[i + 1], False
    return None, inits[0], False


def _sandbox_changed(pod: Mapping[str, Any], runtime: PodRuntime) -> tuple[bool, int, str]:
    """(create a new sandbox?, its attempt, the current sandbox id) — podSandboxChanged."""
    latest = runtime.latest_sandbox()
    if latest is None:
        return True, 0, ""
    ready = [s for s in runtime.sandboxes if s.state == SANDBOX_READY]
    host_network = bool((pod.get("spec") or {}).get("hostNetwork"))
    if len(ready) > 1 or latest.state != SANDBOX_READY or latest.host_network != host_network:
        return True, latest.attempt + 1, latest.id
    if not host_network and not latest.ip:
        return True, latest.attempt + 1, latest.id
    return False, latest.attempt, latest.id


def _kill_everything(pod: Mapping[str, Any], runtime: PodRuntime, actions: PodActions, message: str) -> None:
    by_name = _containers_by_name(pod)
    for c in runtime.containers:
        if c.state in (RUNNING, CREATED, UNKNOWN):
            actions.kill.append(KillContainer(c.id, c.name, grace_seconds(pod, by_name.get(c.name)), message))
    actions.stop_sandboxes = [s.id for s in runtime.sandboxes if s.state == SANDBOX_READY]


def _containers_by_name(pod: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    spec = pod.get("spec") or {}
    return {c.get("name", ""): c for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]}


@dataclass
class _Sync:
    pod: Mapping[str, Any]
    runtime: PodRuntime
    state: SyncState
    has_image: Callable[[str], bool]
    now: float
    actions: PodActions


def _gate_start(sync: _Sync, container: Mapping[str, Any], init: bool) -> None:
    """Apply SyncPod's pre-start checks: crash-loop backoff, then the image pull policy and pull backoff."""
    pod, runtime, state, now, actions = sync.pod, sync.runtime, sync.state, sync.now, sync.actions
    name = container.get("name", "")
    image = container.get("image", "")
    last = runtime.latest(name)
    # Like doBackOff upstream: the newest *exited* instance dates the window, even when a running one is
    # being replaced in this same sync.
    exited = next((c for c in runtime.instances(name) if c.state == EXITED), None)
    if exited is not None:
        key = crash_key(pod, container)
        if state.crash.in_backoff_since(key, exited.finished_at, now):
            delay = go_duration(state.crash.delay(key))
            actions.blocked.append(Blocked(name, CRASH_LOOP_BACK_OFF,
                                           f"back-off {delay} restarting failed container={name} "
                                           f"pod={pod_key(pod)}"))
            return
        state.crash.next(key, exited.finished_at, now)
    policy = container.get("imagePullPolicy") or default_pull_policy(image)
    present = sync.has_image(image)
    if policy == "Never" and not present:
        actions.blocked.append(Blocked(name, ERR_IMAGE_NEVER_PULL,
                                       f'Container image "{image}" is not present with pull policy of Never'))
        return
    pull = policy == "Always" or (policy == "IfNotPresent" and not present)
    if pull and state.image_pull.in_backoff_since_update(image_key(pod, image), now):
        actions.blocked.append(Blocked(name, IMAGE_PULL_BACK_OFF, f'Back-off pulling image "{image}"'))
        return
    attempt = last.attempt + 1 if last is not None else 0
    actions.start.append(StartContainer(name, init, attempt, image, pull))


def compute_pod_actions(pod: Mapping[str, Any], runtime: PodRuntime, *, probes: ProbeView, state: SyncState,
                        has_image: Callable[[str], bool], now: float) -> PodActions:
    """The next actions for ``pod``. Mutates only ``state``'s backoffs, as SyncPod's checks do upstream."""
    spec = pod.get("spec") or {}
    actions = PodActions()
    sync = _Sync(pod, runtime, state, has_image, now, actions)
    if is_terminating(pod):
        _kill_everything(pod, runtime, actions, "Stopping container")
        actions.kill_pod = bool(actions.kill or actions.stop_sandboxes)
        return actions

    create, attempt, sandbox_id = _sandbox_changed(pod, runtime)
    actions.sandbox_id = sandbox_id
    actions.sandbox_attempt = attempt
    containers = list(spec.get("containers") or [])
    inits = list(spec.get("initContainers") or [])
    if create:
        actions.kill_pod = True
        actions.create_sandbox = True
        if not should_restart_on_failure(pod) and attempt != 0 and runtime.containers:
            # A dead sandbox under restartPolicy Never, after containers ran: the pod is over.
            actions.create_sandbox = False
        else:
            to_start = [c for c in containers
                        if not (spec.get("restartPolicy") == "OnFailure" and _succeeded(c, runtime))]
            if not to_start:
                actions.create_sandbox = False
            elif inits:
                _gate_start(sync, inits[0], True)
            else:
                for c in to_start:
                    _gate_start(sync, c, False)
        if actions.kill_pod:
            _kill_everything(pod, runtime, actions, "Pod sandbox changed, it will be killed and re-created.")
        return actions

    last_failed, next_init, done = next_init_container(pod, runtime)
    if not done:
        if next_init is not None:
            if last_failed is not None and not should_restart_on_failure(pod):
                actions.kill_pod = True
                _kill_everything(pod, runtime, actions, "Init container failed")
            else:
                if last_failed is not None and last_failed.state == UNKNOWN:
                    actions.kill.append(KillContainer(last_failed.id, last_failed.name,
                                                      grace_seconds(pod, next_init),
                                                      "Init container is in unknown state, try killing it"))
                _gate_start(sync, next_init, True)
        return actions

    keep = 0
    restarting = 0
    for c in containers:
        name = c.get("name", "")
        status = runtime.latest(name)
        if status is None or status.state != RUNNING:
            if should_container_be_restarted(pod, c, runtime):
                restarting += 1
                if status is not None and status.state == UNKNOWN:
                    actions.kill.append(KillContainer(status.id, name, grace_seconds(pod, c),
                                                      "Container is in unknown state, try killing it before "
                                                      "restart"))
                _gate_start(sync, c, False)
            continue
        restart = should_restart_on_failure(pod)
        reason = ""
        if status.spec_hash and status.spec_hash != container_hash(c):
            message = f"Container {name} definition changed"
            restart = True
        elif status.id in probes.liveness_failed:
            message, reason = f"Container {name} failed liveness probe", KILL_LIVENESS
        elif status.id in probes.startup_failed:
            message, reason = f"Container {name} failed startup probe", KILL_STARTUP
        else:
            keep += 1
            continue
        actions.kill.append(KillContainer(status.id, name, grace_seconds(pod, c, reason),
                                          message + (", will be restarted" if restart else ""), reason))
        if restart:
            restarting += 1
            _gate_start(sync, c, False)
    if keep == 0 and restarting == 0:
        actions.kill_pod = True
        _kill_everything(pod, runtime, actions, "Pod is done")
    return actions


def _succeeded(container: Mapping[str, Any], runtime: PodRuntime) -> bool:
    s = runtime.latest(container.get("name", ""))
    return s is not None and s.state == EXITED and s.exit_code == 0
