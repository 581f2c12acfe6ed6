"""CronJob reconcile: schedules (macros, @every, time zones), Forbid/Replace/Allow, deadlines, missed
starts, history limits, status times."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from controller_manager import cronjob
from controller_manager.actions import Action, Create, Delete, RecordEvent, RequeueAfter
from controller_manager.view import CRON_JOBS, JOBS
from tests.unit.controller_fixtures import FakeClock, FakeCluster

START = datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)


def cj_obj(schedule: str = "* * * * *", **spec) -> dict[str, Any]:
    base = {"schedule": schedule, "concurrencyPolicy": "Allow", "suspend": False,
            "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
            "jobTemplate": {"metadata": {"labels": {"app": "cron"}},
                            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": []}}}}}
    base.update(spec)
    return {"metadata": {"name": "tick", "namespace": "ns"}, "spec": base}


def cluster(**spec) -> FakeCluster:
    c = FakeCluster(FakeClock(START))
    c.add(CRON_JOBS, cj_obj(**spec))
    return c


def sync(c: FakeCluster) -> list[Action]:
    actions = cronjob.reconcile(c, "ns/tick", c.clock.now)
    c.apply(actions)
    return actions


def complete(c: FakeCluster, job: dict[str, Any], kind: str = "Complete") -> None:
    job = copy.deepcopy(job)
    t = c.clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    job["status"] = {"startTime": job["metadata"]["creationTimestamp"],
                     "conditions": [{"type": kind, "status": "True", "lastTransitionTime": t}]}
    if kind == "Complete":
        job["status"]["completionTime"] = t
    c.put(JOBS, job)


def test_schedule_parsing():
    s = cronjob.parse_schedule("@hourly", None)
    assert s.next(START) == datetime(2026, 1, 1, 1, tzinfo=UTC)
    every = cronjob.parse_schedule("@every 1m30s", None)
    assert every.next(START) == datetime(2026, 1, 1, 0, 1, 35, tzinfo=UTC)
    ny = cronjob.parse_schedule("0 9 * * *", "America/New_York")
    assert ny.next(START) == datetime(2026, 1, 1, 14, tzinfo=UTC)
    for bad, zone in (("61 * * * *", None), ("* * * * * *", None), ("* * * * *", "Mars/Olympus")):
        with pytest.raises(cronjob.ScheduleError):
            cronjob.parse_schedule(bad, zone)


def test_first_run_waits_for_the_schedule_then_creates_named_job():
    c = cluster()
    actions = sync(c)
    assert not [a for a in actions if isinstance(a, Create)]
    (requeue,) = [a for a in actions if isinstance(a, RequeueAfter)]
    assert requeue.seconds == pytest.approx(55.1)
    c.clock.advance(56)
    actions = sync(c)
    (create,) = [a for a in actions if isinstance(a, Create)]
    scheduled = datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    assert create.body["metadata"]["name"] == f"tick-{int(scheduled.timestamp()) // 60}"
    assert create.body["metadata"]["labels"] == {"app": "cron"}
    assert create.body["metadata"]["annotations"][cronjob.SCHEDULED_TIMESTAMP] == "2026-01-01T00:01:00Z"
    assert create.body["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    status = c.get(CRON_JOBS, "ns", "tick")["status"]
    assert status["lastScheduleTime"] == "2026-01-01T00:01:00Z"
    assert [a["name"] for a in status["active"]] == [create.body["metadata"]["name"]]
    # the next sync fills in the uid and creates nothing more
    assert not [a for a in sync(c) if isinstance(a, Create)]
    assert c.get(CRON_JOBS, "ns", "tick")["status"]["active"][0]["uid"]


def test_forbid_skips_while_a_job_runs_and_resumes_after_it_finishes():
    c = cluster(concurrencyPolicy="Forbid")
    c.clock.advance(56)
    sync(c)
    sync(c)
    c.clock.advance(60)
    actions = sync(c)
    assert not [a for a in actions if isinstance(a, Create)]
    assert any(isinstance(a, RecordEvent) and a.reason == "JobAlreadyActive" for a in actions)
    assert len(c.all(JOBS, "ns")) == 1
    complete(c, c.all(JOBS, "ns")[0])
    c.clock.advance(60)
    actions = sync(c)
    assert sum(isinstance(a, Create) for a in actions) == 1
    status = c.get(CRON_JOBS, "ns", "tick")["status"]
    assert status["lastSuccessfulTime"] == "2026-01-01T00:02:01Z"
    assert len(status["active"]) == 1


def test_replace_deletes_the_running_job():
    c = cluster(concurrencyPolicy="Replace")
    c.clock.advance(56)
    sync(c)
    sync(c)
    c.clock.advance(60)
    actions = sync(c)
    assert [type(a) for a in actions if isinstance(a, (Create, Delete))] == [Delete, Create]


def test_allow_runs_concurrently():
    c = cluster()
    c.clock.advance(56)
    sync(c)
    sync(c)
    c.clock.advance(60)
    sync(c)
    assert len(c.all(JOBS, "ns")) == 2
    assert len(c.get(CRON_JOBS, "ns", "tick")["status"]["active"]) == 2


def test_starting_deadline_misses_late_runs():
    c = cluster(startingDeadlineSeconds=10)
    c.clock.advance(56 + 30)  # 00:01:31, 31 s after 00:01
    actions = sync(c)
    assert not [a for a in actions if isinstance(a, Create)]  # 00:01 is outside the 10 s window
    assert [a.seconds for a in actions if isinstance(a, RequeueAfter)] == [pytest.approx(29.1)]
    c.clock.advance(35)  # 00:02:06, within 10 s of 00:02
    (create,) = [a for a in sync(c) if isinstance(a, Create)]
    assert create.body["metadata"]["annotations"][cronjob.SCHEDULED_TIMESTAMP] == "2026-01-01T00:02:00Z"


def test_more_than_100_missed_starts_warns_and_runs_the_latest():
    c = cluster()
    c.clock.advance(3 * 3600)
    actions = sync(c)
    assert any(isinstance(a, RecordEvent) and a.reason == "TooManyMissedTimes" for a in actions)
    (create,) = [a for a in actions if isinstance(a, Create)]
    assert create.body["metadata"]["annotations"][cronjob.SCHEDULED_TIMESTAMP] == "2026-01-01T03:00:00Z"


def test_suspended_cronjob_creates_nothing():
    c = cluster(suspend=True)
    c.clock.advance(120)
    assert not [a for a in sync(c) if isinstance(a, Create)]


def test_history_limits_delete_oldest_finished_jobs():
    c = cluster(successfulJobsHistoryLimit=1, failedJobsHistoryLimit=0)
    for minute in range(3):
        c.clock.advance(60 if minute else 56)
        sync(c)
        sync(c)
        complete(c, c.all(JOBS, "ns")[-1], "Complete" if minute < 2 else "Failed")
    sync(c)
    names = sorted(j["metadata"]["name"] for j in c.all(JOBS, "ns"))
    assert len(names) == 1
    assert c.get(JOBS, "ns", names[0])["status"]["conditions"][0]["type"] == "Complete"


def test_unknown_time_zone_is_reported():
    c = cluster(timeZone="Nowhere/Land")
    actions = sync(c)
    assert any(isinstance(a, RecordEvent) and a.reason == "UnknownTimeZone" for a in actions)
