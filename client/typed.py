"""Thin typed access: ``cs.pods("default").get("web-0")`` instead of passing refs and namespaces around.

A ``ResourceClient`` is a ``RestClient`` bound to one resource and one namespace (None: all
namespaces for list/watch). ``Clientset`` names the resources components use most and maps any
other name through ``client.mapping``. Objects stay plain dicts: the schemas in ``api`` validate
them on the server, and controllers mostly copy and patch fields.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from client.mapping import lookup, resource_ref
from client.rest import PatchType, ResourceRef, RestClient
from client.watch import WatchEvent, watch

Obj = dict[str, Any]


class ResourceClient:
    """One resource in one namespace: every verb without repeating the ref and namespace."""

    def __init__(self, rest: RestClient, ref: ResourceRef, namespace: str | None = None) -> None:
        self.rest = rest
        self.ref = ref
        self.namespace = namespace if ref.namespaced else None

    async def get(self, name: str, *, resource_version: str | None = None) -> Obj:
        return await self.rest.get(self.ref, name, self.namespace, resource_version=resource_version)

    async def list(self, **options: Any) -> Obj:
        """One list request (``label_selector``, ``field_selector``, ``limit``, ``continue_``, …)."""
        return await self.rest.list(self.ref, self.namespace, **options)

    async def list_all(self, **options: Any) -> builtins.list[Obj]:
        """Every matching object, following pagination."""
        result = await self.rest.list_all(self.ref, self.namespace, **options)
        return list(result.get("items") or [])

    async def create(self, body: Mapping[str, Any], **options: Any) -> Obj:
        return await self.rest.create(self.ref, body, self.namespace, **options)

    async def update(self, body: Mapping[str, Any], **options: Any) -> Obj:
        return await self.rest.update(self.ref, body, self.namespace, **options)

    async def update_status(self, body: Mapping[str, Any], **options: Any) -> Obj:
        """PUT the ``status`` subresource (the only way controllers and kubelets write status)."""
        return await self.rest.update(self.ref, body, self.namespace, subresource="status", **options)

    async def patch(self, name: str, patch: Any, patch_type: PatchType = PatchType.STRATEGIC, **options: Any) -> Obj:
        return await self.rest.patch(self.ref, name, patch, self.namespace, patch_type=patch_type, **options)

    async def patch_status(self, name: str, patch: Any, patch_type: PatchType = PatchType.MERGE,
                           **options: Any) -> Obj:
        return await self.rest.patch(self.ref, name, patch, self.namespace, patch_type=patch_type,
                                     subresource="status", **options)

    async def apply(self, body: Mapping[str, Any], *, field_manager: str, force: bool = False) -> Obj:
        return await self.rest.apply(self.ref, body, self.namespace, field_manager=field_manager, force=force)

    async def delete(self, name: str, **options: Any) -> Obj:
        """DELETE (``propagation_policy``, ``grace_period_seconds``, ``preconditions``, ``dry_run``)."""
        return await self.rest.delete(self.ref, name, self.namespace, **options)

    async def delete_collection(self, **options: Any) -> Obj:
        return await self.rest.delete_collection(self.ref, self.namespace, **options)

    async def get_subresource(self, name: str, subresource: str) -> Obj:
        """GET a subresource such as ``scale``."""
        return await self.rest.get(self.ref, name, self.namespace, subresource=subresource)

    async def create_subresource(self, name: str, subresource: str, body: Mapping[str, Any]) -> Obj:
        """POST to a subresource (``binding``, ``eviction``, ``token``)."""
        return await self.rest.create(self.ref, body, self.namespace, name=name, subresource=subresource)

    def watch(self, **options: Any) -> AsyncGenerator[WatchEvent, None]:
        """One watch stream (``resource_version``, selectors, ``timeout_seconds``)."""
        return watch(self.rest, self.ref, self.namespace, **options)


class Clientset:
    """Named accessors for the built-in resources components use, plus ``resource()`` for any other."""

    def __init__(self, rest: RestClient) -> None:
        self.rest = rest

    def resource(self, which: ResourceRef | str, namespace: str | None = None) -> ResourceClient:
        """A handle for a ref, or for a name as kubectl takes it (``po``, ``deployments.apps``)."""
        ref = which if isinstance(which, ResourceRef) else lookup(which)
        return ResourceClient(self.rest, ref, namespace)

    def _builtin(self, group: str, version: str, plural: str, namespace: str | None) -> ResourceClient:
        return ResourceClient(self.rest, resource_ref(group, version, plural), namespace)

    def namespaces(self) -> ResourceClient:
        return self._builtin("", "v1", "namespaces", None)

    def nodes(self) -> ResourceClient:
        return self._builtin("", "v1", "nodes", None)

    def pods(self, namespace: str | None = None) -> ResourceClient:
        return self._builtin("", "v1", "pods", namespace)

    def services(self, namespace: str | None = None) -> ResourceClient:
        return self._builtin("", "v1", "services", namespace)

    def endpoints(self, namespace: str | None = None) -> ResourceClient:
        return self._builtin("", "v1", "endpoints", namespace)

    def config_maps(self, namespace: str | None = None) -> ResourceClient:
        return self._builtin("", "v1", "configmaps", namespace)

    def secrets(self, namespace: str | None = None) -> ResourceClient:
        return self._builtin("", "v1", "secrets", namespace)

    def service_accounts(self, namespace: str | None = None) -> ResourceClient:
        return self._builtin("", "v1", "serviceaccounts", namespace)

    def events(self, namespace: str | None = None) -> ResourceClient:
        return self._builtin("", "v1", "events", namespace)

    def persistent_volumes(self) -> ResourceClient:
        return self._builtin("", "v1", "persistentvolumes", None)

    def persistent_volume_claims(self, namespace: str | None = None) -> ResourceClient:
        return self._builtin("", "v1", "persistentvolumeclaims", namespace)

    def deployments(self, namespace: str | None = None) -> ResourceClient:
        return self._builtin("apps", "v1", "deployments", namespace)

    def replica_sets(self, namespace: str | None = None) -> ResourceClient:
        return self._builtin("apps", "v1", "replicasets", namespace)

    def stateful_sets(self, namespace: str | None = None) -> ResourceClient:
        return self._builtin("apps", "v1", "statefulsets", namespace)

    def daemon_sets(self, namespace: str | None = None) -> ResourceClient:
        return self._builtin("apps", "v1", "daemonsets", namespace)

    def jobs(self, namespace: str | None = None) -> ResourceClient:
        return self._builtin("batch", "v1", "jobs", namespace)

    def cron_jobs(self, namespace: str | None = None) -> ResourceClient:
        return self._builtin("batch", "v1", "cronjobs", namespace)

    def leases(self, namespace: str | None = None) -> ResourceClient:
        return self._builtin("coordination.k8s.io", "v1", "leases", namespace)

    def endpoint_slices(self, namespace: str | None = None) -> ResourceClient:
        return self._builtin("discovery.k8s.io", "v1", "endpointslices", namespace)

    def priority_classes(self) -> ResourceClient:
        return self._builtin("scheduling.k8s.io", "v1", "priorityclasses", None)

    async def bind_pod(self, namespace: str, name: str, node: str) -> Obj:
        """Assign a pod to a node through ``pods/binding`` (what the scheduler does)."""
        body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name, "namespace": namespace},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
        return await self.pods(namespace).create_subresource(name, "binding", body)

    async def evict_pod(self, namespace: str, name: str, delete_options: Mapping[str, Any] | None = None) -> Obj:
        """Evict a pod through ``pods/eviction`` (honours PodDisruptionBudgets, unlike a delete)."""
        body: Obj = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}}
        if delete_options:
            body["deleteOptions"] = dict(delete_options)
        return await self.pods(namespace).create_subresource(name, "eviction", body)

    async def pod_log(self, namespace: str, name: str, **options: Any) -> str:
        return await self.rest.pod_log(name, namespace, **options)
