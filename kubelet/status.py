"""A pod's API status from the runtime's view: phase, conditions and container statuses as the kubelet reports them.

Kubernetes' generateAPIPodStatus, getPhase and the pod-condition generators, over plain dicts. Inputs the
runtime cannot know come in as arguments: probe results, the reasons the last sync recorded for containers
it could not start (CrashLoopBackOff, ErrImagePull, CreateContainerConfigError, …), host IPs and now.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubelet.podsync import should_container_be_restarted
from kubelet.qos import qos_class
from kubelet.runtime_view import EXITED, RUNNING, SANDBOX_READY, UNKNOWN, ContainerView, PodRuntime

CONTAINER_CREATING = "ContainerCreating"
POD_INITIALIZING = "PodInitializing"
TERMINAL_PHASES = ("Succeeded", "Failed")


def rfc3339(epoch: float) -> str:
    """Kubernetes' metav1.Time text (second precision, UTC)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


@dataclass(frozen=True)
class ProbeResults:
    """Per container id: readiness (True = Success) and whether the startup probe has succeeded."""

    ready: Mapping[str, bool] = field(default_factory=dict)
    started: Mapping[str, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class StatusInputs:
    """What status generation reads besides the pod and the runtime."""

    now: float
    host_ips: tuple[str, ...] = ()
    probes: ProbeResults = field(default_factory=ProbeResults)
    # container name -> (reason, message) from the last sync's failed start
    reasons: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    runtime_name: str = "tinykube"
    # the worker has finished tearing the pod down: its containers will never run again
    terminal: bool = False


def _terminated(view: ContainerView, runtime_name: str) -> dict[str, Any]:
    reason = view.reason or ("Completed" if view.exit_code == 0 else "Error")
    out: dict[str, Any] = {"exitCode": view.exit_code, "reason": reason,
                           "startedAt": rfc3339(view.started_at) if view.started_at else None,
                           "finishedAt": rfc3339(view.finished_at) if view.finished_at else None,
                           "containerID": f"{runtime_name}://{view.id}"}
    if view.message:
        out["message"] = view.message
    return out


def _convert(view: ContainerView, old: Mapping[str, Any] | None, runtime_name: str) -> dict[str, Any]:
    status: dict[str, Any] = {"name": view.name, "restartCount": view.attempt, "image": view.image,
                              "imageID": view.image_ref, "containerID": f"{runtime_name}://{view.id}"}
    if view.state == RUNNING:
        status["state"] = {"running": {"startedAt": rfc3339(view.started_at)}}
    elif view.state == EXITED:
        status["state"] = {"terminated": _terminated(view, runtime_name)}
    elif view.state == UNKNOWN and old is not None and "running" in (old.get("state") or {}):
        status["state"] = {"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown",
                                          "message": "The container could not be located when the pod was "
                                                     "terminated"}}
        status["restartCount"] = int(old.get("restartCount", 0)) + 1
    else:
        status["state"] = {"waiting": {}}
    return status


def _container_statuses(pod: Mapping[str, Any], runtime: PodRuntime, inputs: StatusInputs, *,
                        init: bool) -> list[dict[str, Any]]:
    spec = pod.get("spec") or {}
    containers: list[Mapping[str, Any]] = list(spec.get("initContainers" if init else "containers") or [])
    old_list = (pod.get("status") or {}).get("initContainerStatuses" if init else "containerStatuses") or []
    has_inits = bool(spec.get("initContainers"))
    default_reason = POD_INITIALIZING if has_inits else CONTAINER_CREATING
    olds = {s.get("name"): s for s in old_list}
    statuses: dict[str, dict[str, Any]] = {}
    for c in containers:
        name = c.get("name", "")
        status: dict[str, Any] = {"name": name, "image": c.get("image", ""), "imageID": "",
                                  "restartCount": 0, "ready": False, "started": False,
                                  "state": {"waiting": {"reason": default_reason}}, "lastState": {}}
        old = olds.get(name)
        if old is not None:
            if "terminated" in (old.get("state") or {}):
                status = {**old}
            else:
                status["restartCount"] = old.get("restartCount", 0)
                status["lastState"] = old.get("lastState") or {}
        statuses[name] = status
        for seen, view in enumerate(runtime.instances(name)[:2]):
            converted = _convert(view, old, inputs.runtime_name)
            if seen == 0:
                converted["lastState"] = status.get("lastState") or {}
                statuses[name] = converted
            else:
                statuses[name]["lastState"] = converted["state"]
    for c in containers:
        name = c.get("name", "")
        status = statuses[name]
        latest = runtime.latest(name)
        if init and latest is not None and latest.state == EXITED and latest.exit_code == 0:
            continue
        if not should_container_be_restarted(pod, c, runtime):
            continue
        cached = inputs.reasons.get(name)
        if cached is None:
            continue
        if "terminated" in status["state"]:
            status["lastState"] = status["state"]
        waiting: dict[str, Any] = {"reason": cached[0]}
        if cached[1]:
            waiting["message"] = cached[1]
        status["state"] = {"waiting": waiting}
    for c in containers:
        status = statuses[c.get("name", "")]
        state = status["state"]
        latest = runtime.latest(c.get("name", ""))
        cid = latest.id if latest is not None else ""
        if init:
            term = state.get("terminated") or {}
            status["ready"] = bool(term) and term.get("exitCode") == 0
            status["started"] = "running" in state
            continue
        running = "running" in state
        started = running and (inputs.probes.started.get(cid, False) if c.get("startupProbe") else True)
        # Without a readiness probe a started container is ready; with one it waits for a success.
        status["started"] = started
        status["ready"] = started and (inputs.probes.ready.get(cid, False) if c.get("readinessProbe") else True)
    return [statuses[c.get("name", "")] for c in containers]


def _has_regular_started(statuses: Sequence[Mapping[str, Any]]) -> bool:
    return any("running" in (s.get("state") or {}) or "terminated" in (s.get("state") or {})
               or "terminated" in (s.get("lastState") or {}) for s in statuses)


def phase(pod: Mapping[str, Any], init_statuses: Sequence[Mapping[str, Any]], statuses: Sequence[Mapping[str, Any]],
          terminal: bool) -> str:
    """Kubernetes' getPhase over the API container statuses."""
    spec = pod.get("spec") or {}
    pending_init = failed_init = 0
    for s in init_statuses:
        state, last = s.get("state") or {}, s.get("lastState") or {}
        if "running" in state:
            pending_init += 1
        elif "terminated" in state:
            failed_init += state["terminated"].get("exitCode", 0) != 0
        elif "waiting" in state and "terminated" in last:
            failed_init += last["terminated"].get("exitCode", 0) != 0
        else:
            pending_init += 1
    unknown = running = waiting = stopped = succeeded = 0
    for s in statuses:
        state, last = s.get("state") or {}, s.get("lastState") or {}
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded += state["terminated"].get("exitCode", 0) == 0
        elif "waiting" in state:
            if "terminated" in last:
                stopped += 1
            else:
                waiting += 1
        else:
            unknown += 1
    policy = spec.get("restartPolicy", "Always")
    if failed_init > 0 and policy == "Never":
        return "Failed"
    if (pending_init > 0 and not _has_regular_started(statuses)) or waiting > 0:
        return "Pending"
    if running > 0 and unknown == 0:
        return "Running"
    if running == 0 and stopped > 0 and unknown == 0:
        if terminal:
            return "Succeeded" if stopped == succeeded else "Failed"
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


def _names(names: list[str]) -> str:
    return "[" + " ".join(names) + "]"


def _initialized(pod: Mapping[str, Any], init_statuses: Sequence[Mapping[str, Any]],
                 statuses: Sequence[Mapping[str, Any]], pod_phase: str) -> dict[str, Any]:
    incomplete = [s["name"] for s in init_statuses
                  if ((s.get("state") or {}).get("terminated") or {}).get("exitCode", 1) != 0]
    if pod_phase == "Succeeded":
        return {"type": "Initialized", "status": "True", "reason": "PodCompleted"}
    if not incomplete or _has_regular_started(statuses):
        return {"type": "Initialized", "status": "True"}
    return {"type": "Initialized", "status": "False", "reason": "ContainersNotInitialized",
            "message": f"containers with incomplete status: {_names(incomplete)}"}


def _containers_ready(statuses: Sequence[Mapping[str, Any]], pod_phase: str) -> dict[str, Any]:
    if pod_phase == "Succeeded":
        return {"type": "ContainersReady", "status": "False", "reason": "PodCompleted"}
    unready = [s["name"] for s in statuses if not s.get("ready")]
    if unready:
        return {"type": "ContainersReady", "status": "False", "reason": "ContainersNotReady",
                "message": f"containers with unready status: {_names(unready)}"}
    return {"type": "ContainersReady", "status": "True"}


def _ready(pod: Mapping[str, Any], containers_ready: Mapping[str, Any],
           conditions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    if containers_ready["status"] != "True":
        return {**containers_ready, "type": "Ready"}
    by_type = {c.get("type"): c for c in conditions}
    problems: list[str] = []
    for gate in (pod.get("spec") or {}).get("readinessGates") or []:
        kind = gate.get("conditionType", "")
        cond = by_type.get(kind)
        if cond is None:
            problems.append(f'corresponding condition of pod readiness gate "{kind}" does not exist.')
        elif cond.get("status") != "True":
            problems.append(f'the status of pod readiness gate "{kind}" is not "True", but {cond.get("status")}')
    if problems:
        return {"type": "Ready", "status": "False", "reason": "ReadinessGatesNotReady",
                "message": ", ".join(problems)}
    return {"type": "Ready", "status": "True"}


def _with_transition_times(new: list[dict[str, Any]], old: Sequence[Mapping[str, Any]],
                           now: str) -> list[dict[str, Any]]:
    """Keep lastTransitionTime when a condition's status did not change, as the status manager does."""
    by_type = {c.get("type"): c for c in old}
    out = []
    for cond in new:
        prev = by_type.get(cond["type"])
        stamp = prev.get("lastTransitionTime") if prev and prev.get("status") == cond["status"] else None
        out.append({**cond, "lastProbeTime": None, "lastTransitionTime": stamp or now})
    return out


def pod_status(pod: Mapping[str, Any], runtime: PodRuntime, inputs: StatusInputs) -> dict[str, Any]:
    """The ``status`` to write through ``pods/status``."""
    spec = pod.get("spec") or {}
    old = pod.get("status") or {}
    now = rfc3339(inputs.now)
    init_statuses = _container_statuses(pod, runtime, inputs, init=True)
    statuses = _container_statuses(pod, runtime, inputs, init=False)
    pod_phase = phase(pod, init_statuses, statuses, inputs.terminal)
    if old.get("phase") in TERMINAL_PHASES:
        pod_phase = old["phase"]  # a terminal phase is final, whatever the runtime shows later
    sandbox = runtime.latest_sandbox()
    if spec.get("hostNetwork"):
        pod_ips = list(inputs.host_ips)
    elif sandbox is not None and sandbox.ip:
        pod_ips = [sandbox.ip, *sandbox.additional_ips]
    else:
        pod_ips = [i.get("ip", "") for i in old.get("podIPs") or []]
    sandbox_ready = sandbox is not None and sandbox.state == SANDBOX_READY and (
        bool(sandbox.ip) or bool(spec.get("hostNetwork")))
    containers_ready = _containers_ready(statuses, pod_phase)
    old_conditions = list(old.get("conditions") or [])
    ours = {"PodScheduled", "PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready"}
    others = [c for c in old_conditions if c.get("type") not in ours]
    conditions = [
        {"type": "PodReadyToStartContainers", "status": "True" if sandbox_ready else "False"},
        _initialized(pod, init_statuses, statuses, pod_phase),
        _ready(pod, containers_ready, others),
        containers_ready,
        {"type": "PodScheduled", "status": "True"},
    ]
    status: dict[str, Any] = {
        "phase": pod_phase,
        "conditions": [*_with_transition_times(conditions, old_conditions, now), *others],
        "hostIP": inputs.host_ips[0] if inputs.host_ips else old.get("hostIP", ""),
        "hostIPs": [{"ip": ip} for ip in inputs.host_ips] or old.get("hostIPs", []),
        "podIP": pod_ips[0] if pod_ips else "",
        "podIPs": [{"ip": ip} for ip in pod_ips],
        "startTime": old.get("startTime") or now,
        "containerStatuses": statuses,
        "qosClass": qos_class(pod),
    }
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    for key in ("reason", "message", "nominatedNodeName"):
        if old.get(key):
            status[key] = old[key]
    return status

