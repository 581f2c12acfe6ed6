"""CronJob: create a Job for each scheduled time, honouring concurrencyPolicy, startingDeadlineSeconds,
suspend, timeZone and the history limits; keep ``active``, ``lastScheduleTime`` and
``lastSuccessfulTime`` current.

The Job is created before the status that records it, as upstream does. Its uid is not known until
the create returns, so the ``active`` entry is written by name and filled in with the uid on the next
sync (a Job found in the cache under the scheduled name is taken as already created, never twice).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from client.cache import split_key
from controller_manager import job as jobctl
from controller_manager import timestamps
from controller_manager.actions import NORMAL, WARNING, Action, Create, Delete, RequeueAfter, UpdateStatus, event
from controller_manager.ownership import controller_ref, is_controlled_by
from controller_manager.view import CRON_JOBS, JOBS, Obj, View, meta

SCHEDULED_TIMESTAMP: Final = "batch.kubernetes.io/cronjob-scheduled-timestamp"
MANY_MISSED: Final = 100
NEXT_SCHEDULE_DELTA: Final = timedelta(milliseconds=100)
_EVERY = re.compile(r"@every\s+(\S+)\Z")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")
_DURATION_UNITS: Final = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


class ScheduleError(ValueError):
    """The schedule or time zone cannot be used; the message is the event text."""


@dataclass(frozen=True)
class Schedule:
    """A parsed ``spec.schedule`` in a time zone: standard 5-field cron, a macro, or ``@every <duration>``."""

    expr: str
    zone: ZoneInfo | None
    every: timedelta | None = None

    def next(self, after: datetime) -> datetime:
        """The first activation strictly after ``after`` (UTC)."""
        if self.every is not None:
            return (after + self.every).replace(microsecond=0)
        local = after.astimezone(self.zone) if self.zone else after.astimezone(UTC)
        nxt: datetime = croniter(self.expr, local).get_next(datetime)
        return nxt.astimezone(UTC)


def _parse_duration(text: str) -> timedelta:
    pos = 0
    total = 0.0
    for m in _DURATION_PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ScheduleError(f"unparseable schedule: invalid duration {text!r}")
    return timedelta(seconds=max(int(total), 1))  # whole seconds, at least one, as robfig/cron


def parse_schedule(expr: str, time_zone: str | None) -> Schedule:
    """Parse ``spec.schedule`` (5 fields or a macro) in ``spec.timeZone``; ScheduleError says what is wrong."""
    zone = None
    if time_zone:
        try:
            zone = ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ScheduleError(f"invalid timeZone: {time_zone!r}") from e
    text = expr.strip()
    every = _EVERY.match(text)
    if every:
        return Schedule(text, zone, _parse_duration(every.group(1)))
    if not text.startswith("@") and len(text.split()) != 5:
        raise ScheduleError(f"unparseable schedule: {expr!r}: expected exactly 5 fields")
    if not croniter.is_valid(text):
        raise ScheduleError(f"unparseable schedule: {expr!r}")
    return Schedule(text, zone)


def most_recent_schedule(cj: Obj, now: datetime, sched: Schedule,
                         with_deadline: bool) -> tuple[datetime | None, int, datetime]:
    """(most recent unmet activation ≤ now or None, how many were missed (capped at 101), earliest time)."""
    earliest = timestamps.parse((cj.get("status") or {}).get("lastScheduleTime")) or \
        timestamps.parse(meta(cj).get("creationTimestamp")) or now
    deadline = (cj.get("spec") or {}).get("startingDeadlineSeconds")
    if with_deadline and deadline is not None:
        earliest = max(earliest, now - timedelta(seconds=int(deadline)))
    t = sched.next(earliest)
    missed = 0
    recent = None
    while t <= now and missed <= MANY_MISSED:
        recent = t
        missed += 1
        t = sched.next(t)
    if missed > MANY_MISSED:
        # skip the rest of the walk: the latest activation not after now
        local = now.astimezone(sched.zone) if sched.zone else now
        if sched.every is None:
            recent = croniter(sched.expr, local + timedelta(microseconds=1)).get_prev(datetime).astimezone(UTC)
        else:
            steps = int((now - earliest) / sched.every)
            recent = earliest + steps * sched.every
    return recent, missed, earliest


def job_name(cj: Obj, scheduled: datetime) -> str:
    """``<cronjob>-<minutes since the epoch>``: the same scheduled time always names the same Job."""
    return f"{meta(cj)['name']}-{int(scheduled.timestamp()) // 60}"


def job_from_template(cj: Obj, scheduled: datetime, zone: ZoneInfo | None) -> Obj:
    """The Job for one scheduled time: jobTemplate labels, annotations and spec, plus the scheduled time."""
    template = (cj.get("spec") or {}).get("jobTemplate") or {}
    tmeta = template.get("metadata") or {}
    local = scheduled.astimezone(zone) if zone else scheduled
    annotations = {**(tmeta.get("annotations") or {}), SCHEDULED_TIMESTAMP: local.isoformat().replace("+00:00", "Z")}
    job_meta: Obj = {"name": job_name(cj, scheduled), "namespace": meta(cj).get("namespace"),
                     "annotations": annotations, "ownerReferences": [controller_ref(cj)]}
    if tmeta.get("labels"):
        job_meta["labels"] = dict(tmeta["labels"])
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": job_meta,
            "spec": copy.deepcopy(template.get("spec") or {})}


def _job_ref(job: Obj) -> Obj:
    ref: Obj = {"apiVersion": "batch/v1", "kind": "Job", "namespace": meta(job).get("namespace"),
                "name": meta(job)["name"]}
    if meta(job).get("uid"):
        ref["uid"] = meta(job)["uid"]
    if meta(job).get("resourceVersion"):
        ref["resourceVersion"] = meta(job)["resourceVersion"]
    return ref


def reconcile(view: View, key: str, now: datetime) -> list[Action]:
    """One sync of the CronJob with work-queue key ``namespace/name``."""
    namespace, name = split_key(key)
    cached = view.get(CRON_JOBS, namespace, name)
    if cached is None:
        return []
    cj = copy.deepcopy(cached)
    status: Obj = cj.setdefault("status", {})
    jobs = [j for j in view.list(JOBS, namespace) if is_controlled_by(j, cj)]
    actions: list[Action] = []
    actions += _sync_active(cj, jobs)
    if meta(cj).get("deletionTimestamp") is not None:
        return _with_status(cached, cj, actions)
    spec = cj.get("spec") or {}
    try:
        sched = parse_schedule(str(spec.get("schedule", "")), spec.get("timeZone"))
    except ScheduleError as e:
        reason = "UnknownTimeZone" if "timeZone" in str(e) else "UnparseableSchedule"
        return _with_status(cached, cj, [*actions, event(cj, WARNING, reason, str(e))])
    if spec.get("suspend"):
        return _with_status(cached, cj, actions)
    actions += _cleanup_finished(cj, jobs)
    scheduled, missed, _ = most_recent_schedule(cj, now, sched, True)
    if scheduled is not None and missed > MANY_MISSED:
        actions.append(event(cj, WARNING, "TooManyMissedTimes", "too many missed start times. Set or decrease "
                             ".spec.startingDeadlineSeconds or check clock skew"))
    requeue = RequeueAfter(key, _next_in(cj, now, sched))
    if scheduled is None:
        return [*_with_status(cached, cj, actions), requeue]
    deadline = spec.get("startingDeadlineSeconds")
    if deadline is not None and scheduled + timedelta(seconds=int(deadline)) < now:
        actions.append(event(cj, WARNING, "MissSchedule", "Missed scheduled time to start a job: "
                             + scheduled.strftime("%a, %d %b %Y %H:%M:%S +0000")))
        return [*_with_status(cached, cj, actions), requeue]
    wanted = job_name(cj, scheduled)
    last = timestamps.parse(status.get("lastScheduleTime"))
    if any(a.get("name") == wanted for a in status.get("active") or []) or last == scheduled:
        return [*_with_status(cached, cj, actions), requeue]
    policy = spec.get("concurrencyPolicy", "Allow")
    if policy == "Forbid" and status.get("active"):
        actions.append(event(cj, NORMAL, "JobAlreadyActive",
                             "Not starting job because prior execution is running and concurrency policy is Forbid"))
        return [*_with_status(cached, cj, actions), requeue]
    if policy == "Replace":
        for ref in status.get("active") or []:
            actions.append(Delete(JOBS, ref.get("namespace"), ref["name"], ref.get("uid"),
                                  propagation_policy="Background"))
            actions.append(event(cj, NORMAL, "SuccessfulDelete", f"Deleted job {ref['name']}"))
        status["active"] = []
    existing = view.get(JOBS, namespace, wanted)
    if existing is None:
        body = job_from_template(cj, scheduled, sched.zone)
        actions.append(Create(JOBS, body))
        actions.append(event(cj, NORMAL, "SuccessfulCreate", f"Created job {wanted}"))
        status["active"] = [*(status.get("active") or []), _job_ref(body)]
    elif is_controlled_by(existing, cj) and not jobctl.is_finished(existing):
        status["active"] = [*(status.get("active") or []), _job_ref(existing)]
    status["lastScheduleTime"] = timestamps.format_time(scheduled)
    return [*_with_status(cached, cj, actions), requeue]


def _with_status(cached: Obj, cj: Obj, actions: list[Action]) -> list[Action]:
    """Status goes after the Job create it records (a failed create must not claim a run happened)."""
    if (cj.get("status") or {}) != (cached.get("status") or {}):
        return [*actions, UpdateStatus(CRON_JOBS, cj)]
    return actions


def _sync_active(cj: Obj, jobs: list[Obj]) -> list[Action]:
    """Drop finished and vanished Jobs from ``active``, fill in uids of Jobs recorded by name, and move
    ``lastSuccessfulTime`` forward."""
    status = cj["status"]
    out: list[Action] = []
    by_uid = {meta(j).get("uid"): j for j in jobs}
    by_name = {meta(j)["name"]: j for j in jobs}
    active: list[Obj] = []
    for ref in status.get("active") or []:
        j = by_uid.get(ref.get("uid")) if ref.get("uid") else by_name.get(ref.get("name"))
        if j is None:
            out.append(event(cj, NORMAL, "MissingJob", f"Active job went missing: {ref.get('name')}"))
            continue
        if jobctl.is_finished(j):
            cond = "Complete" if jobctl.has_condition(j, jobctl.COMPLETE) else "Failed"
            out.append(event(cj, NORMAL, "SawCompletedJob", f"Saw completed job: {meta(j)['name']}, condition: {cond}"))
            continue
        active.append(_job_ref(j) if not ref.get("uid") else ref)
    known = {r.get("uid") for r in active}
    for j in jobs:
        if meta(j).get("uid") not in known and not jobctl.is_finished(j):
            out.append(event(cj, WARNING, "UnexpectedJob",
                             f"Saw a job that the controller did not create or forgot: {meta(j)['name']}"))
        if jobctl.has_condition(j, jobctl.COMPLETE):
            done = timestamps.parse((j.get("status") or {}).get("completionTime"))
            current = timestamps.parse(status.get("lastSuccessfulTime"))
            if done is not None and (current is None or done > current):
                status["lastSuccessfulTime"] = timestamps.format_time(done)
    if active or status.get("active") is not None:
        status["active"] = active
    if not status.get("active"):
        status.pop("active", None)
    return out


def _cleanup_finished(cj: Obj, jobs: list[Obj]) -> list[Action]:
    """Delete the oldest finished Jobs beyond successfulJobsHistoryLimit / failedJobsHistoryLimit."""
    spec = cj.get("spec") or {}
    out: list[Action] = []
    for kind, limit in ((jobctl.COMPLETE, spec.get("successfulJobsHistoryLimit", 3)),
                        (jobctl.FAILED, spec.get("failedJobsHistoryLimit", 1))):
        if limit is None:
            continue
        done = [j for j in jobs if jobctl.has_condition(j, kind) and meta(j).get("deletionTimestamp") is None]
        done.sort(key=lambda j: ((j.get("status") or {}).get("startTime") or "", meta(j)["name"]))
        for j in done[:max(len(done) - int(limit), 0)]:
            out.append(Delete(JOBS, meta(j).get("namespace"), meta(j)["name"], meta(j).get("uid"),
                              propagation_policy="Background"))
            out.append(event(cj, NORMAL, "SuccessfulDelete", f"Deleted job {meta(j)['name']}"))
    return out


def _next_in(cj: Obj, now: datetime, sched: Schedule) -> float:
    """Seconds until the next activation (+100 ms so the sync lands after it, as upstream)."""
    recent, _, earliest = most_recent_schedule(cj, now, sched, False)
    base = recent or earliest
    return (sched.next(base) + NEXT_SCHEDULE_DELTA - now).total_seconds()
