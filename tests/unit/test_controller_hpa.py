"""HorizontalPodAutoscaler: replica calculation, tolerance, missing/unready pods, stabilization, limits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from controller_manager import hpa
from controller_manager.actions import Patch, UpdateStatus
from controller_manager.timestamps import format_time
from controller_manager.view import DEPLOYMENTS, HORIZONTAL_POD_AUTOSCALERS, PODS
from tests.unit.controller_fixtures import FakeCluster


def setup(replicas: int = 4, target: int = 50, min_r: int = 1, max_r: int = 10, **spec: Any) -> FakeCluster:
    c = FakeCluster()
    c.add(DEPLOYMENTS, {"metadata": {"name": "web", "namespace": "ns"},
                        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}}})
    c.add(HORIZONTAL_POD_AUTOSCALERS, {"metadata": {"name": "web", "namespace": "ns"}, "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": min_r, "maxReplicas": max_r, **spec,
        "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": target}}}]}})
    started = format_time(c.clock.now - timedelta(minutes=10))
    for i in range(replicas):
        add_pod(c, f"p{i}", started)
    return c


def add_pod(c: FakeCluster, name: str, started: str, ready: bool = True) -> None:
    c.add(PODS, {"metadata": {"name": name, "namespace": "ns", "labels": {"app": "web"}},
                 "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "200m"}}}]},
                 "status": {"phase": "Running", "startTime": started, "conditions": [
                     {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": started}]}})


def run(c: FakeCluster, usage: dict[str, int], history: list[hpa.Recommendation] | None = None) -> hpa.Result:
    return hpa.reconcile(c, "ns/web", DEPLOYMENTS, usage, c.clock.now, history=history or [])


def scaled_to(result: hpa.Result) -> int | None:
    for a in result.actions:
        if isinstance(a, Patch) and a.subresource == "scale":
            return int(a.patch["spec"]["replicas"])
    return None


def status(result: hpa.Result) -> dict[str, Any]:
    body = next(a.body for a in result.actions if isinstance(a, UpdateStatus))
    st: dict[str, Any] = body["status"]
    return st


def test_scales_up_by_utilization_ratio():
    c = setup()
    result = run(c, {f"p{i}": 200 for i in range(4)})  # 100 % of request vs 50 % target
    assert scaled_to(result) == 8
    st = status(result)
    assert st["desiredReplicas"] == 8 and st["currentMetrics"][0]["resource"]["current"]["averageUtilization"] == 100
    assert {cd["type"]: cd["reason"] for cd in st["conditions"]}["AbleToScale"] == "SucceededRescale"


def test_within_tolerance_nothing_changes():
    c = setup()
    assert scaled_to(run(c, {f"p{i}": 105 for i in range(4)})) is None  # 52 % vs 50 %


def test_missing_metrics_damp_scale_down():
    c = setup()
    # three pods idle, one without metrics counts as 100 %: (0+0+0+200)/800 = 25 % → 2 instead of 1
    result = run(c, {"p0": 0, "p1": 0, "p2": 0})
    assert scaled_to(result) == 2


def test_unready_pods_count_as_zero_when_scaling_up():
    c = setup(replicas=2)
    add_pod(c, "fresh", format_time(c.clock.now - timedelta(seconds=10)), ready=False)
    result = run(c, {"p0": 200, "p1": 200, "fresh": 200})
    # ready pods at 100 % → 2x; with the unready one at 0 %: 400/600 = 66 % → ceil(1.33*3) = 4
    assert scaled_to(result) == 4


def test_scale_down_is_stabilized_over_the_window():
    c = setup()
    first = run(c, {f"p{i}": 100 for i in range(4)})  # steady at target
    assert scaled_to(first) is None
    c.clock.advance(60)
    second = run(c, {f"p{i}": 10 for i in range(4)}, first.recommendations)
    assert scaled_to(second) is None  # the recommendation of 4 a minute ago still stands
    c.clock.advance(300)
    third = run(c, {f"p{i}": 10 for i in range(4)}, second.recommendations)
    assert scaled_to(third) == 1


def test_bounds_and_scale_up_limit():
    c = setup(replicas=2, max_r=5)
    result = run(c, {"p0": 1000, "p1": 1000})  # 500 % → 20, capped by maxReplicas
    assert scaled_to(result) == 5
    st = status(result)
    limited = next(cd for cd in st["conditions"] if cd["type"] == "ScalingLimited")
    assert (limited["status"], limited["reason"]) == ("True", "TooManyReplicas")
    c2 = setup(replicas=2, max_r=100)
    assert scaled_to(run(c2, {"p0": 1000, "p1": 1000})) == 6  # at most max(2x, +4) per period


def test_zero_replicas_disables_scaling():
    c = setup(replicas=0)
    st = status(run(c, {}))
    active = next(cd for cd in st["conditions"] if cd["type"] == "ScalingActive")
    assert (active["status"], active["reason"]) == ("False", "ScalingDisabled")


def test_pod_metrics_list_becomes_millicores_per_pod():
    listed = {"kind": "PodMetricsList", "items": [
        {"metadata": {"name": "p0"}, "containers": [{"name": "a", "usage": {"cpu": "150m", "memory": "1Mi"}},
                                                    {"name": "b", "usage": {"cpu": "50000000n"}}]},
        {"metadata": {"name": "p1"}, "containers": [{"name": "a", "usage": {"cpu": "1"}}]},
        {"metadata": {"name": "p2"}, "containers": []}]}
    assert hpa.pod_cpu_milli(listed) == {"p0": 200, "p1": 1000, "p2": 0}
    assert hpa.pod_cpu_milli({}) == {}


def test_unreadable_metrics_api_is_reported_and_nothing_scales():
    c = setup()
    result = hpa.reconcile(c, "ns/web", DEPLOYMENTS, {}, c.clock.now, metrics_error="the server is unavailable")
    assert scaled_to(result) is None
    active = {cd["type"]: cd for cd in status(result)["conditions"]}["ScalingActive"]
    assert (active["status"], active["reason"]) == ("False", "FailedGetResourceMetric")
    assert "the server is unavailable" in active["message"]


def test_target_kind_nobody_serves():
    c = setup()
    result = hpa.reconcile(c, "ns/web", None, {}, c.clock.now)
    able = {cd["type"]: cd for cd in status(result)["conditions"]}["AbleToScale"]
    assert (able["status"], able["reason"]) == ("False", "FailedGetScale")


def test_no_metrics_for_any_pod_is_a_failed_metric_not_zero_utilization():
    c = setup()
    result = run(c, {"someone-else": 500})
    assert scaled_to(result) is None
    active = {cd["type"]: cd for cd in status(result)["conditions"]}["ScalingActive"]
    assert (active["reason"], "no metrics returned from resource metrics API" in active["message"]) == \
        ("FailedGetResourceMetric", True)
