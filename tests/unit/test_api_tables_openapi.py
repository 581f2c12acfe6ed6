"""Table rows for kubectl get, the OpenAPI documents, and registry lookups."""

from datetime import UTC, datetime
from typing import Any

from api import openapi, tables
from api.catalog import REGISTRY

NOW = datetime(2024, 12, 11, 1, 0, 0, tzinfo=UTC)
CREATED = "2024-12-11T00:55:00Z"


def _cells(plural, obj, group="", version="v1", wide=False):
    res = REGISTRY.require(group, version, plural)
    t = tables.table(res, [obj], now=NOW)
    names = [c["name"] for c in t["columnDefinitions"] if wide or c["priority"] == 0]
    cells = [
        cell
        for cell, c in zip(t["rows"][0]["cells"], t["columnDefinitions"], strict=True)
        if wide or c["priority"] == 0
    ]
    return dict(zip(names, cells, strict=True)), t


def test_pod_row():
    pod = {
        "metadata": {"name": "nginx", "namespace": "default", "creationTimestamp": CREATED, "labels": {"app": "x"}},
        "spec": {"containers": [{"name": "c"}], "nodeName": "node1"},
        "status": {
            "phase": "Running",
            "podIP": "10.244.0.7",
            "containerStatuses": [{"name": "c", "ready": True, "restartCount": 0, "state": {"running": {}}}],
        },
    }
    cells, t = _cells("pods", pod, wide=True)
    assert cells == {
        "Name": "nginx",
        "Ready": "1/1",
        "Status": "Running",
        "Restarts": "0",
        "Age": "5m",
        "IP": "10.244.0.7",
        "Node": "node1",
        "Nominated Node": "<none>",
        "Readiness Gates": "<none>",
    }
    assert t["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    assert t["rows"][0]["object"]["metadata"]["labels"] == {"app": "x"}
    assert t["columnDefinitions"][0]["format"] == "name"


def test_pod_status_reasons():
    pod: dict[str, Any] = {
        "metadata": {"name": "p", "creationTimestamp": CREATED},
        "spec": {"containers": [{"name": "c"}]},
        "status": {
            "phase": "Pending",
            "containerStatuses": [
                {
                    "name": "c",
                    "ready": False,
                    "restartCount": 3,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-12-11T00:59:00Z"}},
                }
            ],
        },
    }
    cells, _ = _cells("pods", pod)
    assert (cells["Ready"], cells["Status"], cells["Restarts"]) == ("0/1", "CrashLoopBackOff", "3 (60s ago)")
    pod["metadata"]["deletionTimestamp"] = "2024-12-11T01:00:00Z"
    assert _cells("pods", pod)[0]["Status"] == "Terminating"


def test_deployment_row():
    dep = {
        "metadata": {"name": "web", "creationTimestamp": "2024-12-10T00:00:00Z"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}},
        },
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    cells, _ = _cells("deployments", dep, group="apps", wide=True)
    assert cells == {
        "Name": "web",
        "Ready": "2/3",
        "Up-to-date": 3,
        "Available": 2,
        "Age": "25h",
        "Containers": "nginx",
        "Images": "nginx:1.25",
        "Selector": "app=web",
    }


def test_service_and_node_rows():
    svc = {
        "metadata": {"name": "s", "creationTimestamp": CREATED},
        "spec": {
            "type": "NodePort",
            "clusterIP": "10.96.0.10",
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}],
            "selector": {"app": "x"},
        },
    }
    cells, _ = _cells("services", svc)
    assert cells == {
        "Name": "s",
        "Type": "NodePort",
        "Cluster-IP": "10.96.0.10",
        "External-IP": "<none>",
        "Port(s)": "80:30080/TCP",
        "Age": "5m",
    }
    node = {
        "metadata": {
            "name": "node1",
            "creationTimestamp": CREATED,
            "labels": {"node-role.kubernetes.io/control-plane": ""},
        },
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "nodeInfo": {"kubeletVersion": "v1.32.0"},
            "addresses": [{"type": "InternalIP", "address": "172.28.1.11"}],
        },
    }
    cells, _ = _cells("nodes", node, wide=True)
    assert cells["Status"] == "Ready,SchedulingDisabled"
    assert cells["Roles"] == "control-plane"
    assert cells["Version"] == "v1.32.0"
    assert cells["Internal-IP"] == "172.28.1.11"


def test_default_table_for_kinds_without_printer():
    res = REGISTRY.require("rbac.authorization.k8s.io", "v1", "roles")
    t = tables.table(res, [{"metadata": {"name": "r", "creationTimestamp": CREATED}}], now=NOW)
    assert [c["name"] for c in t["columnDefinitions"]] == ["Name", "Created At"]
    assert t["rows"][0]["cells"] == ["r", CREATED]


def test_human_durations():
    assert [
        tables.human_duration(s)
        for s in (5, 119, 150, 600, 3 * 3600 + 60, 10 * 3600, 3 * 86400 + 3600, 30 * 86400, 800 * 86400)
    ] == ["5s", "119s", "2m30s", "10m", "3h1m", "10h", "3d1h", "30d", "2y70d"]


def test_registry_lookups_and_storage_keys():
    pods = REGISTRY.require("", "v1", "pods")
    assert pods.storage_key("default", "p") == "/registry/pods/default/p"
    deploy = REGISTRY.resource_for_api_version("apps/v1", "Deployment")
    assert deploy is not None
    assert deploy.storage_key("ns", "d") == "/registry/apps/deployments/ns/d"
    assert REGISTRY.require("", "v1", "nodes").storage_key(None, "n1") == "/registry/nodes/n1"
    scale = deploy.subresource("scale")
    assert scale is not None and scale.group == "autoscaling"
    assert "deploy" in deploy.short_names and "all" in deploy.categories
    assert REGISTRY.group_versions().index(("autoscaling", "v2")) < REGISTRY.group_versions().index(
        ("autoscaling", "v1")
    )
    assert "io.k8s.api.apps.v1.DeploymentList" in REGISTRY.types


def test_protobuf_field_numbers_for_kubectl_create():
    meta = REGISTRY.type("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta").by_name
    assert (meta["name"].proto, meta["namespace"].proto, meta["labels"].proto, meta["creationTimestamp"].proto) == (
        1,
        3,
        11,
        8,
    )
    cm = REGISTRY.type("io.k8s.api.core.v1.ConfigMap").by_name
    assert (cm["metadata"].proto, cm["data"].proto, cm["binaryData"].proto, cm["immutable"].proto) == (1, 2, 3, 4)
    container = REGISTRY.type("io.k8s.api.core.v1.Container").by_name
    assert (container["name"].proto, container["image"].proto, container["ports"].proto) == (1, 2, 6)
    volume = REGISTRY.type("io.k8s.api.core.v1.Volume").by_name
    assert (volume["emptyDir"].embedded_in, volume["emptyDir"].proto) == (2, 2)


def test_openapi_v3_documents():
    index = openapi.v3_index(REGISTRY)
    assert set(index["paths"]) >= {"api/v1", "apis/apps/v1", "apis/batch/v1"}
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    doc = openapi.v3(REGISTRY, "apis/apps/v1")
    assert doc is not None
    assert url.endswith("?hash=" + doc.hash)
    body = doc.body
    patch = body["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert {p["name"] for p in patch["parameters"]} >= {"fieldValidation", "dryRun", "fieldManager", "force"}
    assert set(patch["requestBody"]["content"]) == set(openapi.PATCH_TYPES)
    assert patch["x-kubernetes-group-version-kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    schemas = body["components"]["schemas"]
    dep = schemas["io.k8s.api.apps.v1.Deployment"]
    assert dep["x-kubernetes-group-version-kind"] == [{"group": "apps", "version": "v1", "kind": "Deployment"}]
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    for schema in schemas.values():
        for prop in schema.get("properties", {}).values():
            refs = [prop.get("$ref")] + [a.get("$ref") for a in prop.get("allOf", [])]
            for ref in filter(None, refs):
                assert ref.removeprefix("#/components/schemas/") in schemas
    assert openapi.v3(REGISTRY, "apis/nope/v1") is None


def test_openapi_v2_document():
    doc = openapi.v2(REGISTRY).body
    assert doc["swagger"] == "2.0"
    pod = doc["definitions"]["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "version": "v1", "kind": "Pod"}]
    assert pod["properties"]["spec"]["$ref"] == "#/definitions/io.k8s.api.core.v1.PodSpec"
    assert openapi.v2(REGISTRY) is openapi.v2(REGISTRY)


def test_hpa_targets_column():
    v2 = {
        "metadata": {"name": "h", "creationTimestamp": CREATED},
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": 3,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}},
                }
            ],
        },
        "status": {
            "currentReplicas": 1,
            "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 20}}}
            ],
        },
    }
    cells, _ = _cells("horizontalpodautoscalers", v2, group="autoscaling", version="v2")
    assert (cells["Reference"], cells["Targets"], cells["MinPods"], cells["MaxPods"]) == (
        "Deployment/web",
        "cpu: 20%/60%",
        1,
        3,
    )
    v1 = {
        "metadata": {"name": "h"},
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "maxReplicas": 3,
            "targetCPUUtilizationPercentage": 50,
        },
    }
    assert _cells("horizontalpodautoscalers", v1, group="autoscaling")[0]["Targets"] == "cpu: <unknown>/50%"


def test_malformed_objects_still_render():
    res = REGISTRY.require("apps", "v1", "deployments")
    t = tables.table(
        res, [{"metadata": {"name": "d"}, "spec": {"template": {"spec": {"containers": "oops"}}}}], now=NOW
    )
    assert t["rows"][0]["cells"][0] == "d"
    assert "<unknown>" in t["rows"][0]["cells"]
