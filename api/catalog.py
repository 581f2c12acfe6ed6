"""The served resources (REST, discovery, storage, tables, field selectors) and the assembled REGISTRY.

Types come from the group modules; this file says which of them are resources and how they are
served. `REGISTRY` is the single lookup point for the apiserver and every other component.
"""

from __future__ import annotations

from typing import Final

import api.checks  # noqa: F401  (importing registers the per-kind validators)
from api import (
    apiextensions_v1,
    apps_v1,
    authentication_v1,
    authorization_v1,
    autoscaling_v1,
    autoscaling_v2,
    batch_v1,
    certificates_v1,
    coordination_v1,
    core_v1,
    discovery_v1,
    events_v1,
    meta_v1,
    networking_v1,
    policy_v1,
    printers,
    rbac_v1,
    scheduling_v1,
    storage_v1,
)
from api.fields import path_getter
from api.schema import JSON, STANDARD_VERBS, Column, FieldGetter, Registry, Resource, Subresource

STATUS_VERBS: Final = ("get", "patch", "update")
_GENERATION: Final = frozenset(
    {
        ("", "ReplicationController"),
        ("apps", "DaemonSet"),
        ("apps", "Deployment"),
        ("apps", "ReplicaSet"),
        ("apps", "StatefulSet"),
        ("autoscaling", "HorizontalPodAutoscaler"),
        ("batch", "CronJob"),
        ("batch", "Job"),
        ("networking.k8s.io", "Ingress"),
        ("networking.k8s.io", "NetworkPolicy"),
        ("policy", "PodDisruptionBudget"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
    }
)
"""Kinds whose strategy maintains metadata.generation (bumped on spec changes)."""
ALL: Final = ("all",)


def _type_prefix(group: str, version: str) -> str:
    if not group:
        return f"io.k8s.api.core.{version}."
    if group == "apiextensions.k8s.io":
        return f"io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.{version}."
    return f"io.k8s.api.{group.split('.', maxsplit=1)[0]}.{version}."


def _res(
    group: str,
    version: str,
    kind: str,
    plural: str,
    namespaced: bool = True,
    *,
    short: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    verbs: tuple[str, ...] | None = None,
    status: bool = True,
    scale: bool = False,
    extra: tuple[Subresource, ...] = (),
    columns: tuple[Column, ...] = (),
    selectors: tuple[str, ...] = (),
    getters: dict[str, FieldGetter] | None = None,
    name_rule: str = "subdomain",
    type_name: str = "",
    shared_storage: str = "",
) -> Resource:
    prefix = {
        "": "io.k8s.api.core.v1.",
        "apiextensions.k8s.io": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.",
    }.get(group, f"io.k8s.api.{group.split('.', maxsplit=1)[0]}.{version}.")
    subs: list[Subresource] = []
    if status:
        subs.append(Subresource("status", kind, STATUS_VERBS))
    if scale:
        subs.append(Subresource("scale", "Scale", STATUS_VERBS, group="autoscaling", version="v1"))
    subs.extend(extra)
    field_getters = {s: path_getter(s) for s in selectors}
    field_getters.update(getters or {})
    return Resource(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        type_name=type_name or prefix + kind,
        namespaced=namespaced,
        short_names=short,
        categories=categories,
        verbs=verbs or STANDARD_VERBS,
        subresources=tuple(subs),
        columns=columns,
        field_selectors=field_getters,
        name_rule=name_rule,
        has_status=status,
        tracks_generation=(group, kind) in _GENERATION,
        shared_storage=shared_storage,
    )


def _bool_getter(path: str) -> FieldGetter:
    get = path_getter(path)
    return lambda obj: get(obj) or "false"


def _event_source(obj: JSON) -> str:
    return str((obj.get("source") or {}).get("component") or obj.get("reportingComponent") or "")


_CREATE_ONLY: Final = ("create",)

RESOURCES: Final = (
    # core/v1, in the order kube-apiserver lists them
    _res("", "v1", "Binding", "bindings", verbs=_CREATE_ONLY, status=False),
    _res("", "v1", "ComponentStatus", "componentstatuses", False, short=("cs",), verbs=("get", "list"), status=False),
    _res("", "v1", "ConfigMap", "configmaps", short=("cm",), status=False, columns=printers.CONFIG_MAP),
    _res("", "v1", "Endpoints", "endpoints", short=("ep",), status=False, columns=printers.ENDPOINTS),
    _res(
        "",
        "v1",
        "Event",
        "events",
        short=("ev",),
        status=False,
        columns=printers.EVENT,
        name_rule="path-segment",
        selectors=(
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "type",
        ),
        getters={"source": _event_source},
    ),
    _res("", "v1", "LimitRange", "limitranges", short=("limits",), status=False),
    _res(
        "",
        "v1",
        "Namespace",
        "namespaces",
        False,
        short=("ns",),
        columns=printers.NAMESPACE,
        name_rule="label",
        selectors=("status.phase",),
        extra=(Subresource("finalize", "Namespace", ("update",)),),
    ),
    _res(
        "",
        "v1",
        "Node",
        "nodes",
        False,
        short=("no",),
        columns=printers.NODE,
        getters={"spec.unschedulable": _bool_getter("spec.unschedulable")},
    ),
    _res(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        short=("pvc",),
        columns=printers.PERSISTENT_VOLUME_CLAIM,
    ),
    _res("", "v1", "PersistentVolume", "persistentvolumes", False, short=("pv",), columns=printers.PERSISTENT_VOLUME),
    _res(
        "",
        "v1",
        "Pod",
        "pods",
        short=("po",),
        categories=ALL,
        columns=printers.POD,
        selectors=(
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ),
        getters={"spec.hostNetwork": _bool_getter("spec.hostNetwork")},
        extra=(
            Subresource("attach", "PodAttachOptions", ("create", "get")),
            Subresource("binding", "Binding", _CREATE_ONLY),
            Subresource("ephemeralcontainers", "Pod", STATUS_VERBS),
            Subresource("eviction", "Eviction", _CREATE_ONLY, group="policy", version="v1"),
            Subresource("exec", "PodExecOptions", ("create", "get")),
            Subresource("log", "Pod", ("get",)),
            Subresource("portforward", "PodPortForwardOptions", ("create", "get")),
        ),
    ),
    _res("", "v1", "PodTemplate", "podtemplates", status=False, columns=printers.POD_TEMPLATE),
    _res(
        "",
        "v1",
        "ReplicationController",
        "replicationcontrollers",
        short=("rc",),
        categories=ALL,
        scale=True,
        columns=printers.REPLICATION_CONTROLLER,
        selectors=("status.replicas",),
    ),
    _res("", "v1", "ResourceQuota", "resourcequotas", short=("quota",), columns=printers.RESOURCE_QUOTA),
    _res("", "v1", "Secret", "secrets", status=False, columns=printers.SECRET, selectors=("type",)),
    _res(
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        short=("sa",),
        status=False,
        columns=printers.SERVICE_ACCOUNT,
        extra=(Subresource("token", "TokenRequest", _CREATE_ONLY, group="authentication.k8s.io", version="v1"),),
    ),
    _res(
        "",
        "v1",
        "Service",
        "services",
        short=("svc",),
        categories=ALL,
        columns=printers.SERVICE,
        name_rule="dns1035",
        selectors=("spec.clusterIP", "spec.type"),
    ),
    # apps/v1
    _res("apps", "v1", "ControllerRevision", "controllerrevisions", status=False, columns=printers.CONTROLLER_REVISION),
    _res("apps", "v1", "DaemonSet", "daemonsets", short=("ds",), categories=ALL, columns=printers.DAEMON_SET),
    _res(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        short=("deploy",),
        categories=ALL,
        scale=True,
        columns=printers.DEPLOYMENT,
    ),
    _res(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        short=("rs",),
        categories=ALL,
        scale=True,
        columns=printers.REPLICA_SET,
        selectors=("status.replicas",),
    ),
    _res(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        short=("sts",),
        categories=ALL,
        scale=True,
        columns=printers.STATEFUL_SET,
    ),
    # authentication / authorization
    _res(
        "authentication.k8s.io",
        "v1",
        "SelfSubjectReview",
        "selfsubjectreviews",
        False,
        verbs=_CREATE_ONLY,
        status=False,
    ),
    _res("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", False, verbs=_CREATE_ONLY, status=False),
    _res(
        "authorization.k8s.io",
        "v1",
        "LocalSubjectAccessReview",
        "localsubjectaccessreviews",
        verbs=_CREATE_ONLY,
        status=False,
    ),
    _res(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        False,
        verbs=_CREATE_ONLY,
        status=False,
    ),
    _res(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectRulesReview",
        "selfsubjectrulesreviews",
        False,
        verbs=_CREATE_ONLY,
        status=False,
    ),
    _res(
        "authorization.k8s.io",
        "v1",
        "SubjectAccessReview",
        "subjectaccessreviews",
        False,
        verbs=_CREATE_ONLY,
        status=False,
    ),
    # autoscaling
    _res(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        short=("hpa",),
        categories=ALL,
        columns=printers.HORIZONTAL_POD_AUTOSCALER,
    ),
    _res(
        "autoscaling",
        "v1",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        short=("hpa",),
        categories=ALL,
        columns=printers.HORIZONTAL_POD_AUTOSCALER,
    ),
    # batch/v1
    _res("batch", "v1", "CronJob", "cronjobs", short=("cj",), categories=ALL, columns=printers.CRON_JOB),
    _res("batch", "v1", "Job", "jobs", categories=ALL, columns=printers.JOB, selectors=("status.successful",)),
    # certificates, coordination, discovery, events
    _res(
        "certificates.k8s.io",
        "v1",
        "CertificateSigningRequest",
        "certificatesigningrequests",
        False,
        short=("csr",),
        columns=printers.CERTIFICATE_SIGNING_REQUEST,
        selectors=("spec.signerName",),
        extra=(Subresource("approval", "CertificateSigningRequest", STATUS_VERBS),),
    ),
    _res("coordination.k8s.io", "v1", "Lease", "leases", status=False, columns=printers.LEASE),
    _res("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", status=False, columns=printers.ENDPOINT_SLICE),
    _res(
        "events.k8s.io",
        "v1",
        "Event",
        "events",
        short=("ev",),
        status=False,
        columns=printers.EVENT,
        name_rule="path-segment",
        shared_storage="/registry/events",
        selectors=(
            "regarding.kind",
            "regarding.namespace",
            "regarding.name",
            "regarding.uid",
            "reason",
            "type",
            "reportingController",
        ),
    ),
    # networking, policy, rbac, scheduling, storage
    _res(
        "networking.k8s.io", "v1", "IngressClass", "ingressclasses", False, status=False, columns=printers.INGRESS_CLASS
    ),
    _res("networking.k8s.io", "v1", "Ingress", "ingresses", short=("ing",), columns=printers.INGRESS),
    _res(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        short=("netpol",),
        status=False,
        columns=printers.NETWORK_POLICY,
    ),
    _res(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        short=("pdb",),
        columns=printers.POD_DISRUPTION_BUDGET,
    ),
    _res(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        False,
        status=False,
        columns=printers.ROLE_BINDING,
        name_rule="path-segment",
    ),
    _res(
        "rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False, status=False, name_rule="path-segment"
    ),
    _res(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        status=False,
        columns=printers.ROLE_BINDING,
        name_rule="path-segment",
    ),
    _res("rbac.authorization.k8s.io", "v1", "Role", "roles", status=False, name_rule="path-segment"),
    _res(
        "scheduling.k8s.io",
        "v1",
        "PriorityClass",
        "priorityclasses",
        False,
        short=("pc",),
        status=False,
        columns=printers.PRIORITY_CLASS,
    ),
    _res("storage.k8s.io", "v1", "CSIDriver", "csidrivers", False, status=False),
    _res("storage.k8s.io", "v1", "CSINode", "csinodes", False, status=False),
    _res(
        "storage.k8s.io",
        "v1",
        "StorageClass",
        "storageclasses",
        False,
        short=("sc",),
        status=False,
        columns=printers.STORAGE_CLASS,
    ),
    _res("storage.k8s.io", "v1", "VolumeAttachment", "volumeattachments", False),
    # apiextensions
    _res(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        short=("crd", "crds"),
    ),
)

MODULES: Final = (
    meta_v1,
    core_v1,
    apps_v1,
    batch_v1,
    autoscaling_v1,
    autoscaling_v2,
    networking_v1,
    storage_v1,
    scheduling_v1,
    policy_v1,
    coordination_v1,
    discovery_v1,
    events_v1,
    rbac_v1,
    authentication_v1,
    authorization_v1,
    certificates_v1,
    apiextensions_v1,
)


def type_name_for(api_version: str, kind: str) -> str | None:
    """The declared type of a built-in kind, including kinds served only as subresources or reviews
    (Scale, Eviction, TokenRequest); None for unknown kinds."""
    group, _, version = api_version.rpartition("/")
    res = REGISTRY.resource_for_kind(group, version, kind)
    if res is not None:
        return res.type_name
    if group == "meta.k8s.io" or (not group and kind in ("Status", "DeleteOptions")):
        name = "io.k8s.apimachinery.pkg.apis.meta.v1." + kind
    else:
        name = _type_prefix(group, version) + kind
    return name if name in REGISTRY.types else None


def build_registry() -> Registry:
    """Assemble every group's types and the resources above; fails fast on a dangling Ref."""
    reg = Registry()
    for module in MODULES:
        reg.add_types(module.TYPES)
    for res in RESOURCES:
        reg.add_resource(res)
    reg.check()
    return reg


REGISTRY: Final = build_registry()
"""Every built-in type and resource; read-only after import."""
