"""Small factories for scheduler tests: Kubernetes JSON objects as the apiserver returns them."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from scheduler.cache import Cache
from scheduler.framework import Framework, ScheduleResult
from scheduler.podinfo import PodInfo
from scheduler.profile import Profile


def node(
    name: str,
    cpu: str = "4",
    memory: str = "8Gi",
    pods: int = 110,
    labels: Mapping[str, str] | None = None,
    taints: Sequence[Mapping[str, Any]] = (),
    unschedulable: bool = False,
    images: Sequence[tuple[str, int]] = (),
    extra: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    allocatable = {"cpu": cpu, "memory": memory, "pods": str(pods), "ephemeral-storage": "100Gi", **(extra or {})}
    spec: dict[str, Any] = {}
    if taints:
        spec["taints"] = list(taints)
    if unschedulable:
        spec["unschedulable"] = True
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": spec,
        "status": {
            "capacity": dict(allocatable),
            "allocatable": allocatable,
            "images": [{"names": [image], "sizeBytes": size} for image, size in images],
        },
    }


def pod(
    name: str,
    namespace: str = "default",
    cpu: str | None = None,
    memory: str | None = None,
    labels: Mapping[str, str] | None = None,
    priority: int | None = None,
    node_name: str | None = None,
    image: str = "busybox",
    start_time: str | None = None,
    **spec: Any,
) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    container: dict[str, Any] = {"name": "c", "image": image}
    if requests:
        container["resources"] = {"requests": requests}
    full_spec: dict[str, Any] = {"containers": [container], "schedulerName": "default-scheduler", **spec}
    if priority is not None:
        full_spec["priority"] = priority
    if node_name:
        full_spec["nodeName"] = node_name
    status: dict[str, Any] = {"phase": "Pending"}
    if start_time:
        status["startTime"] = start_time
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{namespace}-{name}",
            "labels": dict(labels or {}),
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": full_spec,
        "status": status,
    }


def taint(key: str, value: str = "", effect: str = "NoSchedule") -> dict[str, str]:
    return {"key": key, "value": value, "effect": effect}


def cluster(nodes: Iterable[Mapping[str, Any]], pods: Iterable[Mapping[str, Any]] = ()) -> Cache:
    cache = Cache()
    for n in nodes:
        cache.add_node(n)
    for p in pods:
        cache.add_pod(p)
    return cache


def framework(profile: Profile | None = None, seed: int = 0) -> Framework:
    return (profile or Profile()).build(rng=random.Random(seed))


def schedule(cache: Cache, raw_pod: Mapping[str, Any], fw: Framework | None = None) -> ScheduleResult:
    return (fw or framework()).schedule_one(PodInfo(raw_pod), cache)


def place(cache: Cache, raw_pod: Mapping[str, Any], fw: Framework | None = None) -> str | None:
    """Schedule and, when a node is chosen, account the pod there as the driver would (assume + bind)."""
    result = schedule(cache, raw_pod, fw)
    if result.node is not None:
        bound = {**raw_pod, "spec": {**raw_pod["spec"], "nodeName": result.node}}
        cache.add_pod(bound)
    return result.node
