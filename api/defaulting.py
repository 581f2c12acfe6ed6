"""Defaulting: declared field defaults plus the computed ones Kubernetes applies (what `get -o yaml` shows).

Walks top-down: at each object, constant defaults are filled first, then the type's computed
defaulter runs (it may rely on them), then children are visited, so nested types see their
parents' defaults (Deployment strategy type before its rollingUpdate block).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Final

from api import core_v1
from api.schema import JSON, ListOf, MapOf, ObjectType, Ref, Registry, TypeSpec
from api.structure import is_zero

Defaulter = Callable[[dict[str, JSON]], None]

CORE = "io.k8s.api.core.v1."
APPS = "io.k8s.api.apps.v1."
BATCH = "io.k8s.api.batch.v1."

DEFAULTERS: dict[str, Defaulter] = {}


def defaulter(type_name: str) -> Callable[[Defaulter], Defaulter]:
    """Register a computed defaulter for an object type (runs after its declared defaults)."""

    def register(fn: Defaulter) -> Defaulter:
        DEFAULTERS[type_name] = fn
        return fn

    return register


def apply_defaults(reg: Registry, type_name: str, obj: dict[str, JSON]) -> dict[str, JSON]:
    """Fill defaults in place and return the object."""
    _object(reg, reg.type(type_name), obj)
    return obj


def _object(reg: Registry, otype: ObjectType, obj: JSON) -> None:
    if not isinstance(obj, dict):
        return
    for f in otype.defaulted:
        if f.name not in obj or (f.omit_zero and is_zero(obj[f.name])):
            default = f.default
            obj[f.name] = copy.deepcopy(default) if isinstance(default, dict | list) else default
    extra = DEFAULTERS.get(otype.name)
    if extra is not None:
        extra(obj)
    for key in otype.nested.intersection(obj):
        _value(reg, otype.by_name[key].type, obj[key])


def _value(reg: Registry, spec: TypeSpec, value: JSON) -> None:
    if isinstance(spec, Ref):
        _object(reg, reg.resolve(spec), value)
    elif isinstance(spec, ListOf) and isinstance(value, list):
        for item in value:
            _value(reg, spec.item, item)
    elif isinstance(spec, MapOf) and isinstance(value, dict):
        for item in value.values():
            _value(reg, spec.value, item)


@defaulter(CORE + "Container")
def _container(c: dict[str, JSON]) -> None:
    if "imagePullPolicy" not in c and isinstance(c.get("image"), str):
        c["imagePullPolicy"] = image_pull_policy(c["image"])
    resources = c.get("resources")
    if isinstance(resources, dict) and isinstance(resources.get("limits"), dict):
        # A limit without a request requests the limit.
        requests = resources.setdefault("requests", {})
        if isinstance(requests, dict):
            for name, value in resources["limits"].items():
                requests.setdefault(name, value)


@defaulter(CORE + "EphemeralContainer")
def _ephemeral_container(c: dict[str, JSON]) -> None:
    _container(c)


def image_pull_policy(image: str) -> str:
    """Always for `:latest` or an untagged image, IfNotPresent otherwise (digests count as pinned)."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


VOLUME_SOURCES: Final = tuple(f.name for f in core_v1.Volume.fields if f.embedded_in)
"""The members of Go's inline VolumeSource: exactly one of them says what kind of volume it is."""


@defaulter(CORE + "Volume")
def _volume(v: dict[str, JSON]) -> None:
    if not any(k in v for k in VOLUME_SOURCES):
        v["emptyDir"] = {}


@defaulter(CORE + "ServiceSpec")
def _service_spec(spec: dict[str, JSON]) -> None:
    svc_type = spec.get("type")
    if svc_type != "ExternalName":
        spec.setdefault("internalTrafficPolicy", "Cluster")
    if svc_type in ("NodePort", "LoadBalancer") or spec.get("externalIPs"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if spec.get("sessionAffinity") == "ClientIP":
        spec.setdefault("sessionAffinityConfig", {"clientIP": {"timeoutSeconds": 10800}})
    if svc_type == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    for port in spec.get("ports") or []:
        if isinstance(port, dict) and "targetPort" not in port and "port" in port:
            port["targetPort"] = port["port"]


@defaulter(CORE + "ReplicationControllerSpec")
def _rc_spec(spec: dict[str, JSON]) -> None:
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    if labels and not spec.get("selector"):
        spec["selector"] = dict(labels)


@defaulter(CORE + "ReplicationController")
def _rc(rc: dict[str, JSON]) -> None:
    labels = (((rc.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels")
    meta = rc.setdefault("metadata", {})
    if labels and not meta.get("labels"):
        meta["labels"] = dict(labels)


@defaulter(CORE + "Namespace")
def _namespace(ns: dict[str, JSON]) -> None:
    ns.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    ns.setdefault("status", {}).setdefault("phase", "Active")
    meta = ns.setdefault("metadata", {})
    if meta.get("name"):
        # Every namespace is selectable by name (namespaceSelector in network policies and webhooks).
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]


@defaulter(CORE + "Node")
def _node(node: dict[str, JSON]) -> None:
    # Go's encoder never omits a struct: kube-apiserver shows every node with a spec, empty or not, and
    # clients read ``spec`` before the node controller has set anything in it.
    node.setdefault("spec", {})


@defaulter(CORE + "PodSpec")
def _pod_spec(spec: dict[str, JSON]) -> None:
    # serviceAccount is the deprecated spelling of serviceAccountName; the API keeps both in step.
    if not spec.get("serviceAccountName") and spec.get("serviceAccount"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    if spec.get("serviceAccountName"):
        spec["serviceAccount"] = spec["serviceAccountName"]


@defaulter(CORE + "LimitRangeItem")
def _limit_range_item(item: dict[str, JSON]) -> None:
    if item.get("type") != "Container":
        return
    limits_max = item.get("max") or {}
    default = item.setdefault("default", {}) if limits_max or item.get("default") else item.get("default")
    if default is not None:
        for name, q in limits_max.items():
            default.setdefault(name, q)
        request = item.setdefault("defaultRequest", {})
        for name, q in default.items():
            request.setdefault(name, q)
        if not default:
            del item["default"]
        if not request:
            del item["defaultRequest"]


@defaulter(APPS + "DeploymentStrategy")
def _deployment_strategy(s: dict[str, JSON]) -> None:
    if s.get("type") == "RollingUpdate":
        s.setdefault("rollingUpdate", {})


@defaulter(APPS + "StatefulSetUpdateStrategy")
def _statefulset_strategy(s: dict[str, JSON]) -> None:
    if s.get("type") == "RollingUpdate":
        s.setdefault("rollingUpdate", {})


@defaulter(APPS + "DaemonSetUpdateStrategy")
def _daemonset_strategy(s: dict[str, JSON]) -> None:
    if s.get("type") == "RollingUpdate":
        s.setdefault("rollingUpdate", {})


@defaulter(APPS + "StatefulSetSpec")
def _statefulset_spec(spec: dict[str, JSON]) -> None:
    for tmpl in spec.get("volumeClaimTemplates") or []:
        if isinstance(tmpl, dict):
            tmpl.setdefault("spec", {})


@defaulter(BATCH + "JobSpec")
def _job_spec(spec: dict[str, JSON]) -> None:
    if "completions" not in spec and "parallelism" not in spec:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    if "backoffLimit" not in spec:
        spec["backoffLimit"] = 2147483647 if "backoffLimitPerIndex" in spec else 6
    if "podReplacementPolicy" not in spec:
        spec["podReplacementPolicy"] = "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed"
    pfp = spec.get("podFailurePolicy")
    if isinstance(pfp, dict):
        for rule in pfp.get("rules") or []:
            for pattern in rule.get("onPodConditions") or []:
                pattern.setdefault("status", "True")


@defaulter("io.k8s.api.networking.v1.NetworkPolicySpec")
def _network_policy_spec(spec: dict[str, JSON]) -> None:
    if "policyTypes" not in spec:
        spec["policyTypes"] = ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]
    for rule in [*(spec.get("ingress") or []), *(spec.get("egress") or [])]:
        for port in rule.get("ports") or []:
            port.setdefault("protocol", "TCP")


@defaulter("io.k8s.api.rbac.v1.Subject")
def _rbac_subject(s: dict[str, JSON]) -> None:
    if "apiGroup" not in s and s.get("kind") in ("User", "Group"):
        s["apiGroup"] = "rbac.authorization.k8s.io"


_SCALE_UP: Final = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ],
}
_SCALE_DOWN: Final = {
    "stabilizationWindowSeconds": 300,
    "selectPolicy": "Max",
    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
}


@defaulter("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec")
def _hpa_v2_spec(spec: dict[str, JSON]) -> None:
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        # A behavior block, once given, is completed with the controller's built-in rules.
        for direction, rules in (("scaleUp", _SCALE_UP), ("scaleDown", _SCALE_DOWN)):
            current = behavior.setdefault(direction, {})
            for key, value in rules.items():
                current.setdefault(key, copy.deepcopy(value))
    if not spec.get("metrics"):
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
            }
        ]


@defaulter("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionSpec")
def _crd_spec(spec: dict[str, JSON]) -> None:
    names = spec.get("names")
    if isinstance(names, dict) and "kind" in names:
        names.setdefault("singular", str(names["kind"]).lower())
        names.setdefault("listKind", f"{names['kind']}List")
    spec.setdefault("conversion", {})
