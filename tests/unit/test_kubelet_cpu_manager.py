"""The static CPU manager's pure parts: CPU lists, reservation, allocation and release, and the checkpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubelet.cpu_checkpoint import CheckpointError, decode, encode, fnv32a
from kubelet.cpu_manager import CpuManager
from kubelet.cpu_policy import (
    NONE,
    STATIC,
    ContainerDemand,
    CpuAssignments,
    CpuPolicyError,
    NotEnoughCpus,
    allocate,
    cpus_for,
    demands,
    release,
    reserved_cpus,
    take,
    validate,
)
from kubelet.cpuset import CpuSetError, format_cpus, parse_cpus

ALL = frozenset(range(4))


def pod(uid: str, *containers: dict[str, Any], init: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    return {"metadata": {"uid": uid}, "spec": {"containers": list(containers), "initContainers": list(init)}}


def ctr(name: str, cpu: str, memory: str = "64Mi", limits: bool = True, **extra: Any) -> dict[str, Any]:
    res = {"cpu": cpu, "memory": memory}
    return {"name": name, "resources": {"requests": res, "limits": res if limits else {}}, **extra}


def test_cpu_lists_round_trip_in_the_kernel_format() -> None:
    assert parse_cpus("0-2,5,7-8") == {0, 1, 2, 5, 7, 8}
    assert parse_cpus("") == frozenset() and parse_cpus("3\n") == {3}
    assert format_cpus({8, 0, 1, 2, 5, 7}) == "0-2,5,7-8"
    assert format_cpus(()) == "" and format_cpus({4}) == "4"
    for bad in ("a", "3-1", "1-", "-1"):
        with pytest.raises(CpuSetError):
            parse_cpus(bad)


def test_only_whole_cpus_of_guaranteed_pods_are_exclusive() -> None:
    guaranteed = pod("u", ctr("whole", "2"), ctr("fraction", "500m"),
                     init=(ctr("init", "1"), ctr("sidecar", "1", restartPolicy="Always")))
    assert demands(guaranteed) == [ContainerDemand("init", 1, reusable=True), ContainerDemand("sidecar", 1),
                                   ContainerDemand("whole", 2), ContainerDemand("fraction", 0)]
    burstable = pod("b", ctr("c", "1", limits=False))
    assert demands(burstable) == [ContainerDemand("c", 0)]


def test_reserved_cpus_come_from_the_flag_or_the_reserved_cpu_rounded_up() -> None:
    assert reserved_cpus(ALL, frozenset({3}), 0) == {3}
    assert reserved_cpus(ALL, frozenset(), 1500) == {0, 1}
    assert reserved_cpus(ALL, frozenset(), 100) == {0}
    with pytest.raises(CpuPolicyError, match="greater than zero"):
        reserved_cpus(ALL, frozenset(), 0)
    with pytest.raises(CpuPolicyError, match="not within"):
        reserved_cpus(ALL, frozenset({9}), 0)
    with pytest.raises(CpuPolicyError, match="cannot reserve 5"):
        reserved_cpus(ALL, frozenset(), 5000)


def test_take_prefers_the_given_cpus_then_the_lowest() -> None:
    assert take({3, 1, 2}, 2) == {1, 2}
    assert take({0, 1, 2, 3}, 2, preferred={3}) == {0, 3}
    with pytest.raises(NotEnoughCpus) as err:
        take({1}, 2)
    assert str(err.value) == "not enough cpus available to satisfy request: requested=2, available=1"


def test_exclusive_cpus_leave_the_shared_pool_and_come_back_on_release() -> None:
    reserved = frozenset({0})
    state = CpuAssignments(ALL)
    state = allocate(state, "a", demands(pod("a", ctr("c", "2"))), reserved)
    assert state.entries == {"a": {"c": {1, 2}}} and state.default == {0, 3}
    assert cpus_for(state, "a", "c") == {1, 2}
    assert cpus_for(state, "other", "c") == {0, 3}  # everyone else runs on the shared pool
    # Re-admission (after a kubelet restart) changes nothing.
    assert allocate(state, "a", demands(pod("a", ctr("c", "2"))), reserved) is state
    # The reserved CPU is never handed out, even when it is the only one left.
    with pytest.raises(NotEnoughCpus) as err:
        allocate(state, "b", demands(pod("b", ctr("c", "2"))), reserved)
    assert (err.value.requested, err.value.available) == (2, 1)
    state = allocate(state, "b", demands(pod("b", ctr("c", "1"))), reserved)
    assert state.default == {0} and cpus_for(state, "b", "c") == {3}
    validate(state, ALL, reserved)
    assert release(state, {"a", "b"}) is state
    state = release(state, {"b"})
    assert state.default == {0, 1, 2} and set(state.entries) == {"b"}


def test_a_pod_that_does_not_fit_takes_nothing() -> None:
    state = CpuAssignments(frozenset({0, 1}))
    with pytest.raises(NotEnoughCpus):
        allocate(state, "p", demands(pod("p", ctr("first", "1"), ctr("second", "1"))), frozenset({0}))
    assert state == CpuAssignments(frozenset({0, 1}))


def test_init_container_cpus_are_reused_by_app_containers() -> None:
    state = allocate(CpuAssignments(ALL), "p", demands(pod("p", ctr("app", "2"), init=(ctr("init", "1"),))),
                     frozenset({0}))
    assert state.entries["p"] == {"init": {1}, "app": {1, 2}}
    assert state.default == {0, 3}
    assert release(state, ()).default == ALL


def test_restored_state_must_fit_the_machine() -> None:
    validate(CpuAssignments(frozenset({0, 3}), {"p": {"c": frozenset({1, 2})}}), ALL, frozenset({0}))
    with pytest.raises(CpuPolicyError, match="reserved"):
        validate(CpuAssignments(frozenset({1, 2, 3}), {"p": {"c": frozenset({0})}}), ALL, frozenset({0}))
    with pytest.raises(CpuPolicyError, match="also in the shared pool"):
        validate(CpuAssignments(ALL, {"p": {"c": frozenset({1})}}), ALL, frozenset({0}))
    with pytest.raises(CpuPolicyError, match="doesn't match"):
        validate(CpuAssignments(frozenset({0, 1})), ALL, frozenset({0}))


def test_checkpoint_has_upstreams_shape_and_refuses_corruption_and_policy_changes() -> None:
    state = CpuAssignments(frozenset({0, 3}), {"uid-1": {"c": frozenset({1, 2})}})
    data = encode(STATIC, state)
    doc = json.loads(data)
    assert set(doc) == {"policyName", "defaultCpuSet", "entries", "checksum"}
    assert doc["policyName"] == "static" and doc["defaultCpuSet"] == "0,3" and doc["entries"] == {"uid-1": {"c": "1-2"}}
    assert decode(data, STATIC) == state
    assert "entries" not in json.loads(encode(NONE, CpuAssignments(frozenset())))
    tampered = json.dumps({**doc, "defaultCpuSet": "0-3"}).encode()
    with pytest.raises(CheckpointError, match="corrupted"):
        decode(tampered, STATIC)
    with pytest.raises(CheckpointError, match="differs from state checkpoint policy 'static'"):
        decode(data, NONE)
    for junk in (b"", b"[]", b'{"checksum": 1}'):
        with pytest.raises(CheckpointError):
            decode(junk, STATIC)


def test_fnv32a_matches_the_reference_vectors() -> None:
    assert fnv32a(b"") == 0x811C9DC5
    assert fnv32a(b"a") == 0xE40C292C
    assert fnv32a(b"foobar") == 0xBF9CF968


def test_manager_admits_checkpoints_and_restores(tmp_path: Path) -> None:
    two = frozenset({0, 1})
    manager = CpuManager(STATIC, tmp_path, two, frozenset({0}))
    assert manager.admit(pod("g", ctr("c", "1"))) is None
    assert manager.cpuset("g", "c") == "1" and manager.cpuset("be", "c") == "0"
    rejected = manager.admit(pod("h", ctr("c", "1")))
    assert rejected is not None and rejected.reason == "UnexpectedAdmissionError"
    assert rejected.message == ("Pod was rejected: Allocate failed due to not enough cpus available to satisfy "
                                "request: requested=1, available=0, which is unexpected")
    # A new manager (a restarted kubelet) reads the same assignments back.
    again = CpuManager(STATIC, tmp_path, two, frozenset({0}))
    assert again.state == manager.state and again.cpuset("g", "c") == "1"
    with pytest.raises(CheckpointError, match="differs"):
        CpuManager(NONE, tmp_path, two, frozenset())
    with pytest.raises(CpuPolicyError, match="doesn't match"):
        CpuManager(STATIC, tmp_path, frozenset({0, 1, 2}), frozenset({0}))
    assert CpuManager(NONE, tmp_path / "fresh", two, frozenset()).cpuset("g", "c") == ""
