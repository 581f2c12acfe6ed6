"""PersistentVolume binder: match claims to volumes, bind both sides, release and reclaim.

A claim binds the smallest Available volume that satisfies it (storage class, access modes,
volume mode, size, label selector), or the volume it or the volume's claimRef names; binding writes
the volume first (claimRef, then phase) and the claim second (volumeName with the bind annotations,
then phase), as upstream, so a crash in between leaves a state the next sync completes. A claim of a
WaitForFirstConsumer class waits for the scheduler's selected-node annotation; with no volume and a
provisioner, the claim is annotated for that provisioner. A volume whose claim is gone is Released,
then deleted (Delete policy) or kept (Retain).
"""

from __future__ import annotations

import copy
from typing import Final

from api import labels
from api.quantity import Quantity
from client.cache import split_key
from controller_manager.actions import NORMAL, WARNING, Action, Delete, Update, UpdateStatus, event
from controller_manager.view import PERSISTENT_VOLUME_CLAIMS, PERSISTENT_VOLUMES, STORAGE_CLASSES, Obj, View, meta

BIND_COMPLETED: Final = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER: Final = "pv.kubernetes.io/bound-by-controller"
SELECTED_NODE: Final = "volume.kubernetes.io/selected-node"
STORAGE_PROVISIONER: Final = "volume.kubernetes.io/storage-provisioner"
BETA_STORAGE_PROVISIONER: Final = "volume.beta.kubernetes.io/storage-provisioner"
PROVISIONED_BY: Final = "pv.kubernetes.io/provisioned-by"


def _class_of(obj: Obj) -> str:
    return str((obj.get("spec") or {}).get("storageClassName") or "")


def _size(obj: Obj, path: str) -> Quantity:
    spec = obj.get("spec") or {}
    text = (spec.get("capacity") or {}).get("storage") if path == "capacity" else \
        ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    return Quantity.parse(str(text or "0"))


def matches(pvc: Obj, pv: Obj) -> bool:
    """Whether ``pv`` could serve ``pvc`` (ignoring who it is bound to)."""
    cspec, vspec = pvc.get("spec") or {}, pv.get("spec") or {}
    if _class_of(pvc) != _class_of(pv):
        return False
    if cspec.get("volumeMode", "Filesystem") != vspec.get("volumeMode", "Filesystem"):
        return False
    if not set(cspec.get("accessModes") or []) <= set(vspec.get("accessModes") or []):
        return False
    if _size(pv, "capacity") < _size(pvc, "requests"):
        return False
    selector = cspec.get("selector")
    return selector is None or labels.from_label_selector(selector).matches(meta(pv).get("labels"))


def _claim_ref(pvc: Obj) -> Obj:
    m = meta(pvc)
    return {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": m.get("namespace"),
            "name": m["name"], "uid": m.get("uid"), "resourceVersion": m.get("resourceVersion")}


def _phase(obj: Obj) -> str:
    return str((obj.get("status") or {}).get("phase") or "")


def _refers_to(pv: Obj, pvc: Obj) -> bool:
    ref = (pv.get("spec") or {}).get("claimRef") or {}
    return (ref.get("namespace") == meta(pvc).get("namespace") and ref.get("name") == meta(pvc)["name"]
            and ref.get("uid") in (None, "", meta(pvc).get("uid")))


def find_volume(view: View, pvc: Obj) -> Obj | None:
    """The volume pre-bound to this claim, else the smallest Available match."""
    volumes = view.list(PERSISTENT_VOLUMES)
    for pv in volumes:
        if _refers_to(pv, pvc) and matches(pvc, pv):
            return pv
    free = [pv for pv in volumes if not (pv.get("spec") or {}).get("claimRef") and _phase(pv) in ("", "Available")
            and meta(pv).get("deletionTimestamp") is None and matches(pvc, pv)]
    return min(free, key=lambda pv: (_size(pv, "capacity"), meta(pv)["name"]), default=None)


def reconcile_claim(view: View, key: str) -> list[Action]:
    """One sync of PersistentVolumeClaim ``key``."""
    namespace, name = split_key(key)
    pvc = view.get(PERSISTENT_VOLUME_CLAIMS, namespace, name)
    if pvc is None or meta(pvc).get("deletionTimestamp") is not None:
        return []
    wanted = (pvc.get("spec") or {}).get("volumeName")
    if wanted:
        pv = view.get(PERSISTENT_VOLUMES, None, wanted)
        if pv is None:
            return _set_claim_phase(pvc, "Lost") if _phase(pvc) == "Bound" else []
        if (pv.get("spec") or {}).get("claimRef") and not _refers_to(pv, pvc):
            return [event(pvc, WARNING, "FailedBinding", "volume is already bound to another claim")]
        return _bind(pvc, pv, by_controller=False)
    sc = view.get(STORAGE_CLASSES, None, _class_of(pvc)) if _class_of(pvc) else None
    delay = sc is not None and sc.get("volumeBindingMode") == "WaitForFirstConsumer" and \
        SELECTED_NODE not in (meta(pvc).get("annotations") or {})
    if delay:
        return [event(pvc, NORMAL, "WaitForFirstConsumer",
                      "waiting for first consumer to be created before binding")]
    pv = find_volume(view, pvc)
    if pv is not None:
        return _bind(pvc, pv, by_controller=True)
    if sc is not None and sc.get("provisioner"):
        provisioner = str(sc["provisioner"])
        ann = meta(pvc).get("annotations") or {}
        if ann.get(STORAGE_PROVISIONER) == provisioner:
            return []
        updated = copy.deepcopy(pvc)
        updated["metadata"]["annotations"] = {**ann, STORAGE_PROVISIONER: provisioner,
                                              BETA_STORAGE_PROVISIONER: provisioner}
        return [Update(PERSISTENT_VOLUME_CLAIMS, updated),
                event(pvc, NORMAL, "ExternalProvisioning",
                      f"Waiting for a volume to be created either by the external provisioner '{provisioner}' "
                      "or manually by the system administrator. If volume creation is delayed, please verify "
                      "that the provisioner is running and correctly registered.")]
    message = ("no persistent volumes available for this claim and no storage class is set" if sc is None
               else f'storageclass.storage.k8s.io "{_class_of(pvc)}" not found' if not _class_of(pvc) else
               "no persistent volumes available for this claim")
    return [*_set_claim_phase(pvc, "Pending"), event(pvc, NORMAL, "FailedBinding", message)]


def _set_claim_phase(pvc: Obj, phase: str) -> list[Action]:
    if _phase(pvc) == phase:
        return []
    updated = copy.deepcopy(pvc)
    updated.setdefault("status", {})["phase"] = phase
    return [UpdateStatus(PERSISTENT_VOLUME_CLAIMS, updated)]


def _bind(pvc: Obj, pv: Obj, by_controller: bool) -> list[Action]:
    actions: list[Action] = []
    if not _refers_to(pv, pvc) or not ((pv.get("spec") or {}).get("claimRef") or {}).get("uid"):
        new_pv = copy.deepcopy(pv)
        new_pv["spec"]["claimRef"] = _claim_ref(pvc)
        if by_controller:
            new_pv["metadata"].setdefault("annotations", {})[BOUND_BY_CONTROLLER] = "yes"
        actions.append(Update(PERSISTENT_VOLUMES, new_pv))
        pv = new_pv
    if _phase(pv) != "Bound":
        bound_pv = copy.deepcopy(pv)
        bound_pv.setdefault("status", {})["phase"] = "Bound"
        actions.append(UpdateStatus(PERSISTENT_VOLUMES, bound_pv))
    ann = meta(pvc).get("annotations") or {}
    if (pvc.get("spec") or {}).get("volumeName") != meta(pv)["name"] or ann.get(BIND_COMPLETED) != "yes":
        new_pvc = copy.deepcopy(pvc)
        new_pvc["spec"]["volumeName"] = meta(pv)["name"]
        new_ann = {**ann, BIND_COMPLETED: "yes"}
        if by_controller:
            new_ann[BOUND_BY_CONTROLLER] = "yes"
        new_pvc["metadata"]["annotations"] = new_ann
        actions.append(Update(PERSISTENT_VOLUME_CLAIMS, new_pvc))
        pvc = new_pvc
    vspec = pv.get("spec") or {}
    status = {"phase": "Bound", "accessModes": list(vspec.get("accessModes") or []),
              "capacity": dict(vspec.get("capacity") or {})}
    if (pvc.get("status") or {}) != status:
        actions.append(UpdateStatus(PERSISTENT_VOLUME_CLAIMS, {**pvc, "status": status}))
    return actions


def reconcile_volume(view: View, name: str) -> list[Action]:
    """One sync of PersistentVolume ``name``: Available when free, Released (then reclaimed) when its
    claim is gone."""
    pv = view.get(PERSISTENT_VOLUMES, None, name)
    if pv is None or meta(pv).get("deletionTimestamp") is not None:
        return []
    ref = (pv.get("spec") or {}).get("claimRef")
    if not ref:
        return _set_volume_phase(pv, "Available")
    pvc = view.get(PERSISTENT_VOLUME_CLAIMS, ref.get("namespace"), ref.get("name", ""))
    if pvc is not None and (not ref.get("uid") or meta(pvc).get("uid") == ref.get("uid")):
        return []  # bound or pre-bound: the claim's sync finishes the job
    if not ref.get("uid"):
        return _set_volume_phase(pv, "Available")  # pre-bound to a claim that does not exist yet
    actions = _set_volume_phase(pv, "Released")
    policy = (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy", "Retain")
    if policy == "Delete":
        actions.append(Delete(PERSISTENT_VOLUMES, None, name, meta(pv).get("uid")))
    elif policy == "Recycle":
        actions.append(event(pv, WARNING, "VolumeFailedRecycle", "Recycle is deprecated and not supported"))
    return actions


def _set_volume_phase(pv: Obj, phase: str) -> list[Action]:
    if _phase(pv) == phase:
        return []
    updated = copy.deepcopy(pv)
    updated.setdefault("status", {})["phase"] = phase
    return [UpdateStatus(PERSISTENT_VOLUMES, updated)]
