"""The pod worker's decision function, scenario by scenario, with time passed in as numbers."""

from __future__ import annotations

from typing import Any

import pytest

from kubelet.backoff import Backoff, go_duration
from kubelet.podsync import (
    CRASH_LOOP_BACK_OFF,
    ERR_IMAGE_NEVER_PULL,
    IMAGE_PULL_BACK_OFF,
    KILL_LIVENESS,
    PodActions,
    ProbeView,
    SyncState,
    compute_pod_actions,
    container_hash,
    crash_key,
    deadline_exceeded,
    default_pull_policy,
    image_key,
    remaining_grace,
)
from kubelet.runtime_view import (
    EXITED,
    RUNNING,
    SANDBOX_NOTREADY,
    SANDBOX_READY,
    ContainerView,
    PodRuntime,
    SandboxView,
)

IMAGES = {"busybox:1.36", "busybox:latest"}


def make_pod(containers: list[dict[str, Any]], inits: list[dict[str, Any]] | None = None,
             restart: str = "Always", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "uid1"},
            "spec": {"containers": containers, "initContainers": inits or [], "restartPolicy": restart, **spec}}


def c(name: str, image: str = "busybox:1.36", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": image, **extra}


def sandbox(state: str = SANDBOX_READY, attempt: int = 0, ip: str = "10.244.1.2") -> SandboxView:
    return SandboxView(id=f"sb{attempt}", state=state, created_at=float(attempt), attempt=attempt, ip=ip)


def inst(spec: dict[str, Any], state: str, attempt: int = 0, exit_code: int = 0, finished: float = 0.0,
         started: float = 0.0) -> ContainerView:
    return ContainerView(id=f"{spec['name']}-{attempt}", name=spec["name"], state=state, created_at=started,
                         attempt=attempt, started_at=started, finished_at=finished, exit_code=exit_code,
                         spec_hash=container_hash(spec))


def sync(pod: dict[str, Any], rt: PodRuntime, now: float = 100.0, state: SyncState | None = None,
         probes: ProbeView | None = None, images: set[str] | None = None) -> PodActions:
    present = IMAGES if images is None else images
    return compute_pod_actions(pod, rt, probes=probes or ProbeView(), state=state or SyncState(),
                               has_image=present.__contains__, now=now)


def started(actions: PodActions) -> list[tuple[str, int, bool]]:
    return [(s.name, s.attempt, s.pull) for s in actions.start]


def test_new_pod_creates_sandbox_then_all_containers() -> None:
    a, b = c("a"), c("b", image="busybox")
    actions = sync(make_pod([a, b]), PodRuntime())
    assert actions.create_sandbox and actions.sandbox_attempt == 0
    assert started(actions) == [("a", 0, False), ("b", 0, True)]  # untagged means :latest, pulled Always


def test_init_containers_run_one_at_a_time_in_order() -> None:
    i1, i2, app = c("init1"), c("init2"), c("app")
    pod = make_pod([app], inits=[i1, i2])
    assert started(sync(pod, PodRuntime())) == [("init1", 0, False)]
    running = PodRuntime([sandbox()], [inst(i1, RUNNING)])
    assert sync(pod, running).is_noop()
    after_first = PodRuntime([sandbox()], [inst(i1, EXITED)])
    assert started(sync(pod, after_first)) == [("init2", 0, False)]
    all_done = PodRuntime([sandbox()], [inst(i1, EXITED), inst(i2, EXITED)])
    assert started(sync(pod, all_done)) == [("app", 0, False)]


def test_failed_init_container_kills_pod_under_never_and_retries_otherwise() -> None:
    i1, app = c("init1"), c("app")
    rt = PodRuntime([sandbox()], [inst(i1, EXITED, exit_code=1, finished=90)])
    never = sync(make_pod([app], inits=[i1], restart="Never"), rt)
    assert never.kill_pod and never.stop_sandboxes == ["sb0"] and not never.start
    state = SyncState()
    retry = sync(make_pod([app], inits=[i1]), rt, now=100, state=state)
    assert started(retry) == [("init1", 1, False)]
    rt2 = PodRuntime([sandbox()], [inst(i1, EXITED, exit_code=1, finished=90),
                                   inst(i1, EXITED, attempt=1, exit_code=1, finished=101)])
    blocked = sync(make_pod([app], inits=[i1]), rt2, now=102, state=state)
    assert [(b.name, b.reason) for b in blocked.blocked] == [("init1", CRASH_LOOP_BACK_OFF)]


def test_crash_loop_backoff_doubles_to_five_minutes_and_resets_after_ten_minutes_running() -> None:
    app = c("app")
    pod = make_pod([app])
    state = SyncState()
    finished = 0.0
    delays: list[str] = []
    for attempt in range(8):
        rt = PodRuntime([sandbox()], [inst(app, EXITED, attempt=attempt, exit_code=1, finished=finished)])
        first = sync(pod, rt, now=finished + 0.5, state=state)
        if attempt == 0:
            assert started(first) == [("app", 1, False)]
        else:
            assert first.blocked[0].reason == CRASH_LOOP_BACK_OFF
            delays.append(first.blocked[0].message.split()[1])
            window = state.crash.delay(crash_key(pod, app))
            assert not sync(pod, rt, now=finished + window - 0.1, state=state).start
            assert started(sync(pod, rt, now=finished + window, state=state)) == [("app", attempt + 1, False)]
        finished += state.crash.delay(crash_key(pod, app)) + 1  # crashes again 1 s after start
    assert delays == ["10s", "20s", "40s", "1m20s", "2m40s", "5m0s", "5m0s"]
    assert first.blocked[0].message == "back-off 5m0s restarting failed container=app pod=p_ns(uid1)"
    # It then runs for over ten minutes before failing: the window starts again at 10 s.
    long_run = finished + 700
    rt = PodRuntime([sandbox()], [inst(app, EXITED, attempt=9, exit_code=1, finished=long_run)])
    assert started(sync(pod, rt, now=long_run + 0.1, state=state)) == [("app", 10, False)]
    rt = PodRuntime([sandbox()], [inst(app, EXITED, attempt=10, exit_code=1, finished=long_run + 2)])
    assert sync(pod, rt, now=long_run + 3, state=state).blocked[0].message.startswith("back-off 10s ")


@pytest.mark.parametrize(("policy", "exit_code", "restarts"), [
    ("Always", 0, True), ("Always", 1, True), ("OnFailure", 0, False), ("OnFailure", 2, True),
    ("Never", 0, False), ("Never", 1, False),
])
def test_restart_policy(policy: str, exit_code: int, restarts: bool) -> None:
    app = c("app")
    rt = PodRuntime([sandbox()], [inst(app, EXITED, exit_code=exit_code, finished=50)])
    actions = sync(make_pod([app], restart=policy), rt)
    assert bool(actions.start) == restarts
    # With nothing running and nothing to start the pod is finished: its sandbox is stopped.
    assert actions.kill_pod == (not restarts)
    if not restarts:
        assert actions.stop_sandboxes == ["sb0"]


def test_on_failure_keeps_succeeded_siblings_down_while_restarting_failed_one() -> None:
    a, b = c("a"), c("b")
    rt = PodRuntime([sandbox()], [inst(a, EXITED, exit_code=0, finished=50), inst(b, EXITED, exit_code=3,
                                                                                finished=50)])
    assert started(sync(make_pod([a, b], restart="OnFailure"), rt)) == [("b", 1, False)]


def test_liveness_failure_kills_with_probe_grace_and_restarts() -> None:
    app = c("app", livenessProbe={"exec": {"command": ["false"]}, "terminationGracePeriodSeconds": 5})
    rt = PodRuntime([sandbox()], [inst(app, RUNNING, started=10)])
    actions = sync(make_pod([app]), rt, probes=ProbeView(liveness_failed=frozenset({"app-0"})))
    kill = actions.kill[0]
    assert (kill.container_id, kill.grace_seconds, kill.reason) == ("app-0", 5, KILL_LIVENESS)
    assert kill.message == "Container app failed liveness probe, will be restarted"
    assert started(actions) == [("app", 1, False)]
    never = sync(make_pod([app], restart="Never"), rt, probes=ProbeView(liveness_failed=frozenset({"app-0"})))
    assert never.kill[0].message == "Container app failed liveness probe" and not never.start


def test_spec_change_restarts_even_under_never() -> None:
    old = c("app", image="busybox:1.35")
    new = c("app", image="busybox:1.36")
    rt = PodRuntime([sandbox()], [inst(old, RUNNING)])
    actions = sync(make_pod([new], restart="Never", terminationGracePeriodSeconds=7), rt)
    assert actions.kill[0].message == "Container app definition changed, will be restarted"
    assert actions.kill[0].grace_seconds == 7
    assert started(actions) == [("app", 1, False)]


def test_healthy_running_pod_is_left_alone() -> None:
    app = c("app")
    assert sync(make_pod([app]), PodRuntime([sandbox()], [inst(app, RUNNING)])).is_noop()


@pytest.mark.parametrize(("image", "policy"), [
    ("busybox", "Always"), ("busybox:latest", "Always"), ("reg:5000/busybox", "Always"),
    ("reg:5000/busybox:1.2", "IfNotPresent"), ("busybox@sha256:abc", "IfNotPresent"),
])
def test_default_pull_policy(image: str, policy: str) -> None:
    assert default_pull_policy(image) == policy


def test_image_pull_policies_and_backoff() -> None:
    never = c("n", image="missing:1", imagePullPolicy="Never")
    blocked = sync(make_pod([never]), PodRuntime()).blocked[0]
    assert (blocked.reason, blocked.message) == (
        ERR_IMAGE_NEVER_PULL, 'Container image "missing:1" is not present with pull policy of Never')
    present_never = c("n", image="busybox:1.36", imagePullPolicy="Never")
    assert started(sync(make_pod([present_never]), PodRuntime())) == [("n", 0, False)]
    always = c("a", image="busybox:1.36", imagePullPolicy="Always")
    assert started(sync(make_pod([always]), PodRuntime())) == [("a", 0, True)]
    state = SyncState()
    pod = make_pod([c("x", image="nope:1")])
    assert started(sync(pod, PodRuntime(), now=100, state=state)) == [("x", 0, True)]
    state.image_pull.next(image_key(pod, "nope:1"), 100, 100)  # the worker records the failed pull
    blocked = sync(pod, PodRuntime(), now=105, state=state).blocked[0]
    assert (blocked.reason, blocked.message) == (IMAGE_PULL_BACK_OFF, 'Back-off pulling image "nope:1"')
    assert started(sync(pod, PodRuntime(), now=110, state=state)) == [("x", 0, True)]


def test_deleted_pod_is_torn_down_with_deletion_grace() -> None:
    a, b = c("a"), c("b")
    pod = make_pod([a, b], terminationGracePeriodSeconds=30)
    pod["metadata"].update(deletionTimestamp="2026-01-01T00:00:00Z", deletionGracePeriodSeconds=12)
    rt = PodRuntime([sandbox()], [inst(a, RUNNING), inst(b, EXITED, exit_code=1)])
    actions = sync(pod, rt)
    assert actions.kill_pod and not actions.start and not actions.create_sandbox
    assert [(k.name, k.grace_seconds) for k in actions.kill] == [("a", 12)]
    assert actions.stop_sandboxes == ["sb0"]


def test_dead_sandbox_is_recreated_with_next_attempt_except_after_never_pod_ran() -> None:
    app = c("app")
    rt = PodRuntime([sandbox(SANDBOX_NOTREADY)], [inst(app, EXITED, exit_code=137)])
    actions = sync(make_pod([app]), rt)
    assert actions.kill_pod and actions.create_sandbox and actions.sandbox_attempt == 1
    assert started(actions) == [("app", 1, False)]
    done = sync(make_pod([app], restart="Never"), rt)
    assert done.kill_pod and not done.create_sandbox and not done.start
    no_ip = PodRuntime([sandbox(ip="")], [])
    assert sync(make_pod([app]), no_ip).create_sandbox
    host = PodRuntime([SandboxView("h", SANDBOX_READY, 0, host_network=True)], [inst(app, RUNNING)])
    assert sync(make_pod([app], hostNetwork=True), host).is_noop()


def test_grace_after_pre_stop_never_below_two_seconds() -> None:
    assert remaining_grace(30, 10.4) == 20
    assert remaining_grace(30, 29.5) == 2
    assert remaining_grace(0, 0) == 2


def test_backoff_primitives() -> None:
    b = Backoff(initial=1, maximum=4)
    assert not b.in_backoff_since("k", 0, 0)
    b.next("k", 0, 0)
    assert b.in_backoff_since("k", 0, 0.5) and not b.in_backoff_since("k", 0, 1)
    b.next("k", 1, 1)
    b.next("k", 2, 2)
    b.next("k", 3, 3)
    assert b.delay("k") == 4
    b.gc(3 + 8.5)
    assert b.delay("k") == 0
    assert [go_duration(s) for s in (10, 80, 300, 3725)] == ["10s", "1m20s", "5m0s", "1h2m5s"]


def test_active_deadline() -> None:
    pod = make_pod([c("app")], activeDeadlineSeconds=30)
    pod["status"] = {"phase": "Running", "startTime": "2026-01-01T00:00:00Z"}
    start = 1767225600.0  # 2026-01-01T00:00:00Z
    assert not deadline_exceeded(pod, start + 29.9)
    assert deadline_exceeded(pod, start + 30)
    assert not deadline_exceeded({**pod, "status": {**pod["status"], "phase": "Failed"}}, start + 60)
    assert not deadline_exceeded(make_pod([c("app")]), start + 10**6)
