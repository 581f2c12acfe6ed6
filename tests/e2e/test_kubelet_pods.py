"""The kubelet's pod workers against the real runtime (no apiserver): pods fed in directly, statuses checked.

Covers the pod lifecycle end to end through CRI: sandbox and networking, init containers, volumes, env,
restart policies with CrashLoopBackOff, liveness restarts, config errors that heal, graceful deletion
with preStop, and cleanup that leaves nothing on the host.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from kubelet.eviction import parse_thresholds
from kubelet.eviction_manager import EvictionManager
from tests.support.kubelet_node import (
    DEFAULT_IMAGES,
    KubeletHarness,
    container_state,
    make_pod,
    running_runtime,
)
from tests.support.processes import Processes

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="containers need root"),
    pytest.mark.skipif(not (DEFAULT_IMAGES / "index.json").exists(), reason="needs .venv/images"),
]


@pytest.fixture
def runtime_node(tmp_path: Path, prefix: str, processes: Processes, netns: Any) -> Iterator[str]:
    with running_runtime(tmp_path, prefix, processes, netns("node")) as endpoint:
        yield endpoint


@pytest.fixture
async def kubelet(runtime_node: str, tmp_path: Path) -> AsyncIterator[KubeletHarness]:
    harness = KubeletHarness(runtime_node, tmp_path / "kubelet")
    harness.start()
    try:
        yield harness
    finally:
        await harness.close()


def busybox(name: str, script: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox:latest", "imagePullPolicy": "IfNotPresent",
            "command": ["/bin/sh", "-c", script], **extra}


def condition(status: dict[str, Any], kind: str) -> str:
    return next((c["status"] for c in status.get("conditions") or [] if c["type"] == kind), "")


async def test_init_containers_volumes_env_and_readiness(kubelet: KubeletHarness, tmp_path: Path) -> None:
    kubelet.config_maps[("default", "settings")] = {"data": {"GREETING": "hello"}}
    pod = make_pod(
        "web",
        [busybox("app", "cat /work/msg > /dev/null && echo \"$GREETING from $POD_NAME\" && exec sleep 3600",
                 env=[{"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "settings",
                                                                             "key": "GREETING"}}},
                      {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                 volumeMounts=[{"name": "work", "mountPath": "/work"}],
                 readinessProbe={"exec": {"command": ["cat", "/work/msg"]}, "periodSeconds": 1},
                 resources={"requests": {"cpu": "100m", "memory": "32Mi"}})],
        initContainers=[busybox("init", "echo ready > /work/msg", volumeMounts=[{"name": "work",
                                                                                   "mountPath": "/work"}])],
        volumes=[{"name": "work", "emptyDir": {}}])
    uid = kubelet.run(pod)
    await kubelet.wait(lambda: condition(kubelet.status(uid), "Ready") == "True", 60, "the pod to be Ready")
    status = kubelet.status(uid)
    assert status["phase"] == "Running" and status["qosClass"] == "Burstable"
    assert status["podIP"].startswith("10.") and status["hostIP"] == "172.28.0.11"
    init = container_state(status, "init", init=True)
    assert init["state"]["terminated"]["reason"] == "Completed" and init["ready"]
    app = container_state(status, "app")
    assert "running" in app["state"] and app["ready"] and app["restartCount"] == 0
    logs = list((tmp_path / "kubelet" / "pod-logs").glob(f"default_web_{uid}/app/0.log"))
    assert logs and "hello from web" in logs[0].read_text()
    reasons = [e[2] for e in kubelet.recorded.events]
    assert reasons.count("Created") == 2 and reasons.count("Started") == 2


async def test_restart_policies_and_crash_loop_back_off(kubelet: KubeletHarness) -> None:
    ok = kubelet.run(make_pod("ok", [busybox("c", "exit 0")], restartPolicy="Never"))
    bad = kubelet.run(make_pod("bad", [busybox("c", "echo disk full > /dev/termination-log; exit 3")],
                               restartPolicy="Never"))
    logged = kubelet.run(make_pod("logged", [busybox("c", "echo one; echo boom; exit 1",
                                                     terminationMessagePolicy="FallbackToLogsOnError")],
                                  restartPolicy="Never"))
    crash = kubelet.run(make_pod("crash", [busybox("c", "exit 1")]))
    await kubelet.wait(lambda: kubelet.status(ok).get("phase") == "Succeeded", 60, "ok to succeed")
    await kubelet.wait(lambda: kubelet.status(bad).get("phase") == "Failed", 60, "bad to fail")
    term = container_state(kubelet.status(bad), "c")["state"]["terminated"]
    assert (term["exitCode"], term["reason"], term["message"]) == (3, "Error", "disk full\n")
    await kubelet.wait(lambda: kubelet.status(logged).get("phase") == "Failed", 60, "logged to fail")
    assert container_state(kubelet.status(logged), "c")["state"]["terminated"]["message"] == "one\nboom\n"
    assert container_state(kubelet.status(ok), "c")["state"]["terminated"]["reason"] == "Completed"
    # A finished pod keeps its container (for logs) until it is deleted; then everything goes.
    assert (await kubelet.cri.pod_runtime(ok)).containers
    done = kubelet.recorded.statuses[ok]
    deleted = make_pod("ok", [busybox("c", "exit 0")], restartPolicy="Never")
    deleted["metadata"].update(uid=ok, deletionTimestamp="2026-01-01T00:00:00Z", deletionGracePeriodSeconds=2)
    deleted["status"] = done
    kubelet.run(deleted)
    await kubelet.wait(lambda: ok in kubelet.recorded.terminated and not kubelet.volumes.pod_dir(ok).exists(), 30,
                       "the deleted pod to be cleaned up")
    leftover = await kubelet.cri.pod_runtime(ok)
    assert not leftover.containers and not leftover.sandboxes

    def crash_looping() -> bool:
        cs = container_state(kubelet.status(crash), "c")
        return bool(cs.get("state", {}).get("waiting", {}).get("reason") == "CrashLoopBackOff")

    await kubelet.wait(crash_looping, 60, "CrashLoopBackOff")
    cs = container_state(kubelet.status(crash), "c")
    assert cs["restartCount"] == 1 and cs["lastState"]["terminated"]["exitCode"] == 1
    assert cs["state"]["waiting"]["message"].startswith("back-off 10s restarting failed container=c pod=crash_")
    assert kubelet.status(crash)["phase"] == "Running"
    # After the 10 s window it runs (and fails) again, then waits 20 s.
    await kubelet.wait(lambda: container_state(kubelet.status(crash), "c")["restartCount"] == 2, 30,
                       "the second restart")
    await kubelet.wait(lambda: "back-off 20s" in str(container_state(kubelet.status(crash), "c")["state"]), 30,
                       "the doubled back-off")
    # Three instances ran; the oldest dead one is gone (one dead container is kept, for lastState and logs).
    assert [c.attempt for c in (await kubelet.cri.pod_runtime(crash)).instances("c")] == [2, 1]


async def test_liveness_failure_restarts_container(kubelet: KubeletHarness) -> None:
    uid = kubelet.run(make_pod("live", [busybox(
        "c", "touch /tmp/healthy; sleep 2; rm /tmp/healthy; exec sleep 3600",
        livenessProbe={"exec": {"command": ["test", "-e", "/tmp/healthy"]}, "periodSeconds": 1,
                       "failureThreshold": 2})]))
    await kubelet.wait(lambda: container_state(kubelet.status(uid), "c").get("restartCount") == 1, 60,
                       "the liveness restart")
    assert any(e[2] == "Unhealthy" and e[3].startswith("Liveness probe failed") for e in kubelet.recorded.events)
    assert any(e[2] == "Killing" and "failed liveness probe, will be restarted" in e[3]
               for e in kubelet.recorded.events)


async def test_missing_config_map_heals_and_never_pull(kubelet: KubeletHarness) -> None:
    uid = kubelet.run(make_pod("cfg", [busybox("c", "exec sleep 3600", envFrom=[{"configMapRef": {"name": "late"}}])]))

    def waiting_reason(u: str) -> str:
        return str(container_state(kubelet.status(u), "c").get("state", {}).get("waiting", {}).get("reason", ""))

    await kubelet.wait(lambda: waiting_reason(uid) == "CreateContainerConfigError", 60, "the config error")
    assert container_state(kubelet.status(uid), "c")["state"]["waiting"]["message"] == 'configmap "late" not found'
    assert kubelet.status(uid)["phase"] == "Pending"
    kubelet.config_maps[("default", "late")] = {"data": {"X": "1"}}
    await kubelet.wait(lambda: kubelet.status(uid).get("phase") == "Running", 30, "the pod to start")
    never = kubelet.run(make_pod("never", [{"name": "c", "image": "nothere:1", "imagePullPolicy": "Never"}]))
    await kubelet.wait(lambda: waiting_reason(never) == "ErrImageNeverPull", 30, "ErrImageNeverPull")


async def test_graceful_deletion_runs_pre_stop_and_cleans_up(kubelet: KubeletHarness, tmp_path: Path) -> None:
    marker = tmp_path / "hostdir"
    marker.mkdir()
    pod = make_pod("bye", [busybox("c", "trap 'exit 0' TERM; while true; do sleep 0.2; done",
                                   volumeMounts=[{"name": "host", "mountPath": "/host"}],
                                   lifecycle={"preStop": {"exec": {"command": ["/bin/sh", "-c",
                                                                               "echo stopping > /host/pre"]}}})],
                   volumes=[{"name": "host", "hostPath": {"path": str(marker), "type": "Directory"}},
                            {"name": "mem", "emptyDir": {"medium": "Memory"}}])
    uid = kubelet.run(pod)
    await kubelet.wait(lambda: kubelet.status(uid).get("phase") == "Running", 60, "the pod to run")
    deleted = {**pod, "metadata": {**pod["metadata"], "deletionTimestamp": "2026-01-01T00:00:00Z",
                                   "deletionGracePeriodSeconds": 10}}
    kubelet.run(deleted)
    await kubelet.wait(lambda: uid in kubelet.recorded.terminated, 60, "termination")
    assert (marker / "pre").read_text() == "stopping\n"
    final = kubelet.status(uid)
    assert final["phase"] == "Succeeded"  # the container exited 0 on SIGTERM
    assert await kubelet.cri.pod_runtime(uid) == type(await kubelet.cri.pod_runtime(uid))()
    assert not kubelet.volumes.pod_dir(uid).exists()


async def test_memory_pressure_evicts_best_effort_first(kubelet: KubeletHarness, tmp_path: Path) -> None:
    best = kubelet.run(make_pod("best", [busybox("c", "exec sleep 3600")]))
    guaranteed = kubelet.run(make_pod("guar", [busybox("c", "exec sleep 3600",
                                                         resources={"limits": {"cpu": "100m", "memory": "32Mi"}})]))
    await kubelet.wait(lambda: all(kubelet.status(u).get("phase") == "Running" for u in (best, guaranteed)), 60,
                       "the pods to run")

    def pods() -> list[dict[str, Any]]:
        return [w.pod for w in kubelet.workers.workers.values()]

    # A threshold no node can meet: the node is under memory pressure on every pass.
    manager = EvictionManager(parse_thresholds("memory.available<1000Ti"), kubelet.cri, tmp_path, pods,
                              kubelet.workers.evict)
    assert await manager.synchronize() == best
    assert manager.pressures() == {"MemoryPressure"}

    def evicted(uid: str) -> bool:
        st = kubelet.status(uid)
        return st.get("phase") == "Failed" and "terminated" in container_state(st, "c").get("state", {})

    await kubelet.wait(lambda: evicted(best), 30, "the BestEffort pod to be evicted")
    st = kubelet.status(best)
    assert st["reason"] == "Evicted"
    assert st["message"].startswith("The node was low on resource: memory. Threshold quantity: 1000Ti, available: ")
    assert condition(st, "DisruptionTarget") == "True"
    assert kubelet.status(guaranteed)["phase"] == "Running"
    assert any(e[0] == "best" and e[2] == "Evicted" for e in kubelet.recorded.events)
    assert await manager.synchronize() == guaranteed  # only then the Guaranteed one


async def test_memory_limit_oom_kill_is_reported(kubelet: KubeletHarness) -> None:
    uid = kubelet.run(make_pod("oom", [busybox("c", "exec dd if=/dev/zero of=/dev/null bs=64M count=1",
                                               resources={"limits": {"cpu": "100m", "memory": "16Mi"}})],
                               restartPolicy="Never"))
    await kubelet.wait(lambda: kubelet.status(uid).get("phase") == "Failed", 60, "the OOM kill")
    term = container_state(kubelet.status(uid), "c")["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (137, "OOMKilled")


async def test_thirty_pods_at_once_all_run(kubelet: KubeletHarness) -> None:
    """Pod startup latency (creation to Running, image present), the figure bench/pod_startup_bench reports."""
    created: dict[str, float] = {}
    running: dict[str, float] = {}
    for i in range(30):
        uid = kubelet.run(make_pod(f"many-{i}", [busybox("c", "exec sleep 3600")]))
        created[uid] = time.monotonic()

    def all_running() -> bool:
        for uid in created:
            if uid not in running and kubelet.status(uid).get("phase") == "Running":
                running[uid] = time.monotonic()
        return len(running) == len(created)

    await kubelet.wait(all_running, 120, "30 pods to run")
    latencies = sorted(running[u] - created[u] for u in created)
    p50, p99 = latencies[len(latencies) // 2], latencies[-1]
    print(f"pod startup for 30 pods: p50={p50:.2f}s p99={p99:.2f}s")


async def test_pod_over_allocatable_is_rejected(kubelet: KubeletHarness) -> None:
    uid = kubelet.run(make_pod("huge", [busybox("c", "exec sleep 3600", resources={"requests": {"cpu": "3"}})]))
    await kubelet.wait(lambda: kubelet.status(uid).get("phase") == "Failed", 30, "the rejection")
    st = kubelet.status(uid)
    assert st["reason"] == "OutOfcpu" and st["message"].startswith("Pod was rejected: ")
    assert not (await kubelet.cri.pod_runtime(uid)).sandboxes


async def test_dead_sandbox_is_recreated_with_the_next_attempt(kubelet: KubeletHarness) -> None:
    pod = make_pod("phoenix", [busybox("c", "exec sleep 3600")])
    uid = kubelet.run(pod)

    def running_attempt(n: int) -> bool:
        cs = container_state(kubelet.status(uid), "c")
        return "running" in cs.get("state", {}) and cs.get("restartCount") == n

    await kubelet.wait(lambda: running_attempt(0), 60, "the pod to run")
    for attempt in (1, 2):
        sandbox = (await kubelet.cri.pod_runtime(uid)).latest_sandbox()
        assert sandbox is not None
        await kubelet.cri.stop_sandbox(sandbox.id)  # as if the node lost the pod's network namespace
        await kubelet.wait(lambda a=attempt: running_attempt(a), 60, f"recreation {attempt}")  # type: ignore[misc]
    runtime = await kubelet.cri.pod_runtime(uid)
    assert sorted(s.attempt for s in runtime.sandboxes) == [0, 1, 2]
    assert [c.attempt for c in runtime.instances("c")] == [2, 1]  # one dead container kept
    deleted = {**pod, "metadata": {**pod["metadata"], "deletionTimestamp": "2026-01-01T00:00:00Z",
                                   "deletionGracePeriodSeconds": 2}}
    kubelet.run(deleted)
    await kubelet.wait(lambda: uid in kubelet.recorded.terminated, 60, "termination")
    left = await kubelet.cri.pod_runtime(uid)
    assert not left.sandboxes and not left.containers


async def test_active_deadline_fails_the_pod(kubelet: KubeletHarness) -> None:
    uid = kubelet.run(make_pod("brief", [busybox("c", "exec sleep 3600")], activeDeadlineSeconds=2))
    await kubelet.wait(lambda: kubelet.status(uid).get("phase") == "Failed"
                       and "terminated" in container_state(kubelet.status(uid), "c").get("state", {}), 60,
                       "the deadline to stop the pod")
    assert kubelet.status(uid)["reason"] == "DeadlineExceeded"
