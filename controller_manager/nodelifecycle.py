"""Node lifecycle: Lease-based health, condition and taint upkeep, taint-based eviction, pod GC.

``reconcile_nodes`` is upstream's periodic monitor pass over all Nodes: a Node whose kubelet has not
renewed its Lease (nor posted status) within the grace period gets every condition set to Unknown,
its pods marked not ready, and the ``unreachable`` NoExecute taint (``not-ready`` when the kubelet
says Ready=False). New NoExecute taints are rate-limited per zone, and not added at all in a zone
where every Node is down (that is more likely our own partition than a real outage).
``reconcile_pods_on_node`` evicts pods that do not tolerate a Node's NoExecute taints, at once or
after their tolerationSeconds; ``reconcile_orphan_pods`` deletes pods bound to Nodes that are gone.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from client.rest import PatchType
from controller_manager import pods as podstate
from controller_manager import timestamps
from controller_manager.actions import NORMAL, Action, Delete, Patch, RequeueAfter, UpdateStatus, event
from controller_manager.view import LEASES, NODES, PODS, Obj, View, key_of, meta

NODE_LEASE_NAMESPACE: Final = "kube-node-lease"
UNREACHABLE: Final = "node.kubernetes.io/unreachable"
NOT_READY: Final = "node.kubernetes.io/not-ready"
UNSCHEDULABLE: Final = "node.kubernetes.io/unschedulable"
ZONE_LABEL: Final = "topology.kubernetes.io/zone"
NO_EXECUTE: Final = "NoExecute"
NO_SCHEDULE: Final = "NoSchedule"
_PRESSURE_TAINTS: Final = {"MemoryPressure": "node.kubernetes.io/memory-pressure",
                           "DiskPressure": "node.kubernetes.io/disk-pressure",
                           "PIDPressure": "node.kubernetes.io/pid-pressure",
                           "NetworkUnavailable": "node.kubernetes.io/network-unavailable"}
_KUBELET_CONDITIONS: Final = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")


@dataclass(frozen=True)
class Settings:
    """kube-controller-manager's node-lifecycle flags (defaults as in Kubernetes 1.32)."""

    grace_period: timedelta = timedelta(seconds=50)
    startup_grace_period: timedelta = timedelta(seconds=60)
    eviction_qps: float = 0.1
    secondary_eviction_qps: float = 0.01
    large_cluster_threshold: int = 50
    unhealthy_zone_threshold: float = 0.55


@dataclass
class ZoneLimiter:
    """Token buckets (burst 1) per zone for adding NoExecute taints; the driver keeps one across passes."""

    last: dict[str, datetime] = field(default_factory=dict)

    def try_accept(self, zone: str, qps: float, now: datetime) -> bool:
        """Take the zone's token if one is available at ``now`` for this rate."""
        if qps <= 0:
            return False
        prev = self.last.get(zone)
        if prev is not None and (now - prev).total_seconds() < 1.0 / qps:
            return False
        self.last[zone] = now
        return True


def _probe_time(view: View, node: Obj) -> datetime | None:
    """The latest sign of life: Lease renewal, or the Ready condition's heartbeat."""
    times = []
    lease = view.get(LEASES, NODE_LEASE_NAMESPACE, meta(node)["name"])
    if lease is not None:
        times.append(timestamps.parse((lease.get("spec") or {}).get("renewTime")))
    ready = podstate.condition(node, "Ready")
    if ready is not None:
        times.append(timestamps.parse(ready.get("lastHeartbeatTime")))
    times.append(timestamps.parse(meta(node).get("creationTimestamp")))
    return max((t for t in times if t is not None), default=None)


def _zone(node: Obj) -> str:
    return str((meta(node).get("labels") or {}).get(ZONE_LABEL, ""))


def _mark_unknown(node: Obj, now: datetime) -> Obj | None:
    """The Node with kubelet-owned conditions set Unknown, or None when they already are."""
    new = copy.deepcopy(node)
    status = new.setdefault("status", {})
    conds = status.setdefault("conditions", [])
    changed = False
    t = timestamps.format_time(now)
    for type_ in _KUBELET_CONDITIONS:
        cond = next((c for c in conds if c.get("type") == type_), None)
        if cond is None:
            conds.append({"type": type_, "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                          "message": "Kubelet never posted node status.", "lastHeartbeatTime": t,
                          "lastTransitionTime": t})
            changed = True
        elif cond.get("status") != "Unknown":
            cond.update({"status": "Unknown", "reason": "NodeStatusUnknown",
                         "message": "Kubelet stopped posting node status.", "lastTransitionTime": t})
            changed = True
    return new if changed else None


def _desired_taints(node: Obj, ready: str) -> tuple[list[Obj], str | None]:
    """The NoSchedule taints the Node's conditions call for, and the NoExecute taint key (if any)."""
    spec = node.get("spec") or {}
    wanted = []
    if ready == "False":
        wanted.append(NOT_READY)
    elif ready == "Unknown":
        wanted.append(UNREACHABLE)
    for type_, key in _PRESSURE_TAINTS.items():
        cond = podstate.condition(node, type_)
        if cond is not None and cond.get("status") == "True":
            wanted.append(key)
    if spec.get("unschedulable"):
        wanted.append(UNSCHEDULABLE)
    no_execute = {"False": NOT_READY, "Unknown": UNREACHABLE}.get(ready)
    return [{"key": k, "effect": NO_SCHEDULE} for k in wanted], no_execute


_MANAGED_NO_SCHEDULE: Final = {NOT_READY, UNREACHABLE, UNSCHEDULABLE, *_PRESSURE_TAINTS.values()}


def reconcile_nodes(view: View, now: datetime, limiter: ZoneLimiter,
                    settings: Settings | None = None) -> list[Action]:
    """One monitor pass over all Nodes."""
    cfg = settings or Settings()
    nodes = view.list(NODES)
    actions: list[Action] = []
    readiness: dict[str, str] = {}
    for node in nodes:
        name = meta(node)["name"]
        probe = _probe_time(view, node)
        ready_cond = podstate.condition(node, "Ready")
        ready = str(ready_cond.get("status", "Unknown")) if ready_cond is not None else ""  # not reported yet
        # a kubelet that never posted status gets the (longer) startup grace period
        grace = cfg.grace_period if ready_cond is not None else cfg.startup_grace_period
        if probe is None or now - probe > grace:
            unknown = _mark_unknown(node, now)
            if unknown is not None:
                actions.append(UpdateStatus(NODES, unknown))
                actions.append(event(node, NORMAL, "NodeNotReady", f"Node {name} status is now: NodeNotReady"))
            ready = "Unknown"
        readiness[name] = ready
        if ready == "Unknown":
            actions += _mark_pods_not_ready(view, name, now)
    zones: dict[str, list[str]] = {}
    for node in nodes:
        zones.setdefault(_zone(node), []).append(meta(node)["name"])
    zone_qps = {}
    for zone, names in zones.items():
        down = sum(1 for n in names if readiness[n] != "True")
        if down == len(names):
            zone_qps[zone] = 0.0
        elif down / len(names) >= cfg.unhealthy_zone_threshold and down >= 2:
            zone_qps[zone] = cfg.secondary_eviction_qps if len(names) > cfg.large_cluster_threshold else 0.0
        else:
            zone_qps[zone] = cfg.eviction_qps
    for node in nodes:
        name = meta(node)["name"]
        zone = _zone(node)
        patch = _taint_patch(node, readiness[name], now,
                             functools.partial(limiter.try_accept, zone, zone_qps[zone], now))
        if patch is not None:
            actions.append(patch)
    return actions


def _taint_patch(node: Obj, ready: str, now: datetime, may_add_no_execute: Callable[[], bool]) -> Patch | None:
    taints = list((node.get("spec") or {}).get("taints") or [])
    no_schedule, no_execute = _desired_taints(node, ready)
    keep = [t for t in taints if not (t.get("effect") == NO_SCHEDULE and t.get("key") in _MANAGED_NO_SCHEDULE)
            and not (t.get("effect") == NO_EXECUTE and t.get("key") in (NOT_READY, UNREACHABLE))]
    have_no_execute = [t for t in taints if t.get("effect") == NO_EXECUTE and t.get("key") in (NOT_READY, UNREACHABLE)]
    new = keep + [t for t in taints if t.get("effect") == NO_SCHEDULE and t.get("key") in
                  {x["key"] for x in no_schedule}]
    present = {t.get("key") for t in new if t.get("effect") == NO_SCHEDULE}
    new += [t for t in no_schedule if t["key"] not in present]
    if no_execute is not None:
        same = [t for t in have_no_execute if t.get("key") == no_execute]
        if same:
            new.append(same[0])
        elif have_no_execute or may_add_no_execute():
            # swapping unreachable <-> not-ready is not a new eviction wave: no rate limit, as upstream
            new.append({"key": no_execute, "effect": NO_EXECUTE, "timeAdded": timestamps.format_time(now)})
    if _taint_keys(new) == _taint_keys(taints):
        return None
    return Patch(NODES, None, meta(node)["name"], {"spec": {"taints": new or None}}, PatchType.MERGE)


def _taint_keys(taints: list[Obj]) -> list[tuple[str, str]]:
    return sorted((str(t.get("key")), str(t.get("effect"))) for t in taints)


def _mark_pods_not_ready(view: View, node_name: str, now: datetime) -> list[Action]:
    """Pods on an unreachable Node stop being ready, so Services stop sending them traffic."""
    out: list[Action] = []
    for pod in view.list(PODS):
        if (pod.get("spec") or {}).get("nodeName") != node_name or not podstate.is_ready(pod):
            continue
        if podstate.phase(pod) in (podstate.SUCCEEDED, podstate.FAILED):
            continue
        out.append(Patch(PODS, meta(pod).get("namespace"), meta(pod)["name"], {"status": {"conditions": [
            {"type": "Ready", "status": "False", "lastTransitionTime": timestamps.format_time(now)}]}},
            subresource="status"))
    return out


# --- taint-based eviction --------------------------------------------------------------------------------

def tolerates(toleration: Obj, taint: Obj) -> bool:
    """Upstream's ToleratesTaint: effect empty matches all; Exists with no key matches every taint."""
    if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
        return False
    if toleration.get("key") and toleration.get("key") != taint.get("key"):
        return False
    op = toleration.get("operator", "Equal")
    if op == "Exists":
        return True
    return bool(toleration.get("key")) and toleration.get("value", "") == taint.get("value", "")


def eviction_time(pod: Obj, taints: list[Obj], now: datetime) -> datetime | None:
    """When ``pod`` must go because of these NoExecute taints (``now`` when an untolerated taint is
    present), or None when it tolerates them forever."""
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    deadline: datetime | None = None
    for taint in taints:
        matching = [t for t in tolerations if tolerates(t, taint)]
        if not matching:
            return now
        bounded = [int(t["tolerationSeconds"]) for t in matching if t.get("tolerationSeconds") is not None]
        if len(bounded) < len(matching):
            continue  # some toleration holds forever
        added = timestamps.parse(taint.get("timeAdded"))
        if added is None:
            return now
        due = added + timedelta(seconds=max(min(bounded), 0))
        deadline = due if deadline is None else min(deadline, due)
    return deadline


def _evict(pod: Obj, reason: str, message: str, now: datetime) -> list[Action]:
    """The DisruptionTarget condition first (so a Job's podFailurePolicy can see why), then the delete."""
    m = meta(pod)
    return [Patch(PODS, m.get("namespace"), m["name"], {"status": {"conditions": [
        {"type": "DisruptionTarget", "status": "True", "reason": reason, "message": message,
         "lastTransitionTime": timestamps.format_time(now)}]}}, subresource="status"),
        Delete(PODS, m.get("namespace"), m["name"], m.get("uid"))]


def reconcile_pods_on_node(view: View, node_name: str, now: datetime) -> list[Action]:
    """Evict the pods of ``node_name`` that its NoExecute taints no longer allow."""
    node = view.get(NODES, None, node_name)
    if node is None:
        return []
    taints = [t for t in (node.get("spec") or {}).get("taints") or [] if t.get("effect") == NO_EXECUTE]
    if not taints:
        return []
    actions: list[Action] = []
    wake: datetime | None = None
    for pod in view.list(PODS):
        if (pod.get("spec") or {}).get("nodeName") != node_name or podstate.is_terminating(pod):
            continue
        when = eviction_time(pod, taints, now)
        if when is None:
            continue
        if when <= now:
            actions += _evict(pod, "DeletionByTaintManager", "Taint manager: deleting due to NoExecute taint", now)
            actions.append(event(pod, NORMAL, "TaintManagerEviction", f"Marking for deletion Pod {key_of(pod)}"))
        else:
            wake = when if wake is None else min(wake, when)
    if wake is not None:
        actions.append(RequeueAfter(node_name, (wake - now).total_seconds()))
    return actions


def reconcile_orphan_pods(view: View, now: datetime) -> list[Action]:
    """PodGC for pods bound to Nodes that no longer exist: mark them disrupted and delete at once."""
    names = {meta(n)["name"] for n in view.list(NODES)}
    actions: list[Action] = []
    for pod in view.list(PODS):
        node = (pod.get("spec") or {}).get("nodeName")
        if not node or node in names or podstate.is_terminating(pod):
            continue
        actions += _evict(pod, "DeletionByPodGC", "PodGC: node no longer exists", now)
    return actions
