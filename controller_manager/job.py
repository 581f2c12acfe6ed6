"""Job: run pods until enough succeed, within backoffLimit, activeDeadlineSeconds and podFailurePolicy.

Counting follows upstream's finalizer-based tracking, so a pod deleted right after it finished is
still counted exactly once: pods carry ``batch.kubernetes.io/job-tracking``; a finished pod's uid is
first written to ``status.uncountedTerminatedPods`` (status write), then its finalizer is removed
(same sync, later action), and a later sync moves the uid into ``succeeded``/``failed``. A Job ends
in two steps as in Kubernetes 1.31+: FailureTarget or SuccessCriteriaMet first (remaining pods are
deleted), then Failed or Complete once no pod is left running and nothing is uncounted.
TTL-after-finished is here too (``reconcile_ttl``): it is a few lines over the same objects.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from api import labels
from client.cache import split_key
from controller_manager import pods as podstate
from controller_manager import timestamps
from controller_manager.actions import (
    NORMAL,
    WARNING,
    Action,
    Create,
    Delete,
    Expect,
    Patch,
    RequeueAfter,
    UpdateStatus,
    event,
)
from controller_manager.expectations import Expectations
from controller_manager.ownership import claim
from controller_manager.replicaset import pod_from_template, slow_start_batches
from controller_manager.view import JOBS, PODS, Obj, View, key_of, meta

TRACKING_FINALIZER: Final = "batch.kubernetes.io/job-tracking"
COMPLETION_INDEX: Final = "batch.kubernetes.io/job-completion-index"
INDEX_FAILURE_COUNT: Final = "batch.kubernetes.io/job-index-failure-count"
MAX_PODS_PER_SYNC: Final = 500
BACKOFF_BASE: Final = timedelta(seconds=10)
BACKOFF_MAX: Final = timedelta(minutes=6)

COMPLETE: Final = "Complete"
FAILED: Final = "Failed"
FAILURE_TARGET: Final = "FailureTarget"
SUCCESS_CRITERIA_MET: Final = "SuccessCriteriaMet"
SUSPENDED: Final = "Suspended"


# --- completed index sets ("1,3-5") ----------------------------------------------------------------

def parse_indexes(text: str | None) -> set[int]:
    """The set of indexes in the compressed form (``1,3-5``)."""
    out: set[int] = set()
    for part in (text or "").split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def format_indexes(indexes: set[int]) -> str:
    """Sorted ranges, the compressed form the API uses for completedIndexes/failedIndexes."""
    parts: list[str] = []
    run: list[int] = []
    for i in sorted(indexes):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
        run = [i]
    if run:
        parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ",".join(parts)


def pod_index(pod: Obj) -> int | None:
    """The completion index of an Indexed Job's pod (annotation, else label); None when absent or malformed."""
    m = meta(pod)
    text = (m.get("annotations") or {}).get(COMPLETION_INDEX) or (m.get("labels") or {}).get(COMPLETION_INDEX)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


# --- pod outcome -------------------------------------------------------------------------------------

def finish_time(pod: Obj) -> datetime | None:
    """When a finished pod stopped: its last container termination, else its last condition change."""
    times = []
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        t = timestamps.parse(((cs.get("state") or {}).get("terminated") or {}).get("finishedAt"))
        if t is not None:
            times.append(t)
    if not times:
        for cond in (pod.get("status") or {}).get("conditions") or []:
            t = timestamps.parse(cond.get("lastTransitionTime"))
            if t is not None:
                times.append(t)
    return max(times, default=None) or podstate.created(pod)


def _is_failed(pod: Obj, job: Obj) -> bool:
    """Failed, or deleted before finishing (upstream counts that as a failure too) unless the Job only
    replaces Failed pods (podFailurePolicy, or podReplacementPolicy: Failed): then it waits for the phase."""
    phase = podstate.phase(pod)
    spec = job.get("spec") or {}
    if spec.get("podFailurePolicy") or spec.get("podReplacementPolicy") == "Failed":
        return phase == podstate.FAILED
    return phase == podstate.FAILED or (podstate.is_terminating(pod) and phase != podstate.SUCCEEDED)


def _is_finished(pod: Obj, job: Obj) -> bool:
    return podstate.phase(pod) == podstate.SUCCEEDED or _is_failed(pod, job)


def _exit_codes(pod: Obj, container: str | None) -> list[tuple[str, int]]:
    out = []
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        term = (cs.get("state") or {}).get("terminated")
        if term is None or (container and cs.get("name") != container):
            continue
        out.append((str(cs.get("name")), int(term.get("exitCode", 0))))
    return out


def match_failure_policy(job: Obj, pod: Obj) -> tuple[str, str] | None:
    """(action, message) of the first podFailurePolicy rule matching a failed pod, or None."""
    rules = (((job.get("spec") or {}).get("podFailurePolicy")) or {}).get("rules") or []
    for i, rule in enumerate(rules):
        on_codes = rule.get("onExitCodes")
        if on_codes is not None:
            values = set(on_codes.get("values") or [])
            for name, code in _exit_codes(pod, on_codes.get("containerName")):
                if code == 0 and on_codes.get("operator") == "NotIn":
                    continue  # a successful container never matches NotIn, as upstream
                hit = code in values if on_codes.get("operator") == "In" else code not in values
                if hit:
                    return rule["action"], (f"Container {name} for pod {key_of(pod)} failed with exit code {code} "
                                            f"matching {rule['action']} rule at index {i}")
        for pattern in rule.get("onPodConditions") or []:
            cond = podstate.condition(pod, pattern.get("type", ""))
            if cond is not None and cond.get("status") == pattern.get("status", "True"):
                return rule["action"], (f"Pod {key_of(pod)} has condition {pattern['type']} matching "
                                        f"{rule['action']} rule at index {i}")
    return None


# --- conditions -------------------------------------------------------------------------------------

def has_condition(job: Obj, type_: str) -> bool:
    """Whether the Job has condition ``type_`` with status True."""
    cond = podstate.condition(job, type_)
    return cond is not None and cond.get("status") == "True"


def is_finished(job: Obj) -> bool:
    """Complete or Failed: nothing more will run."""
    return has_condition(job, COMPLETE) or has_condition(job, FAILED)


def _set_condition(status: Obj, cond: tuple[str, str, str, str], now: datetime) -> bool:
    """Set a JobCondition (type, status, reason, message); unchanged status keeps the transition time.
    Returns whether anything changed."""
    type_, cond_status, reason, message = cond
    conds = status.setdefault("conditions", [])
    t = timestamps.format_time(now)
    for c in conds:
        if c.get("type") == type_:
            if c.get("status") == cond_status and c.get("reason") == reason and c.get("message") == message:
                return False
            if c.get("status") != cond_status:
                c["lastTransitionTime"] = t
            c.update({"status": cond_status, "reason": reason, "message": message, "lastProbeTime": t})
            return True
    conds.append({"type": type_, "status": cond_status, "reason": reason, "message": message,
                  "lastProbeTime": t, "lastTransitionTime": t})
    return True


# --- the sync --------------------------------------------------------------------------------------

@dataclass
class _Counts:
    succeeded: int = 0
    failed: int = 0
    completed_indexes: set[int] = field(default_factory=set)
    failed_indexes: set[int] = field(default_factory=set)


def backoff_remaining(job: Obj, pods: list[Obj], now: datetime) -> timedelta:
    """Time left before a replacement pod may start: 10 s doubling per failure since the last success,
    capped at 6 minutes, counted from the last failure."""
    finished = [(finish_time(p), _is_failed(p, job)) for p in pods if _is_finished(p, job) and not _ignored(job, p)]
    last_success = max((t for t, failed in finished if not failed and t), default=None)
    failures = [t for t, failed in finished if failed and t and (last_success is None or t > last_success)]
    if not failures:
        return timedelta(0)
    delay: timedelta = min(BACKOFF_BASE * 2 ** (len(failures) - 1), BACKOFF_MAX)
    left: timedelta = max(failures) + delay - now
    return max(left, timedelta(0))


def _ignored(job: Obj, pod: Obj) -> bool:
    if not _is_failed(pod, job):
        return False
    match = match_failure_policy(job, pod)
    return match is not None and match[0] == "Ignore"


def reconcile(view: View, key: str, now: datetime, expectations: Expectations) -> list[Action]:
    """One sync of the Job with work-queue key ``namespace/name``."""
    namespace, name = split_key(key)
    cached = view.get(JOBS, namespace, name)
    if cached is None:
        return []
    job = copy.deepcopy(cached)
    spec = job.get("spec") or {}
    status: Obj = job.setdefault("status", {})
    selector = labels.from_label_selector(spec.get("selector"))
    owned = claim(job, selector, view.list(PODS, namespace), PODS)
    actions: list[Action] = list(owned.actions)
    pods = owned.claimed
    if is_finished(cached):
        return actions + _remove_finalizers([p for p in pods if _tracked(p)])

    indexed = spec.get("completionMode") == "Indexed"
    completions = spec.get("completions")

    # 1. tracking: record newly finished pods as uncounted, count pods whose finalizer is gone
    uncounted = status.get("uncountedTerminatedPods") or {}
    unc_succeeded = set(uncounted.get("succeeded") or [])
    unc_failed = set(uncounted.get("failed") or [])
    counts = _Counts(int(status.get("succeeded", 0)), int(status.get("failed", 0)),
                     parse_indexes(status.get("completedIndexes")), parse_indexes(status.get("failedIndexes")))
    per_index = indexed and spec.get("backoffLimitPerIndex") is not None
    by_uid = {meta(p).get("uid"): p for p in pods}
    failure_target: tuple[str, str] | None = None
    uncounted_drop: list[Obj] = []  # finished pods that count for nothing: only their finalizer goes
    for p in pods:
        uid = meta(p).get("uid")
        if not _tracked(p) or not _is_finished(p, job) or uid in unc_succeeded or uid in unc_failed:
            continue
        if podstate.phase(p) == podstate.SUCCEEDED:
            idx = pod_index(p)
            if indexed:
                if idx is None or idx in counts.completed_indexes or idx >= int(completions or 0):
                    uncounted_drop.append(p)
                    continue
                counts.completed_indexes.add(idx)
            unc_succeeded.add(uid)
            continue
        match = match_failure_policy(job, p)
        if match is not None and match[0] == "Ignore":
            uncounted_drop.append(p)
            continue
        unc_failed.add(uid)
        idx = pod_index(p)
        if per_index and idx is not None and (
                (match is not None and match[0] == "FailIndex")
                or _index_failures(p) >= int(spec["backoffLimitPerIndex"])):
            counts.failed_indexes.add(idx)
        if match is not None and match[0] == "FailJob" and failure_target is None:
            failure_target = ("PodFailurePolicy", match[1])
    counted_s = {u for u in unc_succeeded if u not in by_uid or not _tracked(by_uid[u])}
    counted_f = {u for u in unc_failed if u not in by_uid or not _tracked(by_uid[u])}
    counts.succeeded += len(counted_s)
    counts.failed += len(counted_f)
    unc_succeeded -= counted_s
    unc_failed -= counted_f
    total_succeeded = counts.succeeded + len(unc_succeeded)
    total_failed = counts.failed + len(unc_failed)

    active = [p for p in pods if podstate.is_active(p)]
    terminating = [p for p in pods if podstate.is_terminating(p) and not _is_finished_phase(p)]

    # 2. has the Job reached an end?
    if status.get("startTime") is None and not spec.get("suspend"):
        status["startTime"] = timestamps.format_time(now)
    interim = _interim_condition(job)
    if interim is None:
        if failure_target is not None:
            interim = (FAILURE_TARGET, failure_target[0], failure_target[1])
        else:
            interim = _decide_end(job, active, (total_succeeded, total_failed), counts, now)
        if interim is not None:
            _set_condition(status, (interim[0], "True", interim[1], interim[2]), now)
    creates_and_deletes: list[Action] = []
    if interim is not None:
        creates_and_deletes += _delete_pods(job, active, expectations_key=key_of(job))
        if not active and not terminating and not unc_succeeded and not unc_failed:
            final = COMPLETE if interim[0] == SUCCESS_CRITERIA_MET else FAILED
            _set_condition(status, (final, "True", interim[1], interim[2]), now)
            if final == COMPLETE:
                status["completionTime"] = timestamps.format_time(now)
                actions.append(event(job, NORMAL, "Completed", "Job completed"))
            else:
                actions.append(event(job, WARNING, interim[1], interim[2]))
            active = []
    elif expectations.satisfied(key_of(job), now):
        creates_and_deletes += _manage(job, pods, (active, terminating), counts, succeeded=total_succeeded,
                                       now=now)

    # 3. status: counts, uncounted, ready/active, then finalizers off the recorded pods
    status["succeeded"] = counts.succeeded
    status["failed"] = counts.failed
    status["active"] = len(active) - sum(1 for a in creates_and_deletes if isinstance(a, Delete))
    status["ready"] = sum(1 for p in active if podstate.is_ready(p))
    status["terminating"] = len(terminating)
    status["uncountedTerminatedPods"] = {k: sorted(v) for k, v in (("succeeded", unc_succeeded),
                                                                     ("failed", unc_failed)) if v}
    if indexed:
        status["completedIndexes"] = format_indexes(counts.completed_indexes)
    if per_index:
        status["failedIndexes"] = format_indexes(counts.failed_indexes)
    for zero_ok in ("succeeded", "failed", "active", "terminating"):
        if status[zero_ok] == 0 and zero_ok not in (cached.get("status") or {}):
            del status[zero_ok]
    if status != (cached.get("status") or {}):
        actions.append(UpdateStatus(JOBS, job))
    actions += _remove_finalizers([by_uid[u] for u in sorted(unc_succeeded | unc_failed)
                                   if u in by_uid and _tracked(by_uid[u])] + uncounted_drop)
    actions += creates_and_deletes
    deadline = spec.get("activeDeadlineSeconds")
    start = timestamps.parse(status.get("startTime"))
    if deadline is not None and start is not None and interim is None and not is_finished(job):
        remaining = (start + timedelta(seconds=int(deadline)) - now).total_seconds()
        actions.append(RequeueAfter(key_of(job), max(remaining, 0.0)))
    return actions


def _tracked(pod: Obj) -> bool:
    return TRACKING_FINALIZER in (meta(pod).get("finalizers") or [])


def _is_finished_phase(pod: Obj) -> bool:
    return podstate.phase(pod) in (podstate.SUCCEEDED, podstate.FAILED)


def _interim_condition(job: Obj) -> tuple[str, str, str] | None:
    for type_ in (FAILURE_TARGET, SUCCESS_CRITERIA_MET):
        cond = podstate.condition(job, type_)
        if cond is not None and cond.get("status") == "True":
            return type_, str(cond.get("reason", "")), str(cond.get("message", ""))
    return None


def _decide_end(job: Obj, active: list[Obj], totals: tuple[int, int], counts: _Counts,
                now: datetime) -> tuple[str, str, str] | None:
    """The interim condition (type, reason, message) the Job has earned, if any; failures win."""
    spec = job.get("spec") or {}
    succeeded, failed = totals
    backoff_limit = int(spec.get("backoffLimit", 6))
    restarts = 0
    if ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") == "OnFailure":
        # with OnFailure the kubelet restarts containers in place: every restart counts as a failure
        restarts = sum(int(cs.get("restartCount", 0)) for p in active
                       if podstate.phase(p) in (podstate.RUNNING, podstate.PENDING)
                       for cs in [*((p.get("status") or {}).get("initContainerStatuses") or []),
                                  *((p.get("status") or {}).get("containerStatuses") or [])])
    on_failure_exceeded = restarts > 0 if backoff_limit == 0 else restarts >= backoff_limit
    if failed > backoff_limit or on_failure_exceeded:
        return FAILURE_TARGET, "BackoffLimitExceeded", "Job has reached the specified backoff limit"
    deadline = spec.get("activeDeadlineSeconds")
    start = timestamps.parse((job.get("status") or {}).get("startTime"))
    if deadline is not None and start is not None and not spec.get("suspend") \
            and now >= start + timedelta(seconds=int(deadline)):
        return FAILURE_TARGET, "DeadlineExceeded", "Job was active longer than specified deadline"
    rule = _matched_success_rule(job, counts)
    if rule is not None:
        return SUCCESS_CRITERIA_MET, "SuccessPolicy", f"Matched rules at index {rule}"
    completions = spec.get("completions")
    if spec.get("completionMode") == "Indexed":
        max_failed = spec.get("maxFailedIndexes")
        if max_failed is not None and len(counts.failed_indexes) > int(max_failed):
            return (FAILURE_TARGET, "MaxFailedIndexesExceeded",
                    "Job has exceeded the specified maximal number of failed indexes")
        done = len(counts.completed_indexes | counts.failed_indexes)
        if completions is not None and done >= int(completions):
            if counts.failed_indexes:
                return FAILURE_TARGET, "FailedIndexes", "Job has failed indexes"
            return SUCCESS_CRITERIA_MET, "CompletionsReached", "Reached expected number of succeeded pods"
    elif completions is None:
        if succeeded > 0 and not active:
            return SUCCESS_CRITERIA_MET, "CompletionsReached", "Reached expected number of succeeded pods"
    elif succeeded >= int(completions):
        return SUCCESS_CRITERIA_MET, "CompletionsReached", "Reached expected number of succeeded pods"
    return None


def _matched_success_rule(job: Obj, counts: _Counts) -> int | None:
    """Index of the first successPolicy rule met (Indexed Jobs only)."""
    spec = job.get("spec") or {}
    if spec.get("completionMode") != "Indexed":
        return None
    for i, rule in enumerate(((spec.get("successPolicy") or {}).get("rules")) or []):
        wanted = parse_indexes(rule.get("succeededIndexes")) if rule.get("succeededIndexes") else None
        have = counts.completed_indexes & wanted if wanted is not None else counts.completed_indexes
        count = rule.get("succeededCount")
        if wanted is not None and count is None and wanted <= counts.completed_indexes:
            return i
        if count is not None and len(have) >= int(count):
            return i
    return None


def _manage(job: Obj, pods: list[Obj], running: tuple[list[Obj], list[Obj]], counts: _Counts, *,
            succeeded: int, now: datetime) -> list[Action]:
    """Bring the number of running pods to what parallelism and the remaining completions allow."""
    spec = job.get("spec") or {}
    active, terminating = running
    indexed = spec.get("completionMode") == "Indexed"
    completions = spec.get("completions")
    parallelism = int(spec.get("parallelism", 1))
    status = job["status"]
    key = key_of(job)
    if spec.get("suspend"):
        if _set_condition(status, (SUSPENDED, "True", "JobSuspended", "Job suspended"), now):
            status.pop("startTime", None)
        return _delete_pods(job, active, key)
    if podstate.condition(job, SUSPENDED) is not None and _set_condition(
            status, (SUSPENDED, "False", "JobResumed", "Job resumed"), now):
        status["startTime"] = timestamps.format_time(now)
    if completions is None:
        want = len(active) if succeeded > 0 else parallelism
    else:
        done = len(counts.completed_indexes | counts.failed_indexes) if indexed else succeeded
        want = max(min(int(completions) - done, parallelism), 0)
    counted_active = len(active)
    if spec.get("podReplacementPolicy") == "Failed":
        counted_active += len(terminating)
    victims: list[Obj] = []
    if indexed:
        seen: set[int] = set()
        for p in sorted(active, key=lambda p: (not podstate.is_ready(p), meta(p).get("creationTimestamp", ""))):
            idx = pod_index(p)
            if idx is None or idx in seen or idx in counts.completed_indexes or idx in counts.failed_indexes \
                    or idx >= int(completions or 0):
                victims.append(p)
            else:
                seen.add(idx)
    extra = counted_active - len(victims) - want
    if extra > 0:
        keep = [p for p in active if p not in victims]
        victims += podstate.deletion_order(keep, pods, now)[:extra]
    if victims:
        return _delete_pods(job, victims[:MAX_PODS_PER_SYNC], key)
    if counted_active >= want:
        return []
    per_index = indexed and spec.get("backoffLimitPerIndex") is not None
    if not per_index:
        wait = backoff_remaining(job, pods, now)
        if wait > timedelta(0):
            return [RequeueAfter(key, wait.total_seconds())]
    count = min(want - counted_active, MAX_PODS_PER_SYNC)
    template = spec.get("template") or {}
    bodies: list[Obj] = []
    wake: list[float] = []
    if indexed:
        busy = {pod_index(p) for p in active} | {pod_index(p) for p in terminating}
        free = [i for i in range(int(completions or 0))
                if i not in counts.completed_indexes and i not in counts.failed_indexes and i not in busy]
        for idx in free:
            if len(bodies) >= count:
                break
            failures, last = _index_history(job, pods, idx)
            if per_index and last is not None:
                left = (last + min(BACKOFF_BASE * 2 ** (failures - 1), BACKOFF_MAX) - now).total_seconds()
                if left > 0:
                    wake.append(left)
                    continue
            body = _indexed_pod(job, template, idx)
            if per_index:
                meta(body)["annotations"][INDEX_FAILURE_COUNT] = str(failures)
            bodies.append(body)
    else:
        bodies = [pod_from_template(job, template, f"{meta(job)['name']}-") for _ in range(count)]
    out: list[Action] = [RequeueAfter(key, min(wake))] if wake else []
    if not bodies:
        return out
    out.append(Expect(key, creations=len(bodies)))
    batch_of = [b for b, size in enumerate(slow_start_batches(len(bodies))) for _ in range(size)]
    for body, batch in zip(bodies, batch_of, strict=True):
        meta(body).setdefault("finalizers", []).append(TRACKING_FINALIZER)
        out.append(Create(PODS, body, batch, key))
    return out


def _index_failures(pod: Obj) -> int:
    """Failures of this pod's index before this pod (the annotation its creator wrote)."""
    try:
        return int((meta(pod).get("annotations") or {}).get(INDEX_FAILURE_COUNT, "0"))
    except ValueError:
        return 0


def _index_history(job: Obj, pods: list[Obj], idx: int) -> tuple[int, datetime | None]:
    """(failures so far, time of the last one) of index ``idx``, from its failed pods."""
    failed = [p for p in pods if pod_index(p) == idx and _is_failed(p, job)]
    if not failed:
        return 0, None
    times = [t for t in (finish_time(p) for p in failed) if t is not None]
    return max(_index_failures(p) + 1 for p in failed), max(times, default=None)


def _indexed_pod(job: Obj, template: Obj, idx: int) -> Obj:
    name = meta(job)["name"]
    body = pod_from_template(job, template, f"{name}-{idx}-")
    m = meta(body)
    m.setdefault("annotations", {})[COMPLETION_INDEX] = str(idx)
    m.setdefault("labels", {})[COMPLETION_INDEX] = str(idx)
    body["spec"]["hostname"] = f"{name}-{idx}"
    env = {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
        "fieldPath": f"metadata.labels['{COMPLETION_INDEX}']"}}}
    for c in [*(body["spec"].get("initContainers") or []), *(body["spec"].get("containers") or [])]:
        c["env"] = [*(c.get("env") or []), env]
    return body


def _delete_pods(job: Obj, victims: list[Obj], expectations_key: str) -> list[Action]:
    if not victims:
        return []
    out: list[Action] = [Expect(expectations_key, deletions=tuple(key_of(p) for p in victims))]
    out += [Delete(PODS, meta(p).get("namespace"), meta(p)["name"], meta(p).get("uid"),
                   expectations_key=expectations_key) for p in victims]
    return out


def _remove_finalizers(pods: list[Obj]) -> list[Action]:
    return [Patch(PODS, meta(p).get("namespace"), meta(p)["name"],
                  {"metadata": {"$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER]}})
            for p in pods]


def reconcile_ttl(view: View, key: str, now: datetime) -> list[Action]:
    """The TTL-after-finished controller: delete a finished Job (and, in the foreground, its pods) once
    ttlSecondsAfterFinished has passed since it finished; otherwise look again then."""
    namespace, name = split_key(key)
    job = view.get(JOBS, namespace, name)
    if job is None or meta(job).get("deletionTimestamp") is not None or not is_finished(job):
        return []
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    if ttl is None:
        return []
    cond = podstate.condition(job, COMPLETE) if has_condition(job, COMPLETE) else podstate.condition(job, FAILED)
    finished = timestamps.parse((cond or {}).get("lastTransitionTime"))
    if finished is None:
        return []
    expire = finished + timedelta(seconds=int(ttl))
    if now < expire:
        return [RequeueAfter(key, (expire - now).total_seconds())]
    return [Delete(JOBS, namespace, name, meta(job).get("uid"), propagation_policy="Foreground")]
