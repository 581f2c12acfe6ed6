"""Per-kind validation checks beyond the schema: each case is one rule kube-apiserver enforces."""

import copy
from typing import Any

import pytest

from api import defaulting, validation
from api.catalog import REGISTRY


def _messages(group: str, version: str, plural: str, obj: dict[str, Any]) -> list[str]:
    res = REGISTRY.require(group, version, plural)
    obj = copy.deepcopy(obj)
    meta = obj.setdefault("metadata", {})
    if "generateName" not in meta:
        meta.setdefault("name", "x")
    if res.namespaced:
        meta.setdefault("namespace", "default")
    defaulting.apply_defaults(REGISTRY, res.type_name, obj)
    return [str(c) for c in validation.validate(REGISTRY, res, obj)]


def _pod(**spec: Any) -> dict[str, Any]:
    return {"spec": {"containers": [{"name": "c", "image": "i"}], **spec}}


def _deployment(**spec: Any) -> dict[str, Any]:
    return {
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
            **spec,
        }
    }


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            _pod(volumes=[{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}]),
            "spec.volumes[0].emptyDir: Forbidden: may not specify more than 1 volume type",
        ),
        (
            _pod(tolerations=[{"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}]),
            "spec.tolerations[0].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when "
            "`tolerationSeconds` is set",
        ),
        (
            _pod(
                containers=[
                    {"name": "c", "image": "i", "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "2"}}}
                ]
            ),
            'spec.containers[0].resources.requests[cpu]: Invalid value: "2": '
            "must be less than or equal to cpu limit of 1",
        ),
        (
            _pod(containers=[{"name": "c", "image": "i", "resources": {"limits": {"gpus": "1"}}}]),
            'spec.containers[0].resources.limits[gpus]: Invalid value: "gpus": '
            "must be a standard resource for containers",
        ),
        (
            _pod(
                containers=[
                    {"name": "c", "image": "i", "livenessProbe": {"exec": {"command": ["x"]}, "successThreshold": 2}}
                ]
            ),
            "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
        ),
        (
            _pod(
                containers=[
                    {
                        "name": "c",
                        "image": "i",
                        "volumeMounts": [{"name": "v", "mountPath": "/a"}, {"name": "v", "mountPath": "/a"}],
                    }
                ],
                volumes=[{"name": "v"}],
            ),
            'spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/a": must be unique',
        ),
        (
            _pod(containers=[{"name": "c", "image": "i", "env": [{"name": "1BAD", "value": "x"}]}]),
            'spec.containers[0].env[0].name: Invalid value: "1BAD": a valid environment variable name must consist of '
            "alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or "
            "'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')",
        ),
    ],
)
def test_pod_rules(obj, expected):
    assert expected in _messages("", "v1", "pods", obj)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"ports": [{"port": 80}, {"port": 81}]}, "spec.ports[0].name: Required value"),
        (
            {"ports": [{"port": 80}], "clusterIP": "10.0.0.300"},
            'spec.clusterIP: Invalid value: "10.0.0.300": '
            "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
        ),
        (
            {"ports": [{"port": 80}], "type": "NodePort", "clusterIP": "None"},
            "spec.clusterIP: Invalid value: \"None\": may not be set to 'None' for NodePort services",
        ),
        (
            {"ports": [{"port": 80, "nodePort": 30000}]},
            "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
        ),
        ({"type": "ExternalName"}, "spec.externalName: Required value"),
        ({}, "spec.ports: Required value"),
    ],
)
def test_service_rules(spec, expected):
    assert expected in _messages("", "v1", "services", {"spec": spec})


def test_headless_service_without_ports_is_valid():
    assert _messages("", "v1", "services", {"spec": {"clusterIP": "None", "selector": {"a": "b"}}}) == []


def test_secret_types_need_their_keys():
    msgs = _messages("", "v1", "secrets", {"type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}})
    assert msgs == ["data[tls.key]: Required value"]


def test_node_taints_and_pvc():
    msgs = _messages(
        "",
        "v1",
        "nodes",
        {
            "spec": {
                "taints": [{"key": "a", "effect": "NoSchedule"}, {"key": "a", "effect": "NoSchedule"}],
                "podCIDR": "10.0.0.0",
            }
        },
    )
    assert 'spec.taints[1]: Duplicate value: "a:NoSchedule"' in msgs
    assert any(m.startswith('spec.podCIDR: Invalid value: "10.0.0.0": must be a valid CIDR value') for m in msgs)
    msgs = _messages("", "v1", "persistentvolumeclaims", {"spec": {}})
    assert msgs == [
        "spec.accessModes: Required value: at least 1 access mode is required",
        "spec.resources[storage]: Required value",
    ]


def test_limit_range_bounds():
    msgs = _messages(
        "",
        "v1",
        "limitranges",
        {"spec": {"limits": [{"type": "Container", "max": {"cpu": "1"}, "default": {"cpu": "2"}}]}},
    )
    assert 'spec.limits[0].default[cpu]: Invalid value: "2": default value 2 is greater than max value 1' in msgs


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"strategy": {"type": "Recreate", "rollingUpdate": {}}},
            "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'",
        ),
        (
            {"strategy": {"rollingUpdate": {"maxSurge": "abc"}}},
            'spec.strategy.rollingUpdate.maxSurge: Invalid value: "abc": '
            "a valid percent string must be a numeric string "
            "followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
        ),
        (
            {"strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}},
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0",
        ),
        (
            {"minReadySeconds": 700},
            "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds",
        ),
        ({"replicas": -1}, "spec.replicas: Invalid value: -1: must be greater than or equal to 0"),
    ],
)
def test_deployment_rules(spec, expected):
    assert expected in _messages("apps", "v1", "deployments", _deployment(**spec))


def test_job_and_cronjob_rules():
    job = {
        "spec": {
            "completionMode": "Indexed",
            "template": {"spec": {"restartPolicy": "Always", "containers": [{"name": "c", "image": "i"}]}},
        }
    }
    msgs = _messages("batch", "v1", "jobs", job)
    assert (
        'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"' in msgs
    )
    cron = {
        "metadata": {"name": "n" * 53},
        "spec": {
            "schedule": "61 * * *",
            "jobTemplate": {
                "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}
            },
        },
    }
    msgs = _messages("batch", "v1", "cronjobs", cron)
    assert f'metadata.name: Invalid value: "{"n" * 53}": must be no more than 52 characters' in msgs
    assert 'spec.schedule: Invalid value: "61 * * *": unparseable schedule' in msgs


def test_hpa_and_pdb_rules():
    hpa = {"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "minReplicas": 3, "maxReplicas": 2}}
    assert _messages("autoscaling", "v2", "horizontalpodautoscalers", hpa) == [
        "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`"
    ]
    pdb = {"spec": {"minAvailable": 1, "maxUnavailable": "10%"}}
    assert any(
        "minAvailable and maxUnavailable cannot be both set" in m
        for m in _messages("policy", "v1", "poddisruptionbudgets", pdb)
    )


def test_rbac_rules():
    binding = {
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
        "subjects": [{"kind": "ServiceAccount", "name": "sa"}, {"kind": "Robot", "name": "r"}],
    }
    msgs = _messages("rbac.authorization.k8s.io", "v1", "clusterrolebindings", binding)
    assert 'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"' in msgs
    assert "subjects[0].namespace: Required value" in msgs
    assert 'subjects[1].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"' in msgs
    role = {"rules": [{"verbs": ["get"], "apiGroups": [""]}]}
    assert _messages("rbac.authorization.k8s.io", "v1", "roles", role) == [
        "rules[0].resources: Required value: resource rules must supply at least one resource"
    ]


def test_networking_rules():
    policy = {
        "spec": {
            "podSelector": {},
            "ingress": [
                {
                    "from": [{"ipBlock": {"cidr": "10.0.0.0/16", "except": ["192.168.0.0/24"]}}],
                    "ports": [{"port": 80, "endPort": 70}],
                }
            ],
        }
    }
    msgs = _messages("networking.k8s.io", "v1", "networkpolicies", policy)
    assert (
        'spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "192.168.0.0/24": must be a strict subset of `cidr`'
        in msgs
    )
    assert "spec.ingress[0].ports[0].endPort: Invalid value: 70: must be greater than or equal to `port`" in msgs
    ingress = {
        "spec": {
            "rules": [
                {
                    "host": "1.2.3.4",
                    "http": {
                        "paths": [
                            {"path": "foo", "pathType": "Prefix", "backend": {"service": {"name": "s", "port": {}}}}
                        ]
                    },
                }
            ]
        }
    }
    msgs = _messages("networking.k8s.io", "v1", "ingresses", ingress)
    assert 'spec.rules[0].host: Invalid value: "1.2.3.4": must be a DNS name, not an IP address' in msgs
    assert 'spec.rules[0].http.paths[0].path: Invalid value: "foo": must be an absolute path' in msgs
    assert (
        "spec.rules[0].http.paths[0].backend.service.port: Invalid value: {}: port name or number is required" in msgs
    )


def test_endpoint_slice_addresses():
    eps = {"addressType": "IPv4", "endpoints": [{"addresses": ["fd00::1"]}]}
    assert _messages("discovery.k8s.io", "v1", "endpointslices", eps) == [
        'endpoints[0].addresses[0]: Invalid value: "fd00::1": must be a valid IPv4 address'
    ]


def test_statefulset_claims_provide_volumes():
    sts = {
        "spec": {
            "serviceName": "s",
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {
                    "containers": [{"name": "c", "image": "i", "volumeMounts": [{"name": "data", "mountPath": "/d"}]}]
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                }
            ],
        }
    }
    assert _messages("apps", "v1", "statefulsets", sts) == []
    dep = _deployment()
    dep["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/d"}]
    assert _messages("apps", "v1", "deployments", dep) == [
        'spec.template.spec.containers[0].volumeMounts[0].name: Not found: "data"'
    ]


def test_template_labels_and_generate_name():
    dep = _deployment()
    dep["spec"]["template"]["metadata"]["labels"]["bad key!"] = "x"
    msgs = _messages("apps", "v1", "deployments", dep)
    assert any(m.startswith('spec.template.metadata.labels: Invalid value: "bad key!"') for m in msgs)
    pod = _pod()
    pod["metadata"] = {"generateName": "web-"}
    assert _messages("", "v1", "pods", pod) == []
    pod["metadata"] = {"generateName": "Web-"}
    assert _messages("", "v1", "pods", pod)[0].startswith('metadata.generateName: Invalid value: "Web-"')


def test_downward_api_paths():
    env = [
        {"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "spec.bogus"}}},
        {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
        {"name": "C", "valueFrom": {"resourceFieldRef": {"resource": "limits.gpu"}}},
    ]
    msgs = _messages("", "v1", "pods", _pod(containers=[{"name": "c", "image": "i", "env": env}]))
    assert msgs[0].startswith('spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "spec.bogus"')
    assert msgs[1].startswith(
        'spec.containers[0].env[2].valueFrom.resourceFieldRef.resource: Unsupported value: "limits.gpu"'
    )
    assert len(msgs) == 2
    volume = {"name": "v", "downwardAPI": {"items": [{"path": "ip", "fieldRef": {"fieldPath": "status.podIP"}}]}}
    msgs = _messages("", "v1", "pods", _pod(volumes=[volume]))
    assert msgs == [
        'spec.volumes[0].downwardAPI.items[0].fieldRef.fieldPath: Unsupported value: "status.podIP": '
        'supported values: "metadata.annotations", "metadata.labels", "metadata.name", '
        '"metadata.namespace", "metadata.uid"'
    ]


def test_scale_replicas_must_not_be_negative():
    scale = {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web"}, "spec": {"replicas": -1}}
    causes = validation.validate_object(REGISTRY, "io.k8s.api.autoscaling.v1.Scale", scale)
    assert [str(c) for c in causes] == ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]
