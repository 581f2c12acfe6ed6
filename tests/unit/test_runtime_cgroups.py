"""cgroup drivers against fake cgroupfs trees in tmp_path (no kernel involved)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from runtime.linux import cgroups
from runtime.linux.cgroups import CgroupError, CgroupV1, CgroupV2, Resources, driver_for, shares_to_weight


def _v2_root(tmp_path):
    root = tmp_path / "unified"
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids\n")
    (root / "cgroup.subtree_control").write_text("")
    return root


def test_v2_create_enables_controllers_down_the_tree_and_writes_limits(tmp_path):
    root = _v2_root(tmp_path)
    drv = CgroupV2(str(root))
    # what the kernel would show in the intermediate level once the root delegates
    (root / "tk").mkdir()
    (root / "tk" / "cgroup.controllers").write_text("cpuset cpu memory pids\n")
    drv.create("tk/pod/ctr", Resources(memory_limit=64 << 20, cpu_shares=512, cpu_quota=20000, cpu_period=100000,
                                      cpuset_cpus="0", pids_limit=10))
    assert (root / "cgroup.subtree_control").read_text() == "+cpu +cpuset +memory +pids"
    assert (root / "tk" / "cgroup.subtree_control").read_text() == "+cpu +cpuset +memory +pids"
    leaf = root / "tk" / "pod" / "ctr"
    assert (leaf / "memory.max").read_text() == str(64 << 20)
    assert (leaf / "cpu.max").read_text() == "20000 100000"
    assert (leaf / "cpu.weight").read_text() == str(shares_to_weight(512))
    assert (leaf / "cpuset.cpus").read_text() == "0"
    assert (leaf / "pids.max").read_text() == "10"


def test_v2_unlimited_quota_is_max(tmp_path):
    drv = CgroupV2(str(_v2_root(tmp_path)))
    drv.create("a", Resources(cpu_quota=-1, cpu_period=50000))
    assert (tmp_path / "unified" / "a" / "cpu.max").read_text() == "max 50000"


def test_shares_to_weight_matches_kubernetes_conversion():
    assert shares_to_weight(2) == 1
    assert shares_to_weight(1024) == 39
    assert shares_to_weight(262144) == 10000


def test_v2_stats_and_oom(tmp_path):
    root = _v2_root(tmp_path)
    leaf = root / "c"
    leaf.mkdir()
    (leaf / "memory.current").write_text("1000\n")
    (leaf / "memory.stat").write_text("anon 600\ninactive_file 300\n")
    (leaf / "memory.max").write_text("max\n")
    (leaf / "cpu.stat").write_text("usage_usec 1500\nuser_usec 1000\n")
    (leaf / "pids.current").write_text("3\n")
    (leaf / "memory.events").write_text("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n")
    st = CgroupV2(str(root)).stats("c")
    assert (st.memory_usage, st.memory_working_set, st.memory_limit) == (1000, 700, 0)
    assert (st.cpu_usage_ns, st.pids, st.oom_kills) == (1_500_000, 3, 1)


def test_v2_kill_uses_cgroup_kill(tmp_path):
    root = _v2_root(tmp_path)
    (root / "c").mkdir()
    (root / "c" / "cgroup.kill").write_text("0")
    CgroupV2(str(root)).kill("c")
    assert (root / "c" / "cgroup.kill").read_text() == "1"


def test_remove_waits_for_an_empty_cgroup(tmp_path):
    root = _v2_root(tmp_path)
    drv = CgroupV2(str(root))
    (root / "c").mkdir()
    (root / "c" / "cgroup.procs").write_text("4242\n")
    with pytest.raises(CgroupError, match="still has processes"):
        drv.remove("c", timeout=0.1)
    assert drv.exists("c")
    (root / "c" / "cgroup.procs").unlink()  # a real cgroupfs dir has no files to delete; the fake one must
    drv.remove("c", timeout=0.1)
    assert not drv.exists("c")
    drv.remove("c")  # idempotent


def test_v1_copies_cpuset_at_every_new_level(tmp_path):
    for ctl in ("memory", "cpu", "cpuset", "pids"):
        (tmp_path / ctl).mkdir()
    (tmp_path / "cpuset" / "cpuset.cpus").write_text("0-1\n")
    (tmp_path / "cpuset" / "cpuset.mems").write_text("0\n")
    drv = CgroupV1(str(tmp_path), controllers=("memory", "cpu", "cpuset", "pids"))
    drv.create("tk/pod/ctr", Resources(memory_limit=1 << 20, cpu_quota=20000, cpu_period=100000, pids_limit=5))
    for level in ("tk", "tk/pod", "tk/pod/ctr"):
        assert (tmp_path / "cpuset" / level / "cpuset.cpus").read_text() == "0-1"
        assert (tmp_path / "cpuset" / level / "cpuset.mems").read_text() == "0"
    assert (tmp_path / "memory" / "tk/pod/ctr" / "memory.limit_in_bytes").read_text() == str(1 << 20)
    assert (tmp_path / "cpu" / "tk/pod/ctr" / "cpu.cfs_quota_us").read_text() == "20000"
    assert (tmp_path / "pids" / "tk/pod/ctr" / "pids.max").read_text() == "5"
    drv.add_process("tk/pod/ctr", 77)
    assert (tmp_path / "pids" / "tk/pod/ctr" / "cgroup.procs").read_text() == "77"


def test_v1_concurrent_creators_under_a_new_parent_all_get_cpus(tmp_path, monkeypatch):
    """Sandboxes of a new QoS tier are created at once: none may copy the tier's cpuset before it is filled."""
    (tmp_path / "cpuset").mkdir()
    (tmp_path / "cpuset" / "cpuset.cpus").write_text("0-1\n")
    (tmp_path / "cpuset" / "cpuset.mems").write_text("0\n")
    write = cgroups._write

    def slow_write(path, value):  # widens the window between a directory's mkdir and its cpus
        time.sleep(0.02)
        write(path, value)

    monkeypatch.setattr(cgroups, "_write", slow_write)
    drv = CgroupV1(str(tmp_path), controllers=("cpuset",))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: drv.create(f"tk/besteffort/pod{i}", Resources()), range(8)))
    for i in range(8):
        assert (tmp_path / "cpuset" / f"tk/besteffort/pod{i}" / "cpuset.cpus").read_text() == "0-1"


def test_v1_oom_kills_from_oom_control(tmp_path):
    (tmp_path / "memory" / "c").mkdir(parents=True)
    (tmp_path / "memory" / "c" / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    assert CgroupV1(str(tmp_path), controllers=("memory",)).oom_kills("c") == 2


def test_driver_for(tmp_path):
    assert isinstance(driver_for("v1", str(tmp_path)), CgroupV1)
    root = _v2_root(tmp_path)
    assert isinstance(driver_for("auto", str(root)), CgroupV2)
    with pytest.raises(ValueError, match="unknown cgroup driver"):
        driver_for("v3")
