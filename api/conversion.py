"""Conversion between versions of one kind that share storage: autoscaling v1 ↔ v2 HorizontalPodAutoscaler,
and core v1 ↔ events.k8s.io/v1 Event.

The apiserver stores one version (STORAGE_VERSIONS) and converts on the way in and out. Fields the
older version cannot express travel in annotations, as Kubernetes does, so round trips are lossless.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Final

from api.schema import JSON

Converter = Callable[[dict[str, JSON]], dict[str, JSON]]

STORAGE_VERSIONS: Final = {
    ("autoscaling", "HorizontalPodAutoscaler"): "autoscaling/v2",
    ("", "Event"): "v1",
    ("events.k8s.io", "Event"): "v1",
}
"""(group, kind) → the apiVersion objects are stored in."""

METRICS_ANNOTATION: Final = "autoscaling.alpha.kubernetes.io/metrics"
BEHAVIOR_ANNOTATION: Final = "autoscaling.alpha.kubernetes.io/behavior"
CONDITIONS_ANNOTATION: Final = "autoscaling.alpha.kubernetes.io/conditions"
CURRENT_METRICS_ANNOTATION: Final = "autoscaling.alpha.kubernetes.io/current-metrics"


class ConversionError(ValueError):
    """No conversion between the two versions of this kind."""


def _is_cpu_utilization(metric: JSON) -> bool:
    resource = metric.get("resource") or {}
    target = resource.get("target") or {}
    return bool(
        metric.get("type") == "Resource"
        and resource.get("name") == "cpu"
        and target.get("type") == "Utilization"
        and "averageUtilization" in target
    )


def _annotations(obj: dict[str, JSON]) -> dict[str, str]:
    meta = obj.setdefault("metadata", {})
    result: dict[str, str] = meta.setdefault("annotations", {})
    return result


def _pop_json(obj: dict[str, JSON], key: str) -> JSON:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    raw = annotations.pop(key, None)
    if not annotations and "annotations" in (obj.get("metadata") or {}):
        del obj["metadata"]["annotations"]
    return json.loads(raw) if raw else None


def hpa_v2_to_v1(obj: dict[str, JSON]) -> dict[str, JSON]:
    """autoscaling/v2 → v1: the CPU target maps to targetCPUUtilizationPercentage, the rest to annotations."""
    out = copy.deepcopy(obj)
    out["apiVersion"] = "autoscaling/v1"
    spec = out.get("spec") or {}
    metrics = spec.pop("metrics", None) or []
    cpu = next((m for m in metrics if _is_cpu_utilization(m)), None)
    others = [m for m in metrics if m is not cpu]
    if cpu is not None:
        spec["targetCPUUtilizationPercentage"] = cpu["resource"]["target"]["averageUtilization"]
    if others:
        _annotations(out)[METRICS_ANNOTATION] = json.dumps(others, separators=(",", ":"))
    behavior = spec.pop("behavior", None)
    if behavior is not None:
        _annotations(out)[BEHAVIOR_ANNOTATION] = json.dumps(behavior, separators=(",", ":"))
    status = out.get("status")
    if isinstance(status, dict):
        current = status.pop("currentMetrics", None) or []
        cpu_now = next(
            (m for m in current if m.get("type") == "Resource" and (m.get("resource") or {}).get("name") == "cpu"),
            None,
        )
        if cpu_now is not None and "averageUtilization" in ((cpu_now.get("resource") or {}).get("current") or {}):
            status["currentCPUUtilizationPercentage"] = cpu_now["resource"]["current"]["averageUtilization"]
        rest = [m for m in current if m is not cpu_now]
        if rest:
            _annotations(out)[CURRENT_METRICS_ANNOTATION] = json.dumps(rest, separators=(",", ":"))
        conditions = status.pop("conditions", None)
        if conditions:
            _annotations(out)[CONDITIONS_ANNOTATION] = json.dumps(conditions, separators=(",", ":"))
    return out


def hpa_v1_to_v2(obj: dict[str, JSON]) -> dict[str, JSON]:
    """autoscaling/v1 → v2: the inverse of hpa_v2_to_v1."""
    out = copy.deepcopy(obj)
    out["apiVersion"] = "autoscaling/v2"
    spec = out.setdefault("spec", {})
    metrics: list[JSON] = []
    target = spec.pop("targetCPUUtilizationPercentage", None)
    if target is not None:
        metrics.append(
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}},
            }
        )
    metrics.extend(_pop_json(out, METRICS_ANNOTATION) or [])
    if metrics:
        spec["metrics"] = metrics
    behavior = _pop_json(out, BEHAVIOR_ANNOTATION)
    if behavior is not None:
        spec["behavior"] = behavior
    status = out.get("status")
    current_rest = _pop_json(out, CURRENT_METRICS_ANNOTATION) or []
    conditions = _pop_json(out, CONDITIONS_ANNOTATION)
    if isinstance(status, dict):
        current: list[JSON] = []
        cpu_now = status.pop("currentCPUUtilizationPercentage", None)
        if cpu_now is not None:
            current.append(
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": cpu_now}}}
            )
        current.extend(current_rest)
        if current:
            status["currentMetrics"] = current
        if conditions:
            status["conditions"] = conditions
    return out


_EVENT_RENAMES: Final = (
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
)


def event_core_to_events(obj: dict[str, JSON]) -> dict[str, JSON]:
    """core/v1 Event → events.k8s.io/v1 Event (renamed fields)."""
    out = copy.deepcopy(obj)
    out["apiVersion"] = "events.k8s.io/v1"
    for core, new in _EVENT_RENAMES:
        if core in out:
            out[new] = out.pop(core)
    return out


def event_events_to_core(obj: dict[str, JSON]) -> dict[str, JSON]:
    """events.k8s.io/v1 Event → core/v1 Event."""
    out = copy.deepcopy(obj)
    out["apiVersion"] = "v1"
    for core, new in _EVENT_RENAMES:
        if new in out:
            out[core] = out.pop(new)
    return out


_CONVERTERS: Final[dict[tuple[str, str, str], Converter]] = {
    ("autoscaling/v2", "autoscaling/v1", "HorizontalPodAutoscaler"): hpa_v2_to_v1,
    ("autoscaling/v1", "autoscaling/v2", "HorizontalPodAutoscaler"): hpa_v1_to_v2,
    ("v1", "events.k8s.io/v1", "Event"): event_core_to_events,
    ("events.k8s.io/v1", "v1", "Event"): event_events_to_core,
}


def convert(obj: dict[str, JSON], api_version: str) -> dict[str, JSON]:
    """`obj` in `api_version` (a copy, or `obj` itself when it is already in that version)."""
    current = obj.get("apiVersion", "")
    if current == api_version:
        return obj
    converter = _CONVERTERS.get((current, api_version, obj.get("kind", "")))
    if converter is None:
        raise ConversionError(f"cannot convert {obj.get('kind')} from {current!r} to {api_version!r}")
    return converter(obj)


def storage_version(group: str, kind: str, served_version: str) -> str:
    """The apiVersion to store objects of this kind in (the served one unless versions share storage)."""
    return STORAGE_VERSIONS.get((group, kind), f"{group}/{served_version}" if group else served_version)
