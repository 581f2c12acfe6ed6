"""OpenAPI documents generated from the schema: /openapi/v2 (swagger 2.0) and /openapi/v3 per group-version.

kubectl reads v3 to decide how to validate (it looks for the `fieldValidation` PATCH parameter), to
compute client-side apply patches (x-kubernetes-patch-* extensions) and for `kubectl explain`.
Documents are built once per registry and cached with their serialized bytes and content hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import orjson

from api.schema import FORMATS, JSON, Field, ListOf, MapOf, ObjectType, Ref, Registry, Resource, Scalar, TypeSpec

VERSION: Final = "v1.32.0"
PATCH_SCHEMA: Final = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
PATCH_TYPES: Final = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)


def _scalar(spec: Scalar, v3: bool) -> dict[str, JSON]:
    fmt = spec.format
    if fmt == "int-or-string":
        if v3:
            return {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}
        return {"type": "string", "format": "int-or-string"}
    if fmt == "quantity":
        if v3:
            return {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}
        return {"type": "string"}
    if fmt == "any":
        return {"x-kubernetes-preserve-unknown-fields": True}
    if fmt == "object":
        return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    type_, format_ = FORMATS[fmt]
    out: dict[str, JSON] = {"type": type_}
    if format_:
        out["format"] = format_
    return out


def _schema(spec: TypeSpec, v3: bool) -> dict[str, JSON]:
    if isinstance(spec, Scalar):
        return _scalar(spec, v3)
    if isinstance(spec, Ref):
        base = "#/components/schemas/" if v3 else "#/definitions/"
        return {"$ref": base + spec.name}
    if isinstance(spec, ListOf):
        return {"type": "array", "items": _schema(spec.item, v3)}
    return {"type": "object", "additionalProperties": _schema(spec.value, v3)}


def _property(f: Field, v3: bool) -> dict[str, JSON]:
    out = _schema(f.type, v3)
    if v3 and "$ref" in out:
        # OpenAPI 3.0 ignores siblings of $ref, so Kubernetes wraps references in allOf.
        out = {"allOf": [out]}
        if f.has_default:
            out["default"] = f.default
    elif f.has_default:
        out["default"] = f.default
    if f.description:
        out["description"] = f.description
    if f.enum:
        out["enum"] = list(f.enum)
    if f.list_type:
        out["x-kubernetes-list-type"] = f.list_type
    if f.map_keys:
        out["x-kubernetes-list-map-keys"] = list(f.map_keys)
    if f.map_type:
        out["x-kubernetes-map-type"] = f.map_type
    if f.strategy:
        out["x-kubernetes-patch-strategy"] = f.strategy
    if f.merge_key:
        out["x-kubernetes-patch-merge-key"] = f.merge_key
    return out


def definition(otype: ObjectType, gvks: list[dict[str, str]], v3: bool) -> dict[str, JSON]:
    """The OpenAPI schema of one object type (v2 or v3 flavour)."""
    out: dict[str, JSON] = {"type": "object"}
    if otype.description:
        out["description"] = otype.description
    out["properties"] = {f.name: _property(f, v3) for f in otype.fields}
    required = [f.name for f in otype.fields if f.required]
    if required:
        out["required"] = required
    if otype.map_type:
        out["x-kubernetes-map-type"] = otype.map_type
    if gvks:
        out["x-kubernetes-group-version-kind"] = gvks
    return out


def _gvks(reg: Registry) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for r in reg.resources:
        gvk = {"group": r.group, "version": r.version, "kind": r.kind}
        out.setdefault(r.type_name, []).append(gvk)
        out.setdefault(r.type_name + "List", []).append({**gvk, "kind": r.list_kind})
    for kind, name in (("Status", "Status"), ("DeleteOptions", "DeleteOptions")):
        out.setdefault("io.k8s.apimachinery.pkg.apis.meta.v1." + name, []).append(
            {"group": "", "version": "v1", "kind": kind}
        )
    return out


def _reachable(reg: Registry, roots: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    stack = list(reversed(roots))
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen[name] = None
        for f in reg.type(name).fields:
            spec: TypeSpec = f.type
            while isinstance(spec, ListOf | MapOf):
                spec = spec.item if isinstance(spec, ListOf) else spec.value
            if isinstance(spec, Ref) and spec.name not in seen:
                stack.append(spec.name)
    return list(seen)


def gv_path(group: str, version: str) -> str:
    """`api/v1` or `apis/<group>/<version>`: OpenAPI v3 document keys."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _parameters(names: tuple[str, ...]) -> list[dict[str, JSON]]:
    kinds = {
        "force": "boolean",
        "limit": "integer",
        "timeoutSeconds": "integer",
        "watch": "boolean",
        "allowWatchBookmarks": "boolean",
        "gracePeriodSeconds": "integer",
    }
    return [{"name": n, "in": "query", "schema": {"type": kinds.get(n, "string")}, "uniqueItems": True} for n in names]


_LIST_PARAMS: Final = (
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
    "watch",
)
_WRITE_PARAMS: Final = ("dryRun", "fieldManager", "fieldValidation")


def _operation(  # noqa: PLR0917 - mirrors the columns of the operation table it builds
    res: Resource, action: str, op_id: str, params: tuple[str, ...], body: str | None, response: str
) -> dict[str, JSON]:
    out: dict[str, JSON] = {
        "operationId": op_id,
        "tags": [gv_path(res.group, res.version).replace("/", "_")],
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": res.group, "version": res.version, "kind": res.kind},
        "parameters": _parameters(params),
        "responses": {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/" + response}}},
            }
        },
    }
    if body == "patch":
        out["requestBody"] = {
            "required": True,
            "content": {t: {"schema": {"$ref": "#/components/schemas/" + PATCH_SCHEMA}} for t in PATCH_TYPES},
        }
    elif body:
        out["requestBody"] = {
            "required": True,
            "content": {"*/*": {"schema": {"$ref": "#/components/schemas/" + body}}},
        }
    return out


def resource_paths(res: Resource, schema_name: str = "") -> dict[str, JSON]:
    """The REST paths and operations of one resource; `schema_name` overrides the type (custom resources)."""
    type_name = schema_name or res.type_name
    base = "/" + gv_path(res.group, res.version)
    scope = "/namespaces/{namespace}" if res.namespaced else ""
    collection = f"{base}{scope}/{res.plural}"
    item = collection + "/{name}"
    kind = res.kind
    ns = "Namespaced" if res.namespaced else ""
    verbs = set(res.verbs)
    col: dict[str, JSON] = {}
    one: dict[str, JSON] = {}
    if "list" in verbs:
        col["get"] = _operation(res, "list", f"list{ns}{kind}", _LIST_PARAMS, None, type_name + "List")
    if "create" in verbs:
        col["post"] = _operation(res, "post", f"create{ns}{kind}", _WRITE_PARAMS, type_name, type_name)
    if "deletecollection" in verbs:
        col["delete"] = _operation(
            res,
            "deletecollection",
            f"deleteCollection{ns}{kind}",
            _LIST_PARAMS,
            None,
            "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
        )
    if "get" in verbs:
        one["get"] = _operation(res, "get", f"read{ns}{kind}", (), None, type_name)
    if "update" in verbs:
        one["put"] = _operation(res, "put", f"replace{ns}{kind}", _WRITE_PARAMS, type_name, type_name)
    if "patch" in verbs:
        one["patch"] = _operation(res, "patch", f"patch{ns}{kind}", (*_WRITE_PARAMS, "force"), "patch", type_name)
    if "delete" in verbs:
        one["delete"] = _operation(
            res,
            "delete",
            f"delete{ns}{kind}",
            ("dryRun", "gracePeriodSeconds", "propagationPolicy"),
            None,
            "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
        )
    params: list[dict[str, JSON]] = [{"name": "pretty", "in": "query", "schema": {"type": "string"}}]
    if res.namespaced:
        params.insert(0, {"name": "namespace", "in": "path", "required": True, "schema": {"type": "string"}})
    out: dict[str, JSON] = {}
    if col:
        out[collection] = {**col, "parameters": params}
    if one:
        out[item] = {
            **one,
            "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}, *params],
        }
    for sub in res.subresources:
        if sub.name in ("status", "scale"):
            sub_type = type_name if sub.name == "status" else "io.k8s.api.autoscaling.v1.Scale"
            out[f"{item}/{sub.name}"] = {
                "get": _operation(res, "get", f"read{ns}{kind}{sub.name.title()}", (), None, sub_type),
                "put": _operation(
                    res, "put", f"replace{ns}{kind}{sub.name.title()}", _WRITE_PARAMS, sub_type, sub_type
                ),
                "patch": _operation(
                    res, "patch", f"patch{ns}{kind}{sub.name.title()}", (*_WRITE_PARAMS, "force"), "patch", sub_type
                ),
            }
    return out


@dataclass(frozen=True)
class Document:
    """A generated document with its serialized form and content hash (for `?hash=` URLs and ETags)."""

    body: dict[str, JSON]
    raw: bytes
    hash: str


def make_document(body: dict[str, JSON]) -> Document:
    """Serialize once and hash, so handlers can answer with bytes and immutable URLs."""
    raw = orjson.dumps(body)
    return Document(body, raw, hashlib.sha512(raw).hexdigest()[:16].upper())


_CACHE: dict[int, dict[str, Document]] = {}

_META_ROOTS: Final = (
    "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
    "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
    "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
    "io.k8s.api.autoscaling.v1.Scale",
)


def meta_schemas(reg: Registry) -> dict[str, JSON]:
    """Schemas every group-version document needs (object and list metadata, Status, Scale, Patch)."""
    gvks = _gvks(reg)
    out = {n: definition(reg.type(n), gvks.get(n, []), v3=True) for n in _reachable(reg, list(_META_ROOTS))}
    out[PATCH_SCHEMA] = {"type": "object", "description": "A patch in one of the accepted patch formats."}
    return out


def _all_docs(reg: Registry) -> dict[str, Document]:
    cached = _CACHE.get(id(reg))
    if cached is not None:
        return cached
    gvks = _gvks(reg)
    docs: dict[str, Document] = {}
    by_gv: dict[tuple[str, str], list[Resource]] = {}
    for r in reg.resources:
        by_gv.setdefault((r.group, r.version), []).append(r)
    meta_roots = ["io.k8s.apimachinery.pkg.apis.meta.v1.Status", "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"]
    for (group, version), resources in by_gv.items():
        roots = [r.type_name for r in resources] + [r.type_name + "List" for r in resources] + meta_roots
        if any(s.name == "scale" for r in resources for s in r.subresources):
            roots.append("io.k8s.api.autoscaling.v1.Scale")
        schemas = {n: definition(reg.type(n), gvks.get(n, []), v3=True) for n in _reachable(reg, roots)}
        schemas[PATCH_SCHEMA] = {"type": "object", "description": "A patch in one of the accepted patch formats."}
        paths: dict[str, JSON] = {}
        for r in resources:
            paths.update(resource_paths(r))
        docs[gv_path(group, version)] = make_document(
            {
                "openapi": "3.0.0",
                "info": {"title": "Kubernetes", "version": VERSION},
                "paths": paths,
                "components": {"schemas": schemas},
            }
        )
    definitions = {n: definition(t, gvks.get(n, []), v3=False) for n, t in reg.types.items()}
    definitions[PATCH_SCHEMA] = {"type": "object"}
    docs["v2"] = make_document(
        {
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": VERSION},
            "paths": {},
            "definitions": definitions,
        }
    )
    _CACHE[id(reg)] = docs
    return docs


def v2(reg: Registry) -> Document:
    """The swagger 2.0 document (definitions named like Kubernetes', e.g. io.k8s.api.core.v1.Pod)."""
    return _all_docs(reg)["v2"]


def v3(reg: Registry, path: str) -> Document | None:
    """The document for `api/v1` or `apis/<group>/<version>`; None for an unknown group-version."""
    return _all_docs(reg).get(path)


def v3_index(reg: Registry, extra: Mapping[str, Document] | None = None) -> dict[str, JSON]:
    """The /openapi/v3 discovery document, pointing at hashed per-group-version URLs; `extra` adds runtime
    group-versions (custom resources, from api.crd.openapi_v3) keyed like `apis/<group>/<version>`."""
    docs = {**_all_docs(reg), **(extra or {})}
    return {
        "paths": {
            path: {"serverRelativeURL": f"/openapi/v3/{path}?hash={doc.hash}"}
            for path, doc in docs.items()
            if path != "v2"
        }
    }
