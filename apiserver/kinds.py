"""What the apiserver does per kind, the same way for built-in kinds and custom resources.

Built-in kinds get decoding, defaulting and validation from the declared types (`api/`); custom
resources get them from their CRD's schema (`api.crd`). `Kinds` resolves URLs to either, reloading
the CRDs from the store when a URL names something not yet known (a CRD created a moment ago,
possibly through another apiserver).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass

from api import conversion, crd, defaulting, status, strategy, structure, validation
from api.catalog import REGISTRY
from api.errors import Cause
from api.openapi import Document, make_document
from api.patch import apply as ssa
from api.patch import strategic
from api.schema import JSON, Resource
from api.structure import DecodeReport
from apiserver.errors import APIError
from apiserver.registry import Registry

CRD_PREFIX = "/registry/apiextensions.k8s.io/customresourcedefinitions/"


@dataclass(frozen=True)
class Kind:
    """One served resource and the schema-driven steps of every write."""

    resource: Resource
    custom: crd.CustomResource | None = None

    @property
    def storage_version(self) -> str:
        """The apiVersion objects are stored in (differs for kinds that share storage across versions)."""
        res = self.resource
        if self.custom is not None:
            return res.api_version
        return conversion.storage_version(res.group, res.kind, res.version)

    @property
    def storage_prefix(self) -> str:
        """Where objects of this kind live in the store."""
        res = self.resource
        if self.custom is not None:
            return f"/registry/{res.group}/{res.plural}"
        return res.storage_prefix

    def key(self, namespace: str | None, name: str) -> str:
        """The store key of one object."""
        return (
            f"{self.storage_prefix}/{namespace}/{name}" if self.resource.namespaced else f"{self.storage_prefix}/{name}"
        )

    def collection_prefix(self, namespace: str | None) -> str:
        """The key prefix of a list (all namespaces when `namespace` is empty)."""
        return (
            f"{self.storage_prefix}/{namespace}/"
            if self.resource.namespaced and namespace
            else f"{self.storage_prefix}/"
        )

    def to_storage(self, obj: dict[str, JSON]) -> dict[str, JSON]:
        """The object in its storage version (custom resources are stored as served: no conversion webhooks)."""
        if obj.get("apiVersion") == self.storage_version or self.custom is not None:
            return obj
        return conversion.convert(obj, self.storage_version)

    def from_storage(self, obj: dict[str, JSON]) -> dict[str, JSON]:
        """A stored object as this resource serves it (CR objects of other versions are relabelled)."""
        wanted = self.resource.api_version
        if obj.get("apiVersion") == wanted:
            return obj
        if self.custom is not None:
            return {**obj, "apiVersion": wanted}
        try:
            return conversion.convert(obj, wanted)
        except conversion.ConversionError:
            return obj

    def decode(self, obj: JSON) -> tuple[dict[str, JSON], DecodeReport]:
        """Prune unknown fields and check JSON types."""
        if self.custom is not None:
            out, report = crd.decode(self.custom, obj)
        else:
            out, report = structure.decode(REGISTRY, self.resource.type_name, obj)
        return dict(out), report

    def default(self, obj: dict[str, JSON]) -> dict[str, JSON]:
        """Fill defaults in place."""
        if self.custom is not None:
            return dict(crd.apply_defaults(self.custom, obj))
        return defaulting.apply_defaults(REGISTRY, self.resource.type_name, obj)

    def validate(self, obj: JSON) -> list[Cause]:
        """Checks for a create."""
        if self.custom is not None:
            return crd.validate(self.custom, obj)
        causes = validation.validate(REGISTRY, self.resource, obj)
        if self.resource.kind == "CustomResourceDefinition" and not causes:
            causes = crd.validate_crd(obj)
        return causes

    def validate_update(self, new: JSON, old: JSON) -> list[Cause]:
        """Checks for an update, immutability included."""
        if self.custom is not None:
            return crd.validate(self.custom, new)
        causes = validation.validate_update(REGISTRY, self.resource, new, old)
        if self.resource.kind == "CustomResourceDefinition" and not causes:
            causes = crd.validate_crd(new)
        return causes

    def strategic_merge(self, original: JSON, patch: JSON) -> JSON:
        """A strategic merge patch; custom resources have no patch strategies, so it is refused as upstream does."""
        if self.custom is not None:
            raise APIError(status.unsupported_media_type("application/strategic-merge-patch+json"))
        return strategic.apply(REGISTRY, self.resource.type_name, original, patch)

    def server_side_apply(self, live: JSON, applied: JSON) -> JSON:
        """Server-side apply's merge of the applied configuration into the live object."""
        if self.custom is not None:
            return ssa.apply_custom(self.custom.schema, live, applied)
        return ssa.apply_builtin(REGISTRY, self.resource.type_name, live, applied)

    def scale_of(self, obj: JSON) -> dict[str, JSON]:
        """The Scale view of the object."""
        if self.custom is not None:
            return crd.scale_of(self.custom, obj)
        return strategy.scale_of(self.resource, obj)

    def apply_scale(self, obj: JSON, scale: JSON) -> dict[str, JSON]:
        """The object after a Scale write."""
        if self.custom is not None:
            return dict(crd.apply_scale(self.custom, obj, scale))
        return strategy.apply_scale(obj, scale)

    def prepare_for_create(self, obj: dict[str, JSON]) -> dict[str, JSON]:
        """Reset what clients may not set on create."""
        if self.custom is not None:
            if self.resource.has_status:
                obj.pop("status", None)
            obj.setdefault("metadata", {})["generation"] = 1
            return obj
        return strategy.prepare_for_create(self.resource, obj)

    def prepare_for_update(self, new: dict[str, JSON], old: JSON) -> dict[str, JSON]:
        """Keep status on main-resource updates; bump generation on spec changes."""
        if self.custom is not None:
            if self.resource.has_status:
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
            meta = new.setdefault("metadata", {})
            generation = (old.get("metadata") or {}).get("generation") or 1
            changed = strategy.spec_of(new) != strategy.spec_of(old)
            meta["generation"] = generation + (1 if changed else 0)
            return new
        return strategy.prepare_for_update(self.resource, new, old)

    def prepare_for_status_update(self, new: JSON, old: JSON) -> dict[str, JSON]:
        """A status write changes only status."""
        return strategy.prepare_for_status_update(self.resource, new, old)


def _without_strategic_patch(doc: Document) -> Document:
    """Custom resources take no strategic merge patch: their PATCH operations must not offer it, or
    kubectl apply sends one (it picks the patch type from the document) and gets 415."""
    body = copy.deepcopy(doc.body)
    for item in (body.get("paths") or {}).values():
        content = ((item.get("patch") or {}).get("requestBody") or {}).get("content")
        if isinstance(content, dict):
            content.pop("application/strategic-merge-patch+json", None)
    return make_document(body)


def _builtin_kinds() -> dict[tuple[str, str, str], Kind]:
    return {(r.group, r.version, r.plural): Kind(r) for r in REGISTRY.resources}


class Kinds:
    """Built-in kinds plus the custom resources of the CRDs in the store."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.builtin = _builtin_kinds()
        self.custom: dict[tuple[str, str, str], Kind] = {}
        self._documents: dict[str, Document] = {}
        self._fingerprint = ""

    async def refresh(self) -> None:
        """Reload CRDs from the store (one read; rebuilt only when a CRD changed), so a CRD created a moment
        ago through any apiserver is served here at once."""
        page = await self.registry.list(CRD_PREFIX)
        fingerprint = json.dumps(
            [(o["metadata"].get("name"), o["metadata"].get("resourceVersion")) for o in page.items]
        )
        if fingerprint == self._fingerprint:
            return
        custom: dict[tuple[str, str, str], Kind] = {}
        by_gv: dict[str, list[crd.CustomResource]] = {}
        for obj in page.items:
            if (obj.get("metadata") or {}).get("deletionTimestamp"):
                continue
            try:
                crs = crd.custom_resources(obj)
            except (KeyError, TypeError, ValueError):
                continue
            for cr in crs:
                r = cr.resource
                if (r.group, r.version, r.plural) not in self.builtin:
                    custom[(r.group, r.version, r.plural)] = Kind(r, cr)
                    by_gv.setdefault(f"apis/{r.group}/{r.version}", []).append(cr)
        self.custom = custom
        self._documents = {path: _without_strategic_patch(crd.openapi_v3(crs)) for path, crs in by_gv.items()}
        self._fingerprint = fingerprint

    async def resolve(self, group: str, version: str, plural: str) -> Kind | None:
        """The kind served at that URL; unknown custom resources trigger one reload of the CRDs."""
        key = (group, version, plural)
        kind = self.builtin.get(key) or self.custom.get(key)
        if kind is None and group:
            await self.refresh()
            kind = self.custom.get(key)
        return kind

    def for_kind(self, api_version: str, kind: str) -> Kind | None:
        """The kind of an object by its apiVersion and kind."""
        group, _, version = api_version.rpartition("/")
        for k in (*self.builtin.values(), *self.custom.values()):
            r = k.resource
            if (r.group, r.version, r.kind) == (group, version, kind):
                return k
        return None

    def custom_resources(self) -> list[Resource]:
        """Resources of custom kinds, for discovery."""
        return [k.resource for k in self.custom.values()]

    def openapi_documents(self) -> dict[str, Document]:
        """OpenAPI v3 documents of the custom group-versions."""
        return dict(self._documents)
