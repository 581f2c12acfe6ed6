"""The sections of kubectl's describe pages that only workloads have: replica counts, strategies, job
progress, cron schedules, volume claim templates, a deployment's replica sets."""

from __future__ import annotations

from typing import Any

from tkctl.describe_format import Page, Subject, labels_lines, map_selector_text, rfc1123z, selector_text
from tkctl.describe_pod import pod_template

JSON = dict[str, Any]


def _set(value: Any, suffix: str = "") -> str:
    return "<unset>" if value is None else f"{value}{suffix}"


def deployment_status(page: Page, subject: Subject) -> None:
    spec, st = subject.spec, subject.status
    page.w(0, f"Replicas:\t{spec.get('replicas', 1)} desired | {st.get('updatedReplicas', 0)} updated | "
              f"{st.get('replicas', 0)} total | {st.get('availableReplicas', 0)} available | "
              f"{st.get('unavailableReplicas', 0)} unavailable\n")
    strategy = spec.get("strategy") or {}
    page.w(0, f"StrategyType:\t{strategy.get('type', '')}\n")
    page.w(0, f"MinReadySeconds:\t{spec.get('minReadySeconds', 0)}\n")
    rolling = strategy.get("rollingUpdate")
    if rolling:
        page.w(0, f"RollingUpdateStrategy:\t{rolling.get('maxUnavailable')} max unavailable, "
                  f"{rolling.get('maxSurge')} max surge\n")


def deployment_progress(page: Page, subject: Subject) -> None:
    """Conditions, then the old and new replica sets."""
    conditions = subject.status.get("conditions") or []
    if conditions:
        page.w(0, "Conditions:\n")
        page.w(1, "Type\tStatus\tReason\n")
        page.w(1, "----\t------\t------\n")
        for c in conditions:
            page.w(1, f"{c.get('type')} \t{c.get('status')}\t{c.get('reason', '')}\n")
    old, new = _replica_sets(subject)
    if old or new:
        page.w(0, f"OldReplicaSets:\t{_rs_list(old)}\n")
        page.w(0, f"NewReplicaSet:\t{_rs_list([new] if new else [])}\n")


def _rs_list(rss: list[JSON]) -> str:
    if not rss:
        return "<none>"
    return ", ".join(f"{r['metadata']['name']} ({(r.get('status') or {}).get('replicas', 0)}/"
                     f"{(r.get('spec') or {}).get('replicas', 0)} replicas created)" for r in rss)


def _replica_sets(subject: Subject) -> tuple[list[JSON], JSON | None]:
    meta = subject.meta
    listing = subject.session.client.request("GET", f"/apis/apps/v1/namespaces/{meta.get('namespace')}/replicasets")
    owned = [rs for rs in (listing or {}).get("items") or []
             if any(o.get("uid") == meta.get("uid") for o in rs["metadata"].get("ownerReferences") or [])]
    revision = (meta.get("annotations") or {}).get("deployment.kubernetes.io/revision")
    new = next((rs for rs in owned
                if (rs["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision") == revision),
               None)
    old = [rs for rs in owned if rs is not new and ((rs.get("spec") or {}).get("replicas") or 0) > 0]
    return old, new


def replica_set_replicas(page: Page, subject: Subject) -> None:
    page.w(0, f"Replicas:\t{subject.status.get('replicas', 0)} current / {subject.spec.get('replicas', 0)} "
              f"desired\n")


def stateful_set_replicas(page: Page, subject: Subject) -> None:
    spec = subject.spec
    page.w(0, f"Replicas:\t{spec.get('replicas', 1)} desired | {subject.status.get('replicas', 0)} total\n")
    strategy = spec.get("updateStrategy") or {}
    page.w(0, f"Update Strategy:\t{strategy.get('type', '')}\n")
    rolling = strategy.get("rollingUpdate")
    if rolling and rolling.get("partition") is not None:
        page.w(1, f"Partition:\t{rolling['partition']}\n")
        if rolling.get("maxUnavailable") is not None:
            page.w(1, f"MaxUnavailable:\t{rolling['maxUnavailable']}\n")


def volume_claim_templates(page: Page, subject: Subject) -> None:
    templates = subject.spec.get("volumeClaimTemplates") or []
    if not templates:
        page.w(0, "Volume Claims:\t<none>\n")
        return
    page.w(0, "Volume Claims:\n")
    for pvc in templates:
        meta, spec = pvc.get("metadata") or {}, pvc.get("spec") or {}
        page.w(1, f"Name:\t{meta.get('name', '')}\n")
        page.w(1, f"StorageClass:\t{claim_class(pvc)}\n")
        labels_lines(page, 1, "Labels", meta.get("labels"))
        labels_lines(page, 1, "Annotations", meta.get("annotations"), sep=": ")
        storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
        page.w(1, f"Capacity:\t{storage or '<default>'}\n")
        page.w(1, f"Access Modes:\t[{' '.join(spec.get('accessModes') or [])}]\n")


def claim_class(pvc: JSON) -> str:
    """A claim's storage class: the beta annotation wins over ``spec.storageClassName``."""
    beta = ((pvc.get("metadata") or {}).get("annotations") or {}).get("volume.beta.kubernetes.io/storage-class")
    return str(beta if beta is not None else (pvc.get("spec") or {}).get("storageClassName") or "")


def daemon_set_node_selector(page: Page, subject: Subject) -> None:
    pod_spec = (subject.spec.get("template") or {}).get("spec") or {}
    page.w(0, f"Node-Selector:\t{map_selector_text(pod_spec.get('nodeSelector'))}\n")


def daemon_set_status(page: Page, subject: Subject) -> None:
    st = subject.status
    for title, key in (("Desired Number of Nodes Scheduled", "desiredNumberScheduled"),
                       ("Current Number of Nodes Scheduled", "currentNumberScheduled"),
                       ("Number of Nodes Scheduled with Up-to-date Pods", "updatedNumberScheduled"),
                       ("Number of Nodes Scheduled with Available Pods", "numberAvailable"),
                       ("Number of Nodes Misscheduled", "numberMisscheduled")):
        page.w(0, f"{title}: {st.get(key, 0)}\n")


def _bool(value: Any) -> str:
    return "true" if value else "false"


def job_spec(page: Page, subject: Subject) -> None:
    """A job's settings and progress, from Parallelism to Pods Statuses."""
    spec, st = subject.spec, subject.status
    if spec.get("parallelism") is not None:
        page.w(0, f"Parallelism:\t{spec['parallelism']}\n")
    page.w(0, f"Completions:\t{_set(spec.get('completions'))}\n")
    if spec.get("completionMode"):
        page.w(0, f"Completion Mode:\t{spec['completionMode']}\n")
    if spec.get("suspend") is not None:
        page.w(0, f"Suspend:\t{_bool(spec['suspend'])}\n")
    for title, key in (("Backoff Limit", "backoffLimit"), ("TTL Seconds After Finished", "ttlSecondsAfterFinished")):
        if spec.get(key) is not None:
            page.w(0, f"{title}:\t{spec[key]}\n")
    if st.get("startTime"):
        page.w(0, f"Start Time:\t{rfc1123z(st['startTime'])}\n")
    if st.get("completionTime"):
        page.w(0, f"Completed At:\t{rfc1123z(st['completionTime'])}\n")
    if st.get("startTime") and st.get("completionTime"):
        from api.tables import human_duration, parse_time  # noqa: PLC0415

        start, end = parse_time(st["startTime"]), parse_time(st["completionTime"])
        if start and end:
            page.w(0, f"Duration:\t{human_duration((end - start).total_seconds())}\n")
    if spec.get("activeDeadlineSeconds") is not None:
        page.w(0, f"Active Deadline Seconds:\t{spec['activeDeadlineSeconds']}s\n")
    ready = f" ({st['ready']} Ready)" if st.get("ready") is not None else ""
    page.w(0, f"Pods Statuses:\t{st.get('active', 0)} Active{ready} / {st.get('succeeded', 0)} Succeeded / "
              f"{st.get('failed', 0)} Failed\n")
    if spec.get("completionMode") == "Indexed":
        page.w(0, f"Completed Indexes:\t{st.get('completedIndexes') or '<none>'}\n")


def cron_job_spec(page: Page, subject: Subject) -> None:
    """Schedule and history limits, the job template, the last schedule and the active jobs."""
    spec, st = subject.spec, subject.status
    page.w(0, f"Schedule:\t{spec.get('schedule', '')}\n")
    page.w(0, f"Concurrency Policy:\t{spec.get('concurrencyPolicy', '')}\n")
    suspend = spec.get("suspend")
    page.w(0, f"Suspend:\t{'<unset>' if suspend is None else ('True' if suspend else 'False')}\n")
    page.w(0, f"Successful Job History Limit:\t{_set(spec.get('successfulJobsHistoryLimit'))}\n")
    page.w(0, f"Failed Job History Limit:\t{_set(spec.get('failedJobsHistoryLimit'))}\n")
    page.w(0, f"Starting Deadline Seconds:\t{_set(spec.get('startingDeadlineSeconds'), 's')}\n")
    job = (spec.get("jobTemplate") or {}).get("spec") or {}
    page.w(0, f"Selector:\t{selector_text(job['selector']) if job.get('selector') else '<unset>'}\n")
    page.w(0, f"Parallelism:\t{_set(job.get('parallelism'))}\n")
    page.w(0, f"Completions:\t{_set(job.get('completions'))}\n")
    if job.get("activeDeadlineSeconds") is not None:
        page.w(0, f"Active Deadline Seconds:\t{job['activeDeadlineSeconds']}s\n")
    pod_template(page, job.get("template") or {}, 0)
    page.w(0, f"Last Schedule Time:\t{rfc1123z(st['lastScheduleTime']) if st.get('lastScheduleTime') else '<unset>'}"
              f"\n")
    active = [str(ref.get("name")) for ref in st.get("active") or []]
    page.w(0, f"Active Jobs:\t{', '.join(active) or '<none>'}\n")
