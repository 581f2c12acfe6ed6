"""Real containers from the engine: output, PID namespace, cgroup limits, exec, stop, shim footprint."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from runtime.containers import ContainerError
from runtime.linux.cgroups import Resources
from tests.e2e.runtime_support import log_text, run_container, run_pod, runtime_session, wait_exit, wait_for


@pytest.fixture
def rt(tmp_path, prefix):
    with runtime_session(tmp_path, prefix) as runtime:
        yield runtime


def test_container_output_pid1_and_only_its_own_processes(rt):
    sid = run_pod(rt)
    cid = run_container(rt, sid, ["/bin/sh", "-c", "echo hello; echo pid=$$; echo oops >&2; ps -o pid,comm; true"])
    wait_exit(rt, cid)
    text = log_text(rt, cid)
    assert "hello" in text and "pid=1" in text and "oops" in text
    pids = [line.split()[0] for line in text.splitlines() if line.strip() and line.split()[0].isdigit()]
    assert len(pids) == 2 and pids[0] == "1", text  # sh itself and ps: nothing from the host
    st = rt.containers.state(cid)
    assert (st.exit_code, st.reason) == (0, "Completed")
    assert st.started_at <= st.finished_at


def test_pod_pid_namespace_shows_pod_processes_only(rt):
    sid = run_pod(rt)
    first = run_container(rt, sid, ["sleep", "1000"], name="first", pid_mode="pod")
    second = run_container(rt, sid, ["sleep", "1001"], name="second", pid_mode="pod")
    out = rt.containers.exec_sync(second, ["ps", "-o", "args"], 10).stdout.decode()
    assert "sleep 1000" in out and "sleep 1001" in out
    assert "pytest" not in out and "runtime.shim" not in out
    assert rt.containers.state(first).state == "running"


def test_memory_limit_reports_oomkilled_137(rt):
    sid = run_pod(rt)
    cid = run_container(rt, sid, ["dd", "if=/dev/zero", "of=/dev/null", "bs=200M", "count=1"],
                        resources=Resources(memory_limit=32 << 20))
    wait_exit(rt, cid)
    st = rt.containers.state(cid)
    assert (st.exit_code, st.reason) == (137, "OOMKilled")


def test_cpu_limits_land_in_cfs_files(rt):
    sid = run_pod(rt)
    cid = run_container(rt, sid, ["sleep", "1000"],
                        resources=Resources(cpu_quota=20000, cpu_period=100000, cpu_shares=512, cpuset_cpus="0"))
    cg = rt.containers.get(cid).cgroup_path
    cpu = Path("/sys/fs/cgroup/cpu") / cg
    assert (cpu / "cpu.cfs_quota_us").read_text().strip() == "20000"
    assert (cpu / "cpu.cfs_period_us").read_text().strip() == "100000"
    assert (cpu / "cpu.shares").read_text().strip() == "512"
    out = rt.containers.exec_sync(cid, ["grep", "Cpus_allowed_list", "/proc/self/status"], 10).stdout.decode()
    assert out.split()[-1] == "0"
    rt.containers.update_resources(cid, Resources(cpu_quota=50000, cpu_period=100000))
    assert (cpu / "cpu.cfs_quota_us").read_text().strip() == "50000"


def test_pids_limit_stops_fork_bombs(rt):
    sid = run_pod(rt)
    cid = run_container(rt, sid, ["/bin/sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 30 & done; wait"],
                        resources=Resources(pids_limit=5))
    wait_for(lambda: "can't fork" in log_text(rt, cid), 30, "fork failures in the log")
    assert int(Path(f"/sys/fs/cgroup/pids/{rt.containers.get(cid).cgroup_path}/pids.current").read_text()) <= 5


def test_exec_sync_output_exit_code_and_timeout(rt):
    sid = run_pod(rt)
    cid = run_container(rt, sid, ["sleep", "1000"])
    r = rt.containers.exec_sync(cid, ["sh", "-c", "echo out; echo err >&2; exit 3"], 10)
    assert (r.stdout, r.stderr, r.exit_code) == (b"out\n", b"err\n", 3)
    assert rt.containers.exec_sync(cid, ["no-such-command"], 10).exit_code == 127
    started = time.monotonic()
    with pytest.raises(ContainerError, match="timed out"):
        rt.containers.exec_sync(cid, ["sleep", "30"], 1)
    assert time.monotonic() - started < 10
    wait_for(lambda: "sleep 30" not in rt.containers.exec_sync(cid, ["ps", "-o", "args"], 10).stdout.decode(),
             15, "the timed-out exec to be killed")


def test_stop_waits_for_the_grace_period_then_kills(rt):
    sid = run_pod(rt)
    stubborn = run_container(rt, sid, ["sleep", "1000"], name="stubborn")  # PID 1 without handlers ignores TERM
    polite = run_container(rt, sid, ["/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"],
                           name="polite")
    time.sleep(0.3)
    started = time.monotonic()
    rt.containers.stop(polite, 30)
    assert time.monotonic() - started < 15  # well before the grace period
    assert rt.containers.state(polite).exit_code == 0
    started = time.monotonic()
    rt.containers.stop(stubborn, 1)
    assert 0.9 <= time.monotonic() - started < 10
    assert rt.containers.state(stubborn).exit_code == 137
    rt.containers.stop(stubborn, 1)  # idempotent


def test_readonly_rootfs_user_env_and_workdir(rt):
    sid = run_pod(rt)
    script = ("id -u; id -g; pwd; echo $GREETING; touch /x 2>/dev/null || echo ro-ok; "
              "touch /tmp/y 2>/dev/null || echo tmp-ro")
    cid = run_container(rt, sid, ["/bin/sh", "-c", script],
                        readonly_rootfs=True, run_as_user=65534, working_dir="/tmp", env=[("GREETING", "hi")])
    wait_exit(rt, cid)
    assert log_text(rt, cid).split() == ["65534", "65534", "/tmp", "hi", "ro-ok", "tmp-ro"]


def test_log_reopen_after_rotation(rt):
    sid = run_pod(rt)
    cid = run_container(rt, sid, ["/bin/sh", "-c", "i=0; while :; do echo line $i; i=$((i+1)); sleep 0.05; done"])
    log_path = Path(rt.containers.get(cid).log_path)
    wait_for(lambda: log_path.exists() and log_path.stat().st_size > 0, 15, "first log lines")
    log_path.rename(log_path.with_suffix(".log.1"))
    rt.containers.reopen_log(cid)
    wait_for(lambda: log_path.exists() and "line" in log_path.read_text(), 15, "lines in the reopened log")


def test_python_pump_fallback_logs_and_records_exit(tmp_path, prefix):
    """Where no C compiler exists the shim keeps pumping in Python, with the same results."""
    with runtime_session(tmp_path, prefix, pump="") as rt:
        assert rt.pump == ""
        sid = run_pod(rt)
        cid = run_container(rt, sid, ["/bin/sh", "-c", "echo from-python-pump; exit 9"])
        wait_exit(rt, cid)
        assert "from-python-pump" in log_text(rt, cid)
        assert rt.containers.state(cid).exit_code == 9
        config = json.loads(Path(rt.containers.get(cid).bundle, "config.json").read_text())
        assert config["pump"] == ""


def test_shim_memory_per_idle_container(rt, capsys):
    sid = run_pod(rt)
    assert rt.pump, "no C compiler: the shim stays in Python"
    cid = run_container(rt, sid, ["sleep", "1000"])
    shim_pid = json.loads(Path(rt.containers.get(cid).bundle, "status.json").read_text())["shim_pid"]
    # The Python shim answers "started" just before it execs the pump: measure the pump, not the handover.
    wait_for(lambda: os.readlink(f"/proc/{shim_pid}/exe") == rt.pump, 15, "the shim to exec its pump")
    rollup = dict(line.split(":", 1) for line in Path(f"/proc/{shim_pid}/smaps_rollup").read_text().splitlines()[1:])
    rss_kib = int(rollup["Rss"].split()[0])
    pss_kib = int(rollup["Pss"].split()[0])
    with capsys.disabled():
        print(f"\nshim memory: rss={rss_kib} KiB pss={pss_kib} KiB")
    assert rss_kib < 10 * 1024  # the target: at most 10 MiB of shim per idle container
    assert os.path.exists(f"/proc/{shim_pid}")
