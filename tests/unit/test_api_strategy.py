"""Create/update strategies: status reset, generation, pod QoS, the Scale view."""

from typing import Any

import pytest

from api import defaulting, strategy, validation
from api.catalog import REGISTRY

DEPLOYMENTS = REGISTRY.require("apps", "v1", "deployments")


def _pod(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"containers": [{"name": f"c{i}", "resources": r} for i, r in enumerate(resources)]}}


@pytest.mark.parametrize(
    ("resources", "qos"),
    [
        ([{}], "BestEffort"),
        ([{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}], "Guaranteed"),
        ([{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}}], "Burstable"),
        ([{"requests": {"memory": "64Mi"}}, {}], "Burstable"),
        ([{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}, {}], "Burstable"),
        ([{"limits": {"cpu": "0"}}], "BestEffort"),
    ],
)
def test_qos_class(resources, qos):
    assert strategy.qos_class(_pod(*resources)) == qos


def test_create_resets_status_and_sets_generation():
    dep: dict[str, Any] = {
        "metadata": {"name": "d", "generation": 7},
        "spec": {"replicas": 1},
        "status": {"replicas": 9},
    }
    strategy.prepare_for_create(DEPLOYMENTS, dep)
    assert dep["metadata"]["generation"] == 1
    assert "status" not in dep
    pod = strategy.prepare_for_create(
        REGISTRY.require("", "v1", "pods"), {"metadata": {}, "spec": {"containers": []}, "status": {"phase": "Running"}}
    )
    assert pod["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    assert "generation" not in pod["metadata"]
    node = strategy.prepare_for_create(
        REGISTRY.require("", "v1", "nodes"), {"metadata": {}, "status": {"capacity": {}}}
    )
    assert node["status"] == {"capacity": {}}
    ns = strategy.prepare_for_create(REGISTRY.require("", "v1", "namespaces"), {"metadata": {}})
    assert ns["status"] == {"phase": "Active"}


def test_update_keeps_status_and_bumps_generation_on_spec_change():
    old = {"metadata": {"name": "d", "generation": 3}, "spec": {"replicas": 1}, "status": {"replicas": 1}}
    same = strategy.prepare_for_update(
        DEPLOYMENTS,
        {"metadata": {"name": "d", "labels": {"a": "b"}}, "spec": {"replicas": 1}, "status": {"replicas": 5}},
        old,
    )
    assert same["metadata"]["generation"] == 3
    assert same["status"] == {"replicas": 1}
    changed = strategy.prepare_for_update(DEPLOYMENTS, {"metadata": {"name": "d"}, "spec": {"replicas": 2}}, old)
    assert changed["metadata"]["generation"] == 4


def test_status_update_changes_only_status():
    old = {"metadata": {"name": "d", "labels": {"a": "b"}}, "spec": {"replicas": 1}, "status": {"replicas": 1}}
    new = {"metadata": {"name": "d"}, "spec": {"replicas": 5}, "status": {"replicas": 3}}
    out = strategy.prepare_for_status_update(DEPLOYMENTS, new, old)
    assert out == {"metadata": {"name": "d", "labels": {"a": "b"}}, "spec": {"replicas": 1}, "status": {"replicas": 3}}


def test_deployment_status_update_also_takes_annotations():
    """The Deployment controller records its revision annotation through /status, as upstream's does."""
    old = {"metadata": {"name": "d", "labels": {"a": "b"}}, "spec": {"replicas": 1}}
    new = {"metadata": {"name": "d", "labels": {"x": "y"}, "annotations": {"deployment.kubernetes.io/revision": "2"}},
           "spec": {"replicas": 5}, "status": {"replicas": 1}}
    out = strategy.prepare_for_status_update(DEPLOYMENTS, new, old)
    revision = {"deployment.kubernetes.io/revision": "2"}
    assert out["metadata"] == {"name": "d", "labels": {"a": "b"}, "annotations": revision}
    assert out["spec"] == {"replicas": 1}


def test_scale_view_and_write():
    dep = {
        "metadata": {"name": "web", "namespace": "default", "uid": "u", "resourceVersion": "5", "labels": {"x": "y"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}},
        "status": {"replicas": 2},
    }
    scale = strategy.scale_of(DEPLOYMENTS, dep)
    assert scale == {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {"name": "web", "namespace": "default", "uid": "u", "resourceVersion": "5"},
        "spec": {"replicas": 3},
        "status": {"replicas": 2, "selector": "app=web"},
    }
    assert strategy.apply_scale(dep, {"spec": {"replicas": 5}})["spec"]["replicas"] == 5
    rc = {"metadata": {"name": "rc"}, "spec": {"replicas": 1, "selector": {"b": "2", "a": "1"}}}
    assert (
        strategy.scale_of(REGISTRY.require("", "v1", "replicationcontrollers"), rc)["status"]["selector"] == "a=1,b=2"
    )


def test_limits_default_requests():
    pod = _pod({"limits": {"cpu": "1", "memory": "1Gi"}})
    defaulting.apply_defaults(REGISTRY, "io.k8s.api.core.v1.Pod", pod)
    assert pod["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "1", "memory": "1Gi"}
    assert strategy.qos_class(pod) == "Guaranteed"


def test_job_selector_is_generated_from_uid():
    jobs = REGISTRY.require("batch", "v1", "jobs")
    job: dict[str, Any] = {
        "metadata": {"name": "pi", "namespace": "default", "uid": "u-1"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "perl"}]}}},
    }
    strategy.prepare_for_create(jobs, job)
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}}
    assert job["spec"]["template"]["metadata"]["labels"]["job-name"] == "pi"
    defaulting.apply_defaults(REGISTRY, jobs.type_name, job)
    assert validation.validate(REGISTRY, jobs, job) == []
    manual: dict[str, Any] = {"metadata": {"name": "m", "uid": "u-2"}, "spec": {"manualSelector": True}}
    strategy.prepare_for_create(jobs, manual)
    assert "selector" not in manual["spec"]


def test_secret_string_data_is_folded_into_data():
    secrets = REGISTRY.require("", "v1", "secrets")
    secret: dict[str, Any] = {"metadata": {"name": "s"}, "data": {"a": "eA==", "b": "eQ=="}, "stringData": {"b": "z"}}
    strategy.prepare_for_create(secrets, secret)
    assert secret == {"metadata": {"name": "s"}, "data": {"a": "eA==", "b": "eg=="}}


def test_default_tolerations():
    pod: dict[str, Any] = {
        "spec": {
            "tolerations": [
                {
                    "key": "node.kubernetes.io/unreachable",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 10,
                }
            ]
        }
    }
    strategy.add_default_tolerations(pod)
    assert pod["spec"]["tolerations"] == [
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10},
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    ]
    tolerate_all: dict[str, Any] = {"spec": {"tolerations": [{"operator": "Exists"}]}}
    assert strategy.add_default_tolerations(tolerate_all)["spec"]["tolerations"] == [{"operator": "Exists"}]


def test_namespace_label_and_service_account_spelling():
    ns = defaulting.apply_defaults(REGISTRY, "io.k8s.api.core.v1.Namespace", {"metadata": {"name": "team-a"}})
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team-a"}
    pod = defaulting.apply_defaults(REGISTRY, "io.k8s.api.core.v1.Pod", {"spec": {"serviceAccount": "robot"}})
    assert (pod["spec"]["serviceAccountName"], pod["spec"]["serviceAccount"]) == ("robot", "robot")


def test_a_node_created_without_a_spec_reads_back_with_an_empty_one():
    node = defaulting.apply_defaults(REGISTRY, "io.k8s.api.core.v1.Node", {"metadata": {"name": "n1"}})
    assert node["spec"] == {}
    cordoned = defaulting.apply_defaults(REGISTRY, "io.k8s.api.core.v1.Node", {"spec": {"unschedulable": True}})
    assert cordoned["spec"] == {"unschedulable": True}
