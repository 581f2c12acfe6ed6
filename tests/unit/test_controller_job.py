"""Job reconcile: parallelism, completions, finalizer tracking, backoff, backoffLimit, deadlines,
Indexed mode, podFailurePolicy, successPolicy, suspend, TTL."""

from __future__ import annotations

import copy
from typing import Any

from controller_manager import job as jobctl
from controller_manager.actions import Action, Create, Delete, RequeueAfter
from controller_manager.view import JOBS, PODS
from tests.unit.controller_fixtures import FakeCluster, finish, make_running


def job_obj(name: str = "pi", **spec) -> dict[str, Any]:
    base = {"parallelism": 1, "backoffLimit": 6, "completionMode": "NonIndexed",
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": name}},
            "template": {"metadata": {"labels": {"batch.kubernetes.io/controller-uid": name}},
                         "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}
    base.update(spec)
    return {"metadata": {"name": name, "namespace": "ns"}, "spec": base}


def sync(c: FakeCluster, name: str = "pi") -> list[Action]:
    actions = jobctl.reconcile(c, f"ns/{name}", c.clock.now, c.expectations)
    c.apply(actions)
    return actions


def settle(c: FakeCluster, name: str = "pi", rounds: int = 4) -> None:
    for _ in range(rounds):
        sync(c, name)


def running(c: FakeCluster) -> list[dict[str, Any]]:
    """Pods not finished yet (created, bound or running)."""
    return [p for p in c.all(PODS, "ns") if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]


def conditions(c: FakeCluster, name: str = "pi") -> dict[str, dict[str, Any]]:
    return {cd["type"]: cd for cd in c.get(JOBS, "ns", name)["status"].get("conditions", [])}


def test_completions_five_parallelism_two_never_runs_more_than_two():
    c = FakeCluster()
    c.add(JOBS, job_obj(completions=5, parallelism=2))
    most = 0
    for _ in range(40):
        sync(c)
        active = running(c)
        most = max(most, len(active))
        for p in active:
            if not p.get("status"):
                make_running(c, p)
            else:
                finish(c, p, "Succeeded")
        c.clock.advance(1)
        if "Complete" in conditions(c):
            break
    assert most == 2
    st = c.get(JOBS, "ns", "pi")["status"]
    assert st["succeeded"] == 5
    assert conditions(c)["Complete"]["status"] == "True"
    assert conditions(c)["SuccessCriteriaMet"]["reason"] == "CompletionsReached"
    assert st["completionTime"]
    assert not st.get("uncountedTerminatedPods")
    assert all(jobctl.TRACKING_FINALIZER not in p["metadata"].get("finalizers", []) for p in c.all(PODS, "ns"))


def test_finished_pod_is_counted_once_even_if_deleted_after_recording():
    c = FakeCluster()
    c.add(JOBS, job_obj(completions=2))
    sync(c)
    (pod,) = c.all(PODS, "ns")
    assert pod["metadata"]["finalizers"] == [jobctl.TRACKING_FINALIZER]
    finish(c, pod, "Succeeded")
    sync(c)
    st = c.get(JOBS, "ns", "pi")["status"]
    assert st["uncountedTerminatedPods"] == {"succeeded": [pod["metadata"]["uid"]]}
    assert "finalizers" not in c.get(PODS, "ns", pod["metadata"]["name"])["metadata"] or not \
        c.get(PODS, "ns", pod["metadata"]["name"])["metadata"]["finalizers"]
    c.remove(PODS, "ns", pod["metadata"]["name"])  # gone before the job synced again
    sync(c)
    st = c.get(JOBS, "ns", "pi")["status"]
    assert st["succeeded"] == 1
    assert not st.get("uncountedTerminatedPods")


def test_failures_back_off_exponentially_then_backoff_limit_fails_the_job():
    c = FakeCluster()
    c.add(JOBS, job_obj(backoffLimit=2))
    delays = []
    for _ in range(3):
        sync(c)
        (pod,) = [p for p in c.all(PODS, "ns") if not p.get("status")]
        finish(c, pod, "Failed")
        waits = []
        for _ in range(3):
            waits += [a.seconds for a in sync(c) if isinstance(a, RequeueAfter)]
        if waits:
            delays.append(waits[-1])
            c.clock.advance(waits[-1])
    assert delays == [10.0, 20.0]
    settle(c)
    conds = conditions(c)
    assert conds["FailureTarget"]["reason"] == "BackoffLimitExceeded"
    assert conds["Failed"]["reason"] == "BackoffLimitExceeded"
    assert conds["Failed"]["message"] == "Job has reached the specified backoff limit"
    assert c.get(JOBS, "ns", "pi")["status"]["failed"] == 3
    assert len(c.all(PODS, "ns")) == 3


def test_backoff_is_capped_at_six_minutes():
    c = FakeCluster()
    job = c.add(JOBS, job_obj(backoffLimit=20))
    pods = []
    for i in range(8):
        p = c.add(PODS, {"metadata": {"name": f"p{i}", "namespace": "ns", "labels": {
            "batch.kubernetes.io/controller-uid": "pi"}}, "spec": {}})
        pods.append(finish(c, p, "Failed"))
    assert jobctl.backoff_remaining(job, pods, c.clock.now).total_seconds() == 360


def test_active_deadline_fails_and_kills_running_pods():
    c = FakeCluster()
    c.add(JOBS, job_obj(activeDeadlineSeconds=30, parallelism=2, completions=4))
    actions = sync(c)
    assert RequeueAfter("ns/pi", 30.0) in actions
    for p in c.all(PODS, "ns"):
        make_running(c, p)
    c.clock.advance(30)
    actions = sync(c)
    assert sum(isinstance(a, Delete) for a in actions) == 2
    settle(c)
    assert conditions(c)["Failed"]["reason"] == "DeadlineExceeded"


def test_indexed_job_creates_each_index_once_and_tracks_completed_indexes():
    c = FakeCluster()
    c.add(JOBS, job_obj(completions=3, parallelism=3, completionMode="Indexed"))
    actions = sync(c)
    bodies = [a.body for a in actions if isinstance(a, Create)]
    assert sorted(b["metadata"]["annotations"][jobctl.COMPLETION_INDEX] for b in bodies) == ["0", "1", "2"]
    assert bodies[0]["spec"]["hostname"] == "pi-0"
    assert bodies[0]["metadata"]["generateName"] == "pi-0-"
    assert bodies[0]["spec"]["containers"][0]["env"][-1]["name"] == "JOB_COMPLETION_INDEX"
    pods = {p["metadata"]["annotations"][jobctl.COMPLETION_INDEX]: p for p in c.all(PODS, "ns")}
    finish(c, pods["1"], "Succeeded")
    c.clock.advance(1)
    finish(c, pods["2"], "Failed")  # after the success, so the 10 s backoff applies
    assert RequeueAfter("ns/pi", 10.0) in sync(c)
    assert c.get(JOBS, "ns", "pi")["status"]["completedIndexes"] == "1"
    assert not [a for a in sync(c) if isinstance(a, Create)]
    c.clock.advance(10)
    actions = sync(c)
    recreated = [a.body for a in actions if isinstance(a, Create)]
    assert [b["metadata"]["annotations"][jobctl.COMPLETION_INDEX] for b in recreated] == ["2"]


def test_success_policy_completes_indexed_job_early():
    c = FakeCluster()
    c.add(JOBS, job_obj(completions=5, parallelism=5, completionMode="Indexed",
                        successPolicy={"rules": [{"succeededIndexes": "0"}]}))
    sync(c)
    pods = {p["metadata"]["annotations"][jobctl.COMPLETION_INDEX]: p for p in c.all(PODS, "ns")}
    finish(c, pods["0"], "Succeeded")
    actions = sync(c)
    assert sum(isinstance(a, Delete) for a in actions) == 4
    settle(c)
    conds = conditions(c)
    assert conds["SuccessCriteriaMet"]["reason"] == "SuccessPolicy"
    assert conds["Complete"]["status"] == "True"


def test_pod_failure_policy_fail_job_and_ignore():
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}},
                        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]}
    c = FakeCluster()
    c.add(JOBS, job_obj(podFailurePolicy=policy, backoffLimit=0))
    sync(c)
    (pod,) = c.all(PODS, "ns")
    disrupted = finish(c, pod, "Failed")
    disrupted["status"]["conditions"].append({"type": "DisruptionTarget", "status": "True"})
    c.put(PODS, disrupted)
    settle(c)
    assert "Failed" not in conditions(c)  # ignored: not counted against backoffLimit=0
    assert c.get(JOBS, "ns", "pi")["status"].get("failed", 0) == 0
    (fresh,) = [p for p in c.all(PODS, "ns") if not p.get("status")]
    failed = finish(c, fresh, "Failed")
    failed["status"]["containerStatuses"] = [{"name": "c", "restartCount": 0,
                                              "state": {"terminated": {"exitCode": 42}}}]
    c.put(PODS, failed)
    settle(c)
    conds = conditions(c)
    assert conds["Failed"]["reason"] == "PodFailurePolicy"
    assert "exit code 42 matching FailJob rule at index 0" in conds["Failed"]["message"]


def test_suspend_deletes_pods_and_resume_restarts():
    c = FakeCluster()
    c.add(JOBS, job_obj(parallelism=2, completions=2))
    sync(c)
    job = copy.deepcopy(c.get(JOBS, "ns", "pi"))
    job["spec"]["suspend"] = True
    c.put(JOBS, job)
    actions = sync(c)
    assert sum(isinstance(a, Delete) for a in actions) == 2
    assert conditions(c)["Suspended"]["reason"] == "JobSuspended"
    job = copy.deepcopy(c.get(JOBS, "ns", "pi"))
    job["spec"]["suspend"] = False
    c.put(JOBS, job)
    settle(c)
    assert conditions(c)["Suspended"]["status"] == "False"
    assert len([p for p in c.all(PODS, "ns") if not p["metadata"].get("deletionTimestamp")]) == 2


def test_parallelism_decrease_deletes_extra_pods():
    c = FakeCluster()
    c.add(JOBS, job_obj(parallelism=3, completions=10))
    sync(c)
    job = copy.deepcopy(c.get(JOBS, "ns", "pi"))
    job["spec"]["parallelism"] = 1
    c.put(JOBS, job)
    assert sum(isinstance(a, Delete) for a in sync(c)) == 2


def test_ttl_after_finished_deletes_the_job_when_due():
    c = FakeCluster()
    c.add(JOBS, job_obj(completions=1, ttlSecondsAfterFinished=100))
    sync(c)
    (pod,) = c.all(PODS, "ns")
    finish(c, pod, "Succeeded")
    settle(c)
    assert conditions(c)["Complete"]["status"] == "True"
    assert jobctl.reconcile_ttl(c, "ns/pi", c.clock.now) == [RequeueAfter("ns/pi", 100.0)]
    c.clock.advance(100)
    (delete,) = jobctl.reconcile_ttl(c, "ns/pi", c.clock.now)
    assert isinstance(delete, Delete) and delete.propagation_policy == "Foreground"


def test_index_set_format_round_trip():
    assert jobctl.format_indexes({0, 1, 2, 4, 6, 7}) == "0-2,4,6-7"
    assert jobctl.parse_indexes("0-2,4,6-7") == {0, 1, 2, 4, 6, 7}


def test_on_failure_restarts_count_against_backoff_limit():
    c = FakeCluster()
    spec = job_obj(backoffLimit=3)
    spec["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    c.add(JOBS, spec)
    sync(c)
    (pod,) = c.all(PODS, "ns")
    pod = make_running(c, pod)
    pod["status"]["containerStatuses"] = [{"name": "c", "restartCount": 2}, {"name": "d", "restartCount": 1}]
    c.put(PODS, pod)
    settle(c)
    assert conditions(c)["Failed"]["reason"] == "BackoffLimitExceeded"


def test_backoff_limit_per_index_fails_only_that_index_then_the_job():
    c = FakeCluster()
    c.add(JOBS, job_obj(completions=2, parallelism=2, completionMode="Indexed", backoffLimitPerIndex=1,
                        backoffLimit=2**31 - 1))
    sync(c)
    pods = {p["metadata"]["annotations"][jobctl.COMPLETION_INDEX]: p for p in c.all(PODS, "ns")}
    assert pods["0"]["metadata"]["annotations"][jobctl.INDEX_FAILURE_COUNT] == "0"
    finish(c, pods["0"], "Succeeded")
    finish(c, pods["1"], "Failed")
    assert RequeueAfter("ns/pi", 10.0) in sync(c)  # index 1 backs off on its own
    c.clock.advance(10)
    retry = [a.body for a in sync(c) if isinstance(a, Create)]
    assert [b["metadata"]["annotations"][jobctl.INDEX_FAILURE_COUNT] for b in retry] == ["1"]
    (again,) = [p for p in c.all(PODS, "ns") if not p.get("status")]
    finish(c, again, "Failed")
    settle(c)
    st = c.get(JOBS, "ns", "pi")["status"]
    assert (st["completedIndexes"], st["failedIndexes"]) == ("0", "1")
    assert conditions(c)["Failed"]["reason"] == "FailedIndexes"


def test_max_failed_indexes_fails_early():
    c = FakeCluster()
    c.add(JOBS, job_obj(completions=4, parallelism=4, completionMode="Indexed", backoffLimitPerIndex=0,
                        maxFailedIndexes=0, backoffLimit=2**31 - 1))
    sync(c)
    finish(c, c.all(PODS, "ns")[0], "Failed")
    settle(c)
    assert conditions(c)["Failed"]["reason"] == "MaxFailedIndexesExceeded"


def test_pod_replacement_policy_failed_waits_for_terminating_pods():
    c = FakeCluster()
    c.add(JOBS, job_obj(completions=1, podReplacementPolicy="Failed"))
    sync(c)
    (pod,) = c.all(PODS, "ns")
    make_running(c, pod)
    c.delete(PODS, "ns", pod["metadata"]["name"])  # held by the tracking finalizer: terminating
    assert not [a for a in sync(c) if isinstance(a, Create)]
    assert c.get(JOBS, "ns", "pi")["status"]["terminating"] == 1
    finish(c, c.get(PODS, "ns", pod["metadata"]["name"]), "Failed")
    settle(c)
    assert c.get(JOBS, "ns", "pi")["status"]["failed"] == 1
    assert len([p for p in c.all(PODS, "ns") if not p.get("status")]) == 1  # replaced once it had failed
