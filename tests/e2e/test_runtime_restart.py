"""What a restarted runtime finds on disk: live shims, dead shims, and leftovers of a crash."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from runtime.containers import ContainerError, ContainerRequest
from runtime.linux.cgroups import CgroupV1, Resources
from runtime.sandbox import SandboxRequest
from tests.e2e.runtime_support import make_runtime, run_container, run_pod, runtime_session, wait_for


def test_reconcile_keeps_live_containers_and_records_dead_shims(tmp_path, prefix):
    with runtime_session(tmp_path, prefix) as rt:
        sid = run_pod(rt)
        alive = run_container(rt, sid, ["sleep", "1000"], name="alive")
        orphaned = run_container(rt, sid, ["sleep", "1000"], name="orphaned")
        status = json.loads(Path(rt.containers.get(orphaned).bundle, "status.json").read_text())
        os.kill(status["shim_pid"], signal.SIGKILL)  # the shim dies first, then its container
        wait_for(lambda: not Path(f"/proc/{status['shim_pid']}").exists(), 5, "the shim to die")
        os.kill(status["pid"], signal.SIGKILL)
        wait_for(lambda: not rt.cgroups.procs(rt.containers.get(orphaned).cgroup_path), 5, "the container to die")

        # leftovers a crash could leave: cgroups and a rootfs dir nothing refers to
        pod_cgroup = rt.sandboxes.get(sid).cgroup_parent
        CgroupV1().create(f"{pod_cgroup}/stray", Resources())
        CgroupV1().create(f"{prefix}/gone-pod/stray", Resources())
        rt.sandboxes.cgroup_marks.joinpath(f"{prefix}%gone-pod").touch()  # as if we had made it, then crashed
        CgroupV1().create(f"{prefix}/another-runtimes", Resources())  # never marked: not ours to remove
        (Path(rt.root) / "containers" / "deadbeef" / "upper").mkdir(parents=True)

        again = make_runtime(tmp_path, prefix)
        again.reconcile()
        assert again.containers.state(alive).state == "running"
        st = again.containers.state(orphaned)
        assert (st.state, st.exit_code, st.reason) == ("exited", 255, "Unknown")
        recorded = json.loads(Path(again.containers.get(orphaned).bundle, "status.json").read_text())
        assert recorded["finished_at"] == st.finished_at  # the verdict is written down, not recomputed
        assert not CgroupV1().exists(f"{pod_cgroup}/stray")
        assert not CgroupV1().exists(f"{prefix}/gone-pod")
        assert CgroupV1().exists(f"{prefix}/another-runtimes")
        CgroupV1().remove(f"{prefix}/another-runtimes")
        assert not (Path(rt.root) / "containers" / "deadbeef").exists()
        assert again.sandboxes.ready(again.sandboxes.get(sid))
        again.shutdown_all()


def test_host_network_pod_shares_the_nodes_interfaces(tmp_path, prefix):
    with runtime_session(tmp_path, prefix) as rt:
        sid = rt.sandboxes.run(SandboxRequest(name="hostnet", host_network=True)).id
        assert rt.sandboxes.get(sid).netns == ""
        cid = rt.containers.create(sid, ContainerRequest(name="c", image="busybox", command=["sleep", "1000"]),
                                   rt.sandboxes.placement(sid, "container")).id
        rt.containers.start(cid)
        inside = rt.containers.exec_sync(cid, ["readlink", "/proc/self/ns/net"], 10).stdout.decode().strip()
        assert inside == os.readlink("/proc/self/ns/net")
        isolated = rt.containers.exec_sync(cid, ["readlink", "/proc/self/ns/mnt"], 10).stdout.decode().strip()
        assert isolated != os.readlink("/proc/self/ns/mnt")
        assert rt.containers.exec_sync(cid, ["hostname"], 10).stdout.decode().strip() == os.uname().nodename


def test_pod_resources_limit_the_pod_cgroup(tmp_path, prefix):
    with runtime_session(tmp_path, prefix) as rt:
        req = SandboxRequest(name="limited", resources=Resources(memory_limit=256 << 20, cpu_shares=256))
        rec = rt.sandboxes.run(req)
        mem = Path("/sys/fs/cgroup/memory") / rec.cgroup_parent / "memory.limit_in_bytes"
        assert int(mem.read_text()) == 256 << 20
        assert (Path("/sys/fs/cgroup/cpu") / rec.cgroup_parent / "cpu.shares").read_text().strip() == "256"


def test_pod_sysctls_apply_inside_the_pod_netns_only(tmp_path, prefix):
    with runtime_session(tmp_path, prefix) as rt:
        host_value = Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text()
        sid = rt.sandboxes.run(SandboxRequest(name="tuned", sysctls={"net.ipv4.ip_unprivileged_port_start": "80"})).id
        cid = run_container(rt, sid, ["sleep", "1000"])
        inside = rt.containers.exec_sync(cid, ["cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"], 10)
        assert inside.stdout.decode().strip() == "80"
        assert Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text() == host_value
        with pytest.raises(ContainerError, match="only network-namespaced"):
            rt.sandboxes.run(SandboxRequest(name="bad", sysctls={"kernel.panic": "1"}))
