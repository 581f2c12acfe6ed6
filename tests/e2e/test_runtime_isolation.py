"""Escape attempts from inside a default container; each must fail."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.runtime_support import run_container, run_pod, runtime_session


@pytest.fixture
def box(tmp_path, prefix):
    """A running default container (default caps, RuntimeDefault seccomp) and a way to run shell in it."""
    marker = tmp_path / "host-marker"
    marker.write_text("host secret\n")
    with runtime_session(tmp_path, prefix) as rt:
        sid = run_pod(rt)
        cid = run_container(rt, sid, ["sleep", "1000"])

        def sh(script: str) -> tuple[int, str]:
            r = rt.containers.exec_sync(cid, ["/bin/sh", "-c", script], 10)
            return r.exit_code, (r.stdout + r.stderr).decode()

        sh.marker = marker  # type: ignore[attr-defined]
        sh.rt = rt  # type: ignore[attr-defined]
        sh.cid = cid  # type: ignore[attr-defined]
        yield sh


def test_cannot_see_host_processes(box):
    _, out = box(f"test -e /proc/{os.getpid()}; echo exists=$?; ps -o args")
    assert "exists=1" in out, out
    assert "pytest" not in out and "runtime.shim" not in out
    assert "sleep 1000" in out


def test_cannot_mount(box):
    code, _ = box("mkdir -p /mnt/t && mount -t tmpfs none /mnt/t")
    assert code != 0
    code, _ = box("mount --bind /bin /mnt/t")
    assert code != 0


def test_cannot_load_modules(box):
    code, out = box("echo junk > /tmp/evil.ko && insmod /tmp/evil.ko")
    assert code != 0 and "not permitted" in out, out


def test_cannot_create_namespaces(box):
    code, out = box("unshare -n true")
    assert code != 0 and "not permitted" in out, out


def test_cannot_write_proc_sys_or_sysctls(box):
    code, out = box("echo evil > /proc/sys/kernel/hostname")
    assert code != 0 and "Read-only" in out, out
    code, out = box("echo 1 > /proc/sysrq-trigger")
    assert code != 0
    assert Path("/proc/sys/kernel/hostname").read_text().strip() != "evil"


def test_masked_paths_are_empty(box):
    assert Path("/proc/timer_list").read_bytes()  # the host's is not
    _, out = box("wc -c < /proc/timer_list; wc -c < /proc/keys; ls /sys/firmware | wc -l")
    assert out.split() == ["0", "0", "0"], out


def test_cannot_reach_host_filesystem(box):
    target = str(box.marker)
    paths = (f"/proc/1/root{target}", f"/../../..{target}", f"/proc/self/root/..{target}", f"/proc/1/cwd/..{target}")
    for path in paths:
        code, out = box(f"cat {path}")
        assert code != 0 and "host secret" not in out, path


def test_cannot_use_host_devices(box):
    code, out = box("mknod /tmp/disk b 253 0 && head -c 1 /tmp/disk")
    assert code != 0 and "not permitted" in out, out


def test_cannot_raise_own_limits(box):
    cg = box.rt.containers.get(box.cid).cgroup_path
    before = Path(f"/sys/fs/cgroup/pids/{cg}/pids.max").read_text()
    code, out = box("ls /sys/fs/cgroup; echo max > /sys/fs/cgroup/pids/pids.max; "
                    "mount -t cgroup -o pids none /mnt")
    assert code != 0
    assert Path(f"/sys/fs/cgroup/pids/{cg}/pids.max").read_text() == before
    code, out = box("echo 1 > /sys/kernel/mm/ksm/run")
    assert code != 0 and "Read-only" in out, out


def test_dropped_capabilities_and_seccomp_are_in_force(box):
    _, out = box("grep -E '^(CapEff|CapBnd|Seccomp|NoNewPrivs):' /proc/self/status")
    fields = dict(line.split(":\t") for line in out.strip().splitlines())
    assert fields["CapEff"] == "00000000a80425fb" and fields["CapBnd"] == "00000000a80425fb"
    assert fields["Seccomp"] == "2"
