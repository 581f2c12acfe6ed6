"""Stopping a sandbox: it stops taking containers before any of its containers is stopped.

Otherwise a kubelet sync landing mid-stop sees a ready sandbox with an exited container and restarts
that container inside the dying sandbox. The stop is held between its steps by freezing a container's
cgroup (v1 freezer): the SIGKILL stays pending until the cgroup is thawed.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from runtime.containers import ContainerError, ContainerRequest
from tests.e2e.runtime_support import make_runtime, run_container, run_pod, runtime_session, wait_for

FREEZER = Path("/sys/fs/cgroup/freezer")
SIGKILL_BIT = 1 << 8  # signal 9 in /proc/PID/status's pending masks


def sigkill_pending(pid: int) -> bool:
    """Whether a SIGKILL waits on ``pid`` (sent to a frozen task, it is delivered only once thawed)."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return any(int(fields[key], 16) & SIGKILL_BIT for key in ("SigPnd", "ShdPnd"))


def sleeper(name: str) -> ContainerRequest:
    return ContainerRequest(name=name, image="busybox", command=["sleep", "1000"])


def test_sandbox_is_not_ready_and_takes_no_container_while_its_containers_stop(tmp_path, prefix):
    with runtime_session(tmp_path, prefix) as rt:
        sid = run_pod(rt)
        cid = run_container(rt, sid, ["sleep", "1000"])
        created = rt.create_container(sid, sleeper("late")).id  # created before the stop, started during it
        pid = rt.containers.state(cid).pid
        freezer = FREEZER / rt.containers.get(cid).cgroup_path / "freezer.state"
        freezer.write_text("FROZEN")
        with ThreadPoolExecutor(1) as pool:
            try:
                stopping = pool.submit(rt.stop_sandbox, sid)
                wait_for(lambda: sigkill_pending(pid), 30, "the stop to kill the container")
                assert rt.containers.state(cid).state == "running"
                assert not rt.sandboxes.ready(rt.sandboxes.get(sid))
                with pytest.raises(ContainerError) as refused_create:
                    rt.create_container(sid, sleeper("new"))
                with pytest.raises(ContainerError) as refused_start:
                    rt.start_container(created)
            finally:
                freezer.write_text("THAWED")
            stopping.result()
        assert (refused_create.value.code, refused_start.value.code) == ("FAILED_PRECONDITION",) * 2
        assert rt.containers.state(cid).state == "exited"
        assert rt.containers.state(created).state == "created"
        assert not rt.sandboxes.holder_pid(rt.sandboxes.get(sid))


def test_restarted_runtime_finishes_a_stop_its_crash_interrupted(tmp_path, prefix):
    with runtime_session(tmp_path, prefix) as rt:
        sid = run_pod(rt)
        cid = run_container(rt, sid, ["sleep", "1000"])
        rt.sandboxes.close(sid)  # the runtime dies here: the sandbox closed, nothing stopped yet

        again = make_runtime(tmp_path, prefix)
        again.reconcile()
        assert again.containers.state(cid).state == "exited"
        sandbox = again.sandboxes.get(sid)
        assert not again.sandboxes.holder_pid(sandbox) and sandbox.network_torn_down
        again.shutdown_all()
