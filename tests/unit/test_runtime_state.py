"""The runtime's state files: records, shim status, container spec, atomic writes."""

from __future__ import annotations

import json
import os

from runtime.atomicfile import write_atomic
from runtime.linux.rootfs import BindMount, RootfsSpec
from runtime.records import ContainerRecord, RecordStore, SandboxRecord, read_status
from runtime.spec import ContainerSpec, ProcessSpec


def test_records_round_trip_and_delete(tmp_path):
    store = RecordStore(str(tmp_path))
    c = ContainerRecord(id="c" * 64, sandbox_id="s" * 64, name="web", attempt=2, labels={"a": "b"},
                        extra={"mounts": [{"host_path": "/x"}]}, started=True)
    s = SandboxRecord(id="s" * 64, name="pod", namespace="ns", ip="10.1.2.3", cni_result={"ips": []})
    store.save_container(c)
    store.save_sandbox(s)
    again = RecordStore(str(tmp_path))
    assert again.load_containers() == [c]
    assert again.load_sandboxes() == [s]
    again.delete_container(c.id)
    assert again.load_containers() == []


def test_half_created_directories_are_skipped(tmp_path):
    store = RecordStore(str(tmp_path))
    (store.containers / "deadbeef").mkdir()  # crashed before the first save
    assert store.load_containers() == []


def test_read_status_before_and_after_the_shim_writes(tmp_path):
    assert read_status(str(tmp_path)) == {}
    write_atomic(str(tmp_path / "status.json"), json.dumps({"pid": 7, "exit_code": 137}))
    assert read_status(str(tmp_path)) == {"pid": 7, "exit_code": 137}


def test_write_atomic_replaces_whole_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "f.json"
    write_atomic(str(path), "old contents that are longer")
    write_atomic(str(path), b"new")
    assert path.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["f.json"]


def test_container_spec_round_trip(tmp_path):
    spec = ContainerSpec(
        id="abc", process=ProcessSpec(args=["/bin/sh"], env=["A=1"], uid=5, groups=[1, 2], caps=["CHOWN"]),
        rootfs=RootfsSpec(lowerdirs=["/l1", "/l2"], upperdir="/u", workdir="/w", target="/m",
                          mounts=[BindMount("/h", "/c", readonly=True, propagation="rslave")], readonly=True),
        join_namespaces={"net": "/run/netns/x"}, cgroup_path="tk/p/c", log_path="/l.log")
    (tmp_path / "config.json").write_text(spec.to_json())
    assert ContainerSpec.load(str(tmp_path / "config.json")) == spec
