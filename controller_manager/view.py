"""What a reconcile function may read: a read-only view of informer caches, and the resources it names.

Reconcile cores never talk to the apiserver; they read the same caches the work queue was fed
from, so their decisions are consistent with the events that triggered them. Objects handed out
are the cached ones: read-only (copy before building a modified version).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Protocol

from api import labels
from api.labels import Selector
from client.informer import SharedInformer
from client.rest import ResourceRef

Obj = dict[str, Any]

PODS: Final = ResourceRef("", "v1", "pods", True, "Pod")
NODES: Final = ResourceRef("", "v1", "nodes", False, "Node")
SERVICES: Final = ResourceRef("", "v1", "services", True, "Service")
ENDPOINTS: Final = ResourceRef("", "v1", "endpoints", True, "Endpoints")
NAMESPACES: Final = ResourceRef("", "v1", "namespaces", False, "Namespace")
SERVICE_ACCOUNTS: Final = ResourceRef("", "v1", "serviceaccounts", True, "ServiceAccount")
CONFIG_MAPS: Final = ResourceRef("", "v1", "configmaps", True, "ConfigMap")
REPLICATION_CONTROLLERS: Final = ResourceRef("", "v1", "replicationcontrollers", True, "ReplicationController")
PERSISTENT_VOLUMES: Final = ResourceRef("", "v1", "persistentvolumes", False, "PersistentVolume")
PERSISTENT_VOLUME_CLAIMS: Final = ResourceRef("", "v1", "persistentvolumeclaims", True, "PersistentVolumeClaim")
EVENTS: Final = ResourceRef("", "v1", "events", True, "Event")
REPLICA_SETS: Final = ResourceRef("apps", "v1", "replicasets", True, "ReplicaSet")
DEPLOYMENTS: Final = ResourceRef("apps", "v1", "deployments", True, "Deployment")
DAEMON_SETS: Final = ResourceRef("apps", "v1", "daemonsets", True, "DaemonSet")
STATEFUL_SETS: Final = ResourceRef("apps", "v1", "statefulsets", True, "StatefulSet")
CONTROLLER_REVISIONS: Final = ResourceRef("apps", "v1", "controllerrevisions", True, "ControllerRevision")
JOBS: Final = ResourceRef("batch", "v1", "jobs", True, "Job")
CRON_JOBS: Final = ResourceRef("batch", "v1", "cronjobs", True, "CronJob")
ENDPOINT_SLICES: Final = ResourceRef("discovery.k8s.io", "v1", "endpointslices", True, "EndpointSlice")
LEASES: Final = ResourceRef("coordination.k8s.io", "v1", "leases", True, "Lease")
STORAGE_CLASSES: Final = ResourceRef("storage.k8s.io", "v1", "storageclasses", False, "StorageClass")
HORIZONTAL_POD_AUTOSCALERS: Final = ResourceRef("autoscaling", "v2", "horizontalpodautoscalers", True,
                                                "HorizontalPodAutoscaler")
POD_DISRUPTION_BUDGETS: Final = ResourceRef("policy", "v1", "poddisruptionbudgets", True, "PodDisruptionBudget")
RESOURCE_QUOTAS: Final = ResourceRef("", "v1", "resourcequotas", True, "ResourceQuota")
SECRETS: Final = ResourceRef("", "v1", "secrets", True, "Secret")
CUSTOM_RESOURCE_DEFINITIONS: Final = ResourceRef("apiextensions.k8s.io", "v1", "customresourcedefinitions", False,
                                                 "CustomResourceDefinition")
CERTIFICATE_SIGNING_REQUESTS: Final = ResourceRef("certificates.k8s.io", "v1", "certificatesigningrequests", False,
                                                "CertificateSigningRequest")


class View(Protocol):
    """Read-only access to the informer caches a controller was started with."""

    def get(self, resource: ResourceRef, namespace: str | None, name: str) -> Obj | None:
        """The cached object, or None when the cache has not seen it (or it was deleted)."""
        ...

    def list(self, resource: ResourceRef, namespace: str | None = None,
             selector: Selector | None = None) -> list[Obj]:
        """Cached objects, of one namespace if given, whose labels match the selector if given."""
        ...


LABEL_INDEX: Final = "namespace/label"
"""Index of namespaced objects by ``<namespace>/<key>=<value>`` for each label, so a selector with an
equality clause reads its few matches instead of scanning the namespace (one Service among 10,000 pods)."""


def label_pairs(obj: Obj) -> list[str]:
    """Index function of ``LABEL_INDEX``."""
    m = meta(obj)
    ns = m.get("namespace")
    return [f"{ns}/{k}={v}" for k, v in (m.get("labels") or {}).items()] if ns else []


def _index_value(namespace: str, selector: Selector) -> str | None:
    """The ``LABEL_INDEX`` value of the selector's first single-value equality clause, if it has one."""
    for r in selector.requirements:
        if r.operator in (labels.EQUALS, labels.DOUBLE_EQUALS, labels.IN) and len(r.values) == 1:
            return f"{namespace}/{r.key}={r.values[0]}"
    return None


class InformerView:
    """The production View: shared informers keyed by resource; a resource without one reads as empty.
    Namespaced informers get ``LABEL_INDEX``, which selector reads within a namespace use."""

    def __init__(self, informers: Mapping[ResourceRef, SharedInformer]) -> None:
        self._informers: dict[ResourceRef, SharedInformer] = {}
        for resource, informer in informers.items():
            self.add(resource, informer)

    def add(self, resource: ResourceRef, informer: SharedInformer) -> None:
        """Read ``resource`` from ``informer`` too (a resource discovered after start)."""
        if resource.namespaced and not informer.indexer.has_index(LABEL_INDEX):
            informer.add_indexers({LABEL_INDEX: label_pairs})
        self._informers[resource] = informer

    def remove(self, resource: ResourceRef) -> None:
        """Stop reading ``resource`` (it is no longer served): it reads as empty again."""
        self._informers.pop(resource, None)

    def get(self, resource: ResourceRef, namespace: str | None, name: str) -> Obj | None:
        informer = self._informers.get(resource)
        return informer.get(name, namespace) if informer else None

    def list(self, resource: ResourceRef, namespace: str | None = None,
             selector: Selector | None = None) -> list[Obj]:
        informer = self._informers.get(resource)
        if informer is None:
            return []
        value = _index_value(namespace, selector) if namespace and selector is not None else None
        if value is not None and informer.indexer.has_index(LABEL_INDEX):
            objs = informer.indexer.by_index(LABEL_INDEX, value)
        else:
            objs = informer.list(namespace)
        if selector is None:
            return objs
        return [o for o in objs if selector.matches(o.get("metadata", {}).get("labels"))]


def meta(obj: Obj) -> Obj:
    """The object's metadata (an empty dict when absent, so lookups read naturally)."""
    m: Obj = obj.get("metadata") or {}
    return m


def key_of(obj: Obj) -> str:
    """The work-queue key of an object: ``namespace/name``, or ``name`` when cluster-scoped."""
    m = meta(obj)
    ns = m.get("namespace")
    return f"{ns}/{m['name']}" if ns else str(m["name"])
