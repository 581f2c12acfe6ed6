"""ReplicaSet and ReplicationController: keep ``spec.replicas`` active pods matching the selector.

One sync: claim pods by selector, create (slow start, at most 500) or delete (worst pods first) to
close the gap unless earlier writes are still unobserved, and write status. The two kinds differ
only in how the selector is spelled, so one core serves both.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from api import labels
from api.labels import Selector
from client.cache import split_key
from client.rest import ResourceRef
from controller_manager import pods as podstate
from controller_manager import timestamps
from controller_manager.actions import (
    NORMAL,
    Action,
    Create,
    Delete,
    Expect,
    RequeueAfter,
    UpdateStatus,
    event,
)
from controller_manager.expectations import Expectations
from controller_manager.ownership import claim, controller_ref
from controller_manager.view import PODS, REPLICA_SETS, REPLICATION_CONTROLLERS, Obj, View, key_of, meta

BURST_REPLICAS: Final = 500
"""Upstream's burstReplicas: the most pods one sync creates or deletes."""

SLOW_START_INITIAL_BATCH: Final = 1


@dataclass(frozen=True, slots=True)
class Kind:
    """What differs between ReplicaSet and ReplicationController."""

    resource: ResourceRef
    selector_is_label_selector: bool

    def selector(self, obj: Obj) -> Selector:
        """The object's selector, whichever way this kind spells it."""
        sel = (obj.get("spec") or {}).get("selector")
        if self.selector_is_label_selector:
            return labels.from_label_selector(sel)
        if not sel:
            return labels.NOTHING
        return labels.from_label_selector({"matchLabels": sel})


REPLICA_SET: Final = Kind(REPLICA_SETS, True)
REPLICATION_CONTROLLER: Final = Kind(REPLICATION_CONTROLLERS, False)


def slow_start_batches(count: int, initial: int = SLOW_START_INITIAL_BATCH) -> list[int]:
    """Batch sizes 1, 2, 4, … summing to ``count``: a quota or admission failure costs one call, not 500."""
    sizes = []
    size = initial
    remaining = count
    while remaining > 0:
        take = min(size, remaining)
        sizes.append(take)
        remaining -= take
        size *= 2
    return sizes


def pod_from_template(owner: Obj, template: Obj, generate_name: str) -> Obj:
    """A pod for ``owner`` from its template: labels, annotations and spec copied, controller ownerReference."""
    tmeta = template.get("metadata") or {}
    pod_meta: Obj = {"generateName": generate_name, "namespace": meta(owner).get("namespace"),
                     "ownerReferences": [controller_ref(owner)]}
    for field_name in ("labels", "annotations"):
        if tmeta.get(field_name):
            pod_meta[field_name] = dict(tmeta[field_name])
    if tmeta.get("finalizers"):
        pod_meta["finalizers"] = list(tmeta["finalizers"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta,
            "spec": copy.deepcopy(template.get("spec") or {})}


def calculate_status(rs: Obj, filtered: list[Obj], now: datetime, write_error: str | None = None) -> Obj:
    """Status as upstream computes it from the claimed active pods; ``write_error`` (the driver's last
    failed pod create/delete for this key) raises the ReplicaFailure condition, its absence clears it."""
    spec = rs.get("spec") or {}
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    status = copy.deepcopy(rs.get("status") or {})
    # one pass, each pod's conditions read once: this runs on every pod event of a 5,000-pod ReplicaSet
    fully_labeled = ready = available = 0
    template_items = template_labels.items()
    for p in filtered:
        pod_labels = meta(p).get("labels") or {}
        if all(pod_labels.get(k) == v for k, v in template_items):
            fully_labeled += 1
        if podstate.is_ready(p):
            ready += 1
            if min_ready == 0 or podstate.is_available(p, min_ready, now):
                available += 1
    status.update({
        "replicas": len(filtered),
        "fullyLabeledReplicas": fully_labeled,
        "readyReplicas": ready,
        "availableReplicas": available,
        "observedGeneration": meta(rs).get("generation", 0),
    })
    conds = [c for c in status.get("conditions") or [] if c.get("type") != "ReplicaFailure"]
    failing = next((c for c in status.get("conditions") or [] if c.get("type") == "ReplicaFailure"), None)
    if write_error is not None:
        if failing is None:
            reason = "FailedCreate" if len(filtered) < int(spec.get("replicas", 1)) else "FailedDelete"
            failing = {"type": "ReplicaFailure", "status": "True", "reason": reason, "message": write_error,
                       "lastTransitionTime": timestamps.format_time(now)}
        conds.append(failing)
    if conds:
        status["conditions"] = conds
    else:
        status.pop("conditions", None)
    return status


def reconcile(view: View, kind: Kind, key: str, now: datetime, expectations: Expectations, *,
              write_error: str | None = None) -> list[Action]:
    """One sync of the ReplicaSet (or ReplicationController) with work-queue key ``namespace/name``;
    ``write_error`` is the error of the previous sync's failed pod writes, if any."""
    namespace, name = split_key(key)
    rs = view.get(kind.resource, namespace, name)
    if rs is None:
        return []
    spec = rs.get("spec") or {}
    selector = kind.selector(rs)
    candidates = view.list(PODS, namespace)
    # As upstream, only active pods are claimed: finished or deleting ones keep whatever owner they had.
    claimed = claim(rs, selector, [p for p in candidates if podstate.is_active(p)], PODS)
    actions: list[Action] = list(claimed.actions)
    filtered = claimed.claimed
    if expectations.satisfied(key, now) and meta(rs).get("deletionTimestamp") is None:
        actions += _manage_replicas(rs, filtered, candidates, now)
    status = calculate_status(rs, filtered, now, write_error)
    if status != (rs.get("status") or {}):
        actions.append(UpdateStatus(kind.resource, {**rs, "status": status}))
    min_ready = int(spec.get("minReadySeconds") or 0)
    if (min_ready > 0 and status["readyReplicas"] == int(spec.get("replicas", 1))
            and status["availableReplicas"] != status["readyReplicas"]):
        actions.append(RequeueAfter(key, float(min_ready)))
    return actions


def _manage_replicas(rs: Obj, filtered: list[Obj], related: list[Obj], now: datetime) -> list[Action]:
    key = key_of(rs)
    desired = int((rs.get("spec") or {}).get("replicas", 1))
    diff = len(filtered) - desired
    actions: list[Action] = []
    if diff < 0:
        count = min(-diff, BURST_REPLICAS)
        actions.append(Expect(key, creations=count))
        template = (rs.get("spec") or {}).get("template") or {}
        for batch, size in enumerate(slow_start_batches(count)):
            actions += [Create(PODS, pod_from_template(rs, template, f"{meta(rs)['name']}-"), batch, key)
                        for _ in range(size)]
    elif diff > 0:
        count = min(diff, BURST_REPLICAS)
        victims = podstate.deletion_order(filtered, [p for p in related if podstate.is_active(p)], now)[:count]
        actions.append(Expect(key, deletions=tuple(key_of(p) for p in victims)))
        actions += [Delete(PODS, meta(p).get("namespace"), meta(p)["name"], meta(p).get("uid"), expectations_key=key)
                    for p in victims]
        actions += [event(rs, NORMAL, "SuccessfulDelete", f"Deleted pod: {meta(p)['name']}") for p in victims]
    return actions

