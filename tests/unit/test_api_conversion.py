"""Versions sharing storage: HPA autoscaling/v1 ↔ v2, Event v1 ↔ events.k8s.io/v1."""

import pytest

from api import conversion
from api.catalog import REGISTRY


def test_hpa_v1_to_v2_and_back_is_lossless():
    v1 = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": 3,
            "targetCPUUtilizationPercentage": 50,
        },
        "status": {"currentReplicas": 1, "desiredReplicas": 1, "currentCPUUtilizationPercentage": 20},
    }
    v2 = conversion.convert(v1, "autoscaling/v2")
    assert v2["spec"]["metrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}
    ]
    assert v2["status"]["currentMetrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 20}}}
    ]
    assert "targetCPUUtilizationPercentage" not in v2["spec"]
    assert conversion.convert(v2, "autoscaling/v1") == v1


def test_hpa_v2_only_fields_survive_in_annotations():
    memory = {
        "type": "Resource",
        "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}},
    }
    v2 = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {"maxReplicas": 3, "metrics": [memory], "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}},
        "status": {"conditions": [{"type": "AbleToScale", "status": "True"}]},
    }
    v1 = conversion.convert(v2, "autoscaling/v1")
    assert set(v1["metadata"]["annotations"]) == {
        conversion.METRICS_ANNOTATION,
        conversion.BEHAVIOR_ANNOTATION,
        conversion.CONDITIONS_ANNOTATION,
    }
    assert "targetCPUUtilizationPercentage" not in v1["spec"]
    assert conversion.convert(v1, "autoscaling/v2") == v2


def test_events_convert_both_ways():
    core = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "e", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "p"},
        "reason": "Started",
        "message": "Started container",
        "source": {"component": "kubelet"},
        "count": 2,
        "type": "Normal",
        "reportingComponent": "kubelet",
    }
    new = conversion.convert(core, "events.k8s.io/v1")
    assert new["regarding"] == {"kind": "Pod", "name": "p"}
    assert (new["note"], new["deprecatedCount"], new["reportingController"]) == ("Started container", 2, "kubelet")
    assert conversion.convert(new, "v1") == core


def test_shared_storage_layout():
    core = REGISTRY.require("", "v1", "events")
    new = REGISTRY.require("events.k8s.io", "v1", "events")
    assert core.storage_key("ns", "e") == new.storage_key("ns", "e") == "/registry/events/ns/e"
    v1 = REGISTRY.require("autoscaling", "v1", "horizontalpodautoscalers")
    v2 = REGISTRY.require("autoscaling", "v2", "horizontalpodautoscalers")
    assert v1.storage_prefix == v2.storage_prefix
    assert conversion.storage_version("autoscaling", "HorizontalPodAutoscaler", "v1") == "autoscaling/v2"
    assert conversion.storage_version("events.k8s.io", "Event", "v1") == "v1"
    assert conversion.storage_version("apps", "Deployment", "v1") == "apps/v1"


def test_unknown_conversion():
    with pytest.raises(conversion.ConversionError):
        conversion.convert({"apiVersion": "apps/v1", "kind": "Deployment"}, "apps/v2")
    same = {"apiVersion": "v1", "kind": "Pod"}
    assert conversion.convert(same, "v1") is same
