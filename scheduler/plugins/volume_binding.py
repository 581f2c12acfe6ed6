"""VolumeBinding: a pod goes where its volumes can be; WaitForFirstConsumer claims are bound to a node's PV.

Bound claims constrain nodes through their PV's node affinity. An unbound claim of a WaitForFirstConsumer
storage class is matched, per node, to the smallest available PV that fits it (capacity, access modes,
volume mode, node affinity), or left to dynamic provisioning when the class has a provisioner. The choice
for the selected node is assumed at Reserve (so the next pod does not take the same PV) and handed to the
driver at PreBind as intents to write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from scheduler.cache import Cache
from scheduler.events import Action, ClusterEvent, Resource
from scheduler.framework import (
    SKIP,
    CycleState,
    FilterPlugin,
    PreBindPlugin,
    PreFilterPlugin,
    ReservePlugin,
    StateData,
    Status,
    unresolvable,
)
from scheduler.nodeinfo import NodeInfo
from scheduler.nodeselector import NodeSelector, compile_selector
from scheduler.podinfo import PodInfo
from scheduler.resources import quantity_value

UNBOUND_IMMEDIATE: Final = "pod has unbound immediate PersistentVolumeClaims"
NODE_CONFLICT: Final = "node(s) had volume node affinity conflict"
NO_MATCHING_PV: Final = "node(s) didn't find available persistent volumes to bind"
PV_NOT_EXIST: Final = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
WAIT_FOR_FIRST_CONSUMER: Final = "WaitForFirstConsumer"
NO_PROVISIONER: Final = "kubernetes.io/no-provisioner"
_CONFLICT: Final = unresolvable(NODE_CONFLICT, plugin="VolumeBinding")
_NO_PV: Final = unresolvable(NO_MATCHING_PV, plugin="VolumeBinding")
_PV_MISSING: Final = unresolvable(PV_NOT_EXIST, plugin="VolumeBinding")


@dataclass(frozen=True, slots=True)
class BindVolume:
    """Intent: set the PV's claimRef to the claim (the PV controller completes the binding)."""

    pv_name: str
    claim_namespace: str
    claim_name: str
    claim_uid: str


@dataclass(frozen=True, slots=True)
class ProvisionVolume:
    """Intent: annotate the claim with `volume.kubernetes.io/selected-node` so its provisioner creates a PV there."""

    claim_namespace: str
    claim_name: str
    node: str


@dataclass(frozen=True, slots=True)
class _Claim:
    key: str
    namespace: str
    name: str
    uid: str
    provisionable: bool
    # Candidate PVs (name, node affinity), smallest first, already matched on class, modes and size.
    candidates: tuple[tuple[str, NodeSelector | None], ...]


@dataclass(slots=True)
class _State(StateData):
    bound: list[NodeSelector | None]
    missing_pv: bool
    delayed: list[_Claim]
    decisions: dict[str, list[BindVolume | ProvisionVolume]] = field(default_factory=dict)

    def clone(self) -> _State:
        return _State(self.bound, self.missing_pv, self.delayed, dict(self.decisions))


def _pv_node_affinity(pv: Mapping[str, Any]) -> NodeSelector | None:
    return compile_selector(((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required"))


def _storage_request(pvc: Mapping[str, Any]) -> int:
    raw = (((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")
    return quantity_value("storage", raw) if raw is not None else 0


def _candidates(pvc: Mapping[str, Any], key: str, snapshot: Cache) -> tuple[tuple[str, NodeSelector | None], ...]:
    spec = pvc.get("spec") or {}
    meta = pvc.get("metadata") or {}
    wanted_class = spec.get("storageClassName") or ""
    wanted_modes = set(spec.get("accessModes") or ())
    wanted_mode = spec.get("volumeMode") or "Filesystem"
    wanted_size = _storage_request(pvc)
    found: list[tuple[int, str, NodeSelector | None]] = []
    for name, pv in snapshot.pvs.items():
        pv_spec = pv.get("spec") or {}
        claim_ref = pv_spec.get("claimRef")
        if claim_ref:
            same = claim_ref.get("namespace") == meta.get("namespace") and claim_ref.get("name") == meta.get("name")
            if not same or (claim_ref.get("uid") and claim_ref.get("uid") != meta.get("uid")):
                continue
        elif snapshot.assumed_pv_claims.get(name, key) != key:
            continue
        if (pv.get("status") or {}).get("phase") in ("Released", "Failed"):
            continue
        if (pv_spec.get("storageClassName") or "") != wanted_class:
            continue
        if (pv_spec.get("volumeMode") or "Filesystem") != wanted_mode:
            continue
        if not wanted_modes <= set(pv_spec.get("accessModes") or ()):
            continue
        size_raw = (pv_spec.get("capacity") or {}).get("storage")
        size = quantity_value("storage", size_raw) if size_raw is not None else 0
        if size < wanted_size:
            continue
        found.append((size, name, _pv_node_affinity(pv)))
    found.sort(key=lambda f: (f[0], f[1]))
    return tuple((name, affinity) for _, name, affinity in found)


class VolumeBinding(PreFilterPlugin, FilterPlugin, ReservePlugin, PreBindPlugin):
    """Checks bound PVs' node affinity and chooses PVs for WaitForFirstConsumer claims."""

    name = "VolumeBinding"

    def events_to_register(self) -> Sequence[ClusterEvent]:
        return (
            ClusterEvent(Resource.PERSISTENT_VOLUME, Action.ADD | Action.UPDATE_OTHER),
            ClusterEvent(Resource.PERSISTENT_VOLUME_CLAIM, Action.ADD | Action.UPDATE_OTHER),
            ClusterEvent(Resource.STORAGE_CLASS, Action.ADD | Action.UPDATE_OTHER),
            ClusterEvent(Resource.NODE, Action.ADD | Action.UPDATE_NODE_LABEL),
        )

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Cache) -> Status | None:
        if not pod.pvc_names:
            return SKIP
        bound: list[NodeSelector | None] = []
        delayed: list[_Claim] = []
        missing_pv = False
        for claim in pod.pvc_names:
            key = f"{pod.namespace}/{claim}"
            pvc = snapshot.pvcs.get(key)
            if pvc is None:
                return unresolvable(f'persistentvolumeclaim "{claim}" not found')
            meta = pvc.get("metadata") or {}
            if meta.get("deletionTimestamp"):
                return unresolvable(f'persistentvolumeclaim "{claim}" is being deleted')
            spec = pvc.get("spec") or {}
            volume = spec.get("volumeName")
            if volume:
                pv = snapshot.pvs.get(volume)
                if pv is None:
                    missing_pv = True
                else:
                    bound.append(_pv_node_affinity(pv))
                continue
            sc = snapshot.storage_classes.get(spec.get("storageClassName") or "")
            if sc is None or sc.get("volumeBindingMode") != WAIT_FOR_FIRST_CONSUMER:
                return unresolvable(UNBOUND_IMMEDIATE)
            delayed.append(
                _Claim(
                    key=key,
                    namespace=pod.namespace,
                    name=claim,
                    uid=meta.get("uid", ""),
                    provisionable=(sc.get("provisioner") or NO_PROVISIONER) != NO_PROVISIONER,
                    candidates=_candidates(pvc, key, snapshot),
                )
            )
        state.write(self.name, _State(bound, missing_pv, delayed))
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        data = state.read(self.name, _State)
        if data.missing_pv:
            return _PV_MISSING
        for affinity in data.bound:
            if affinity is not None and not affinity.matches(node.name, node.labels):
                return _CONFLICT
        if not data.delayed:
            return None
        taken: set[str] = set()
        decisions: list[BindVolume | ProvisionVolume] = []
        for claim in data.delayed:
            chosen = next(
                (
                    name
                    for name, affinity in claim.candidates
                    if name not in taken and (affinity is None or affinity.matches(node.name, node.labels))
                ),
                None,
            )
            if chosen is not None:
                taken.add(chosen)
                decisions.append(BindVolume(chosen, claim.namespace, claim.name, claim.uid))
            elif claim.provisionable:
                decisions.append(ProvisionVolume(claim.namespace, claim.name, node.name))
            else:
                return _NO_PV
        data.decisions[node.name] = decisions
        return None

    def reserve(self, state: CycleState, pod: PodInfo, node: str, snapshot: Cache) -> Status | None:
        data = state.get(self.name, _State)
        if data is None:
            return None
        for decision in data.decisions.get(node, ()):
            if isinstance(decision, BindVolume):
                snapshot.assumed_pv_claims[decision.pv_name] = f"{decision.claim_namespace}/{decision.claim_name}"
        return None

    def unreserve(self, state: CycleState, pod: PodInfo, node: str, snapshot: Cache) -> None:
        data = state.get(self.name, _State)
        if data is None:
            return
        for decision in data.decisions.get(node, ()):
            if isinstance(decision, BindVolume):
                snapshot.assumed_pv_claims.pop(decision.pv_name, None)

    def pre_bind(self, state: CycleState, pod: PodInfo, node: str) -> list[Any]:
        data = state.get(self.name, _State)
        if data is None:
            return []
        return list(data.decisions.get(node, ()))
