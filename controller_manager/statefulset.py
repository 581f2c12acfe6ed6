"""StatefulSet: pods with stable ordinal names, stable storage and ordered, partitioned updates.

Pod ``<set>-<i>`` gets hostname ``<set>-<i>`` in the governing Service's subdomain and claims
``<template>-<set>-<i>`` made from volumeClaimTemplates (kept by default when pods or the set go,
per persistentVolumeClaimRetentionPolicy). With OrderedReady, pods are created one at a time in
ordinal order, each only after the previous is Running and Ready, and removed in reverse; Parallel
does both at once. RollingUpdate replaces pods from the highest ordinal down to the partition,
one at a time, and never while a pod is unhealthy; OnDelete waits for the user.
"""

from __future__ import annotations

import copy
import re
from datetime import datetime
from typing import Final

from api import labels
from client.cache import split_key
from controller_manager import pods as podstate
from controller_manager.actions import Action, Create, Delete, Expect, Patch, UpdateStatus
from controller_manager.expectations import Expectations
from controller_manager.history import REVISION_HASH, sync_revision, truncate_history
from controller_manager.ownership import claim, controller_ref
from controller_manager.view import (
    CONTROLLER_REVISIONS,
    PERSISTENT_VOLUME_CLAIMS,
    PODS,
    STATEFUL_SETS,
    Obj,
    View,
    key_of,
    meta,
)

POD_NAME_LABEL: Final = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL: Final = "apps.kubernetes.io/pod-index"


def ordinal_of(set_name: str, pod: Obj) -> int | None:
    """The ordinal in ``<set>-<ordinal>``, or None for a pod not named like the set's."""
    m = re.fullmatch(re.escape(set_name) + r"-(\d+)", meta(pod).get("name", ""))
    return int(m.group(1)) if m else None


def claim_name(template: Obj, set_name: str, ordinal: int) -> str:
    """``<template>-<set>-<ordinal>``: the claim a pod of this ordinal mounts."""
    return f"{meta(template)['name']}-{set_name}-{ordinal}"


def _template_of(view: View, sts: Obj, revision: str) -> Obj:
    """The pod template an older revision recorded (pods below the partition stay on it)."""
    rev = view.get(CONTROLLER_REVISIONS, meta(sts).get("namespace"), revision)
    if rev is None:
        return copy.deepcopy((sts.get("spec") or {}).get("template") or {})
    template = copy.deepcopy(((rev.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    return template


def new_pod(sts: Obj, template: Obj, ordinal: int, revision: str) -> Obj:
    """Pod ``<set>-<ordinal>`` of a revision: identity labels, hostname/subdomain, its claims mounted."""
    name = meta(sts)["name"]
    spec = sts.get("spec") or {}
    pod_name = f"{name}-{ordinal}"
    tmeta = template.get("metadata") or {}
    lbls = {**(tmeta.get("labels") or {}), POD_NAME_LABEL: pod_name, POD_INDEX_LABEL: str(ordinal),
            REVISION_HASH: revision}
    pod_meta: Obj = {"name": pod_name, "namespace": meta(sts).get("namespace"), "labels": lbls,
                     "ownerReferences": [controller_ref(sts)]}
    if tmeta.get("annotations"):
        pod_meta["annotations"] = dict(tmeta["annotations"])
    pod_spec = copy.deepcopy(template.get("spec") or {})
    pod_spec["hostname"] = pod_name
    if spec.get("serviceName"):
        pod_spec["subdomain"] = spec["serviceName"]
    claims = spec.get("volumeClaimTemplates") or []
    names = {meta(t)["name"] for t in claims}
    pod_spec["volumes"] = [v for v in pod_spec.get("volumes") or [] if v.get("name") not in names] + [
        {"name": meta(t)["name"], "persistentVolumeClaim": {"claimName": claim_name(t, name, ordinal)}}
        for t in claims]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": pod_spec}


def _missing_claims(view: View, sts: Obj, ordinal: int) -> list[Action]:
    spec = sts.get("spec") or {}
    name = meta(sts)["name"]
    ns = meta(sts).get("namespace")
    policy = spec.get("persistentVolumeClaimRetentionPolicy") or {}
    out: list[Action] = []
    for t in spec.get("volumeClaimTemplates") or []:
        pvc_name = claim_name(t, name, ordinal)
        if view.get(PERSISTENT_VOLUME_CLAIMS, ns, pvc_name) is not None:
            continue
        lbls = {**(meta(t).get("labels") or {}), **((spec.get("selector") or {}).get("matchLabels") or {})}
        pvc_meta: Obj = {"name": pvc_name, "namespace": ns, "labels": lbls}
        if meta(t).get("annotations"):
            pvc_meta["annotations"] = dict(meta(t)["annotations"])
        if policy.get("whenDeleted") == "Delete":
            pvc_meta["ownerReferences"] = [{**controller_ref(sts), "controller": False}]
        out.append(Create(PERSISTENT_VOLUME_CLAIMS, {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                                      "metadata": pvc_meta,
                                                      "spec": copy.deepcopy(t.get("spec") or {})}))
    return out


def _claims_follow_pod(view: View, sts: Obj, pod: Obj) -> list[Action]:
    """With ``whenScaled: Delete``, a condemned pod becomes the owner of its claims before it goes, so
    the garbage collector removes them after it (and a scale-up that comes first keeps them)."""
    spec = sts.get("spec") or {}
    if (spec.get("persistentVolumeClaimRetentionPolicy") or {}).get("whenScaled") != "Delete":
        return []
    ordinal = ordinal_of(meta(sts)["name"], pod)
    out: list[Action] = []
    for t in spec.get("volumeClaimTemplates") or []:
        pvc = view.get(PERSISTENT_VOLUME_CLAIMS, meta(sts).get("namespace"),
                       claim_name(t, meta(sts)["name"], ordinal or 0))
        if pvc is None or any(r.get("uid") == meta(pod).get("uid") for r in meta(pvc).get("ownerReferences") or []):
            continue
        ref = {"apiVersion": "v1", "kind": "Pod", "name": meta(pod)["name"], "uid": meta(pod).get("uid"),
               "controller": False, "blockOwnerDeletion": True}
        out.append(Patch(PERSISTENT_VOLUME_CLAIMS, meta(pvc).get("namespace"), meta(pvc)["name"],
                         {"metadata": {"ownerReferences": [ref], "uid": meta(pvc).get("uid")}}))
    return out


def _healthy(pod: Obj, min_ready: int, now: datetime) -> bool:
    return (podstate.phase(pod) == podstate.RUNNING and podstate.is_available(pod, min_ready, now)
            and not podstate.is_terminating(pod))


def _revision(pod: Obj) -> str:
    return str((meta(pod).get("labels") or {}).get(REVISION_HASH, ""))


def reconcile(view: View, key: str, now: datetime, expectations: Expectations) -> list[Action]:
    """One sync of the StatefulSet with work-queue key ``namespace/name``."""
    namespace, name = split_key(key)
    sts = view.get(STATEFUL_SETS, namespace, name)
    if sts is None:
        return []
    spec = sts.get("spec") or {}
    owned = claim(sts, labels.from_label_selector(spec.get("selector")), view.list(PODS, namespace), PODS)
    actions: list[Action] = list(owned.actions)
    pods = [p for p in owned.claimed if ordinal_of(name, p) is not None]
    update_name, rev_actions = sync_revision(view, sts, STATEFUL_SETS)
    actions += rev_actions
    if update_name is None:
        return actions
    update_rev = update_name
    current_rev = str((sts.get("status") or {}).get("currentRevision") or update_rev)
    if expectations.satisfied(key_of(sts), now) and meta(sts).get("deletionTimestamp") is None:
        actions += _sync_pods(view, sts, pods, (current_rev, update_rev), now)
    actions += _status(sts, pods, (current_rev, update_rev), now)
    live = {_revision(p) for p in pods} | {current_rev, update_rev}
    actions += truncate_history(view, sts, live, int(spec.get("revisionHistoryLimit", 10)))
    return actions


def _sync_pods(view: View, sts: Obj, pods: list[Obj], revisions: tuple[str, str], now: datetime) -> list[Action]:
    current_rev, update_rev = revisions
    spec = sts.get("spec") or {}
    name = meta(sts)["name"]
    key = key_of(sts)
    replicas = int(spec.get("replicas", 1))
    start = int((spec.get("ordinals") or {}).get("start", 0))
    ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
    min_ready = int(spec.get("minReadySeconds") or 0)
    strategy = spec.get("updateStrategy") or {}
    rolling = strategy.get("type", "RollingUpdate") == "RollingUpdate"
    partition = int((strategy.get("rollingUpdate") or {}).get("partition", 0))
    by_ordinal = {ordinal_of(name, p): p for p in pods}
    wanted = range(start, start + replicas)
    condemned = sorted((p for o, p in by_ordinal.items() if o is not None and o not in wanted),
                       key=lambda p: -(ordinal_of(name, p) or 0))
    out: list[Action] = []
    creates: list[Obj] = []
    deletes: list[Obj] = []

    def finish() -> list[Action]:
        if creates or deletes:
            out.insert(0, Expect(key, creations=len(creates), deletions=tuple(key_of(p) for p in deletes)))
        out.extend(Create(PODS, body, None, key) for body in creates)
        out.extend(Delete(PODS, meta(p).get("namespace"), meta(p)["name"], meta(p).get("uid"), expectations_key=key)
                   for p in deletes)
        return out

    for ordinal in wanted:
        pod = by_ordinal.get(ordinal)
        if pod is None:
            rev = update_rev if not rolling or ordinal - start >= partition or current_rev == update_rev \
                else current_rev
            out.extend(_missing_claims(view, sts, ordinal))
            template = copy.deepcopy(spec.get("template") or {}) if rev == update_rev else \
                _template_of(view, sts, rev)
            creates.append(new_pod(sts, template, ordinal, rev))
            if ordered:
                return finish()
            continue
        if podstate.phase(pod) == podstate.FAILED and not podstate.is_terminating(pod):
            deletes.append(pod)
            if ordered:
                return finish()
            continue
        if ordered and not _healthy(pod, min_ready, now):
            return finish()  # wait: the next ordinal starts only after this one is Running and Ready
    for pod in condemned:
        if ordered and any(not _healthy(p, min_ready, now) for p in pods if p is not pod):
            return finish()
        if not podstate.is_terminating(pod):
            out.extend(_claims_follow_pod(view, sts, pod))
            deletes.append(pod)
        if ordered:
            return finish()
    if creates or deletes or not rolling:
        return finish()
    healthy = all(_healthy(by_ordinal[o], min_ready, now) for o in wanted if o in by_ordinal)
    for ordinal in sorted(wanted, reverse=True):
        if ordinal - start < partition:
            break
        pod = by_ordinal[ordinal]
        if _revision(pod) != update_rev and not podstate.is_terminating(pod):
            if healthy:
                deletes.append(pod)
            return finish()
        if not _healthy(pod, min_ready, now):
            return finish()
    return finish()


def _status(sts: Obj, pods: list[Obj], revisions: tuple[str, str], now: datetime) -> list[Action]:
    current_rev, update_rev = revisions
    min_ready = int((sts.get("spec") or {}).get("minReadySeconds") or 0)
    live = [p for p in pods if not podstate.is_terminating(p)]
    status = dict(sts.get("status") or {})
    status.update({
        "observedGeneration": meta(sts).get("generation", 0),
        "replicas": len(live),
        "readyReplicas": sum(1 for p in live if podstate.is_ready(p)),
        "availableReplicas": sum(1 for p in live if podstate.is_available(p, min_ready, now)),
        "currentReplicas": sum(1 for p in live if _revision(p) == current_rev),
        "updatedReplicas": sum(1 for p in live if _revision(p) == update_rev),
        "currentRevision": current_rev,
        "updateRevision": update_rev,
    })
    desired = int((sts.get("spec") or {}).get("replicas", 1))
    if status["updatedReplicas"] == status["replicas"] == status["readyReplicas"] == desired:
        status["currentRevision"] = update_rev
        status["currentReplicas"] = status["updatedReplicas"]
    if status == (sts.get("status") or {}):
        return []
    return [UpdateStatus(STATEFUL_SETS, {**sts, "status": status})]

