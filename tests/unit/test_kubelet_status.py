"""Pod status generation: phase, conditions and container statuses as the kubelet reports them."""

from __future__ import annotations

from typing import Any

from kubelet.podsync import container_hash
from kubelet.runtime_view import EXITED, RUNNING, SANDBOX_READY, ContainerView, PodRuntime, SandboxView
from kubelet.status import ProbeResults, StatusInputs, pod_status, rfc3339

T0 = 1_764_000_000.0


def make_pod(containers: list[dict[str, Any]], inits: list[dict[str, Any]] | None = None,
             restart: str = "Always", status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u"},
            "spec": {"containers": containers, "initContainers": inits or [], "restartPolicy": restart, **spec},
            "status": status or {}}


def c(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox:1.36", **extra}


SANDBOX = SandboxView("sb", SANDBOX_READY, T0, ip="10.244.1.7")


def view(spec: dict[str, Any], state: str, attempt: int = 0, exit_code: int = 0, reason: str = "") -> ContainerView:
    return ContainerView(id=f"{spec['name']}{attempt}", name=spec["name"], state=state, created_at=T0 + attempt,
                         attempt=attempt, started_at=T0 + attempt, finished_at=T0 + attempt + 1 if state == EXITED
                         else 0.0, exit_code=exit_code, reason=reason, image="busybox:1.36",
                         image_ref="sha256:abc", spec_hash=container_hash(spec))


def status(pod: dict[str, Any], rt: PodRuntime, **kw: Any) -> dict[str, Any]:
    return pod_status(pod, rt, StatusInputs(now=T0 + 100, host_ips=("172.28.0.11",), **kw))


def cond(st: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(x for x in st["conditions"] if x["type"] == kind)


def test_new_pod_is_pending_and_creating() -> None:
    st = status(make_pod([c("app", resources={"requests": {"cpu": "1"}})]), PodRuntime())
    assert st["phase"] == "Pending" and st["qosClass"] == "Burstable"
    assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert cond(st, "PodReadyToStartContainers")["status"] == "False"
    assert cond(st, "PodScheduled")["status"] == "True"
    assert st["hostIP"] == "172.28.0.11" and st["podIP"] == "" and st["startTime"] == rfc3339(T0 + 100)


def test_init_containers_gate_initialized() -> None:
    i1, i2, app = c("i1"), c("i2"), c("app")
    pod = make_pod([app], inits=[i1, i2])
    st = status(pod, PodRuntime([SANDBOX], [view(i1, EXITED)]))
    assert st["phase"] == "Pending"
    assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert st["initContainerStatuses"][0]["ready"] is True
    assert st["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    init = cond(st, "Initialized")
    assert (init["status"], init["reason"], init["message"]) == (
        "False", "ContainersNotInitialized", "containers with incomplete status: [i2]")
    assert cond(st, "PodReadyToStartContainers")["status"] == "True" and st["podIP"] == "10.244.1.7"
    done = status(pod, PodRuntime([SANDBOX], [view(i1, EXITED), view(i2, EXITED), view(app, RUNNING)]))
    assert done["phase"] == "Running" and cond(done, "Initialized")["status"] == "True"
    assert cond(done, "Ready")["status"] == "True"


def test_failed_init_under_never_fails_pod() -> None:
    i1 = c("i1")
    st = status(make_pod([c("app")], inits=[i1], restart="Never"),
                PodRuntime([SANDBOX], [view(i1, EXITED, exit_code=2)]))
    assert st["phase"] == "Failed"
    assert st["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Error"


def test_readiness_and_startup_probes_gate_ready_and_started() -> None:
    app = c("app", readinessProbe={"exec": {"command": ["true"]}}, startupProbe={"exec": {"command": ["true"]}})
    rt = PodRuntime([SANDBOX], [view(app, RUNNING)])
    st = status(make_pod([app]), rt)
    cs = st["containerStatuses"][0]
    assert st["phase"] == "Running" and (cs["started"], cs["ready"]) == (False, False)
    ready = cond(st, "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False", "ContainersNotReady", "containers with unready status: [app]")
    st = status(make_pod([app]), rt, probes=ProbeResults(started={"app0": True}))
    assert (st["containerStatuses"][0]["started"], st["containerStatuses"][0]["ready"]) == (True, False)
    st = status(make_pod([app]), rt, probes=ProbeResults(started={"app0": True}, ready={"app0": True}))
    assert st["containerStatuses"][0]["ready"] and cond(st, "ContainersReady")["status"] == "True"
    assert st["containerStatuses"][0]["containerID"] == "tinykube://app0"


def test_completion_phases_and_reasons() -> None:
    app = c("app")
    ok = status(make_pod([app], restart="Never"), PodRuntime([SANDBOX], [view(app, EXITED)]))
    assert ok["phase"] == "Succeeded"
    assert cond(ok, "Ready")["reason"] == "PodCompleted" and cond(ok, "Initialized")["reason"] == "PodCompleted"
    bad = status(make_pod([app], restart="Never"), PodRuntime([SANDBOX], [view(app, EXITED, exit_code=1)]))
    assert bad["phase"] == "Failed"
    assert bad["containerStatuses"][0]["state"]["terminated"]["reason"] == "Error"
    oom = status(make_pod([app], restart="OnFailure"),
                 PodRuntime([SANDBOX], [view(app, EXITED, exit_code=137, reason="OOMKilled")]))
    assert oom["phase"] == "Running"  # OnFailure: it will be restarted
    assert oom["containerStatuses"][0]["state"]["terminated"]["reason"] == "OOMKilled"
    always_terminal = status(make_pod([app]), PodRuntime([SANDBOX], [view(app, EXITED, exit_code=1)]),
                             terminal=True)
    assert always_terminal["phase"] == "Failed"


def test_crash_loop_back_off_shows_waiting_with_last_state() -> None:
    app = c("app")
    rt = PodRuntime([SANDBOX], [view(app, EXITED, attempt=2, exit_code=1), view(app, EXITED, attempt=1,
                                                                                  exit_code=1)])
    msg = "back-off 20s restarting failed container=app pod=p_ns(u)"
    st = status(make_pod([app]), rt, reasons={"app": ("CrashLoopBackOff", msg)})
    cs = st["containerStatuses"][0]
    assert cs["state"] == {"waiting": {"reason": "CrashLoopBackOff", "message": msg}}
    assert cs["lastState"]["terminated"]["exitCode"] == 1 and cs["restartCount"] == 2
    assert st["phase"] == "Running"
    # A succeeded container under OnFailure is not restarted, so a stale reason is not shown.
    done = PodRuntime([SANDBOX], [view(app, EXITED, attempt=2, exit_code=0)])
    st = status(make_pod([app], restart="OnFailure"), done, reasons={"app": ("CrashLoopBackOff", msg)})
    assert "terminated" in st["containerStatuses"][0]["state"]


def test_image_and_config_errors_keep_pod_pending() -> None:
    app = c("app")
    for reason, message in [("ErrImagePull", "pull failed"), ("ImagePullBackOff", 'Back-off pulling image "x"'),
                            ("CreateContainerConfigError", 'configmap "cfg" not found')]:
        st = status(make_pod([app]), PodRuntime([SANDBOX], []), reasons={"app": (reason, message)})
        assert st["phase"] == "Pending"
        assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": reason, "message": message}}


def test_transition_times_kept_and_terminal_phase_sticks() -> None:
    app = c("app")
    rt = PodRuntime([SANDBOX], [view(app, RUNNING)])
    first = status(make_pod([app]), rt)
    later = pod_status(make_pod([app], status=first), rt, StatusInputs(now=T0 + 500))
    assert cond(later, "Ready")["lastTransitionTime"] == rfc3339(T0 + 100)
    assert later["startTime"] == first["startTime"] and later["hostIP"] == "172.28.0.11"
    evicted = {**first, "phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory. "}
    st = status(make_pod([app], status=evicted), rt)
    assert (st["phase"], st["reason"]) == ("Failed", "Evicted")


def test_readiness_gates() -> None:
    app = c("app")
    rt = PodRuntime([SANDBOX], [view(app, RUNNING)])
    pod = make_pod([app], readinessGates=[{"conditionType": "example.com/lb"}])
    ready = cond(status(pod, rt), "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ReadinessGatesNotReady")
    assert ready["message"] == 'corresponding condition of pod readiness gate "example.com/lb" does not exist.'
    pod["status"] = {"conditions": [{"type": "example.com/lb", "status": "True"}]}
    st = status(pod, rt)
    assert cond(st, "Ready")["status"] == "True" and cond(st, "example.com/lb")["status"] == "True"


def test_host_network_pod_reports_host_ips() -> None:
    app = c("app")
    rt = PodRuntime([SandboxView("sb", SANDBOX_READY, T0, host_network=True)], [view(app, RUNNING)])
    st = status(make_pod([app], hostNetwork=True), rt)
    assert st["podIPs"] == [{"ip": "172.28.0.11"}] and cond(st, "PodReadyToStartContainers")["status"] == "True"
