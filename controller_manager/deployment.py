"""Deployment: ReplicaSets per pod template, rolled from old to new within maxSurge/maxUnavailable.

The core follows upstream's sync loop: claim ReplicaSets, find the new one (template equal to the
Deployment's, ignoring ``pod-template-hash``) and create it when needed, then either scale
proportionally (replicas changed mid-rollout), do nothing (paused), or take one rollout step
(RollingUpdate or Recreate); finally write status and the Progressing/Available conditions that
``kubectl rollout status`` reads. Writes to one ReplicaSet are coalesced into one Update per sync,
so the resourceVersion each carries is the one the decision was made from.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from api import labels
from client.cache import split_key
from controller_manager import pods as podstate
from controller_manager import timestamps
from controller_manager.actions import (
    NORMAL,
    WARNING,
    Action,
    Create,
    Delete,
    RecordEvent,
    RequeueAfter,
    Update,
    UpdateStatus,
    event,
)
from controller_manager.history import template_hash
from controller_manager.ownership import claim, controller_ref, is_controlled_by
from controller_manager.view import DEPLOYMENTS, PODS, REPLICA_SETS, Obj, View, key_of, meta

POD_TEMPLATE_HASH: Final = "pod-template-hash"
REVISION: Final = "deployment.kubernetes.io/revision"
REVISION_HISTORY: Final = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS: Final = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS: Final = "deployment.kubernetes.io/max-replicas"
MAX_REVISION_HISTORY_CHARS: Final = 2000

_NOT_COPIED: Final = frozenset({
    "kubectl.kubernetes.io/last-applied-configuration", REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
})

AVAILABLE: Final = "Available"
PROGRESSING: Final = "Progressing"
REPLICA_FAILURE: Final = "ReplicaFailure"
NEW_RS_CREATED: Final = "NewReplicaSetCreated"
FOUND_NEW_RS: Final = "FoundNewReplicaSet"
RS_UPDATED: Final = "ReplicaSetUpdated"
NEW_RS_AVAILABLE: Final = "NewReplicaSetAvailable"
TIMED_OUT: Final = "ProgressDeadlineExceeded"
PAUSED: Final = "DeploymentPaused"
RESUMED: Final = "DeploymentResumed"
MIN_AVAILABLE: Final = "MinimumReplicasAvailable"
MIN_UNAVAILABLE: Final = "MinimumReplicasUnavailable"

# --- template identity ------------------------------------------------------------------------

def _without_hash(template: Obj) -> Obj:
    t = copy.deepcopy(template)
    lbls = (t.get("metadata") or {}).get("labels")
    if lbls is not None:
        lbls.pop(POD_TEMPLATE_HASH, None)
        if not lbls:
            del t["metadata"]["labels"]
    if "metadata" in t and not t["metadata"]:
        del t["metadata"]
    return t


def equal_ignore_hash(a: Obj, b: Obj) -> bool:
    """Whether two pod templates are the same apart from ``pod-template-hash`` (how the new ReplicaSet is found)."""
    return _without_hash(a) == _without_hash(b)


# --- maxSurge / maxUnavailable ----------------------------------------------------------------

def scaled_value(value: int | str | None, total: int, round_up: bool, default: int | str) -> int:
    """An IntOrString resolved against ``total``: percentages round up or down as asked."""
    v = default if value is None else value
    if isinstance(v, int):
        return v
    if not v.endswith("%"):
        return int(v)
    pct = int(v[:-1])
    return math.ceil(pct * total / 100) if round_up else math.floor(pct * total / 100)


def _replicas(obj: Obj | None) -> int:
    if obj is None:
        return 0
    return int((obj.get("spec") or {}).get("replicas", 1))


def is_rolling_update(d: Obj) -> bool:
    """RollingUpdate is the default strategy."""
    strategy: Obj = (d.get("spec") or {}).get("strategy") or {}
    return str(strategy.get("type", "RollingUpdate")) == "RollingUpdate"


def resolve_fenceposts(d: Obj) -> tuple[int, int]:
    """(maxSurge, maxUnavailable): surge rounds up, unavailable down, and both zero means one unavailable."""
    ru = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    desired = _replicas(d)
    surge = scaled_value(ru.get("maxSurge"), desired, True, "25%")
    unavailable = scaled_value(ru.get("maxUnavailable"), desired, False, "25%")
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(d: Obj) -> int:
    """maxSurge resolved against replicas (0 for Recreate)."""
    return resolve_fenceposts(d)[0] if is_rolling_update(d) else 0


def max_unavailable(d: Obj) -> int:
    """maxUnavailable resolved against replicas, never more than replicas (0 for Recreate)."""
    if not is_rolling_update(d) or _replicas(d) == 0:
        return 0
    return min(resolve_fenceposts(d)[1], _replicas(d))


# --- replica set bookkeeping -------------------------------------------------------------------

def _status_int(rs: Obj | None, field_name: str) -> int:
    return int(((rs or {}).get("status") or {}).get(field_name) or 0)


def revision_of(rs: Obj) -> int:
    """A ReplicaSet's revision annotation as a number (0 when absent or malformed)."""
    try:
        return int((meta(rs).get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def _created_key(rs: Obj) -> tuple[str, str]:
    return (meta(rs).get("creationTimestamp") or "", meta(rs)["name"])


@dataclass
class _Sync:
    """One sync's working state: the intended ReplicaSets and the writes that make them real."""

    d: Obj
    now: datetime
    new_rs: Obj | None = None
    old_rss: list[Obj] = field(default_factory=list)
    created: set[str] = field(default_factory=set)
    changed: dict[str, Obj] = field(default_factory=dict)
    deleted: list[Obj] = field(default_factory=list)
    events: list[RecordEvent] = field(default_factory=list)
    status_override: Obj | None = None

    @property
    def all_rss(self) -> list[Obj]:
        """Old ReplicaSets, then the new one."""
        return [*self.old_rss, *([self.new_rs] if self.new_rs is not None else [])]

    def replace(self, rs: Obj) -> None:
        """Put the intended version of a ReplicaSet in place and remember to write it."""
        name = meta(rs)["name"]
        if self.new_rs is not None and meta(self.new_rs)["name"] == name:
            self.new_rs = rs
        self.old_rss = [rs if meta(o)["name"] == name else o for o in self.old_rss]
        self.changed[name] = rs

    def actions(self) -> list[Action]:
        """The ReplicaSet writes this sync decided on, then the events."""
        out: list[Action] = []
        for name, rs in self.changed.items():
            out.append(Create(REPLICA_SETS, rs) if name in self.created else Update(REPLICA_SETS, rs))
        out += [Delete(REPLICA_SETS, meta(rs).get("namespace"), meta(rs)["name"], meta(rs).get("uid"))
                for rs in self.deleted]
        out += self.events
        return out


def _set_replicas_annotations(rs: Obj, desired: int, maximum: int) -> bool:
    ann: dict[str, str] = meta(rs).setdefault("annotations", {})
    changed = ann.get(DESIRED_REPLICAS) != str(desired) or ann.get(MAX_REPLICAS) != str(maximum)
    ann[DESIRED_REPLICAS] = str(desired)
    ann[MAX_REPLICAS] = str(maximum)
    return changed


def _set_new_rs_annotations(d: Obj, rs: Obj, new_revision: int, exists: bool) -> bool:
    """Copy the Deployment's annotations, raise the revision (remembering the old one), and for a fresh
    ReplicaSet record desired/max replicas."""
    ann = meta(rs).setdefault("annotations", {})
    changed = False
    for k, v in (meta(d).get("annotations") or {}).items():
        if k not in _NOT_COPIED and ann.get(k) != v:
            ann[k] = v
            changed = True
    old_text = ann.get(REVISION)
    old = revision_of(rs)
    if old < new_revision:
        ann[REVISION] = str(new_revision)
        changed = True
        if old_text is not None:
            history = [r for r in ann.get(REVISION_HISTORY, "").split(",") if r]
            history.append(old_text)
            while len(",".join(history)) > MAX_REVISION_HISTORY_CHARS and len(history) > 1:
                history.pop(0)
            ann[REVISION_HISTORY] = ",".join(history)
    if not exists and _set_replicas_annotations(rs, _replicas(d), _replicas(d) + max_surge(d)):
        changed = True
    return changed


def _scale(s: _Sync, rs: Obj, new_size: int) -> bool:
    """Upstream's scaleReplicaSet: write size and replicas annotations if either is stale."""
    size_changed = _replicas(rs) != new_size
    updated = copy.deepcopy(rs)
    ann_changed = _set_replicas_annotations(updated, _replicas(s.d), _replicas(s.d) + max_surge(s.d))
    if not size_changed and not ann_changed:
        return False
    updated["spec"]["replicas"] = new_size
    s.replace(updated)
    if size_changed:
        verb = "up" if new_size > _replicas(rs) else "down"
        s.events.append(event(s.d, NORMAL, "ScalingReplicaSet",
                              f"Scaled {verb} replica set {meta(rs)['name']} from {_replicas(rs)} to {new_size}"))
    return size_changed


def _new_rs_replicas(d: Obj, all_rss: list[Obj], new_rs: Obj | None) -> int:
    """How far the new ReplicaSet may grow this step without exceeding replicas + maxSurge."""
    if not is_rolling_update(d):
        return _replicas(d)
    current = sum(_replicas(rs) for rs in all_rss)
    max_total = _replicas(d) + max_surge(d)
    if current >= max_total:
        return _replicas(new_rs)
    scale_up = min(max_total - current, _replicas(d) - _replicas(new_rs))
    return _replicas(new_rs) + scale_up


# --- finding and creating the new ReplicaSet ---------------------------------------------------

def _get_all_and_sync_revision(s: _Sync, rss: list[Obj], create: bool, view: View) -> bool:
    """Split into new/old and bring the new ReplicaSet's revision up to date, creating it if asked.
    Returns False when a hash collision stopped the sync (status then carries the bumped count)."""
    d = s.d
    template = (d.get("spec") or {}).get("template") or {}
    ordered = sorted(rss, key=_created_key)
    new = next((rs for rs in ordered if equal_ignore_hash((rs.get("spec") or {}).get("template") or {}, template)),
               None)
    s.old_rss = [rs for rs in ordered if rs is not new]
    new_revision = max((revision_of(rs) for rs in s.old_rss), default=0) + 1
    if new is not None:
        s.new_rs = new
        updated = copy.deepcopy(new)
        ann_changed = _set_new_rs_annotations(d, updated, new_revision, True)
        min_ready = (d.get("spec") or {}).get("minReadySeconds", 0)
        if (updated.get("spec") or {}).get("minReadySeconds", 0) != min_ready:
            updated["spec"]["minReadySeconds"] = min_ready
            ann_changed = True
        if ann_changed:
            s.replace(updated)
        _set_deployment_revision(s, (meta(s.new_rs).get("annotations") or {}).get(REVISION, ""))
        if _has_progress_deadline(d) and _condition(s.d, PROGRESSING) is None:
            _set_condition(s.d.setdefault("status", {}),
                           _new_condition(PROGRESSING, "True", FOUND_NEW_RS,
                                          f'Found new replica set "{meta(s.new_rs)["name"]}"', s.now))
        return True
    if not create:
        return True
    collision = (d.get("status") or {}).get("collisionCount")
    pod_hash = template_hash(template, collision)
    name = f"{meta(d)['name']}-{pod_hash}"
    clash = view.get(REPLICA_SETS, meta(d).get("namespace"), name)
    if clash is not None:
        if is_controlled_by(clash, d) and equal_ignore_hash((clash.get("spec") or {}).get("template") or {}, template):
            return True  # our informer has not caught up with our own create; wait for it
        status = copy.deepcopy(d.get("status") or {})
        status["collisionCount"] = int(collision or 0) + 1
        s.status_override = status
        return False
    new_template = copy.deepcopy(template)
    new_template.setdefault("metadata", {}).setdefault("labels", {})[POD_TEMPLATE_HASH] = pod_hash
    selector = copy.deepcopy((d.get("spec") or {}).get("selector") or {})
    selector.setdefault("matchLabels", {})[POD_TEMPLATE_HASH] = pod_hash
    rs: Obj = {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": meta(d).get("namespace"), "ownerReferences": [controller_ref(d)],
                     "labels": dict(new_template["metadata"]["labels"])},
        "spec": {"replicas": 0, "minReadySeconds": (d.get("spec") or {}).get("minReadySeconds", 0),
                 "selector": selector, "template": new_template},
    }
    replicas = _new_rs_replicas(d, s.all_rss, rs)
    rs["spec"]["replicas"] = replicas
    _set_new_rs_annotations(d, rs, new_revision, False)
    s.new_rs = rs
    s.created.add(name)
    s.changed[name] = rs
    if replicas > 0:
        s.events.append(event(d, NORMAL, "ScalingReplicaSet", f"Scaled up replica set {name} from 0 to {replicas}"))
    _set_deployment_revision(s, str(new_revision))
    if _has_progress_deadline(d):
        _set_condition(s.d.setdefault("status", {}),
                       _new_condition(PROGRESSING, "True", NEW_RS_CREATED, f'Created new replica set "{name}"', s.now))
    return True


def _set_deployment_revision(s: _Sync, revision: str) -> None:
    ann = meta(s.d).get("annotations") or {}
    if revision and ann.get(REVISION) != revision:
        meta(s.d)["annotations"] = {**ann, REVISION: revision}


# --- conditions ---------------------------------------------------------------------------------

def _has_progress_deadline(d: Obj) -> bool:
    pds = (d.get("spec") or {}).get("progressDeadlineSeconds", 600)
    return pds is not None and pds != 2**31 - 1


def _condition(d: Obj, type_: str) -> Obj | None:
    return podstate.condition(d, type_)


def _new_condition(type_: str, status: str, reason: str, message: str, now: datetime) -> Obj:
    t = timestamps.format_time(now)
    return {"type": type_, "status": status, "lastUpdateTime": t, "lastTransitionTime": t, "reason": reason,
            "message": message}


def _set_condition(status: Obj, cond: Obj) -> None:
    """Upstream's SetDeploymentCondition: same status and reason is a no-op (times kept); same status keeps
    the transition time."""
    conds = status.get("conditions") or []
    current = next((c for c in conds if c.get("type") == cond["type"]), None)
    if current is not None and current.get("status") == cond["status"] and current.get("reason") == cond["reason"]:
        return
    if current is not None and current.get("status") == cond["status"]:
        cond = {**cond, "lastTransitionTime": current.get("lastTransitionTime")}
    status["conditions"] = [*(c for c in conds if c.get("type") != cond["type"]), cond]


def _remove_condition(status: Obj, type_: str) -> None:
    if status.get("conditions"):
        status["conditions"] = [c for c in status["conditions"] if c.get("type") != type_]


# --- status -------------------------------------------------------------------------------------

def calculate_status(d: Obj, all_rss: list[Obj], new_rs: Obj | None, now: datetime) -> Obj:
    """Counts summed over the ReplicaSets, and Available from maxUnavailable (Recreate tolerates none)."""
    available = sum(_status_int(rs, "availableReplicas") for rs in all_rss)
    total = sum(_replicas(rs) for rs in all_rss)
    old = d.get("status") or {}
    status: Obj = {
        "observedGeneration": meta(d).get("generation", 0),
        "replicas": sum(_status_int(rs, "replicas") for rs in all_rss),
        "updatedReplicas": _status_int(new_rs, "replicas"),
        "readyReplicas": sum(_status_int(rs, "readyReplicas") for rs in all_rss),
        "availableReplicas": available,
        "unavailableReplicas": max(total - available, 0),
        "conditions": copy.deepcopy(old.get("conditions") or []),
    }
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    if available >= _replicas(d) - max_unavailable(d):
        cond = _new_condition(AVAILABLE, "True", MIN_AVAILABLE, "Deployment has minimum availability.", now)
    else:
        cond = _new_condition(AVAILABLE, "False", MIN_UNAVAILABLE, "Deployment does not have minimum availability.",
                              now)
    _set_condition(status, cond)
    return status


def deployment_complete(d: Obj, status: Obj) -> bool:
    """All replicas updated and available, and this generation observed: what rollout status waits for."""
    r = _replicas(d)
    return (status.get("updatedReplicas") == r and status.get("replicas") == r
            and status.get("availableReplicas") == r
            and int(status.get("observedGeneration", 0)) >= int(meta(d).get("generation", 0)))


def _progressing(d: Obj, new: Obj) -> bool:
    old = d.get("status") or {}
    old_old = int(old.get("replicas", 0)) - int(old.get("updatedReplicas", 0))
    new_old = int(new.get("replicas", 0)) - int(new.get("updatedReplicas", 0))
    return (int(new.get("updatedReplicas", 0)) > int(old.get("updatedReplicas", 0)) or new_old < old_old
            or int(new.get("readyReplicas", 0)) > int(old.get("readyReplicas", 0))
            or int(new.get("availableReplicas", 0)) > int(old.get("availableReplicas", 0)))


def _timed_out(d: Obj, now: datetime) -> bool:
    if not _has_progress_deadline(d):
        return False
    cond = _condition(d, PROGRESSING)
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    since = timestamps.parse(cond.get("lastUpdateTime"))
    deadline = int((d.get("spec") or {}).get("progressDeadlineSeconds", 600))
    return since is not None and since + timedelta(seconds=deadline) < now


def _status_actions(s: _Sync, cached: Obj, rollout: bool) -> list[Action]:
    """The Deployment's status write (with the revision annotation, which the status strategy keeps), plus
    the requeue that makes a stuck rollout time out on schedule. ``rollout`` adds upstream's progress
    bookkeeping (syncRolloutStatus); plain syncs only refresh counts and Available."""
    d = s.d
    new = calculate_status(d, s.all_rss, s.new_rs, s.now)
    actions: list[Action] = []
    if rollout:
        if not _has_progress_deadline(d):
            _remove_condition(new, PROGRESSING)
        current = _condition(d, PROGRESSING)
        complete = (new["replicas"] == new["updatedReplicas"] and current is not None
                    and current.get("reason") == NEW_RS_AVAILABLE)
        rs_name = meta(s.new_rs)["name"] if s.new_rs is not None else None
        subject = f'ReplicaSet "{rs_name}"' if rs_name else f'Deployment "{meta(d)["name"]}"'
        if _has_progress_deadline(d) and not complete:
            if deployment_complete(d, new):
                _set_condition(new, _new_condition(PROGRESSING, "True", NEW_RS_AVAILABLE,
                                                   f"{subject} has successfully progressed.", s.now))
            elif _progressing(d, new):
                cond = _new_condition(PROGRESSING, "True", RS_UPDATED, f"{subject} is progressing.", s.now)
                if current is not None:
                    if current.get("status") == "True":
                        cond["lastTransitionTime"] = current.get("lastTransitionTime")
                    _remove_condition(new, PROGRESSING)
                _set_condition(new, cond)
            elif _timed_out(d, s.now):
                _set_condition(new, _new_condition(PROGRESSING, "False", TIMED_OUT,
                                                   f"{subject} has timed out progressing.", s.now))
        failure = next((c for rs in ([s.new_rs] if s.new_rs is not None else []) + s.old_rss[::-1]
                        for c in (rs.get("status") or {}).get("conditions") or []
                        if c.get("type") == "ReplicaFailure" and c.get("status") == "True"), None)
        if failure is not None:
            _set_condition(new, _new_condition(REPLICA_FAILURE, "True", str(failure.get("reason", "")),
                                               str(failure.get("message", "")), s.now))
        else:
            _remove_condition(new, REPLICA_FAILURE)
        after = _stuck_requeue(d, new, s.now)
        if after is not None:
            actions.append(RequeueAfter(key_of(d), after))
    if new != (cached.get("status") or {}) or meta(d) != meta(cached):
        actions.append(UpdateStatus(DEPLOYMENTS, {**d, "status": new}))
    return actions


def _stuck_requeue(d: Obj, new: Obj, now: datetime) -> float | None:
    """Seconds until a progressing rollout would exceed its deadline (checked then, +1 s), as upstream."""
    cond = _condition({"status": new}, PROGRESSING)
    if cond is None or cond.get("status") != "True" or cond.get("reason") != RS_UPDATED:
        return None
    if deployment_complete(d, new):
        return None
    since = timestamps.parse(cond.get("lastUpdateTime"))
    if since is None:
        return None
    deadline = int((d.get("spec") or {}).get("progressDeadlineSeconds", 600))
    after = (since + timedelta(seconds=deadline) - now).total_seconds()
    return 0.0 if after < 1 else after + 1


def _active(rss: list[Obj]) -> list[Obj]:
    return [rs for rs in rss if _replicas(rs) > 0]


def _is_saturated(d: Obj, rs: Obj | None) -> bool:
    if rs is None:
        return False
    desired = (meta(rs).get("annotations") or {}).get(DESIRED_REPLICAS)
    return (desired == str(_replicas(d)) and _replicas(rs) == _replicas(d)
            and _status_int(rs, "availableReplicas") == _replicas(d))


def _round_half_away(x: float) -> int:
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def _proportion(d: Obj, rs: Obj, to_add: int, added: int) -> int:
    if _replicas(rs) == 0 or to_add in (0, added):
        return 0
    if _replicas(d) == 0:
        fraction = -_replicas(rs)
    else:
        deployment_replicas = _replicas(d) + max_surge(d)
        try:
            annotated = int((meta(rs).get("annotations") or {})[MAX_REPLICAS])
        except (KeyError, ValueError):
            annotated = int((d.get("status") or {}).get("replicas", 0))
        fraction = (_round_half_away(_replicas(rs) * deployment_replicas / annotated) - _replicas(rs)
                    if annotated else 0)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def _scale_deployment(s: _Sync) -> None:
    """Upstream's scale(): one active ReplicaSet takes the new size; otherwise spread the difference
    proportionally to each ReplicaSet's share, largest first, leftovers to the first."""
    d = s.d
    new_rs, old_rss = s.new_rs, s.old_rss
    candidates = sorted(old_rss, key=_created_key, reverse=True)
    active = _active([*candidates, *([new_rs] if new_rs is not None else [])])
    target: Obj | None = None
    if len(active) == 1:
        target = active[0]
    elif not active and (new_rs is not None or candidates):
        target = new_rs if new_rs is not None else candidates[0]
    if target is not None or (new_rs is None and not old_rss):
        if target is not None and _replicas(target) != _replicas(d):
            _scale(s, target, _replicas(d))
        return
    if _is_saturated(d, new_rs):
        for rs in _active(old_rss):
            _scale(s, rs, 0)
        return
    if not is_rolling_update(d):
        return
    all_active = _active(s.all_rss)
    allowed = _replicas(d) + max_surge(d) if _replicas(d) > 0 else 0
    to_add = allowed - sum(_replicas(rs) for rs in all_active)
    if to_add > 0:
        all_active.sort(key=lambda rs: (-_replicas(rs), _neg_created(rs)))
    elif to_add < 0:
        all_active.sort(key=lambda rs: (-_replicas(rs), _created_key(rs)))
    added = 0
    sizes: dict[str, int] = {}
    for rs in all_active:
        if to_add != 0:
            p = _proportion(d, rs, to_add, added)
            sizes[meta(rs)["name"]] = _replicas(rs) + p
            added += p
        else:
            sizes[meta(rs)["name"]] = _replicas(rs)
    if to_add not in (0, added) and all_active:
        first = meta(all_active[0])["name"]
        sizes[first] = max(sizes[first] + to_add - added, 0)
    for rs in all_active:
        _scale(s, rs, sizes[meta(rs)["name"]])


def _neg_created(rs: Obj) -> tuple[float, str]:
    """Sort key putting newer ReplicaSets first (name as the tie-breaker, as upstream)."""
    when = timestamps.parse(meta(rs).get("creationTimestamp"))
    return (-(when.timestamp() if when else 0.0), meta(rs)["name"])


def _rollout_rolling(s: _Sync) -> bool:
    """One RollingUpdate step: grow the new ReplicaSet within maxSurge, else shrink old ones within
    maxUnavailable. Returns whether anything was scaled."""
    d = s.d
    new_rs = s.new_rs
    assert new_rs is not None
    if _replicas(new_rs) < _replicas(d):
        wanted = _new_rs_replicas(d, s.all_rss, new_rs)
        if wanted != _replicas(new_rs) and _scale(s, new_rs, wanted):
            return True
    elif _replicas(new_rs) > _replicas(d) and _scale(s, new_rs, _replicas(d)):
        return True
    return _reconcile_old(s)


def _reconcile_old(s: _Sync) -> bool:
    """Scale old ReplicaSets down without dropping below replicas - maxUnavailable available pods:
    first unhealthy pods (they cost no availability), then healthy ones as far as availability allows."""
    d = s.d
    new_rs = s.new_rs
    if sum(_replicas(rs) for rs in s.old_rss) == 0:
        return False
    all_count = sum(_replicas(rs) for rs in s.all_rss)
    min_available = _replicas(d) - max_unavailable(d)
    new_unavailable = _replicas(new_rs) - _status_int(new_rs, "availableReplicas")
    max_scaled_down = all_count - min_available - new_unavailable
    if max_scaled_down <= 0:
        return False
    total = 0
    for rs in sorted(s.old_rss, key=_created_key):
        if total >= max_scaled_down:
            break
        if _replicas(rs) == 0:
            continue
        unhealthy = _replicas(rs) - _status_int(rs, "availableReplicas")
        if unhealthy <= 0:
            continue
        count = min(max_scaled_down - total, unhealthy)
        _scale(s, rs, _replicas(rs) - count)
        total += count
    # A ReplicaSet's status can still count pods its controller is deleting after the last scale-down
    # (status is computed before the deletes): cap it at spec.replicas, or two quick syncs scale down twice
    # for one set of pods and availability drops below replicas - maxUnavailable.
    available = sum(min(_status_int(rs, "availableReplicas"), _replicas(rs)) for rs in s.all_rss)
    if available <= min_available:
        return total > 0
    to_scale = available - min_available
    done = 0
    for rs in sorted(s.old_rss, key=_created_key):
        if done >= to_scale:
            break
        if _replicas(rs) == 0:
            continue
        count = min(_replicas(rs), to_scale - done)
        _scale(s, rs, _replicas(rs) - count)
        done += count
    return total + done > 0


def _old_pods_running(s: _Sync, pods_by_rs: dict[str, list[Obj]]) -> bool:
    if sum(_status_int(rs, "replicas") for rs in s.old_rss) > 0:
        return True
    new_uid = meta(s.new_rs).get("uid") if s.new_rs is not None else None
    for uid, pods in pods_by_rs.items():
        if uid == new_uid:
            continue
        if any(podstate.phase(p) not in (podstate.FAILED, podstate.SUCCEEDED) for p in pods):
            return True
    return False


def _cleanup(s: _Sync) -> None:
    """Delete the oldest fully scaled-down ReplicaSets beyond revisionHistoryLimit."""
    limit = (s.d.get("spec") or {}).get("revisionHistoryLimit", 10)
    if limit is None:
        return
    cleanable = [rs for rs in s.old_rss if meta(rs).get("deletionTimestamp") is None]
    diff = len(cleanable) - int(limit)
    if diff <= 0:
        return
    cleanable.sort(key=lambda rs: (revision_of(rs), _created_key(rs)))
    for rs in cleanable[:diff]:
        if (_status_int(rs, "replicas") != 0 or _replicas(rs) != 0
                or int(meta(rs).get("generation", 0)) > _status_int(rs, "observedGeneration")):
            continue
        s.deleted.append(rs)


def _check_paused_conditions(s: _Sync) -> None:
    if not _has_progress_deadline(s.d):
        return
    cond = _condition(s.d, PROGRESSING)
    if cond is not None and cond.get("reason") == TIMED_OUT:
        return
    paused_now = cond is not None and cond.get("reason") == PAUSED
    status = s.d.setdefault("status", {})
    if (s.d.get("spec") or {}).get("paused") and not paused_now:
        _set_condition(status, _new_condition(PROGRESSING, "Unknown", PAUSED, "Deployment is paused", s.now))
    elif not (s.d.get("spec") or {}).get("paused") and paused_now:
        _set_condition(status, _new_condition(PROGRESSING, "Unknown", RESUMED, "Deployment is resumed", s.now))


def _is_scaling_event(s: _Sync) -> bool:
    for rs in _active(s.all_rss):
        desired = (meta(rs).get("annotations") or {}).get(DESIRED_REPLICAS)
        if desired is not None and desired != str(_replicas(s.d)):
            return True
    return False


def reconcile(view: View, key: str, now: datetime) -> list[Action]:
    """One sync of the Deployment with work-queue key ``namespace/name``."""
    namespace, name = split_key(key)
    cached = view.get(DEPLOYMENTS, namespace, name)
    if cached is None:
        return []
    d = copy.deepcopy(cached)
    spec = d.get("spec") or {}
    selector_obj = spec.get("selector")
    if not selector_obj or (not selector_obj.get("matchLabels") and not selector_obj.get("matchExpressions")):
        actions: list[Action] = [event(d, WARNING, "SelectingAll",
                                       "This deployment is selecting all pods. A non-empty selector is required.")]
        if int((d.get("status") or {}).get("observedGeneration", 0)) < int(meta(d).get("generation", 0)):
            actions.append(UpdateStatus(DEPLOYMENTS, {
                **d, "status": {**(d.get("status") or {}), "observedGeneration": meta(d).get("generation", 0)}}))
        return actions
    selector = labels.from_label_selector(selector_obj)
    claimed = claim(d, selector, view.list(REPLICA_SETS, namespace), REPLICA_SETS)
    s = _Sync(d, now)
    pre: list[Action] = list(claimed.actions)
    rss = claimed.claimed

    if meta(d).get("deletionTimestamp") is not None:
        _get_all_and_sync_revision(s, rss, False, view)
        return pre + s.actions() + _status_actions(s, cached, rollout=False)

    _check_paused_conditions(s)
    if spec.get("paused"):
        _get_all_and_sync_revision(s, rss, False, view)
        _scale_deployment(s)
        _cleanup(s)
        return pre + s.actions() + _status_actions(s, cached, rollout=False)

    _get_all_and_sync_revision(s, rss, False, view)
    if _is_scaling_event(s):
        _scale_deployment(s)
        return pre + s.actions() + _status_actions(s, cached, rollout=False)

    if is_rolling_update(d):
        if s.new_rs is None and not _get_all_and_sync_revision(s, rss, True, view):
            return pre + _collision_actions(s)
        if _rollout_rolling(s):
            return pre + s.actions() + _status_actions(s, cached, rollout=True)
    else:
        s_old_active = _active(s.old_rss)
        if s_old_active:
            for rs in s_old_active:
                _scale(s, rs, 0)
            return pre + s.actions() + _status_actions(s, cached, rollout=True)
        pods_by_rs = _pods_by_owner(view, namespace, rss)
        if _old_pods_running(s, pods_by_rs):
            return pre + s.actions() + _status_actions(s, cached, rollout=True)
        if s.new_rs is None and not _get_all_and_sync_revision(s, rss, True, view):
            return pre + _collision_actions(s)
        assert s.new_rs is not None
        if _replicas(s.new_rs) != _replicas(d):
            _scale(s, s.new_rs, _replicas(d))
    if deployment_complete(d, d.get("status") or {}):
        _cleanup(s)
    return pre + s.actions() + _status_actions(s, cached, rollout=True)


def _collision_actions(s: _Sync) -> list[Action]:
    assert s.status_override is not None
    return [UpdateStatus(DEPLOYMENTS, {**s.d, "status": s.status_override})]


def _pods_by_owner(view: View, namespace: str | None, rss: list[Obj]) -> dict[str, list[Obj]]:
    uids = {meta(rs).get("uid") for rs in rss}
    out: dict[str, list[Obj]] = {}
    for pod in view.list(PODS, namespace):
        for ref in meta(pod).get("ownerReferences") or []:
            if ref.get("controller") and ref.get("uid") in uids:
                out.setdefault(ref["uid"], []).append(pod)
    return out
