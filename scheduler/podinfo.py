"""A pod as the scheduler sees it: the JSON object plus everything the plugins need, parsed once.

Selectors, affinity terms, requests and host ports are derived here when the pod enters the scheduler (or
the node-info cache), so that filtering a pod against a thousand nodes never re-parses a quantity or a
label selector.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from api import labels
from api.labels import Selector
from scheduler.resources import Resources, pod_non_zero_requests, pod_requests

HOSTNAME_LABEL: Final = "kubernetes.io/hostname"
DEFAULT_PROTOCOL: Final = "TCP"
DEFAULT_HOST_IP: Final = "0.0.0.0"


@dataclass(frozen=True, slots=True)
class AffinityTerm:
    """A pod (anti-)affinity term resolved against the pod that declares it.

    `namespaces` is the explicit list, or the declaring pod's own namespace when neither the list nor a
    namespaceSelector is given; `namespace_selector` is None when absent (an empty selector selects all).
    """

    selector: Selector
    topology_key: str
    namespaces: frozenset[str]
    namespace_selector: Selector | None

    def matches(self, pod: PodInfo, namespace_labels: Mapping[str, Mapping[str, str]]) -> bool:
        """Whether `pod` is one of the pods this term talks about."""
        if pod.namespace not in self.namespaces:
            sel = self.namespace_selector
            if sel is None or not sel.matches(namespace_labels.get(pod.namespace)):
                return False
        return self.selector.matches(pod.labels)


@dataclass(frozen=True, slots=True)
class WeightedAffinityTerm:
    """A preferred term and its weight (1-100)."""

    term: AffinityTerm
    weight: int


def _affinity_term(namespace: str, raw: Mapping[str, Any]) -> AffinityTerm:
    ns_selector_raw = raw.get("namespaceSelector")
    namespaces = frozenset(raw.get("namespaces") or ())
    if not namespaces and ns_selector_raw is None:
        namespaces = frozenset((namespace,))
    return AffinityTerm(
        selector=labels.from_label_selector(raw.get("labelSelector")),
        topology_key=raw.get("topologyKey", ""),
        namespaces=namespaces,
        namespace_selector=None if ns_selector_raw is None else labels.from_label_selector(ns_selector_raw),
    )


def _terms(
    namespace: str, block: Mapping[str, Any] | None
) -> tuple[tuple[AffinityTerm, ...], tuple[WeightedAffinityTerm, ...]]:
    if not block:
        return (), ()
    required = tuple(
        _affinity_term(namespace, t) for t in block.get("requiredDuringSchedulingIgnoredDuringExecution") or ()
    )
    preferred = tuple(
        WeightedAffinityTerm(_affinity_term(namespace, w.get("podAffinityTerm") or {}), int(w.get("weight", 0)))
        for w in block.get("preferredDuringSchedulingIgnoredDuringExecution") or ()
    )
    return required, preferred


class PodInfo:
    """An immutable view of one version of a pod; build a new one when the pod changes."""

    __slots__ = (
        "creation",
        "deleting",
        "host_ports",
        "images",
        "key",
        "labels",
        "name",
        "namespace",
        "node_name",
        "nominated_node",
        "non_zero_cpu",
        "non_zero_memory",
        "obj",
        "preemption_policy",
        "preferred_affinity",
        "preferred_anti_affinity",
        "priority",
        "pvc_names",
        "requests",
        "required_affinity",
        "required_anti_affinity",
        "scheduler_name",
        "scheduling_gates",
        "spec",
        "start_time",
        "tolerations",
        "uid",
    )

    def __init__(self, pod: Mapping[str, Any]) -> None:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        self.obj = pod
        self.spec = spec
        self.namespace: str = meta.get("namespace", "default")
        self.name: str = meta.get("name", "")
        self.key = f"{self.namespace}/{self.name}"
        self.uid: str = meta.get("uid", "")
        self.labels: Mapping[str, str] = meta.get("labels") or {}
        self.creation: str = meta.get("creationTimestamp") or ""
        self.deleting = bool(meta.get("deletionTimestamp"))
        self.priority: int = int(spec.get("priority") or 0)
        self.preemption_policy: str = spec.get("preemptionPolicy") or "PreemptLowerPriority"
        self.scheduler_name: str = spec.get("schedulerName") or "default-scheduler"
        self.node_name: str = spec.get("nodeName") or ""
        self.nominated_node: str = status.get("nominatedNodeName") or ""
        self.start_time: str = status.get("startTime") or ""
        self.scheduling_gates: tuple[str, ...] = tuple(g.get("name", "") for g in spec.get("schedulingGates") or ())
        self.requests: Resources = pod_requests(spec)
        self.requests.pods = 1
        self.non_zero_cpu, self.non_zero_memory = pod_non_zero_requests(spec)
        self.tolerations: tuple[Mapping[str, Any], ...] = tuple(spec.get("tolerations") or ())
        ports: list[tuple[str, str, int]] = []
        images: list[str] = []
        for c in (*(spec.get("initContainers") or ()), *(spec.get("containers") or ())):
            for p in c.get("ports") or ():
                host_port = int(p.get("hostPort") or 0)
                if host_port > 0:
                    ports.append((p.get("hostIP") or DEFAULT_HOST_IP, p.get("protocol") or DEFAULT_PROTOCOL, host_port))
        for c in spec.get("containers") or ():
            if c.get("image"):
                images.append(c["image"])
        self.host_ports: tuple[tuple[str, str, int], ...] = tuple(ports)
        self.images: tuple[str, ...] = tuple(images)
        self.pvc_names: tuple[str, ...] = tuple(
            v["persistentVolumeClaim"]["claimName"]
            for v in spec.get("volumes") or ()
            if (v.get("persistentVolumeClaim") or {}).get("claimName")
        )
        affinity = spec.get("affinity") or {}
        self.required_affinity, self.preferred_affinity = _terms(self.namespace, affinity.get("podAffinity"))
        self.required_anti_affinity, self.preferred_anti_affinity = _terms(
            self.namespace, affinity.get("podAntiAffinity")
        )

    def __repr__(self) -> str:
        return f"PodInfo({self.key})"


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """Kubernetes' ToleratesTaint: an empty effect tolerates every effect, an empty key with Exists every key."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def tolerates_any(tolerations: tuple[Mapping[str, Any], ...], taint: Mapping[str, Any]) -> bool:
    """Whether any of the tolerations tolerates the taint."""
    return any(tolerates(t, taint) for t in tolerations)
