"""Checks for workload kinds: apps/v1, batch/v1, autoscaling and policy."""

from __future__ import annotations

from typing import Final

from api import errors, names
from api.checks.common import (
    APPS,
    BATCH,
    int_or_percent,
    is_zero_int_or_percent,
    non_negative,
    selector_matches_template,
    template_restart_policy,
)
from api.errors import Cause
from api.schema import JSON
from api.structure import join
from api.validation import validator

CRONJOB_NAME_MAX: Final = 52
"""Jobs get an 11-character suffix and their names must stay DNS labels."""
_CRON_MACROS: Final = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


@validator(APPS + "DeploymentSpec", APPS + "ReplicaSetSpec", APPS + "DaemonSetSpec", APPS + "StatefulSetSpec")
def _workload_spec(spec: dict[str, JSON], path: str) -> list[Cause]:
    out = selector_matches_template(spec, path, spec.get("selector"))
    out.extend(template_restart_policy(spec, path, ("Always",)))
    out.extend(non_negative(spec, path, "replicas", "minReadySeconds", "revisionHistoryLimit"))
    return out


@validator(APPS + "DeploymentSpec")
def _deployment_spec(spec: dict[str, JSON], path: str) -> list[Cause]:
    out: list[Cause] = []
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate" and "rollingUpdate" in strategy:
        out.append(
            errors.forbidden(
                join(path, "strategy.rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"
            )
        )
    deadline, min_ready = spec.get("progressDeadlineSeconds"), spec.get("minReadySeconds") or 0
    if isinstance(deadline, int) and deadline <= min_ready:
        out.append(
            errors.invalid(join(path, "progressDeadlineSeconds"), deadline, "must be greater than minReadySeconds")
        )
    return out


def _rolling(ru: dict[str, JSON], path: str) -> list[Cause]:
    out: list[Cause] = []
    for key in ("maxUnavailable", "maxSurge"):
        if key in ru:
            out.extend(int_or_percent(ru[key], join(path, key)))
    if is_zero_int_or_percent(ru.get("maxUnavailable")) and is_zero_int_or_percent(ru.get("maxSurge", 0)):
        out.append(
            errors.invalid(join(path, "maxUnavailable"), ru.get("maxUnavailable"), "may not be 0 when `maxSurge` is 0")
        )
    return out


@validator(APPS + "RollingUpdateDeployment", APPS + "RollingUpdateDaemonSet")
def _rolling_update(ru: dict[str, JSON], path: str) -> list[Cause]:
    return _rolling(ru, path)


@validator(APPS + "RollingUpdateStatefulSetStrategy")
def _statefulset_rolling_update(ru: dict[str, JSON], path: str) -> list[Cause]:
    out = non_negative(ru, path, "partition")
    if "maxUnavailable" in ru:
        out.extend(int_or_percent(ru["maxUnavailable"], join(path, "maxUnavailable")))
        if is_zero_int_or_percent(ru["maxUnavailable"]):
            out.append(errors.invalid(join(path, "maxUnavailable"), ru["maxUnavailable"], "must be greater than 0"))
    return out


@validator(APPS + "StatefulSetSpec")
def _statefulset_spec(spec: dict[str, JSON], path: str) -> list[Cause]:
    out: list[Cause] = []
    for i, tmpl in enumerate(spec.get("volumeClaimTemplates") or []):
        name = (tmpl.get("metadata") or {}).get("name")
        if not name:
            out.append(errors.required(f"{join(path, 'volumeClaimTemplates')}[{i}].metadata.name"))
        else:
            out.extend(
                errors.invalid(f"{join(path, 'volumeClaimTemplates')}[{i}].metadata.name", name, m)
                for m in names.dns1123_subdomain(name)
            )
    return out


@validator(BATCH + "JobSpec")
def _job_spec(spec: dict[str, JSON], path: str) -> list[Cause]:
    out = template_restart_policy(spec, path, ("OnFailure", "Never"))
    out.extend(
        non_negative(
            spec,
            path,
            "parallelism",
            "completions",
            "backoffLimit",
            "ttlSecondsAfterFinished",
            "backoffLimitPerIndex",
            "maxFailedIndexes",
        )
    )
    deadline = spec.get("activeDeadlineSeconds")
    if isinstance(deadline, int) and deadline <= 0:
        out.append(errors.invalid(join(path, "activeDeadlineSeconds"), deadline, "must be greater than 0"))
    if spec.get("completionMode") == "Indexed" and spec.get("completions") is None:
        out.append(errors.required(join(path, "completions"), "when completion mode is Indexed"))
    if spec.get("completionMode") != "Indexed":
        for key in ("backoffLimitPerIndex", "maxFailedIndexes", "successPolicy"):
            if spec.get(key) is not None:
                out.append(errors.invalid(join(path, key), spec[key], "requires indexed completion mode"))
    if spec.get("manualSelector") and spec.get("selector") is not None:
        out.extend(selector_matches_template(spec, path, spec["selector"]))
    pfp = spec.get("podFailurePolicy") or {}
    if pfp and (((spec.get("template") or {}).get("spec")) or {}).get("restartPolicy") != "Never":
        out.append(
            errors.invalid(
                join(path, "podFailurePolicy"),
                "",
                "may not be specified when template's spec.restartPolicy is not Never",
            )
        )
    for i, rule in enumerate(pfp.get("rules") or []):
        rpath = f"{join(path, 'podFailurePolicy.rules')}[{i}]"
        has_codes, has_conditions = rule.get("onExitCodes") is not None, bool(rule.get("onPodConditions"))
        if has_codes == has_conditions:
            out.append(errors.invalid(rpath, "", "specifying one of OnExitCodes and OnPodConditions is required"))
        codes = (rule.get("onExitCodes") or {}).get("values") or []
        if codes != sorted(set(codes)):
            out.append(errors.invalid(f"{rpath}.onExitCodes.values", codes, "must be ordered and unique"))
        if (rule.get("onExitCodes") or {}).get("operator") == "In" and 0 in codes:
            out.append(errors.invalid(f"{rpath}.onExitCodes.values", 0, "must not be 0 for the In operator"))
    return out


@validator(BATCH + "CronJob")
def _cron_job(obj: dict[str, JSON], path: str) -> list[Cause]:
    name = (obj.get("metadata") or {}).get("name")
    if isinstance(name, str) and len(name) > CRONJOB_NAME_MAX:
        return [errors.invalid("metadata.name", name, f"must be no more than {CRONJOB_NAME_MAX} characters")]
    return []


@validator(BATCH + "CronJobSpec")
def _cron_job_spec(spec: dict[str, JSON], path: str) -> list[Cause]:
    out = non_negative(spec, path, "startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit")
    schedule = spec.get("schedule")
    if isinstance(schedule, str):
        if schedule.strip().startswith(("TZ=", "CRON_TZ=")):
            out.append(
                errors.invalid(
                    join(path, "schedule"), schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
                )
            )
        elif not valid_cron(schedule):
            out.append(errors.invalid(join(path, "schedule"), schedule, "unparseable schedule"))
    return out


def valid_cron(schedule: str) -> bool:
    """Five cron fields (with ranges, steps, lists and names) or a macro such as @hourly."""
    text = schedule.strip()
    if text in _CRON_MACROS or text.startswith("@every "):
        return True
    fields = text.split()
    return len(fields) == 5 and all(_cron_field(f) for f in fields)


def _cron_field(field: str) -> bool:
    for part in field.split(","):
        base, _, step = part.partition("/")
        if step and not step.isdigit():
            return False
        if base in ("*", "?"):
            continue
        lo, _, hi = base.partition("-")
        if not lo.isalnum() or (hi and not hi.isalnum()):
            return False
    return True


@validator(
    "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec", "io.k8s.api.autoscaling.v1.HorizontalPodAutoscalerSpec"
)
def _hpa_spec(spec: dict[str, JSON], path: str) -> list[Cause]:
    out: list[Cause] = []
    low, high = spec.get("minReplicas"), spec.get("maxReplicas")
    if isinstance(low, int) and low < 1:
        out.append(errors.invalid(join(path, "minReplicas"), low, "must be greater than or equal to 1"))
    if isinstance(high, int):
        if high < 1:
            out.append(errors.invalid(join(path, "maxReplicas"), high, "must be greater than 0"))
        elif isinstance(low, int) and high < low:
            out.append(
                errors.invalid(join(path, "maxReplicas"), high, "must be greater than or equal to `minReplicas`")
            )
    return out


@validator("io.k8s.api.autoscaling.v1.ScaleSpec")
def _scale_spec(spec: dict[str, JSON], path: str) -> list[Cause]:
    return non_negative(spec, path, "replicas")


@validator("io.k8s.api.policy.v1.PodDisruptionBudgetSpec")
def _pdb_spec(spec: dict[str, JSON], path: str) -> list[Cause]:
    out: list[Cause] = []
    if "minAvailable" in spec and "maxUnavailable" in spec:
        out.append(errors.invalid(path, spec, "minAvailable and maxUnavailable cannot be both set"))
    for key in ("minAvailable", "maxUnavailable"):
        if key in spec:
            out.extend(int_or_percent(spec[key], join(path, key)))
    return out
