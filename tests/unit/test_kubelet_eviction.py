"""Node-pressure eviction: threshold parsing, pressure hysteresis, taints and Kubernetes' victim order."""

from __future__ import annotations

from typing import Any

import pytest

from kubelet.eviction import (
    MEMORY_AVAILABLE,
    NODEFS_AVAILABLE,
    PID_AVAILABLE,
    Observation,
    PodUsage,
    PressureState,
    ThresholdError,
    evaluate,
    evicted_status,
    eviction_message,
    parse_thresholds,
    rank,
)

MI = 1024**2
GI = 1024**3


def pod(name: str, requests: dict[str, str] | None = None, limits: dict[str, str] | None = None,
        priority: int = 0) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return {"metadata": {"name": name, "namespace": "default"},
            "spec": {"priority": priority, "containers": [{"name": "app", "resources": resources}]}}


def test_parse_thresholds() -> None:
    ts = parse_thresholds("memory.available<100Mi, nodefs.available<10%,pid.available<1000")
    assert [t.signal for t in ts] == [MEMORY_AVAILABLE, NODEFS_AVAILABLE, PID_AVAILABLE]
    assert ts[0].limit(8 * GI) == 100 * MI
    assert ts[1].limit(50 * GI) == 5 * GI
    assert ts[2].limit(32768) == 1000
    for bad in ("memory.available>1Gi", "cpu.available<1", "nodefs.available<150%"):
        with pytest.raises(ThresholdError):
            parse_thresholds(bad)


def test_pressure_conditions_and_hysteresis() -> None:
    ts = parse_thresholds("memory.available<100Mi,nodefs.available<10%,pid.available<100")
    state = PressureState()
    calm = {MEMORY_AVAILABLE: Observation(2 * GI, 8 * GI), NODEFS_AVAILABLE: Observation(20 * GI, 50 * GI),
            PID_AVAILABLE: Observation(30000, 32768)}
    assert evaluate(ts, calm, state, now=0).conditions == frozenset()
    tight = {**calm, MEMORY_AVAILABLE: Observation(50 * MI, 8 * GI), NODEFS_AVAILABLE: Observation(GI, 50 * GI)}
    ev = evaluate(ts, tight, state, now=10)
    assert [t.signal for t in ev.crossed] == [MEMORY_AVAILABLE, NODEFS_AVAILABLE]
    assert ev.conditions == {"MemoryPressure", "DiskPressure"}
    later = evaluate(ts, calm, state, now=10 + 299)
    assert later.crossed == [] and later.conditions == {"MemoryPressure", "DiskPressure"}
    assert evaluate(ts, calm, state, now=10 + 300).conditions == frozenset()


def test_memory_ranking_best_effort_then_burstable_over_request_then_guaranteed() -> None:
    guaranteed = PodUsage(pod("g", limits={"cpu": "1", "memory": "1Gi"}), memory={"app": 900 * MI})
    burst_over = PodUsage(pod("b-over", requests={"memory": "100Mi"}), memory={"app": 600 * MI})
    burst_more = PodUsage(pod("b-more", requests={"memory": "100Mi"}), memory={"app": 700 * MI})
    burst_under = PodUsage(pod("b-under", requests={"memory": "1Gi"}), memory={"app": 800 * MI})
    best_small = PodUsage(pod("be-small"), memory={"app": 10 * MI})
    critical = PodUsage(pod("crit", priority=2_000_001_000), memory={"app": 4 * GI})
    order = rank(MEMORY_AVAILABLE, [guaranteed, burst_over, burst_under, best_small, burst_more, critical])
    # Pods within their requests (Guaranteed or Burstable) come last, ordered as upstream by usage minus
    # request: g is 124Mi under its request, b-under 224Mi under, so g goes first among them.
    assert [p.pod["metadata"]["name"] for p in order] == ["b-more", "b-over", "be-small", "g", "b-under"]
    # Among pods over their requests, lower priority goes first whatever the usage.
    low = PodUsage(pod("low", priority=-10), memory={"app": MI})
    assert rank(MEMORY_AVAILABLE, [burst_more, low])[0] is low


def test_pid_ranking() -> None:
    a = PodUsage(pod("a"), processes=10)
    b = PodUsage(pod("b"), processes=500)
    c = PodUsage(pod("c", priority=100), processes=5000)
    assert [p.pod["metadata"]["name"] for p in rank(PID_AVAILABLE, [a, b, c])] == ["b", "a", "c"]


def test_eviction_message_and_status() -> None:
    threshold = parse_thresholds("memory.available<100Mi")[0]
    victim = PodUsage(pod("be"), memory={"app": 200 * MI})
    message = eviction_message(threshold, Observation(50 * MI, 8 * GI), victim)
    assert message == ("The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi. "
                       "Container app was using 200Mi, request is 0, has larger consumption of memory. ")
    status = evicted_status(message, "2026-01-01T00:00:00Z")
    assert (status["phase"], status["reason"]) == ("Failed", "Evicted")
    assert status["conditions"][0]["reason"] == "TerminationByKubelet"
