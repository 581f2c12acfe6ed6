"""HorizontalPodAutoscaler (autoscaling/v2) on CPU utilization, with upstream's replica calculation.

CPU usage per pod comes in as an argument (the driver reads the metrics API, ``pod_cpu_milli`` turns its
PodMetricsList into that argument; a failed read comes in as ``metrics_error``). The desired count is
``ceil(current utilization / target * pods with metrics)``, skipped inside the 10 % tolerance; pods
without metrics count as 100 % when scaling down and 0 % when scaling up, and not-ready pods as 0 %
when scaling up, so missing data can only damp a decision. Scale-downs are stabilized over the
window (300 s by default) by taking the highest recommendation seen in it; the recommendations are
state the driver keeps and passes back in.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Final

from api import labels
from api.quantity import Quantity
from client.cache import split_key
from client.rest import ResourceRef
from controller_manager import pods as podstate
from controller_manager import timestamps
from controller_manager.actions import NORMAL, WARNING, Action, Patch, RequeueAfter, UpdateStatus, event
from controller_manager.resources import pod_resource
from controller_manager.view import HORIZONTAL_POD_AUTOSCALERS, PODS, Obj, View, meta

TOLERANCE: Final = 0.1
SYNC_PERIOD: Final = 15.0
DEFAULT_DOWN_WINDOW: Final = 300
CPU_INITIALIZATION: Final = timedelta(minutes=5)
INITIAL_READINESS_DELAY: Final = timedelta(seconds=30)


@dataclass(frozen=True)
class Recommendation:
    """One past desired-replica recommendation, remembered for the stabilization window."""

    at: datetime
    replicas: int


@dataclass
class Result:
    """The writes, and the recommendations to hand back on the next sync."""

    actions: list[Action] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)


def _cpu_target(hpa: Obj) -> int | None:
    for metric in (hpa.get("spec") or {}).get("metrics") or [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]:
        res = metric.get("resource") or {}
        target = res.get("target") or {}
        if metric.get("type") == "Resource" and res.get("name") == "cpu" and target.get("type") == "Utilization":
            return int(target.get("averageUtilization", 80))
    return None


def _set_condition(status: Obj, cond: tuple[str, str, str, str], now: datetime) -> None:
    """Set (type, status, reason, message); the transition time moves only when the status does."""
    type_, cond_status, reason, message = cond
    conds = status.setdefault("conditions", [])
    for c in conds:
        if c.get("type") == type_:
            if c.get("status") != cond_status:
                c["lastTransitionTime"] = timestamps.format_time(now)
            c.update({"status": cond_status, "reason": reason, "message": message})
            return
    conds.append({"type": type_, "status": cond_status, "reason": reason, "message": message,
                  "lastTransitionTime": timestamps.format_time(now)})


def _unready(pod: Obj, now: datetime) -> bool:
    """Whether a CPU sample is not to be trusted: pending, still initializing and not ready, or never ready
    since a start that was not long ago."""
    if podstate.phase(pod) == podstate.PENDING:
        return True
    cond = podstate.condition(pod, "Ready")
    start = timestamps.parse((pod.get("status") or {}).get("startTime"))
    if cond is None or start is None:
        return True
    if start + CPU_INITIALIZATION > now:
        return cond.get("status") == "False"
    changed = timestamps.parse(cond.get("lastTransitionTime"))
    return cond.get("status") == "False" and changed is not None and start + INITIAL_READINESS_DELAY > changed


def replica_count(current: int, target: int, pods: Sequence[Obj], usage_milli: Mapping[str, int],
                  now: datetime) -> tuple[int, int]:
    """(desired replicas, utilization in %) from CPU usage, as upstream's GetResourceReplicas."""
    ready_usage: dict[str, int] = {}
    requests: dict[str, float] = {}
    missing: list[str] = []
    unready: list[str] = []
    for pod in pods:
        name = meta(pod)["name"]
        if podstate.is_terminating(pod) or podstate.phase(pod) == podstate.FAILED:
            continue
        requests[name] = float(pod_resource(pod, "requests", "cpu")) * 1000
        if name not in usage_milli:
            missing.append(name)
            continue
        if _unready(pod, now):
            unready.append(name)
            continue
        ready_usage[name] = usage_milli[name]
    if not ready_usage:
        # upstream's errors: the metrics API named none of the pods, or only pods whose samples are not trusted
        raise ValueError("no metrics returned from resource metrics API" if len(missing) == len(requests)
                         else "no metrics returned matched known pods")
    req_total = sum(requests[n] for n in ready_usage)
    if req_total <= 0:
        raise ValueError("missing request for cpu")
    utilization = int(sum(ready_usage.values()) * 100 / req_total)
    ratio = utilization / target
    rebalance_unready = bool(unready) and ratio > 1.0
    if not missing and not rebalance_unready:
        if abs(1.0 - ratio) <= TOLERANCE:
            return current, utilization
        return math.ceil(ratio * len(ready_usage)), utilization
    usage = dict(ready_usage)
    for name in missing:
        usage[name] = 0 if ratio > 1.0 else int(requests[name])
    if rebalance_unready:
        for name in unready:
            usage[name] = 0
    new_total = sum(requests[n] for n in usage)
    new_ratio = (sum(usage.values()) * 100 / new_total) / target if new_total else ratio
    if abs(1.0 - new_ratio) <= TOLERANCE or (ratio > 1.0) != (new_ratio > 1.0):
        return current, utilization
    desired = math.ceil(new_ratio * len(usage))
    if (new_ratio < 1.0 and desired > current) or (new_ratio > 1.0 and desired < current):
        return current, utilization
    return desired, utilization


def pod_cpu_milli(pod_metrics: Obj) -> dict[str, int]:
    """CPU usage in millicores per pod name, summed over containers, from a metrics.k8s.io PodMetricsList."""
    out: dict[str, int] = {}
    for item in pod_metrics.get("items") or []:
        total = sum((Quantity.parse(str((c.get("usage") or {}).get("cpu", "0"))).value
                     for c in item.get("containers") or []), Fraction(0))
        out[meta(item)["name"]] = math.ceil(total * 1000)
    return out


def reconcile(view: View, key: str, target_resource: ResourceRef | None, usage_milli: Mapping[str, int],
              now: datetime, *, history: Sequence[Recommendation] = (), metrics_error: str | None = None) -> Result:
    """One sync of HPA ``key``; ``target_resource`` is the resource of spec.scaleTargetRef (from discovery,
    None when no resource serves its kind); ``metrics_error`` says why the metrics API could not be read."""
    namespace, name = split_key(key)
    hpa = view.get(HORIZONTAL_POD_AUTOSCALERS, namespace, name)
    if hpa is None:
        return Result()
    spec = hpa.get("spec") or {}
    ref = spec.get("scaleTargetRef") or {}
    new = copy.deepcopy(hpa)
    status: Obj = new.setdefault("status", {})
    result = Result(recommendations=list(history))
    target = view.get(target_resource, namespace, ref.get("name", "")) if target_resource is not None else None
    if target is None or target_resource is None:
        _set_condition(status, ("AbleToScale", "False", "FailedGetScale",
                                f'the HPA controller was unable to get the target\'s current scale: {ref.get("kind")} '
                                f'"{ref.get("name")}" not found'), now)
        result.actions += [event(hpa, WARNING, "FailedGetScale", f'{ref.get("kind")} "{ref.get("name")}" not found')]
        return _finish(result, hpa, new, key)
    current = int((target.get("spec") or {}).get("replicas", 1))
    min_r = int(spec.get("minReplicas", 1))
    max_r = int(spec["maxReplicas"])
    status["currentReplicas"] = current
    if current == 0 and min_r != 0:
        _set_condition(status, ("ScalingActive", "False", "ScalingDisabled",
                                "scaling is disabled since the replica count of the target is zero"), now)
        status["desiredReplicas"] = 0
        return _finish(result, hpa, new, key)
    cpu_target = _cpu_target(hpa)
    selector_obj = (target.get("spec") or {}).get("selector")
    if cpu_target is None or not selector_obj:
        _set_condition(status, ("ScalingActive", "False", "InvalidMetricSourceType",
                                "the HPA was unable to compute the replica count: only CPU utilization is supported"),
                       now)
        return _finish(result, hpa, new, key)
    selector = labels.from_label_selector(selector_obj if "matchLabels" in selector_obj or
                                          "matchExpressions" in selector_obj else {"matchLabels": selector_obj})
    if metrics_error is not None:
        message = f"unable to get metrics for resource cpu: {metrics_error}"
        _set_condition(status, ("ScalingActive", "False", "FailedGetResourceMetric",
                                f"the HPA was unable to compute the replica count: {message}"), now)
        result.actions.append(event(hpa, WARNING, "FailedGetResourceMetric", message))
        return _finish(result, hpa, new, key)
    pods = view.list(PODS, namespace, selector)
    try:
        proposal, utilization = replica_count(current, cpu_target, pods, usage_milli, now)
    except ValueError as e:
        _set_condition(status, ("ScalingActive", "False", "FailedGetResourceMetric",
                                f"the HPA was unable to compute the replica count: {e}"), now)
        result.actions.append(event(hpa, WARNING, "FailedGetResourceMetric", str(e)))
        return _finish(result, hpa, new, key)
    _set_condition(status, ("ScalingActive", "True", "ValidMetricFound",
                            "the HPA was able to successfully calculate a replica count from cpu resource "
                            "utilization (percentage of request)"), now)
    status["currentMetrics"] = [{"type": "Resource", "resource": {"name": "cpu", "current": {
        "averageUtilization": utilization}}}]
    desired = _stabilize(hpa, proposal, current, now, result)
    if desired < min_r:
        desired, limited = min_r, ("TooFewReplicas", "the desired replica count is less than the minimum replica count")
    elif desired > max_r:
        desired, limited = max_r, ("TooManyReplicas",
                                   "the desired replica count is more than the maximum replica count")
    else:
        limited = ("DesiredWithinRange", "the desired count is within the acceptable range")
    _set_condition(status, ("ScalingLimited", "True" if limited[0] != "DesiredWithinRange" else "False", *limited),
                   now)
    status["desiredReplicas"] = desired
    if desired != current:
        result.actions.append(Patch(target_resource, namespace, ref["name"], {"spec": {"replicas": desired}},
                                    subresource="scale"))
        direction = "above" if desired > current else "below"
        result.actions.append(event(hpa, NORMAL, "SuccessfulRescale", f"New size: {desired}; reason: cpu resource "
                                    f"utilization (percentage of request) {direction} target"))
        status["lastScaleTime"] = timestamps.format_time(now)
        _set_condition(status, ("AbleToScale", "True", "SucceededRescale",
                                f"the HPA controller was able to update the target scale to {desired}"), now)
    else:
        _set_condition(status, ("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size"),
                       now)
    return _finish(result, hpa, new, key)


def _stabilize(hpa: Obj, proposal: int, current: int, now: datetime, result: Result) -> int:
    """Scale-down stabilization (highest recommendation in the window) and the default scale-up limit
    (double, or +4 pods, whichever is more, per sync period)."""
    behavior = (hpa.get("spec") or {}).get("behavior") or {}
    down = behavior.get("scaleDown") or {}
    up = behavior.get("scaleUp") or {}
    down_window = timedelta(seconds=int(down.get("stabilizationWindowSeconds", DEFAULT_DOWN_WINDOW)))
    up_window = timedelta(seconds=int(up.get("stabilizationWindowSeconds", 0)))
    longest = max(down_window, up_window)
    result.recommendations = [r for r in result.recommendations if now - r.at <= longest]
    result.recommendations.append(Recommendation(now, proposal))
    up_floor = min((r.replicas for r in result.recommendations if now - r.at <= up_window), default=proposal)
    down_ceiling = max((r.replicas for r in result.recommendations if now - r.at <= down_window), default=proposal)
    desired = current
    if proposal > current:
        desired = min(proposal, up_floor) if up_window else proposal
        desired = min(desired, max(current * 2, current + 4))
    elif proposal < current:
        desired = max(proposal, down_ceiling) if down_window else proposal
        desired = min(desired, current)
    return desired


def _finish(result: Result, hpa: Obj, new: Obj, key: str) -> Result:
    if new.get("status") != hpa.get("status"):
        result.actions.append(UpdateStatus(HORIZONTAL_POD_AUTOSCALERS, new))
    result.actions.append(RequeueAfter(key, SYNC_PERIOD))
    return result
