"""The probe state machine: initial results, delays, thresholds, startup gating and hold after failure."""

from __future__ import annotations

from kubelet.probes import (
    LIVENESS,
    READINESS,
    STARTUP,
    ProbeSpec,
    ProbeTarget,
    ProbeTracker,
    Result,
    resolve_port,
)


def result_of(t: ProbeTracker) -> Result:
    """Read through a call, so the checker does not narrow the attribute across record() calls."""
    return t.result


RUNNING = ProbeTarget("c1", running=True, started_at=100.0, started=True)


def test_defaults_from_api() -> None:
    assert ProbeSpec.from_api({}) == ProbeSpec(0, 10, 1, 1, 3)
    assert ProbeSpec.from_api({"initialDelaySeconds": 5, "periodSeconds": 2, "timeoutSeconds": 3,
                               "successThreshold": 2, "failureThreshold": 1}) == ProbeSpec(5, 2, 3, 2, 1)


def test_initial_results_per_kind() -> None:
    for kind, initial in [(READINESS, Result.FAILURE), (LIVENESS, Result.SUCCESS), (STARTUP, Result.UNKNOWN)]:
        t = ProbeTracker(kind, ProbeSpec())
        t.should_probe(ProbeTarget("c1", running=True, started_at=100.0, started=kind != STARTUP), 100.0)
        assert result_of(t) is initial


def test_initial_delay_holds_probing() -> None:
    t = ProbeTracker(READINESS, ProbeSpec(initial_delay=5))
    assert not t.should_probe(RUNNING, 104.9)
    assert t.should_probe(RUNNING, 105.0)


def test_thresholds_need_consecutive_outcomes() -> None:
    t = ProbeTracker(READINESS, ProbeSpec(success_threshold=2, failure_threshold=3))
    t.should_probe(RUNNING, 100)
    assert not t.record(Result.SUCCESS) and result_of(t) is Result.FAILURE
    assert t.record(Result.SUCCESS) and result_of(t) is Result.SUCCESS
    assert not t.record(Result.FAILURE)
    assert not t.record(Result.SUCCESS)  # the streak of failures restarts
    assert not t.record(Result.FAILURE) and not t.record(Result.FAILURE)
    assert t.record(Result.FAILURE) and result_of(t) is Result.FAILURE
    assert not t.record(Result.UNKNOWN) and result_of(t) is Result.FAILURE  # prober errors are discarded
    assert t.should_probe(RUNNING, 200)  # readiness keeps probing after failing


def test_liveness_failure_holds_until_new_container() -> None:
    t = ProbeTracker(LIVENESS, ProbeSpec(failure_threshold=2))
    assert t.should_probe(RUNNING, 100)
    t.record(Result.FAILURE)
    assert result_of(t) is Result.SUCCESS
    assert t.record(Result.FAILURE) and result_of(t) is Result.FAILURE
    assert not t.should_probe(RUNNING, 110)
    restarted = ProbeTarget("c2", running=True, started_at=120.0, started=True)
    assert t.should_probe(restarted, 120) and result_of(t) is Result.SUCCESS
    t.record(Result.FAILURE)
    assert result_of(t) is Result.SUCCESS  # the failure count started over for the new container


def test_startup_probe_gates_the_others_then_stops() -> None:
    not_started = ProbeTarget("c1", running=True, started_at=100.0, started=False)
    live = ProbeTracker(LIVENESS, ProbeSpec())
    startup = ProbeTracker(STARTUP, ProbeSpec())
    assert not live.should_probe(not_started, 100)
    assert startup.should_probe(not_started, 100)
    assert startup.record(Result.SUCCESS)
    assert not startup.should_probe(RUNNING, 110)
    assert live.should_probe(RUNNING, 110)


def test_not_running_container_fails_and_never_restart_stops() -> None:
    t = ProbeTracker(READINESS, ProbeSpec(), restart_never=True)
    t.should_probe(RUNNING, 100)
    t.record(Result.SUCCESS)
    exited = ProbeTarget("c1", running=False, terminated=True)
    assert not t.should_probe(exited, 110)
    assert result_of(t) is Result.FAILURE and t.stopped


def test_deleting_pod_stops_liveness_with_success() -> None:
    t = ProbeTracker(LIVENESS, ProbeSpec())
    assert not t.should_probe(ProbeTarget("c1", running=True, started=True, deleting=True), 100)
    assert result_of(t) is Result.SUCCESS and t.stopped


def test_named_ports() -> None:
    container = {"name": "web", "ports": [{"name": "http", "containerPort": 8080}]}
    assert resolve_port("http", container) == 8080
    assert resolve_port(81, container) == 81 and resolve_port("82", container) == 82
    try:
        resolve_port("nope", container)
    except ValueError as err:
        assert str(err) == "couldn't find port: nope in container web"
    else:
        raise AssertionError("unknown port name accepted")
