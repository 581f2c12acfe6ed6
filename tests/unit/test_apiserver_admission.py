"""Admission plugins one by one, over an in-memory lookup: what each mutates, what each refuses and with which
Kubernetes message, and the chain's plugin selection and order."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable, Coroutine
from typing import Any, cast

import pytest

from api.catalog import REGISTRY
from api.schema import JSON, Resource
from apiserver.admission import CREATE, DELETE, UPDATE, Charges, Request, enabled_plugins
from apiserver.admission.lifecycle import NamespaceLifecycle
from apiserver.admission.limitranger import LimitRanger
from apiserver.admission.lookup import Lookup
from apiserver.admission.noderestriction import NodeRestriction, label_forbidden
from apiserver.admission.priority import Priority
from apiserver.admission.resourcequota import ResourceQuota
from apiserver.admission.serviceaccount import MOUNT_PATH, ServiceAccount
from apiserver.admission.storageclass import DefaultStorageClass
from apiserver.admission.tolerations import DefaultTolerationSeconds
from apiserver.auth import User
from apiserver.errors import APIError
from apiserver.registry import Registry
from protos.etcd import rpc_pb2
from store.client import StoreClient


class MemoryLookup(Lookup):
    """Objects by store key, read as the cache would serve them."""

    def __init__(self, objects: dict[str, dict[str, JSON]]) -> None:
        self.objects = objects

    async def get(self, prefix: str, name: str) -> dict[str, JSON] | None:
        return self.objects.get(prefix + name)

    async def select(
        self, prefix: str, namespace: str = "", keep: Callable[[dict[str, JSON]], bool] | None = None
    ) -> list[dict[str, JSON]]:
        start = f"{prefix}{namespace}/" if namespace else prefix
        return [o for k, o in sorted(self.objects.items()) if k.startswith(start) and (keep is None or keep(o))]

    current = select


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


def resource(api_version: str, kind: str) -> Resource:
    res = REGISTRY.resource_for_api_version(api_version, kind)
    assert res is not None
    return res


PODS = resource("v1", "Pod")
NODES = resource("v1", "Node")


def pod(name: str = "web", **spec: JSON) -> dict[str, JSON]:
    containers: JSON = spec.pop("containers", [{"name": "app", "image": "busybox"}])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"containers": containers, **spec},
    }


def create(obj: dict[str, JSON], res: Resource = PODS, user: User | None = None) -> Request:
    meta = obj.get("metadata") or {}
    return Request(CREATE, res, str(meta.get("namespace") or ""), str(meta.get("name") or ""), obj, user=user)


def refused(call: Coroutine[Any, Any, Any]) -> dict[str, JSON]:
    with pytest.raises(APIError) as info:
        run(call)
    return info.value.body


# ---- chain ----


def test_default_plugins_follow_kube_apiserver_and_flags_adjust_them() -> None:
    assert enabled_plugins() == (
        "NamespaceLifecycle",
        "LimitRanger",
        "ServiceAccount",
        "Priority",
        "DefaultTolerationSeconds",
        "DefaultStorageClass",
        "ResourceQuota",
    )
    chosen = enabled_plugins(["NodeRestriction"], ["ServiceAccount", "ResourceQuota"])
    assert chosen == (
        "NamespaceLifecycle",
        "LimitRanger",
        "NodeRestriction",
        "Priority",
        "DefaultTolerationSeconds",
        "DefaultStorageClass",
    )
    with pytest.raises(ValueError, match="unknown admission plugins: AlwaysPullImages"):
        enabled_plugins(["AlwaysPullImages"])


# ---- NamespaceLifecycle ----


def test_namespace_lifecycle_refuses_missing_terminating_and_immortal() -> None:
    lookup = MemoryLookup(
        {
            "/registry/namespaces/ns": {"metadata": {"name": "ns"}},
            "/registry/namespaces/gone": {"metadata": {"name": "gone", "deletionTimestamp": "2024-01-01T00:00:00Z"}},
        }
    )
    plugin = NamespaceLifecycle(lookup)
    run(plugin.validate(create(pod())))
    missing = pod()
    missing["metadata"]["namespace"] = "nowhere"
    body = refused(plugin.validate(create(missing)))
    assert (body["code"], body["message"]) == (404, 'namespaces "nowhere" not found')
    terminating = pod()
    terminating["metadata"]["namespace"] = "gone"
    body = refused(plugin.validate(create(terminating)))
    assert body["code"] == 403
    assert body["message"] == "unable to create new content in namespace gone because it is being terminated"
    namespaces = resource("v1", "Namespace")
    body = refused(plugin.validate(Request(DELETE, namespaces, "", "kube-system", None)))
    assert body["message"] == 'namespaces "kube-system" is forbidden: this namespace may not be deleted'
    run(plugin.validate(Request(DELETE, namespaces, "", "ns", None)))


# ---- ServiceAccount ----


def sa_lookup(**account: JSON) -> MemoryLookup:
    return MemoryLookup(
        {"/registry/serviceaccounts/ns/default": {"metadata": {"name": "default", "namespace": "ns"}, **account}}
    )


def test_service_account_defaults_account_and_mounts_projected_token() -> None:
    p = pod(initContainers=[{"name": "init", "image": "busybox"}])
    run(ServiceAccount(sa_lookup(imagePullSecrets=[{"name": "regcred"}])).mutate(create(p)))
    spec = p["spec"]
    assert spec["serviceAccountName"] == "default"
    (volume,) = spec["volumes"]
    assert volume["name"].startswith("kube-api-access-") and len(volume["name"]) == len("kube-api-access-") + 5
    sources = volume["projected"]["sources"]
    assert sources[0] == {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}
    assert sources[1]["configMap"]["name"] == "kube-root-ca.crt"
    assert sources[2]["downwardAPI"]["items"][0]["fieldRef"]["fieldPath"] == "metadata.namespace"
    for c in [*spec["containers"], *spec["initContainers"]]:
        assert c["volumeMounts"] == [{"name": volume["name"], "readOnly": True, "mountPath": MOUNT_PATH}]
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]


@pytest.mark.parametrize(("on_pod", "on_account"), [(False, None), (None, False), (False, True)])
def test_service_account_automount_opt_out(on_pod: bool | None, on_account: bool | None) -> None:
    p = pod() if on_pod is None else pod(automountServiceAccountToken=on_pod)
    account = {} if on_account is None else {"automountServiceAccountToken": on_account}
    run(ServiceAccount(sa_lookup(**account)).mutate(create(p)))
    assert "volumes" not in p["spec"]


def test_pod_opting_in_overrides_account_opt_out() -> None:
    p = pod(automountServiceAccountToken=True)
    run(ServiceAccount(sa_lookup(automountServiceAccountToken=False)).mutate(create(p)))
    assert len(p["spec"]["volumes"]) == 1


def test_service_account_must_exist_and_mirror_pods_may_not_use_one() -> None:
    body = refused(ServiceAccount(sa_lookup()).mutate(create(pod(serviceAccountName="robot"))))
    assert body["code"] == 403
    assert body["message"] == (
        'pods "web" is forbidden: error looking up service account ns/robot: serviceaccount "robot" not found'
    )
    mirror = pod(serviceAccountName="default")
    mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "x"}
    body = refused(ServiceAccount(sa_lookup()).mutate(create(mirror)))
    assert body["message"] == 'pods "web" is forbidden: a mirror pod may not reference service accounts'


# ---- NodeRestriction ----

NODE1 = User("system:node:node1", "", ("system:nodes", "system:authenticated"))


def test_node_may_only_touch_its_own_node_and_labels() -> None:
    plugin = NodeRestriction()
    own: dict[str, JSON] = {
        "metadata": {"name": "node1", "labels": {"kubernetes.io/hostname": "node1", "node.kubernetes.io/x": "1"}}
    }
    run(plugin.validate(Request(CREATE, NODES, "", "node1", own, user=NODE1)))
    body = refused(plugin.validate(Request(UPDATE, NODES, "", "node2", own, own, user=NODE1)))
    assert body["message"] == 'nodes "node2" is forbidden: node "node1" is not allowed to modify node "node2"'
    restricted = copy.deepcopy(own)
    restricted["metadata"]["labels"]["node-restriction.kubernetes.io/pool"] = "a"
    body = refused(plugin.validate(Request(UPDATE, NODES, "", "node1", restricted, own, user=NODE1)))
    assert "not allowed to modify labels: node-restriction.kubernetes.io/pool" in str(body["message"])
    body = refused(plugin.validate(Request(CREATE, NODES, "", "node1", restricted, user=NODE1)))
    assert "not allowed to set the following labels: node-restriction.kubernetes.io/pool" in str(body["message"])
    tainted = copy.deepcopy(own)
    tainted["spec"] = {"taints": [{"key": "k", "effect": "NoSchedule"}]}
    body = refused(plugin.validate(Request(UPDATE, NODES, "", "node1", tainted, own, user=NODE1)))
    assert "not allowed to modify taints" in str(body["message"])
    # Anyone else is not restricted by this plugin.
    admin = User("admin", "", ("system:masters",))
    run(plugin.validate(Request(UPDATE, NODES, "", "node2", tainted, own, user=admin)))


def test_label_rules() -> None:
    assert not label_forbidden("kubernetes.io/hostname")
    assert not label_forbidden("kubelet.kubernetes.io/anything")
    assert not label_forbidden("foo.node.kubernetes.io/bar")
    assert not label_forbidden("example.com/team")
    assert label_forbidden("node-restriction.kubernetes.io/pool")
    assert label_forbidden("node-role.kubernetes.io/control-plane")
    assert label_forbidden("foo.k8s.io/x")


def test_node_pods_mirror_only_bound_to_itself_and_status_only() -> None:
    plugin = NodeRestriction()
    plain = pod(nodeName="node1")
    body = refused(plugin.validate(create(plain, user=NODE1)))
    assert body["message"] == (
        'pods "web" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, '
        'node "node1" can only create mirror pods'
    )
    mirror = pod(nodeName="node2")
    mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "x"}
    body = refused(plugin.validate(create(mirror, user=NODE1)))
    assert "can only create pods with spec.nodeName set to itself" in str(body["message"])
    mirror["spec"]["nodeName"] = "node1"
    run(plugin.validate(create(mirror, user=NODE1)))
    other = pod(nodeName="node2")
    body = refused(plugin.validate(Request(UPDATE, PODS, "ns", "web", other, other, "status", NODE1)))
    assert "can only update pods with spec.nodeName set to itself" in str(body["message"])
    mine = pod(nodeName="node1")
    run(plugin.validate(Request(UPDATE, PODS, "ns", "web", mine, mine, "status", NODE1)))
    body = refused(plugin.validate(Request(UPDATE, PODS, "ns", "web", mine, mine, "", NODE1)))
    assert "can only update pod status" in str(body["message"])
    run(plugin.validate(Request(DELETE, PODS, "ns", "web", None, mine, user=NODE1)))
    body = refused(plugin.validate(Request(DELETE, PODS, "ns", "web", None, other, user=NODE1)))
    assert "can only delete pods with spec.nodeName set to itself" in str(body["message"])


def test_node_may_only_write_its_own_lease() -> None:
    leases = resource("coordination.k8s.io/v1", "Lease")
    plugin = NodeRestriction()
    run(plugin.validate(Request(UPDATE, leases, "kube-node-lease", "node1", {}, {}, user=NODE1)))
    body = refused(plugin.validate(Request(UPDATE, leases, "kube-node-lease", "node2", {}, {}, user=NODE1)))
    assert body["message"] == (
        'leases.coordination.k8s.io "node2" is forbidden: node "node1" is not allowed to modify lease '
        '"kube-node-lease/node2"'
    )


# ---- LimitRanger ----


def limits_lookup(*items: dict[str, JSON]) -> MemoryLookup:
    return MemoryLookup(
        {
            "/registry/limitranges/ns/lr": {
                "metadata": {"name": "lr", "namespace": "ns"},
                "spec": {"limits": list(items)},
            }
        }
    )


def test_limit_ranger_defaults_requests_and_limits_and_annotates() -> None:
    lookup = limits_lookup(
        {"type": "Container", "default": {"cpu": "500m", "memory": "256Mi"}, "defaultRequest": {"cpu": "100m"}}
    )
    p = pod(
        containers=[{"name": "a", "image": "x"}, {"name": "b", "image": "x", "resources": {"limits": {"cpu": "1"}}}]
    )
    run(LimitRanger(lookup).mutate(create(p)))
    a, b = p["spec"]["containers"]
    assert a["resources"] == {
        "limits": {"cpu": "500m", "memory": "256Mi"},
        "requests": {"cpu": "100m", "memory": "256Mi"},
    }
    # A lone limit is the request too (pod defaulting); only what is missing is filled in.
    assert b["resources"] == {"limits": {"cpu": "1", "memory": "256Mi"}, "requests": {"cpu": "1", "memory": "256Mi"}}
    assert p["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container a; cpu, memory limit for container a; "
        "memory request for container b; memory limit for container b"
    )


def test_limit_ranger_min_max_ratio_messages() -> None:
    lookup = limits_lookup(
        {
            "type": "Container",
            "min": {"cpu": "100m"},
            "max": {"cpu": "1", "memory": "1Gi"},
            "maxLimitRequestRatio": {"cpu": "2"},
        }
    )
    p = pod(containers=[{"name": "a", "image": "x", "resources": {"requests": {"cpu": "50m"}, "limits": {"cpu": "2"}}}])
    body = refused(LimitRanger(lookup).validate(create(p)))
    assert body["code"] == 403
    assert body["message"] == (
        'pods "web" is forbidden: [minimum cpu usage per Container is 100m, but request is 50m, '
        "maximum cpu usage per Container is 1, but limit is 2, "
        "maximum memory usage per Container is 1Gi.  No limit is specified, "
        "cpu max limit to request ratio per Container is 2, but provided ratio is 40.000000]"
    )
    fine = pod(
        containers=[
            {
                "name": "a",
                "image": "x",
                "resources": {"requests": {"cpu": "500m"}, "limits": {"cpu": "1", "memory": "1Gi"}},
            }
        ]
    )
    run(LimitRanger(lookup).validate(create(fine)))


def test_limit_ranger_pod_totals_and_claims() -> None:
    lookup = limits_lookup(
        {"type": "Pod", "max": {"memory": "1Gi"}}, {"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}}
    )
    two = [{"name": n, "image": "x", "resources": {"limits": {"memory": "600Mi"}}} for n in ("a", "b")]
    body = refused(LimitRanger(lookup).validate(create(pod(containers=two))))
    assert body["message"] == 'pods "web" is forbidden: maximum memory usage per Pod is 1Gi, but limit is 1200Mi'
    claims = resource("v1", "PersistentVolumeClaim")
    pvc = {"metadata": {"name": "data", "namespace": "ns"}, "spec": {"resources": {"requests": {"storage": "500Mi"}}}}
    body = refused(LimitRanger(lookup).validate(create(pvc, claims)))
    assert body["message"] == (
        'persistentvolumeclaims "data" is forbidden: minimum storage usage per PersistentVolumeClaim is 1Gi, '
        "but request is 500Mi"
    )


# ---- ResourceQuota ----


def quota_plugin(hard: dict[str, str], used: dict[str, str] | None, scopes: list[str] | None = None) -> ResourceQuota:
    status: JSON = {} if used is None else {"hard": hard, "used": used}
    quota = {
        "metadata": {"name": "compute", "namespace": "ns", "resourceVersion": "42"},
        "spec": {"hard": hard, **({"scopes": scopes} if scopes else {})},
        "status": status,
    }
    return ResourceQuota(
        MemoryLookup({"/registry/resourcequotas/ns/compute": quota}), Registry(cast(StoreClient, None))
    )


def sized(cpu: str, memory: str) -> dict[str, JSON]:
    res = {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu, "memory": memory}}
    return pod(containers=[{"name": "app", "image": "x", "resources": res}])


def test_quota_exceeded_is_refused_with_kubernetes_message() -> None:
    plugin = quota_plugin({"pods": "2", "requests.cpu": "1"}, {"pods": "2", "requests.cpu": "500m"})
    body = refused(plugin.validate(create(sized("600m", "1Gi")), Charges()))
    assert body["code"] == 403
    assert body["message"] == (
        'pods "web" is forbidden: exceeded quota: compute, requested: pods=1,requests.cpu=600m, '
        "used: pods=2,requests.cpu=500m, limited: pods=2,requests.cpu=1"
    )


def test_quota_admitted_create_charges_usage_guarded_by_the_quota_revision() -> None:
    plugin = quota_plugin({"pods": "3", "requests.memory": "2Gi"}, {"pods": "1", "requests.memory": "512Mi"})
    charges = Charges()
    run(plugin.validate(create(sized("100m", "512Mi")), charges))
    (compare,) = charges.compares
    assert compare.key == b"/registry/resourcequotas/ns/compute" and compare.mod_revision == 42
    assert compare.target == rpc_pb2.Compare.MOD
    (op,) = charges.ops
    written = json.loads(op.request_put.value)
    assert written["status"]["used"] == {"pods": "2", "requests.memory": "1Gi"}
    assert "resourceVersion" not in written["metadata"]


def test_quota_needs_status_and_compute_specs() -> None:
    body = refused(quota_plugin({"pods": "2"}, None).validate(create(pod()), Charges()))
    assert body["message"] == 'pods "web" is forbidden: status unknown for quota: compute, resources: pods'
    plugin = quota_plugin({"limits.cpu": "2", "requests.memory": "1Gi"}, {"limits.cpu": "0", "requests.memory": "0"})
    body = refused(plugin.validate(create(pod()), Charges()))
    assert body["message"] == (
        'pods "web" is forbidden: failed quota: compute: must specify limits.cpu for: app; requests.memory for: app'
    )


def test_quota_scopes_and_unrelated_objects_are_not_charged() -> None:
    best_effort_only = quota_plugin({"pods": "0"}, {"pods": "0"}, ["BestEffort"])
    charges = Charges()
    run(best_effort_only.validate(create(sized("100m", "64Mi")), charges))
    assert not charges.ops
    configmaps = resource("v1", "ConfigMap")
    cm = {"metadata": {"name": "c", "namespace": "ns"}}
    run(quota_plugin({"pods": "0"}, {"pods": "0"}).validate(create(cm, configmaps), charges))
    assert not charges.ops
    body = refused(
        quota_plugin({"count/configmaps": "0"}, {"count/configmaps": "0"}).validate(create(cm, configmaps), charges)
    )
    assert "exceeded quota: compute, requested: count/configmaps=1" in str(body["message"])


# ---- Priority, tolerations, storage class ----


def test_priority_resolves_builtin_named_and_global_default() -> None:
    lookup = MemoryLookup(
        {
            "/registry/scheduling.k8s.io/priorityclasses/high": {
                "metadata": {"name": "high"},
                "value": 1000,
                "globalDefault": True,
                "preemptionPolicy": "Never",
            }
        }
    )
    p = pod(priorityClassName="system-node-critical")
    run(Priority(lookup).mutate(create(p)))
    assert (p["spec"]["priority"], p["spec"]["preemptionPolicy"]) == (2000001000, "PreemptLowerPriority")
    d = pod()
    run(Priority(lookup).mutate(create(d)))
    assert (d["spec"]["priorityClassName"], d["spec"]["priority"], d["spec"]["preemptionPolicy"]) == (
        "high",
        1000,
        "Never",
    )
    body = refused(Priority(lookup).mutate(create(pod(priorityClassName="nope"))))
    assert body["message"] == 'pods "web" is forbidden: no PriorityClass with name nope was found'
    body = refused(Priority(lookup).mutate(create(pod(priorityClassName="high", priority=5))))
    assert "the integer value of priority (5) must not be provided in pod spec" in str(body["message"])
    classes = resource("scheduling.k8s.io/v1", "PriorityClass")
    second = {"metadata": {"name": "other"}, "value": 1, "globalDefault": True}
    body = refused(Priority(lookup).validate(create(second, classes)))
    assert "PriorityClass high is already marked as default. Only one default can exist" in str(body["message"])


def test_default_toleration_seconds() -> None:
    p = pod(
        tolerations=[
            {
                "key": "node.kubernetes.io/unreachable",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 10,
            }
        ]
    )
    run(DefaultTolerationSeconds().mutate(create(p)))
    by_key = {t["key"]: t.get("tolerationSeconds") for t in p["spec"]["tolerations"]}
    assert by_key == {"node.kubernetes.io/unreachable": 10, "node.kubernetes.io/not-ready": 300}


def test_default_storage_class_newest_default_and_explicit_empty_kept() -> None:
    classes = {
        f"/registry/storage.k8s.io/storageclasses/{name}": {
            "metadata": {
                "name": name,
                "creationTimestamp": ts,
                "annotations": {"storageclass.kubernetes.io/is-default-class": default},
            }
        }
        for name, ts, default in (
            ("old", "2024-01-01T00:00:00Z", "true"),
            ("new", "2024-06-01T00:00:00Z", "true"),
            ("fast", "2025-01-01T00:00:00Z", "false"),
        )
    }
    claims = resource("v1", "PersistentVolumeClaim")
    plugin = DefaultStorageClass(MemoryLookup(classes))
    pvc: dict[str, JSON] = {"metadata": {"name": "d", "namespace": "ns"}, "spec": {}}
    run(plugin.mutate(create(pvc, claims)))
    assert pvc["spec"] == {"storageClassName": "new"}
    explicit: dict[str, JSON] = {"metadata": {"name": "d", "namespace": "ns"}, "spec": {"storageClassName": ""}}
    run(plugin.mutate(create(explicit, claims)))
    assert explicit["spec"] == {"storageClassName": ""}
