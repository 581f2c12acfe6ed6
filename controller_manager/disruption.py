"""PodDisruptionBudget status: how many selected pods are healthy, how many must be, how many may go.

The eviction subresource reads ``disruptionsAllowed``; this keeps it true to the pods. Percentages
and maxUnavailable are resolved against the scale of the pods' controllers (a ReplicaSet owned by a
Deployment counts as the Deployment), as upstream does, so a half-finished scale-up does not open
room for evictions. Evictions the apiserver granted are remembered in ``disruptedPods`` until the
pod is seen going, or two minutes pass.
"""

from __future__ import annotations

import copy
import math
from datetime import datetime, timedelta
from typing import Final

from api import labels
from client.cache import split_key
from client.rest import ResourceRef
from controller_manager import pods as podstate
from controller_manager import timestamps
from controller_manager.actions import WARNING, Action, UpdateStatus, event
from controller_manager.ownership import controller_of
from controller_manager.view import (
    DEPLOYMENTS,
    POD_DISRUPTION_BUDGETS,
    PODS,
    REPLICA_SETS,
    REPLICATION_CONTROLLERS,
    STATEFUL_SETS,
    Obj,
    View,
    meta,
)

DELETION_TIMEOUT: Final = timedelta(minutes=2)
_SCALABLE: Final[dict[str, ResourceRef]] = {
    "ReplicaSet": REPLICA_SETS, "ReplicationController": REPLICATION_CONTROLLERS, "StatefulSet": STATEFUL_SETS,
    "Deployment": DEPLOYMENTS,
}


def _scale_of(view: View, pod: Obj) -> tuple[str, int] | None:
    """(controller uid, its replicas) for the pod's scalable controller, or None."""
    ref = controller_of(pod)
    ns = meta(pod).get("namespace")
    while ref is not None:
        res = _SCALABLE.get(ref.get("kind", ""))
        if res is None:
            return None
        owner = view.get(res, ns, ref.get("name", ""))
        if owner is None or meta(owner).get("uid") != ref.get("uid"):
            return None
        parent = controller_of(owner)
        if ref.get("kind") == "ReplicaSet" and parent is not None and parent.get("kind") == "Deployment":
            ref = parent
            continue
        return str(meta(owner).get("uid")), int((owner.get("spec") or {}).get("replicas", 1))
    return None


def _int_or_percent(value: int | str, total: int, round_up: bool) -> int:
    if isinstance(value, int):
        return value
    if value.endswith("%"):
        pct = int(value[:-1]) * total / 100
        return math.ceil(pct) if round_up else math.floor(pct)
    return int(value)


def reconcile(view: View, key: str, now: datetime) -> list[Action]:
    """One sync of the PodDisruptionBudget ``key``."""
    namespace, name = split_key(key)
    pdb = view.get(POD_DISRUPTION_BUDGETS, namespace, name)
    if pdb is None:
        return []
    spec = pdb.get("spec") or {}
    pods = view.list(PODS, namespace, labels.from_label_selector(spec.get("selector")))
    new = copy.deepcopy(pdb)
    status: Obj = new.setdefault("status", {})
    actions: list[Action] = []
    expected: int | None
    if spec.get("maxUnavailable") is not None or isinstance(spec.get("minAvailable"), str):
        scales: dict[str, int] = {}
        expected = 0
        for pod in pods:
            scale = _scale_of(view, pod)
            if scale is None:
                expected = None
                break
            scales[scale[0]] = scale[1]
        if expected is not None:
            expected = sum(scales.values())
    else:
        expected = len(pods)
    if expected is None:
        actions.append(event(pdb, WARNING, "CalculateExpectedPodCountFailed",
                             "Failed to calculate the number of expected pods: found no controller for some pods"))
        desired = 0
        expected = 0
        failed = True
    else:
        failed = False
        if spec.get("maxUnavailable") is not None:
            desired = max(expected - _int_or_percent(spec["maxUnavailable"], expected, True), 0)
        elif spec.get("minAvailable") is not None:
            desired = _int_or_percent(spec["minAvailable"], expected, True)
        else:
            desired = 0
    disrupted = {}
    for pod_name, when in (status.get("disruptedPods") or {}).items():
        live: Obj | None = next((p for p in pods if meta(p)["name"] == pod_name), None)
        at = timestamps.parse(when)
        if live is None or podstate.is_terminating(live) or at is None or at + DELETION_TIMEOUT < now:
            continue
        disrupted[pod_name] = when
    healthy = sum(1 for p in pods if podstate.is_ready(p) and not podstate.is_terminating(p)
                  and meta(p)["name"] not in disrupted)
    allowed = 0 if failed else max(healthy - desired, 0)
    status.update({"currentHealthy": healthy, "desiredHealthy": desired, "expectedPods": expected,
                   "disruptionsAllowed": allowed, "observedGeneration": meta(pdb).get("generation", 0)})
    if disrupted:
        status["disruptedPods"] = disrupted
    else:
        status.pop("disruptedPods", None)
    cond = ("True", "SufficientPods", "") if allowed > 0 else ("False", "InsufficientPods", "")
    if failed:
        cond = ("False", "SyncFailed", "found no controllers for some pods")
    conds = status.setdefault("conditions", [])
    current = next((c for c in conds if c.get("type") == "DisruptionAllowed"), None)
    if current is None or (current.get("status"), current.get("reason"), current.get("message", "")) != cond:
        fresh = {"type": "DisruptionAllowed", "status": cond[0], "reason": cond[1], "message": cond[2],
                 "observedGeneration": meta(pdb).get("generation", 0),
                 "lastTransitionTime": timestamps.format_time(now) if current is None or
                 current.get("status") != cond[0] else current.get("lastTransitionTime")}
        status["conditions"] = [c for c in conds if c.get("type") != "DisruptionAllowed"] + [fresh]
    if status != (pdb.get("status") or {}):
        actions.append(UpdateStatus(POD_DISRUPTION_BUDGETS, new))
    return actions
