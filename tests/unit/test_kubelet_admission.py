"""Node-level admission: allocatable is enforced for pods that bypass the scheduler."""

from __future__ import annotations

from typing import Any

from kubelet.admission import Rejection, admit

ALLOCATABLE = {"cpu": "2", "memory": "1Gi", "pods": "3"}


def pod(cpu: str = "", memory: str = "", init_cpu: str = "") -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    spec: dict[str, Any] = {"containers": [{"name": "c", "resources": {"requests": requests}}]}
    if init_cpu:
        spec["initContainers"] = [{"name": "i", "resources": {"requests": {"cpu": init_cpu}}}]
    return {"metadata": {"name": "p"}, "spec": spec}


def test_fits_and_overflows() -> None:
    assert admit(pod(cpu="1"), [pod(cpu="1")], ALLOCATABLE) is None
    assert admit(pod(cpu="1500m"), [pod(cpu="1")], ALLOCATABLE) == Rejection(
        "OutOfcpu", "Pod was rejected: Node didn't have enough resource: cpu, requested: 1500, used: 1000, "
                    "capacity: 2000")
    assert admit(pod(memory="600Mi"), [pod(memory="512Mi")], ALLOCATABLE) == Rejection(
        "OutOfmemory", "Pod was rejected: Node didn't have enough resource: memory, requested: 629145600, "
                       "used: 536870912, capacity: 1073741824")
    assert admit(pod(), [pod(), pod(), pod()], ALLOCATABLE) == Rejection(
        "OutOfpods", "Pod was rejected: Node didn't have enough resource: pods, requested: 1, used: 3, capacity: 3")
    assert admit(pod(), [pod(cpu="2")], ALLOCATABLE) is None  # BestEffort requests nothing


def test_init_containers_count_by_their_maximum() -> None:
    assert admit(pod(cpu="100m", init_cpu="2"), [], ALLOCATABLE) is None
    rejected = admit(pod(cpu="100m", init_cpu="2"), [pod(cpu="100m")], ALLOCATABLE)
    assert rejected is not None and rejected.reason == "OutOfcpu"
