"""DaemonSet: one pod on every eligible Node, updated node by node.

Eligibility is decided as upstream does with a pod built for each Node: nodeSelector, required node
affinity and taints (daemon pods carry the standard tolerations, so not-ready, unreachable,
pressure and unschedulable Nodes still run them). A NoSchedule taint keeps a new pod off a Node
but lets a running one stay; an untolerated NoExecute taint removes it. RollingUpdate replaces old
pods within maxUnavailable (or surges new ones first with maxSurge); OnDelete waits for the user.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Final

from api import labels
from client.cache import split_key
from controller_manager import pods as podstate
from controller_manager.actions import Action, Create, Delete, Expect, UpdateStatus
from controller_manager.deployment import scaled_value
from controller_manager.expectations import Expectations
from controller_manager.history import REVISION_HASH, sync_revision, truncate_history
from controller_manager.nodelifecycle import tolerates
from controller_manager.ownership import claim
from controller_manager.replicaset import pod_from_template, slow_start_batches
from controller_manager.view import DAEMON_SETS, NODES, PODS, Obj, View, key_of, meta

STANDARD_TOLERATIONS: Final = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)
HOST_NETWORK_TOLERATION: Final = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists",
                                  "effect": "NoSchedule"}


def _with_tolerations(spec: Obj) -> list[Obj]:
    have = list(spec.get("tolerations") or [])
    extra = list(STANDARD_TOLERATIONS)
    if spec.get("hostNetwork"):
        extra.append(HOST_NETWORK_TOLERATION)
    for t in extra:
        if not any(h.get("key") == t["key"] and h.get("effect") == t["effect"] for h in have):
            have.append(dict(t))
    return have


def _node_affinity_matches(term: Obj, node: Obj) -> bool:
    for expr in term.get("matchExpressions") or []:
        sel = labels.from_label_selector({"matchExpressions": [_as_label_expr(expr)]}) \
            if expr.get("operator") in ("In", "NotIn", "Exists", "DoesNotExist") else None
        if sel is not None and not sel.matches(meta(node).get("labels")):
            return False
        if sel is None:
            value = (meta(node).get("labels") or {}).get(expr["key"])
            try:
                n, bound = int(value or ""), int((expr.get("values") or ["0"])[0])
            except ValueError:
                return False
            if (expr["operator"] == "Gt" and not n > bound) or (expr["operator"] == "Lt" and not n < bound):
                return False
    for expr in term.get("matchFields") or []:
        if expr.get("key") == "metadata.name":
            hit = meta(node)["name"] in (expr.get("values") or [])
            if hit != (expr.get("operator") == "In"):
                return False
    return True


def _as_label_expr(expr: Obj) -> Obj:
    out = {"key": expr["key"], "operator": expr["operator"]}
    if expr.get("values"):
        out["values"] = expr["values"]
    return out


def should_run(ds: Obj, node: Obj) -> tuple[bool, bool]:
    """(should a new pod be placed here, may an existing one stay) for ``node``."""
    spec = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
    if spec.get("nodeName") and spec["nodeName"] != meta(node)["name"]:
        return False, False
    node_labels = meta(node).get("labels") or {}
    if any(node_labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False, False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms") or []
    if terms and not any(_node_affinity_matches(t, node) for t in terms):
        return False, False
    tolerations = _with_tolerations(spec)
    run, stay = True, True
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if any(tolerates(t, taint) for t in tolerations):
            continue
        run = False
        if taint.get("effect") == "NoExecute":
            stay = False
    return run, stay


def _pod_for(ds: Obj, node_name: str, revision_hash: str) -> Obj:
    template = copy.deepcopy((ds.get("spec") or {}).get("template") or {})
    pod = pod_from_template(ds, template, f"{meta(ds)['name']}-")
    pod["metadata"].setdefault("labels", {})[REVISION_HASH] = revision_hash
    spec = pod["spec"]
    spec["tolerations"] = _with_tolerations(spec)
    # bind through the scheduler with a node affinity pinned to this node, as upstream does
    affinity = spec.setdefault("affinity", {}).setdefault("nodeAffinity", {})
    affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}]}
    return pod


def _pod_node(pod: Obj) -> str | None:
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        return str(node)
    terms = ((((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {})
             .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []
    for term in terms:
        for f in term.get("matchFields") or []:
            if f.get("key") == "metadata.name" and f.get("operator") == "In" and len(f.get("values") or []) == 1:
                return str(f["values"][0])
    return None


def reconcile(view: View, key: str, now: datetime, expectations: Expectations) -> list[Action]:
    """One sync of the DaemonSet with work-queue key ``namespace/name``."""
    namespace, name = split_key(key)
    ds = view.get(DAEMON_SETS, namespace, name)
    if ds is None:
        return []
    spec = ds.get("spec") or {}
    selector = labels.from_label_selector(spec.get("selector"))
    owned = claim(ds, selector, view.list(PODS, namespace), PODS)
    actions: list[Action] = list(owned.actions)
    pods = [p for p in owned.claimed if not podstate.is_terminating(p)]
    current, rev_actions = sync_revision(view, ds, DAEMON_SETS)
    actions += rev_actions
    if current is None:
        return actions
    rev_hash = current.rsplit("-", 1)[-1]
    by_node: dict[str, list[Obj]] = {}
    for p in pods:
        target = _pod_node(p)
        if target:
            by_node.setdefault(target, []).append(p)
    nodes = view.list(NODES)
    min_ready = int(spec.get("minReadySeconds") or 0)
    eligible: dict[str, bool] = {}
    creates: list[str] = []
    deletes: list[Obj] = []
    for node in nodes:
        nname = meta(node)["name"]
        run, stay = should_run(ds, node)
        eligible[nname] = run
        here = by_node.get(nname, [])
        if run and not here:
            creates.append(nname)
        elif stay and here:
            failed = [p for p in here if podstate.phase(p) == podstate.FAILED]
            deletes += failed
            alive = sorted((p for p in here if p not in failed), key=lambda p: meta(p).get("creationTimestamp", ""))
            if not alive and run:
                creates.append(nname)
            surge = _surge_allowed(ds)
            new = [p for p in alive if (meta(p).get("labels") or {}).get(REVISION_HASH) == rev_hash]
            old = [p for p in alive if p not in new]
            if surge and new and old:
                keep = new[:1] + old[:1] if not podstate.is_available(new[0], min_ready, now) else new[:1]
                deletes += [p for p in alive if p not in keep]
            elif len(alive) > 1:
                deletes += alive[1:]
        elif here:
            deletes += here
    if expectations.satisfied(key_of(ds), now) and meta(ds).get("deletionTimestamp") is None:
        # as upstream, the rolling update only runs once the pod set is settled (nothing in flight)
        if not creates and not deletes and \
                (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate":
            deletes, creates = _rolling_update(ds, by_node, eligible, rev_hash, now)
        actions += _sync_nodes(ds, creates, deletes, rev_hash)
    actions += _status(ds, by_node, eligible, rev_hash, now)
    live = {f"{meta(ds)['name']}-{(meta(p).get('labels') or {}).get(REVISION_HASH)}" for p in pods} | {current}
    actions += truncate_history(view, ds, live, int(spec.get("revisionHistoryLimit", 10)))
    return actions


def _surge_allowed(ds: Obj) -> bool:
    ru = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}
    return scaled_value(ru.get("maxSurge"), 1, True, 0) > 0


def _rolling_update(ds: Obj, by_node: dict[str, list[Obj]], eligible: dict[str, bool], rev_hash: str,
                    now: datetime) -> tuple[list[Obj], list[str]]:
    """Old pods to delete and nodes to surge onto, within maxUnavailable / maxSurge."""
    spec = ds.get("spec") or {}
    ru = (spec.get("updateStrategy") or {}).get("rollingUpdate") or {}
    desired = sum(1 for ok in eligible.values() if ok)
    max_surge = scaled_value(ru.get("maxSurge"), desired, True, 0)
    max_unavailable = scaled_value(ru.get("maxUnavailable"), desired, True, 1)
    if max_surge == 0 and max_unavailable == 0:
        max_unavailable = 1
    min_ready = int(spec.get("minReadySeconds") or 0)
    # an eligible node with no pod at all is unavailable too
    unavailable = sum(1 for node, ok in eligible.items() if ok and node not in by_node)
    replace: list[Obj] = []
    candidates: list[Obj] = []
    surge_nodes: list[str] = []
    surging = 0
    for node, pods in sorted(by_node.items()):
        alive = [p for p in pods if podstate.phase(p) != podstate.FAILED]
        new = [p for p in alive if (meta(p).get("labels") or {}).get(REVISION_HASH) == rev_hash]
        old = [p for p in alive if p not in new]
        if len(new) > 1 or len(old) > 1:
            unavailable += 1
            continue
        if max_surge > 0:
            if old and new:
                surging += 1
                if podstate.is_available(new[0], min_ready, now):
                    replace.append(old[0])
            elif old and not podstate.is_available(old[0], min_ready, now) and eligible.get(node):
                surge_nodes.append(node)
                surging += 1
            elif old and eligible.get(node):
                candidates.append(old[0])
            continue
        if (old and new) or (not old and not new):
            unavailable += 1
        elif new:
            if not podstate.is_available(new[0], min_ready, now):
                unavailable += 1
        elif not podstate.is_available(old[0], min_ready, now):
            replace.append(old[0])
        elif unavailable < max_unavailable:
            candidates.append(old[0])
    if max_surge > 0:
        room = max(max_surge - surging, 0)
        surge_nodes += [_pod_node(p) or "" for p in candidates[:room]]
        return replace, surge_nodes
    budget = min(max(max_unavailable - unavailable, 0), len(candidates))
    return replace + candidates[:budget], []


def _sync_nodes(ds: Obj, creates: list[str], deletes: list[Obj], rev_hash: str) -> list[Action]:
    key = key_of(ds)
    actions: list[Action] = []
    if creates or deletes:
        actions.append(Expect(key, creations=len(creates), deletions=tuple(key_of(p) for p in deletes)))
    batch_of = [b for b, size in enumerate(slow_start_batches(len(creates))) for _ in range(size)]
    for node, batch in zip(creates, batch_of, strict=True):
        actions.append(Create(PODS, _pod_for(ds, node, rev_hash), batch, key))
    actions += [Delete(PODS, meta(p).get("namespace"), meta(p)["name"], meta(p).get("uid"), expectations_key=key)
                for p in deletes]
    return actions


def _status(ds: Obj, by_node: dict[str, list[Obj]], eligible: dict[str, bool], rev_hash: str,
            now: datetime) -> list[Action]:
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    desired = sum(1 for ok in eligible.values() if ok)
    current = misscheduled = ready = available = updated = 0
    for node, pods in by_node.items():
        if not eligible.get(node, False):
            misscheduled += 1
            continue
        current += 1
        newest = max(pods, key=lambda p: meta(p).get("creationTimestamp", ""))
        if podstate.is_ready(newest):
            ready += 1
            if podstate.is_available(newest, min_ready, now):
                available += 1
        if any((meta(p).get("labels") or {}).get(REVISION_HASH) == rev_hash for p in pods):
            updated += 1
    status = dict(ds.get("status") or {})
    status.update({"desiredNumberScheduled": desired, "currentNumberScheduled": current,
                   "numberMisscheduled": misscheduled, "numberReady": ready, "numberAvailable": available,
                   "numberUnavailable": max(desired - available, 0), "updatedNumberScheduled": updated,
                   "observedGeneration": meta(ds).get("generation", 0)})
    if status == (ds.get("status") or {}):
        return []
    return [UpdateStatus(DAEMON_SETS, {**ds, "status": status})]
