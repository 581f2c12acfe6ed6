"""Defaults and validation messages, worded as kube-apiserver words them."""

from typing import Any

from api import defaulting, errors, structure, validation
from api.catalog import REGISTRY


def _pod(**spec):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec},
    }


def _validate(group, plural, obj):
    res = REGISTRY.require(group, "v1", plural)
    defaulting.apply_defaults(REGISTRY, res.type_name, obj)
    return [str(c) for c in validation.validate(REGISTRY, res, obj)]


def test_pod_defaults_match_a_real_cluster():
    pod = defaulting.apply_defaults(REGISTRY, "io.k8s.api.core.v1.Pod", _pod())
    spec = pod["spec"]
    assert (spec["restartPolicy"], spec["dnsPolicy"], spec["terminationGracePeriodSeconds"], spec["schedulerName"]) == (
        "Always",
        "ClusterFirst",
        30,
        "default-scheduler",
    )
    c = spec["containers"][0]
    assert c["imagePullPolicy"] == "Always"
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["terminationMessagePolicy"] == "File"


def test_image_pull_policy_depends_on_tag():
    assert defaulting.image_pull_policy("nginx:1.25") == "IfNotPresent"
    assert defaulting.image_pull_policy("nginx:latest") == "Always"
    assert defaulting.image_pull_policy("registry:5000/nginx") == "Always"
    assert defaulting.image_pull_policy("nginx@sha256:abc") == "IfNotPresent"


def test_deployment_defaults():
    dep: dict[str, Any] = {
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}]}]},
            },
        }
    }
    defaulting.apply_defaults(REGISTRY, "io.k8s.api.apps.v1.Deployment", dep)
    spec = dep["spec"]
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert (spec["replicas"], spec["revisionHistoryLimit"], spec["progressDeadlineSeconds"]) == (1, 10, 600)
    assert spec["template"]["spec"]["containers"][0]["ports"][0]["protocol"] == "TCP"


def test_recreate_strategy_gets_no_rolling_update_block():
    dep = {"spec": {"strategy": {"type": "Recreate"}}}
    defaulting.apply_defaults(REGISTRY, "io.k8s.api.apps.v1.Deployment", dep)
    assert dep["spec"]["strategy"] == {"type": "Recreate"}


def test_service_and_job_defaults():
    svc: dict[str, Any] = {"spec": {"ports": [{"port": 80}]}}
    defaulting.apply_defaults(REGISTRY, "io.k8s.api.core.v1.Service", svc)
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["sessionAffinity"] == "None"
    assert svc["spec"]["ports"][0] == {"port": 80, "targetPort": 80, "protocol": "TCP"}
    job: dict[str, Any] = {"spec": {"template": {"spec": {"containers": []}}}}
    defaulting.apply_defaults(REGISTRY, "io.k8s.api.batch.v1.Job", job)
    assert (job["spec"]["backoffLimit"], job["spec"]["completions"], job["spec"]["parallelism"]) == (6, 1, 1)


def test_name_must_be_a_dns_subdomain():
    pod = _pod()
    pod["metadata"]["name"] = "Foo"
    msgs = _validate("", "pods", pod)
    assert msgs == [
        'metadata.name: Invalid value: "Foo": a lowercase RFC 1123 subdomain must consist of lower case '
        "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character "
        "(e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    ]


def test_missing_name_and_label_value():
    pod = _pod()
    del pod["metadata"]["name"]
    pod["metadata"]["labels"] = {"app": "-bad"}
    msgs = _validate("", "pods", pod)
    assert msgs[0] == "metadata.name: Required value: name or generateName is required"
    assert msgs[1].startswith('metadata.labels: Invalid value: "-bad": a valid label must be an empty string')


def test_enum_port_and_image_errors():
    pod = _pod(restartPolicy="Sometimes")
    pod["spec"]["containers"].append({"name": "d", "ports": [{"containerPort": 70000}]})
    msgs = _validate("", "pods", pod)
    assert (
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"' in msgs
    )
    assert "spec.containers[1].image: Required value" in msgs
    assert (
        "spec.containers[1].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"
        in msgs
    )


def test_duplicate_container_names_and_missing_volume():
    pod = _pod()
    pod["spec"]["containers"].append({"name": "c", "image": "x", "volumeMounts": [{"name": "v", "mountPath": "/v"}]})
    msgs = _validate("", "pods", pod)
    assert 'spec.containers[1].name: Duplicate value: "c"' in msgs
    assert 'spec.containers[1].volumeMounts[0].name: Not found: "v"' in msgs


def test_selector_must_match_template():
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "x"}},
            "template": {"metadata": {"labels": {"app": "y"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
        },
    }
    msgs = _validate("apps", "deployments", dep)
    assert msgs == [
        'spec.template.metadata.labels: Invalid value: {"app":"y"}: `selector` does not match template `labels`'
    ]


def test_invalid_quantity_is_caught_at_decoding():
    pod = _pod()
    pod["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "lots"}}
    _, report = structure.decode(REGISTRY, "io.k8s.api.core.v1.Pod", pod)
    assert [c.field for c in report.type_errors] == ["spec.containers[0].resources.limits[cpu]"]
    assert "quantities must match the regular expression" in report.type_errors[0].message


def test_immutable_selector_and_pod_spec():
    res = REGISTRY.require("apps", "v1", "deployments")
    old: dict[str, Any] = {
        "metadata": {"name": "d", "namespace": "n"},
        "spec": {
            "selector": {"matchLabels": {"a": "1"}},
            "template": {
                "metadata": {"labels": {"a": "1", "b": "2"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        },
    }
    new = {**old, "spec": {**old["spec"], "selector": {"matchLabels": {"a": "1", "b": "2"}}}}
    msgs = [str(c) for c in validation.validate_update(REGISTRY, res, new, old)]
    assert any(m.startswith("spec.selector: Invalid value") and m.endswith("field is immutable") for m in msgs)
    pods = REGISTRY.require("", "v1", "pods")
    old_pod = defaulting.apply_defaults(REGISTRY, pods.type_name, _pod())
    new_pod = defaulting.apply_defaults(REGISTRY, pods.type_name, _pod())
    new_pod["spec"]["containers"][0]["image"] = "nginx:2"
    assert validation.validate_update(REGISTRY, pods, new_pod, old_pod) == []
    new_pod["spec"]["containers"][0]["command"] = ["sh"]
    causes = validation.validate_update(REGISTRY, pods, new_pod, old_pod)
    assert [c.reason for c in causes] == [errors.FORBIDDEN]


def test_invalid_status_body():
    status = errors.invalid_status(
        "ConfigMap", "", "", [errors.required("metadata.name", "name or generateName is required")]
    )
    assert (
        status["message"] == 'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required'
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueRequired",
            "field": "metadata.name",
            "message": "Required value: name or generateName is required",
        }
    ]
    assert status["code"] == 422


def _update(group: str, plural: str, new: dict[str, Any], old: dict[str, Any]) -> list[str]:
    res = REGISTRY.require(group, "v1", plural)
    return [str(c) for c in validation.validate_update(REGISTRY, res, new, old)]


def test_statefulset_update_rules():
    old: dict[str, Any] = {
        "metadata": {"name": "s", "namespace": "n"},
        "spec": {
            "serviceName": "a",
            "replicas": 1,
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
        },
    }
    scaled = {**old, "spec": {**old["spec"], "replicas": 3}}
    assert _update("apps", "statefulsets", scaled, old) == []
    renamed = {**old, "spec": {**old["spec"], "serviceName": "b"}}
    assert _update("apps", "statefulsets", renamed, old)[0].startswith(
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas'"
    )


def test_claim_volume_and_class_update_rules():
    claim: dict[str, Any] = {
        "metadata": {"name": "c", "namespace": "n"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    bound = {**claim, "spec": {**claim["spec"], "volumeName": "pv1"}}
    assert _update("", "persistentvolumeclaims", bound, claim) == []
    grown = {**bound, "spec": {**bound["spec"], "resources": {"requests": {"storage": "2Gi"}}}}
    assert _update("", "persistentvolumeclaims", grown, bound) == []
    moved = {**bound, "spec": {**bound["spec"], "accessModes": ["ReadWriteMany"]}}
    assert _update("", "persistentvolumeclaims", moved, bound) == [
        "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName "
        "for bound claims"
    ]
    pc_old: dict[str, Any] = {"metadata": {"name": "p"}, "value": 1}
    assert _update("scheduling.k8s.io", "priorityclasses", {**pc_old, "value": 2}, pc_old) == [
        "value: Forbidden: may not be changed in an update."
    ]
    node_old: dict[str, Any] = {"metadata": {"name": "n"}, "spec": {"podCIDR": "10.244.1.0/24"}}
    node_new = {"metadata": {"name": "n"}, "spec": {"podCIDR": "10.244.2.0/24"}}
    assert _update("", "nodes", node_new, node_old) == [
        'spec.podCIDR: Forbidden: node updates may not change podCIDR except from "" to valid'
    ]
    assert _update("", "nodes", node_old, {"metadata": {"name": "n"}, "spec": {}}) == []


def test_metadata_identity_is_immutable():
    old: dict[str, Any] = {"metadata": {"name": "cm", "namespace": "n", "uid": "u1"}}
    new: dict[str, Any] = {"metadata": {"name": "cm", "namespace": "n", "uid": "u2"}}
    assert _update("", "configmaps", new, old) == ['metadata.uid: Invalid value: "u2": field is immutable']
    frozen: dict[str, Any] = {"metadata": {"name": "cm", "namespace": "n"}, "immutable": True, "data": {"a": "1"}}
    changed = {**frozen, "data": {"a": "2"}}
    assert _update("", "configmaps", changed, frozen) == ["data: Forbidden: field is immutable when `immutable` is set"]


def test_hpa_behavior_defaults_only_when_given():
    spec: dict[str, Any] = {"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "maxReplicas": 3}}
    defaulting.apply_defaults(REGISTRY, "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler", spec)
    assert "behavior" not in spec["spec"]
    assert spec["spec"]["minReplicas"] == 1
    assert spec["spec"]["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 80}
    spec["spec"]["behavior"] = {"scaleDown": {"stabilizationWindowSeconds": 60}}
    defaulting.apply_defaults(REGISTRY, "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler", spec)
    assert spec["spec"]["behavior"]["scaleDown"] == {
        "stabilizationWindowSeconds": 60,
        "selectPolicy": "Max",
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
    }
    assert spec["spec"]["behavior"]["scaleUp"]["policies"][0] == {"type": "Pods", "value": 4, "periodSeconds": 15}
