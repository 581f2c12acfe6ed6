"""What the scheduler knows about one node: its object, what it offers and what the pods on it already take.

A NodeInfo is updated in place as pods are added to and removed from it, so nothing is rebuilt per
scheduling cycle; preemption works on a `clone()` it can mutate freely.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scheduler.podinfo import DEFAULT_HOST_IP, PodInfo
from scheduler.resources import Resources


def normalized_image_name(name: str) -> str:
    """Kubernetes compares images with an explicit tag: `busybox` means `busybox:latest`."""
    if "@" in name:
        return name
    if ":" not in name.rsplit("/", 1)[-1]:
        return name + ":latest"
    return name


class NodeInfo:
    """Aggregated state of one node; `node` is None while only pods referencing it are known."""

    __slots__ = (
        "allocatable",
        "generation",
        "image_sizes",
        "labels",
        "name",
        "node",
        "non_zero_cpu",
        "non_zero_memory",
        "pods",
        "pods_with_required_anti_affinity",
        "pvc_refs",
        "requested",
        "taints",
        "unschedulable",
        "used_ports",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.node: Mapping[str, Any] | None = None
        self.labels: Mapping[str, str] = {}
        self.taints: tuple[Mapping[str, Any], ...] = ()
        self.unschedulable = False
        self.allocatable = Resources()
        self.image_sizes: dict[str, int] = {}
        self.requested = Resources()
        self.non_zero_cpu = 0
        self.non_zero_memory = 0
        self.pods: dict[str, PodInfo] = {}
        self.pods_with_required_anti_affinity: dict[str, PodInfo] = {}
        self.used_ports: dict[tuple[str, int], dict[str, int]] = {}
        self.pvc_refs: dict[str, int] = {}
        self.generation = 0

    def set_node(self, node: Mapping[str, Any]) -> None:
        """Take a new version of the Node object; the pods on it stay."""
        meta = node.get("metadata") or {}
        spec = node.get("spec") or {}
        status = node.get("status") or {}
        self.node = node
        self.labels = meta.get("labels") or {}
        self.taints = tuple(spec.get("taints") or ())
        self.unschedulable = bool(spec.get("unschedulable"))
        self.allocatable = Resources.from_list(status.get("allocatable") or status.get("capacity"))
        sizes: dict[str, int] = {}
        for image in status.get("images") or ():
            for image_name in image.get("names") or ():
                sizes[normalized_image_name(image_name)] = int(image.get("sizeBytes") or 0)
        self.image_sizes = sizes
        self.generation += 1

    def add_pod(self, pod: PodInfo) -> None:
        """Count a pod (bound or assumed) against this node."""
        self._account(pod, 1)
        self.pods[pod.key] = pod
        if pod.required_anti_affinity:
            self.pods_with_required_anti_affinity[pod.key] = pod

    def remove_pod(self, key: str) -> PodInfo | None:
        """Stop counting a pod; returns what was removed, None when it was not here."""
        pod = self.pods.pop(key, None)
        if pod is None:
            return None
        self.pods_with_required_anti_affinity.pop(key, None)
        self._account(pod, -1)
        return pod

    def _account(self, pod: PodInfo, sign: int) -> None:
        self.requested.add(pod.requests, sign)
        self.non_zero_cpu += sign * pod.non_zero_cpu
        self.non_zero_memory += sign * pod.non_zero_memory
        for ip, protocol, port in pod.host_ports:
            ips = self.used_ports.setdefault((protocol, port), {})
            count = ips.get(ip, 0) + sign
            if count > 0:
                ips[ip] = count
            else:
                ips.pop(ip, None)
                if not ips:
                    del self.used_ports[(protocol, port)]
        for claim in pod.pvc_names:
            ref = f"{pod.namespace}/{claim}"
            count = self.pvc_refs.get(ref, 0) + sign
            if count > 0:
                self.pvc_refs[ref] = count
            else:
                self.pvc_refs.pop(ref, None)
        self.generation += 1

    def port_conflict(self, ip: str, protocol: str, port: int) -> bool:
        """A wildcard address conflicts with any use of the port; a specific one with itself and the wildcard."""
        ips = self.used_ports.get((protocol, port))
        if not ips:
            return False
        if ip == DEFAULT_HOST_IP:
            return True
        return ip in ips or DEFAULT_HOST_IP in ips

    def clone(self) -> NodeInfo:
        """An independent copy for what-if simulations (preemption); pod views are shared, being immutable."""
        other = NodeInfo(self.name)
        other.node = self.node
        other.labels = self.labels
        other.taints = self.taints
        other.unschedulable = self.unschedulable
        other.allocatable = self.allocatable
        other.image_sizes = self.image_sizes
        other.requested = self.requested.copy()
        other.non_zero_cpu = self.non_zero_cpu
        other.non_zero_memory = self.non_zero_memory
        other.pods = dict(self.pods)
        other.pods_with_required_anti_affinity = dict(self.pods_with_required_anti_affinity)
        other.used_ports = {k: dict(v) for k, v in self.used_ports.items()}
        other.pvc_refs = dict(self.pvc_refs)
        other.generation = self.generation
        return other

    def __repr__(self) -> str:
        return f"NodeInfo({self.name}, pods={len(self.pods)})"
