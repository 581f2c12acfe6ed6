"""Pod state as controllers judge it: active, ready, available (minReadySeconds), and which to delete first."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from controller_manager import timestamps
from controller_manager.view import Obj, meta

SUCCEEDED = "Succeeded"
FAILED = "Failed"
RUNNING = "Running"
PENDING = "Pending"
UNKNOWN = "Unknown"


def phase(pod: Obj) -> str:
    """The pod's phase; a pod without status is Pending."""
    return str((pod.get("status") or {}).get("phase") or PENDING)


def is_terminating(pod: Obj) -> bool:
    """Deletion has begun (graceful termination in progress)."""
    return meta(pod).get("deletionTimestamp") is not None


def is_active(pod: Obj) -> bool:
    """Counts toward a workload's replicas: not finished and not being deleted."""
    return phase(pod) not in (SUCCEEDED, FAILED) and not is_terminating(pod)


def condition(obj: Obj, type_: str) -> Obj | None:
    """The status condition of this type, or None."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            found: Obj = cond
            return found
    return None


def is_ready(pod: Obj) -> bool:
    """The Ready condition is True."""
    cond = condition(pod, "Ready")
    return cond is not None and cond.get("status") == "True"


def ready_since(pod: Obj) -> datetime | None:
    """When the pod last became ready; None when it is not ready."""
    cond = condition(pod, "Ready")
    if cond is None or cond.get("status") != "True":
        return None
    return timestamps.parse(cond.get("lastTransitionTime"))


def is_available(pod: Obj, min_ready_seconds: int, now: datetime) -> bool:
    """Ready for at least minReadySeconds (strictly longer, as upstream compares with Before)."""
    if not is_ready(pod):
        return False
    if min_ready_seconds == 0:
        return True
    since = ready_since(pod)
    return since is not None and since + timedelta(seconds=min_ready_seconds) < now


def restart_count(pod: Obj) -> int:
    """The highest container restart count (what ranks flapping pods for deletion)."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return max((int(s.get("restartCount", 0)) for s in statuses), default=0)


def created(pod: Obj) -> datetime | None:
    """The pod's creationTimestamp."""
    return timestamps.parse(meta(pod).get("creationTimestamp"))


_PHASE_RANK = {PENDING: 0, UNKNOWN: 1, RUNNING: 2}


def _log_bucket(when: datetime | None, now: datetime) -> float:
    """Pods of similar age are equally good victims (upstream's LogarithmicScaleDown): compare ages
    by their power-of-two bucket, so a random one among the youngest goes rather than strictly the newest."""
    if when is None:
        return -math.inf
    age = max((now - when).total_seconds(), 0.0)
    return float(math.floor(math.log2(age))) if age >= 1 else -1.0


def deletion_order(pods: Sequence[Obj], related: Sequence[Obj], now: datetime) -> list[Obj]:
    """``pods`` sorted best-to-delete first, as upstream ranks them: unassigned before assigned, Pending
    before Unknown before Running, not ready before ready, more siblings on the same node first, ready
    for less time first, more restarts first, newer first."""
    per_node: dict[str, int] = {}
    for p in related:
        node = (p.get("spec") or {}).get("nodeName")
        if node and is_active(p):
            per_node[node] = per_node.get(node, 0) + 1

    def rank(pod: Obj) -> tuple[Any, ...]:
        node = (pod.get("spec") or {}).get("nodeName")
        since = ready_since(pod)
        ready_for = (now - since).total_seconds() if since else 0.0
        return (
            1 if node else 0,
            _PHASE_RANK.get(phase(pod), 3),
            1 if is_ready(pod) else 0,
            -per_node.get(node, 0) if node else 0,
            ready_for,
            -restart_count(pod),
            _log_bucket(created(pod), now),
            meta(pod).get("uid", ""),
        )

    return sorted(pods, key=rank)
