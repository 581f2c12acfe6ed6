"""The scheduler's view of the cluster, updated incrementally from informer events, with an assume cache.

The async driver applies informer events and runs scheduling cycles on one event loop, so a cycle never
sees a half-applied update: the cache is itself the snapshot a cycle reads, and nothing is copied per pod.
A pod is *assumed* onto its node the moment the scheduler picks it, so the next pod already sees its
resources taken; the assumption is confirmed when the bound pod arrives from the informer, forgotten when
the bind fails, and expires when a finished bind never shows up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from api import labels
from api.labels import Selector
from scheduler.nodeinfo import NodeInfo, normalized_image_name
from scheduler.podinfo import AffinityTerm, PodInfo

# How long an assumed pod whose bind call succeeded may wait for the informer to deliver it.
DEFAULT_ASSUME_TTL: Final = 30.0
TERMINAL_PHASES: Final = frozenset(("Succeeded", "Failed"))
HARD_TAINT_EFFECTS: Final = frozenset(("NoSchedule", "NoExecute"))


class CacheError(RuntimeError):
    """An event that contradicts what the cache holds (a bug in the driver, not in the cluster)."""


@dataclass(slots=True)
class _PodState:
    pod: PodInfo
    node: str
    assumed: bool


def pod_key(pod: Mapping[str, Any]) -> str:
    """`namespace/name`, the key pods are tracked by everywhere in the scheduler."""
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', 'default')}/{meta.get('name', '')}"


def object_key(obj: Mapping[str, Any]) -> str:
    """`namespace/name` for namespaced objects, `name` for cluster-scoped ones."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name', '')}" if ns else meta.get("name", "")


class Cache:
    """Node infos, pod placements (bound and assumed) and the other objects plugins read."""

    def __init__(self, assume_ttl: float = DEFAULT_ASSUME_TTL) -> None:
        self.assume_ttl = assume_ttl
        self._nodes: dict[str, NodeInfo] = {}
        self._node_list: list[NodeInfo] | None = None
        # Nodes with taints (hard ones reject, PreferNoSchedule ones score) or cordoned: while there are none,
        # TaintToleration and NodeUnschedulable leave the per-node loops.
        self.hard_tainted_nodes = 0
        self.soft_tainted_nodes = 0
        self.unschedulable_nodes = 0
        # topologyKey -> node name -> value, built on first use and dropped only when some node's labels change
        # (kubelet status heartbeats leave it be), so topology spreading need not walk every node per pod.
        self._topology: dict[str, dict[str, str]] = {}
        self._pods: dict[str, _PodState] = {}
        # Assumed pods whose binding returned, with when to give up on the informer delivering them: expiry
        # scans only these, not every placed pod.
        self._bound_deadlines: dict[str, float] = {}
        self.image_nodes: dict[str, int] = {}
        self.anti_affinity_pods = 0
        self.scoring_affinity_pods = 0
        # Placed pods by label, so selectors with an equality clause need not scan every pod.
        self._label_index: dict[tuple[str, str], dict[str, tuple[PodInfo, str]]] = {}
        # Required anti-affinity terms of placed pods (replicas share terms): term -> node -> pod count.
        self.anti_affinity_terms: dict[AffinityTerm, dict[str, int]] = {}
        # Likewise the terms InterPodAffinity scores an incoming pod against: required affinity terms, and
        # preferred terms with their signed weight (+ affinity, - anti-affinity).
        self.affinity_terms: dict[AffinityTerm, dict[str, int]] = {}
        self.preferred_terms: dict[tuple[AffinityTerm, int], dict[str, int]] = {}
        self.namespace_labels: dict[str, Mapping[str, str]] = {}
        self.pvcs: dict[str, Mapping[str, Any]] = {}
        self.pvs: dict[str, Mapping[str, Any]] = {}
        self.storage_classes: dict[str, Mapping[str, Any]] = {}
        self.pdbs: dict[str, Mapping[str, Any]] = {}
        self.assumed_pv_claims: dict[str, str] = {}
        self._workload_selectors: dict[tuple[str, str, str], Selector] = {}
        self._services: dict[str, tuple[str, Selector]] = {}

    # --- nodes ---

    def add_node(self, node: Mapping[str, Any]) -> None:
        """Add or update a Node; pods already counted against it stay."""
        name = node["metadata"]["name"]
        info = self._nodes.get(name)
        if info is None:
            info = self._nodes[name] = NodeInfo(name)
        if info.node is None:
            self._node_list = None
            self._topology.clear()
        else:
            self._count_node(info, -1)
            if info.labels != ((node.get("metadata") or {}).get("labels") or {}):
                self._topology.clear()
        info.set_node(node)
        self._count_node(info, 1)

    update_node = add_node

    def remove_node(self, name: str) -> None:
        """Drop a Node; its pods (if any) stay accounted until their own deletions arrive, as in Kubernetes."""
        info = self._nodes.get(name)
        if info is None or info.node is None:
            return
        self._count_node(info, -1)
        self._node_list = None
        self._topology.clear()
        if info.pods:
            info.node = None
        else:
            del self._nodes[name]

    def _count_node(self, info: NodeInfo, sign: int) -> None:
        """Add or take back what one node contributes to the cluster-wide image and taint counts."""
        effects = {t.get("effect") for t in info.taints}
        self.hard_tainted_nodes += sign * bool(effects & HARD_TAINT_EFFECTS)
        self.soft_tainted_nodes += sign * ("PreferNoSchedule" in effects)
        self.unschedulable_nodes += sign * info.unschedulable
        for image in info.image_sizes:
            count = self.image_nodes.get(image, 0) + sign
            if count > 0:
                self.image_nodes[image] = count
            else:
                self.image_nodes.pop(image, None)

    def node_infos(self) -> list[NodeInfo]:
        """Nodes that exist, in a stable order (the order they were added); rebuilt only when nodes change."""
        if self._node_list is None:
            self._node_list = [n for n in self._nodes.values() if n.node is not None]
        return self._node_list

    def topology_values(self, key: str) -> Mapping[str, str]:
        """Node name -> the node's value for a topology label, for the nodes that have it."""
        values = self._topology.get(key)
        if values is None:
            values = self._topology[key] = {
                n.name: v for n in self.node_infos() if (v := n.labels.get(key)) is not None}
        return values

    def node_info(self, name: str) -> NodeInfo | None:
        """The node's info, or None when the Node object is unknown (or deleted)."""
        info = self._nodes.get(name)
        return info if info is not None and info.node is not None else None

    def image_spread(self, image: str) -> int:
        """On how many nodes an image is present (ImageLocality scales a node's score by it)."""
        return self.image_nodes.get(normalized_image_name(image), 0)

    # --- pods ---

    def add_pod(self, pod: Mapping[str, Any]) -> None:
        """An assigned pod arrived from the informer: confirm its assumption or count it.

        Pods that finished (Succeeded/Failed) hold nothing any more, as kube-scheduler's informer
        filters them out.
        """
        if (pod.get("status") or {}).get("phase") in TERMINAL_PHASES:
            self.remove_pod(pod_key(pod))
            return
        info = PodInfo(pod)
        if not info.node_name:
            return
        state = self._pods.get(info.key)
        if state is not None:
            self._place(state.pod, state.node, -1)
        self._bound_deadlines.pop(info.key, None)
        self._pods[info.key] = _PodState(info, info.node_name, assumed=False)
        self._place(info, info.node_name, 1)

    def update_pod(self, pod: Mapping[str, Any]) -> None:
        """A new version of an assigned pod (labels, deletion timestamp, status) replaces the old one."""
        self.add_pod(pod)

    def remove_pod(self, key: str) -> None:
        """The pod is gone (or no longer assigned); free what it took."""
        state = self._pods.pop(key, None)
        self._bound_deadlines.pop(key, None)
        if state is not None:
            self._place(state.pod, state.node, -1)

    def assume_pod(self, pod: PodInfo, node: str) -> None:
        """Count a pod against the node the scheduler chose, before its binding is written."""
        if pod.key in self._pods:
            raise CacheError(f"pod {pod.key} is already in the scheduler cache; it cannot be assumed again")
        self._pods[pod.key] = _PodState(pod, node, assumed=True)
        self._place(pod, node, 1)

    def finish_binding(self, key: str, now: float) -> None:
        """The bind call returned; start the clock on the informer delivering the bound pod."""
        state = self._pods.get(key)
        if state is not None and state.assumed:
            self._bound_deadlines[key] = now + self.assume_ttl

    def forget_pod(self, key: str) -> None:
        """The bind failed: undo the assumption so the pod can be scheduled again."""
        state = self._pods.get(key)
        if state is None or not state.assumed:
            return
        del self._pods[key]
        self._bound_deadlines.pop(key, None)
        self._place(state.pod, state.node, -1)

    def is_assumed(self, key: str) -> bool:
        """Whether the pod is counted only because the scheduler assumed it."""
        state = self._pods.get(key)
        return state is not None and state.assumed

    def pod_node(self, key: str) -> str | None:
        """Where the cache counts the pod, or None."""
        state = self._pods.get(key)
        return None if state is None else state.node

    def cleanup_expired(self, now: float) -> list[str]:
        """Forget assumed pods whose finished binding never showed up; returns their keys."""
        expired = [k for k, deadline in self._bound_deadlines.items() if deadline <= now]
        for key in expired:
            self.forget_pod(key)
        return expired

    def _place(self, pod: PodInfo, node: str, sign: int) -> None:
        info = self._nodes.get(node)
        if sign > 0:
            if info is None:
                info = self._nodes[node] = NodeInfo(node)
            info.add_pod(pod)
        else:
            if info is None or info.remove_pod(pod.key) is None:
                return
            if info.node is None and not info.pods:
                del self._nodes[node]
        self.anti_affinity_pods += sign * bool(pod.required_anti_affinity)
        self.scoring_affinity_pods += sign * bool(
            pod.required_affinity or pod.preferred_affinity or pod.preferred_anti_affinity
        )
        for label in pod.labels.items():
            if sign > 0:
                self._label_index.setdefault(label, {})[pod.key] = (pod, node)
            else:
                entries = self._label_index.get(label)
                if entries is not None:
                    entries.pop(pod.key, None)
                    if not entries:
                        del self._label_index[label]
        for term in pod.required_anti_affinity:
            _count(self.anti_affinity_terms, term, node, sign)
        for term in pod.required_affinity:
            _count(self.affinity_terms, term, node, sign)
        for w in pod.preferred_affinity:
            _count(self.preferred_terms, (w.term, w.weight), node, sign)
        for w in pod.preferred_anti_affinity:
            _count(self.preferred_terms, (w.term, -w.weight), node, sign)

    def placed_pods(self) -> Iterable[tuple[PodInfo, str]]:
        """Every bound or assumed pod with its node."""
        return ((s.pod, s.node) for s in self._pods.values())

    def pods_selected_by(self, selector: Selector) -> Iterable[tuple[PodInfo, str]]:
        """A superset of the placed pods the selector matches (narrowed by its first equality clause)."""
        if selector.nothing:
            return ()
        for r in selector.requirements:
            if r.operator in (labels.IN, labels.EQUALS, labels.DOUBLE_EQUALS):
                if len(r.values) == 1:
                    return tuple(self._label_index.get((r.key, r.values[0]), {}).values())
                found: dict[str, tuple[PodInfo, str]] = {}
                for value in r.values:
                    found.update(self._label_index.get((r.key, value), {}))
                return tuple(found.values())
        return self.placed_pods()

    # --- other objects plugins read ---

    def set_namespace(self, namespace: Mapping[str, Any]) -> None:
        """Namespace labels feed pod-affinity namespaceSelectors."""
        meta = namespace.get("metadata") or {}
        self.namespace_labels[meta["name"]] = meta.get("labels") or {}

    def remove_namespace(self, name: str) -> None:
        self.namespace_labels.pop(name, None)

    def set_pvc(self, pvc: Mapping[str, Any]) -> None:
        """Claims are looked up by `namespace/name` from pods' volumes."""
        self.pvcs[object_key(pvc)] = pvc

    def remove_pvc(self, key: str) -> None:
        self.pvcs.pop(key, None)

    def set_pv(self, pv: Mapping[str, Any]) -> None:
        """A PV with a claimRef is bound (or being bound), so its assumption is settled."""
        name = pv["metadata"]["name"]
        self.pvs[name] = pv
        if (pv.get("spec") or {}).get("claimRef"):
            self.assumed_pv_claims.pop(name, None)

    def remove_pv(self, name: str) -> None:
        self.pvs.pop(name, None)
        self.assumed_pv_claims.pop(name, None)

    def set_storage_class(self, sc: Mapping[str, Any]) -> None:
        """Storage classes tell Immediate from WaitForFirstConsumer binding."""
        self.storage_classes[sc["metadata"]["name"]] = sc

    def remove_storage_class(self, name: str) -> None:
        self.storage_classes.pop(name, None)

    def set_pdb(self, pdb: Mapping[str, Any]) -> None:
        """PodDisruptionBudgets steer preemption away from protected pods."""
        self.pdbs[object_key(pdb)] = pdb

    def remove_pdb(self, key: str) -> None:
        self.pdbs.pop(key, None)

    def set_workload(self, kind: str, obj: Mapping[str, Any]) -> None:
        """Record a ReplicaSet/StatefulSet/ReplicationController's selector (default topology spread uses it)."""
        meta = obj.get("metadata") or {}
        raw = (obj.get("spec") or {}).get("selector")
        key = (kind, meta.get("namespace", "default"), meta.get("name", ""))
        if kind == "ReplicationController":
            sel = labels.from_label_selector({"matchLabels": raw or {}})
        else:
            sel = labels.from_label_selector(raw)
        self._workload_selectors[key] = sel

    def remove_workload(self, kind: str, namespace: str, name: str) -> None:
        self._workload_selectors.pop((kind, namespace, name), None)

    def set_service(self, svc: Mapping[str, Any]) -> None:
        """Services' selectors take part in default topology spreading."""
        meta = svc.get("metadata") or {}
        selector = (svc.get("spec") or {}).get("selector") or {}
        if selector:
            self._services[object_key(svc)] = (
                meta.get("namespace", "default"),
                labels.from_label_selector({"matchLabels": selector}),
            )
        else:
            self._services.pop(object_key(svc), None)

    def remove_service(self, key: str) -> None:
        self._services.pop(key, None)

    def default_spread_selector(self, pod: PodInfo) -> Selector | None:
        """The pods a pod is spread against by default: those selected by its services and controllers.

        Kubernetes merges the selectors of every Service selecting the pod and of its ReplicaSet,
        StatefulSet or ReplicationController owner; None when nothing selects it (no default spreading).
        """
        requirements: list[labels.Requirement] = []
        for namespace, sel in self._services.values():
            if namespace == pod.namespace and sel.matches(pod.labels):
                requirements.extend(sel.requirements)
        for ref in (pod.obj.get("metadata") or {}).get("ownerReferences") or ():
            if not ref.get("controller"):
                continue
            owner_sel = self._workload_selectors.get((ref.get("kind", ""), pod.namespace, ref.get("name", "")))
            if owner_sel is not None and not owner_sel.nothing:
                requirements.extend(owner_sel.requirements)
        if not requirements:
            return None
        return Selector(tuple(dict.fromkeys(requirements)))


K = TypeVar("K")


def _count(index: dict[K, dict[str, int]], key: K, node: str, sign: int) -> None:
    """Add ``sign`` to a per-node pod count, dropping zero counts and empty keys."""
    per_node = index.setdefault(key, {})
    count = per_node.get(node, 0) + sign
    if count > 0:
        per_node[node] = count
    else:
        per_node.pop(node, None)
        if not per_node:
            del index[key]
