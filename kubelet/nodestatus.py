"""The Node object the kubelet registers and keeps current: capacity, allocatable, addresses, info, conditions, images.

Pure: machine facts (meminfo text, cpu count, filesystem sizes, runtime version) come in as values, so the
arithmetic (allocatable = capacity - system-reserved - kube-reserved - hard eviction) is testable exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from api.quantity import Quantity
from kubelet.eviction import MEMORY_AVAILABLE, NODEFS_AVAILABLE, Threshold

DEFAULT_MAX_PODS: Final = 110
MAX_IMAGES_IN_STATUS: Final = 50
KUBELET_PORT: Final = 10250


class FlagError(ValueError):
    """A malformed resource-list or taint flag."""


def parse_meminfo(text: str) -> dict[str, int]:
    """/proc/meminfo as bytes per field."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[name.strip()] = int(parts[0]) * (1024 if len(parts) > 1 and parts[1] == "kB" else 1)
    return out


def parse_resource_list(text: str) -> dict[str, Quantity]:
    """``cpu=100m,memory=256Mi,ephemeral-storage=1Gi,pid=1000`` (the --system-reserved/--kube-reserved format)."""
    out: dict[str, Quantity] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, eq, value = part.partition("=")
        if not eq or name not in ("cpu", "memory", "ephemeral-storage", "pid"):
            raise FlagError(f"cannot reserve {part!r}: expected cpu|memory|ephemeral-storage|pid=QUANTITY")
        out[name] = Quantity.parse(value)
    return out


def parse_taints(text: str) -> list[dict[str, str]]:
    """``key=value:Effect,key2:Effect`` (the --register-with-taints format)."""
    out: list[dict[str, str]] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        kv, colon, effect = part.rpartition(":")
        if not colon or effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise FlagError(f"invalid taint spec {part!r}: expected key[=value]:NoSchedule|PreferNoSchedule|NoExecute")
        key, _, value = kv.partition("=")
        taint = {"key": key, "effect": effect}
        if value:
            taint["value"] = value
        out.append(taint)
    return out


def parse_labels(text: str) -> dict[str, str]:
    """``k=v,k2=v2`` (the --node-labels format)."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, eq, value = part.partition("=")
        if not eq:
            raise FlagError(f"invalid node label {part!r}: expected key=value")
        out[key] = value
    return out


@dataclass(frozen=True)
class Machine:
    """Facts about the node the kubelet measured."""

    cpus: int
    memory_bytes: int
    disk_bytes: int
    machine_id: str = ""
    boot_id: str = ""
    kernel_version: str = ""
    os_image: str = ""
    architecture: str = "amd64"
    runtime_version: str = ""
    kubelet_version: str = ""


@dataclass(frozen=True)
class Reservations:
    """What is kept back from pods: --system-reserved, --kube-reserved and hard eviction thresholds."""

    system: Mapping[str, Quantity] = field(default_factory=dict)
    kube: Mapping[str, Quantity] = field(default_factory=dict)
    eviction_hard: Sequence[Threshold] = ()


def capacity(machine: Machine, max_pods: int = DEFAULT_MAX_PODS) -> dict[str, str]:
    """The node's capacity in Kubernetes' usual units (memory and storage in Ki, as cAdvisor reports them)."""
    return {"cpu": str(machine.cpus),
            "memory": f"{machine.memory_bytes // 1024}Ki",
            "ephemeral-storage": f"{machine.disk_bytes // 1024}Ki",
            "hugepages-1Gi": "0",
            "hugepages-2Mi": "0",
            "pods": str(max_pods)}


def allocatable(cap: Mapping[str, str], reserved: Reservations) -> dict[str, str]:
    """Capacity minus reservations and hard-eviction headroom, floored at zero."""
    out: dict[str, str] = {}
    for name, text in cap.items():
        value = Quantity.parse(text)
        for source in (reserved.system, reserved.kube):
            if name in source:
                value = value - source[name]
        for t in reserved.eviction_hard:
            if (name, t.signal) in (("memory", MEMORY_AVAILABLE), ("ephemeral-storage", NODEFS_AVAILABLE)):
                value = value - Quantity(t.limit(Quantity.parse(text).int_value()))
        if value.value < 0:
            value = Quantity(0)
        out[name] = value.canonical() if name not in ("memory", "ephemeral-storage") else _ki(value)
    return out


def _ki(q: Quantity) -> str:
    b = q.int_value()
    return f"{b // 1024}Ki" if b % 1024 == 0 else str(b)


def addresses(node_ip: str, hostname: str) -> list[dict[str, str]]:
    """The Node's addresses: its InternalIP and its Hostname."""
    return [{"type": "InternalIP", "address": node_ip}, {"type": "Hostname", "address": hostname}]


def node_info(machine: Machine) -> dict[str, str]:
    """The Node's nodeInfo block."""
    return {"machineID": machine.machine_id, "systemUUID": machine.machine_id, "bootID": machine.boot_id,
            "kernelVersion": machine.kernel_version, "osImage": machine.os_image,
            "containerRuntimeVersion": machine.runtime_version, "kubeletVersion": machine.kubelet_version,
            "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": machine.architecture}


_CONDITION_TEXT: Final = {
    "MemoryPressure": (("KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
                       ("KubeletHasSufficientMemory", "kubelet has sufficient memory available")),
    "DiskPressure": (("KubeletHasDiskPressure", "kubelet has disk pressure"),
                     ("KubeletHasNoDiskPressure", "kubelet has no disk pressure")),
    "PIDPressure": (("KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
                    ("KubeletHasSufficientPID", "kubelet has sufficient PID available")),
}


def conditions(pressures: frozenset[str], ready_problem: str, old: Sequence[Mapping[str, Any]],
               now_text: str) -> list[dict[str, Any]]:
    """Node conditions; lastTransitionTime only moves when a status flips. ``ready_problem`` empty = Ready."""
    by_type = {c.get("type"): c for c in old}
    fresh: list[dict[str, Any]] = []
    for kind, (bad, good) in _CONDITION_TEXT.items():
        on = kind in pressures
        reason, message = bad if on else good
        fresh.append({"type": kind, "status": "True" if on else "False", "reason": reason, "message": message})
    if ready_problem:
        fresh.append({"type": "Ready", "status": "False", "reason": "KubeletNotReady", "message": ready_problem})
    else:
        fresh.append({"type": "Ready", "status": "True", "reason": "KubeletReady",
                      "message": "kubelet is posting ready status"})
    out = []
    for cond in fresh:
        prev = by_type.get(cond["type"])
        since = prev.get("lastTransitionTime") if prev and prev.get("status") == cond["status"] else None
        out.append({**cond, "lastHeartbeatTime": now_text, "lastTransitionTime": since or now_text})
    return out


@dataclass(frozen=True)
class ImageInfo:
    """An image the runtime holds, for the ImageLocality scheduler plugin."""

    names: tuple[str, ...]
    size_bytes: int


def images(infos: Sequence[ImageInfo]) -> list[dict[str, Any]]:
    """The biggest 50 images first, as the kubelet reports them."""
    ordered = sorted(infos, key=lambda i: i.size_bytes, reverse=True)[:MAX_IMAGES_IN_STATUS]
    return [{"names": list(i.names), "sizeBytes": i.size_bytes} for i in ordered if i.names]


def node_labels(name: str, architecture: str, extra: Mapping[str, str]) -> dict[str, str]:
    """The well-known labels every kubelet sets, plus --node-labels."""
    return {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": architecture,
            "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": architecture, **extra}


def new_node(name: str, node_ip: str, machine: Machine, reserved: Reservations, *,
             labels: Mapping[str, str], taints: Sequence[Mapping[str, str]], max_pods: int = DEFAULT_MAX_PODS,
             kubelet_port: int = KUBELET_PORT, now_text: str) -> dict[str, Any]:
    """The Node to create at registration."""
    cap = capacity(machine, max_pods)
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": node_labels(name, machine.architecture, labels),
                     "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                     "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": {"taints": [dict(t) for t in taints]} if taints else {},
        "status": {
            "capacity": cap,
            "allocatable": allocatable(cap, reserved),
            "addresses": addresses(node_ip, name),
            "nodeInfo": node_info(machine),
            "conditions": conditions(frozenset(), "", [], now_text),
            "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
        },
    }
