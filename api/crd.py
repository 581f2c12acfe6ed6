"""Custom resources: CRDs turned into served resources, and their objects checked against the CRD's schema.

A CRD's openAPIV3Schema plays the role the declared types play for built-in kinds: decoding (unknown
fields pruned or reported, JSON types checked), defaulting, validation, table columns from
additionalPrinterColumns, field selectors from selectableFields, and the OpenAPI v3 document.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from api import errors, jsonpath, names, openapi, structure, tables, validation
from api.catalog import REGISTRY
from api.errors import Cause
from api.schema import JSON, Column, FieldGetter, Resource, Subresource
from api.structure import DecodeReport, join

OBJECT_META: Final = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_JSON_TYPES: Final = {"object": dict, "array": list, "string": str, "boolean": bool}


@dataclass(frozen=True)
class CustomResource:
    """One served version of a CRD."""

    resource: Resource
    schema: dict[str, JSON]
    storage: bool
    crd_name: str
    scale_paths: dict[str, str] | None = None
    """The CRD's scale subresource: specReplicasPath, statusReplicasPath, labelSelectorPath."""


def _getter(steps: list[str | int]) -> FieldGetter:
    def get(obj: JSON) -> str:
        value = jsonpath.lookup(obj, steps)
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return get


def _cell(steps: list[str | int], col_type: str) -> Any:
    def cell(obj: JSON, now: datetime) -> JSON:
        value = jsonpath.lookup(obj, steps)
        if value is None:
            return None
        if col_type == "date" and isinstance(value, str):
            return tables.since(value, now)
        if col_type == "string" and not isinstance(value, str):
            return str(value)
        return value

    return cell


def _columns(version: JSON) -> tuple[Column, ...]:
    specs = version.get("additionalPrinterColumns")
    if specs is None:
        specs = [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
    cols = [tables.NAME]
    for spec in specs:
        col_type = spec.get("type", "string")
        cols.append(
            Column(
                spec["name"],
                _cell(jsonpath.compile_path(spec["jsonPath"]), col_type),
                type="string" if col_type == "date" else col_type,
                format=spec.get("format", ""),
                description=spec.get("description", ""),
                priority=spec.get("priority", 0),
            )
        )
    return tuple(cols)


def custom_resources(crd: JSON) -> list[CustomResource]:
    """The served versions of a (valid, defaulted) CRD as resources."""
    spec = crd["spec"]
    names_ = spec["names"]
    out = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        subs = version.get("subresources") or {}
        subresources: list[Subresource] = []
        if "status" in subs:
            subresources.append(Subresource("status", names_["kind"], ("get", "patch", "update")))
        if "scale" in subs:
            subresources.append(
                Subresource("scale", "Scale", ("get", "patch", "update"), group="autoscaling", version="v1")
            )
        selectors = {
            jsonpath.field_name(s["jsonPath"]): _getter(jsonpath.compile_path(s["jsonPath"]))
            for s in version.get("selectableFields") or []
        }
        resource = Resource(
            group=spec["group"],
            version=version["name"],
            kind=names_["kind"],
            plural=names_["plural"],
            type_name=f"{spec['group']}/{version['name']}.{names_['kind']}",
            namespaced=spec.get("scope") == "Namespaced",
            singular=names_.get("singular", ""),
            short_names=tuple(names_.get("shortNames") or ()),
            categories=tuple(names_.get("categories") or ()),
            subresources=tuple(subresources),
            columns=_columns(version),
            field_selectors=selectors,
            has_status="status" in subs,
            tracks_generation=True,
        )
        schema = ((version.get("schema") or {}).get("openAPIV3Schema")) or {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
        }
        scale = subs.get("scale")
        out.append(
            CustomResource(
                resource,
                schema,
                bool(version.get("storage")),
                crd["metadata"]["name"],
                dict(scale) if isinstance(scale, dict) else None,
            )
        )
    return out


def scale_of(cr: CustomResource, obj: JSON) -> dict[str, JSON]:
    """The autoscaling/v1 Scale view of a custom object, read through the CRD's scale paths."""
    paths = cr.scale_paths or {}
    meta = obj.get("metadata") or {}
    spec_replicas = jsonpath.lookup(obj, jsonpath.compile_path(paths.get("specReplicasPath", ".spec.replicas")))
    status_replicas = jsonpath.lookup(obj, jsonpath.compile_path(paths.get("statusReplicasPath", ".status.replicas")))
    status: dict[str, JSON] = {"replicas": status_replicas or 0}
    if paths.get("labelSelectorPath"):
        selector = jsonpath.lookup(obj, jsonpath.compile_path(paths["labelSelectorPath"]))
        if isinstance(selector, str) and selector:
            status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta
        },
        "spec": {"replicas": spec_replicas or 0},
        "status": status,
    }


def apply_scale(cr: CustomResource, obj: JSON, scale: JSON) -> dict[str, JSON]:
    """The custom object after a `/scale` write: the replica count lands at specReplicasPath."""
    out = copy.deepcopy(obj)
    steps = jsonpath.compile_path((cr.scale_paths or {}).get("specReplicasPath", ".spec.replicas"))
    cur = out
    for step in steps[:-1]:
        if not isinstance(step, str):
            raise jsonpath.JSONPathError("specReplicasPath may only name object fields")
        cur = cur.setdefault(step, {})
    last = steps[-1]
    if not isinstance(last, str):
        raise jsonpath.JSONPathError("specReplicasPath may only name object fields")
    cur[last] = (scale.get("spec") or {}).get("replicas", 0)
    return dict(out)


# --- decoding (pruning and types) ---


def _json_type(value: JSON) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _type_ok(schema: JSON, value: JSON) -> bool:
    want = schema.get("type")
    if schema.get("x-kubernetes-int-or-string"):
        return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, str)
    if not want:
        return True
    if want == "integer":
        return _json_type(value) == "integer" or (isinstance(value, float) and value.is_integer())
    if want == "number":
        return _json_type(value) in ("integer", "number")
    return isinstance(value, _JSON_TYPES.get(want, object)) and not (want != "boolean" and isinstance(value, bool))


def _type_error(path: str, schema: JSON, value: JSON) -> Cause:
    actual = _json_type(value)
    return Cause(
        path,
        errors.TYPE_INVALID,
        f'Invalid value: "{actual}": {path} in body must be of type {schema.get("type")}: "{actual}"',
    )


def _decode(schema: JSON, value: JSON, path: str, report: DecodeReport) -> JSON:
    if not _type_ok(schema, value):
        report.type_errors.append(_type_error(path, schema, value))
        return value
    if isinstance(value, dict):
        if schema.get("x-kubernetes-embedded-resource") and "metadata" in value:
            value = {
                **value,
                "metadata": structure.decode_object(
                    REGISTRY, REGISTRY.type(OBJECT_META), value["metadata"], join(path, "metadata"), report
                ),
            }
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields")) or extra is True
        out: dict[str, JSON] = {}
        for key, item in value.items():
            sub = join(path, key)
            sub_schema = props.get(key)
            if sub_schema is None and isinstance(extra, dict):
                sub_schema = extra
                sub = f"{path}[{key}]"
            if item is None and not (sub_schema or {}).get("nullable"):
                continue
            if sub_schema is not None:
                out[key] = item if item is None else _decode(sub_schema, item, sub, report)
            elif preserve or (
                schema.get("x-kubernetes-embedded-resource") and key in ("apiVersion", "kind", "metadata")
            ):
                out[key] = item
            else:
                report.unknown.append(errors.unknown_field(sub))
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_decode(schema["items"], item, f"{path}[{i}]", report) for i, item in enumerate(value)]
    return value


def decode(cr: CustomResource, obj: JSON) -> tuple[JSON, DecodeReport]:
    """Prune and type-check a custom object; unknown fields are dropped and reported (Strict rejects them)."""
    report = DecodeReport()
    if not isinstance(obj, dict):
        report.type_errors.append(errors.type_invalid("", obj, "must be of type object"))
        return obj, report
    out: dict[str, JSON] = {}
    root_props = cr.schema.get("properties") or {}
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    decoded = _decode(
        {**cr.schema, "properties": {k: v for k, v in root_props.items() if k != "metadata"}}, body, "", report
    )
    for key in ("apiVersion", "kind"):
        if key in obj:
            out[key] = obj[key]
    if "metadata" in obj:
        out["metadata"] = structure.decode_object(
            REGISTRY, REGISTRY.type(OBJECT_META), obj["metadata"], "metadata", report
        )
    if isinstance(decoded, dict):
        out.update(decoded)
    return out, report


# --- defaulting ---


def _default(schema: JSON, value: JSON) -> None:
    if isinstance(value, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                _default(sub, value[key])
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key, item in value.items():
                if key not in (schema.get("properties") or {}):
                    _default(extra, item)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            _default(schema["items"], item)


def apply_defaults(cr: CustomResource, obj: JSON) -> JSON:
    """Fill `default` values from the schema, top-down, as the apiserver does on read and write."""
    _default(
        {**cr.schema, "properties": {k: v for k, v in (cr.schema.get("properties") or {}).items() if k != "metadata"}},
        obj,
    )
    return obj


# --- validation ---


def _number_checks(schema: JSON, value: float, path: str, out: list[Cause]) -> None:
    maximum, minimum = schema.get("maximum"), schema.get("minimum")
    if maximum is not None:
        if schema.get("exclusiveMaximum") and value >= maximum:
            out.append(errors.invalid(path, value, f"{path} in body should be less than {maximum}"))
        elif value > maximum:
            out.append(errors.invalid(path, value, f"{path} in body should be less than or equal to {maximum}"))
    if minimum is not None:
        if schema.get("exclusiveMinimum") and value <= minimum:
            out.append(errors.invalid(path, value, f"{path} in body should be greater than {minimum}"))
        elif value < minimum:
            out.append(errors.invalid(path, value, f"{path} in body should be greater than or equal to {minimum}"))
    multiple = schema.get("multipleOf")
    if multiple and value % multiple:
        out.append(errors.invalid(path, value, f"{path} in body should be a multiple of {multiple}"))


def _string_checks(schema: JSON, value: str, path: str, out: list[Cause]) -> None:
    if schema.get("maxLength") is not None and len(value) > schema["maxLength"]:
        out.append(Cause(path, errors.TOO_LONG, f"Too long: may not be more than {schema['maxLength']} bytes"))
    if schema.get("minLength") is not None and len(value) < schema["minLength"]:
        out.append(errors.invalid(path, value, f"{path} in body should be at least {schema['minLength']} chars long"))
    pattern = schema.get("pattern")
    if pattern and not re.search(pattern, value):
        out.append(errors.invalid(path, value, f"{path} in body should match '{pattern}'"))


def _validate(schema: JSON, value: JSON, path: str, out: list[Cause]) -> None:
    enum = schema.get("enum")
    if enum is not None and value not in enum:
        out.append(errors.not_supported(path, value, [str(e) for e in enum]))
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        _number_checks(schema, value, path, out)
    elif isinstance(value, str):
        _string_checks(schema, value, path, out)
    elif isinstance(value, list):
        if schema.get("maxItems") is not None and len(value) > schema["maxItems"]:
            out.append(errors.too_many(path, len(value), schema["maxItems"]))
        if schema.get("minItems") is not None and len(value) < schema["minItems"]:
            out.append(
                errors.invalid(path, len(value), f"{path} in body should have at least {schema['minItems']} items")
            )
        list_type = schema.get("x-kubernetes-list-type")
        if schema.get("uniqueItems") or list_type == "set":
            seen: list[JSON] = []
            for i, item in enumerate(value):
                if item in seen:
                    out.append(errors.duplicate(f"{path}[{i}]", item))
                seen.append(item)
        elif list_type == "map":
            keys = schema.get("x-kubernetes-list-map-keys") or []
            seen_keys: list[tuple[JSON, ...]] = []
            for i, item in enumerate(value):
                key = tuple(item.get(k) for k in keys) if isinstance(item, dict) else (item,)
                if key in seen_keys:
                    out.append(errors.duplicate(f"{path}[{i}]", {k: item.get(k) for k in keys}))
                seen_keys.append(key)
        if isinstance(schema.get("items"), dict):
            for i, item in enumerate(value):
                _validate(schema["items"], item, f"{path}[{i}]", out)
    elif isinstance(value, dict):
        for req in schema.get("required") or []:
            if req not in value:
                out.append(errors.required(join(path, req)))
        if schema.get("maxProperties") is not None and len(value) > schema["maxProperties"]:
            out.append(errors.too_many(path, len(value), schema["maxProperties"]))
        if schema.get("minProperties") is not None and len(value) < schema["minProperties"]:
            out.append(
                errors.invalid(
                    path, len(value), f"{path} in body should have at least {schema['minProperties']} properties"
                )
            )
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in props:
                _validate(props[key], item, join(path, key), out)
            elif isinstance(extra, dict):
                _validate(extra, item, f"{path}[{key}]", out)


def validate(cr: CustomResource, obj: JSON) -> list[Cause]:
    """Metadata checks plus the CRD schema (x-kubernetes-validations CEL rules are not evaluated)."""
    out = validation.validate_metadata(cr.resource, obj.get("metadata") or {})
    root = {
        **cr.schema,
        "properties": {k: v for k, v in (cr.schema.get("properties") or {}).items() if k != "metadata"},
    }
    _validate(root, {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}, "", out)
    return out


# --- validating CRDs themselves ---


def _structural(schema: JSON, path: str, out: list[Cause], root: bool = False) -> None:
    if not isinstance(schema, dict):
        return
    if (
        not root
        and not schema.get("type")
        and not schema.get("x-kubernetes-preserve-unknown-fields")
        and not schema.get("x-kubernetes-int-or-string")
    ):
        out.append(errors.required(join(path, "type"), "must not be empty for specified object fields"))
    if root and schema.get("type") != "object":
        out.append(errors.invalid(join(path, "type"), schema.get("type", ""), "must be object at the root"))
    for key, sub in (schema.get("properties") or {}).items():
        _structural(sub, f"{path}.properties[{key}]", out)
    if isinstance(schema.get("items"), dict):
        _structural(schema["items"], f"{path}.items", out)
    if isinstance(schema.get("additionalProperties"), dict):
        _structural(schema["additionalProperties"], f"{path}.additionalProperties", out)


def validate_crd(crd: JSON) -> list[Cause]:
    """Checks specific to CustomResourceDefinitions, on top of the built-in schema validation."""
    out: list[Cause] = []
    spec = crd.get("spec") or {}
    group = spec.get("group", "")
    names_ = spec.get("names") or {}
    name = (crd.get("metadata") or {}).get("name", "")
    if group and "." not in group:
        out.append(errors.invalid("spec.group", group, "should be a domain with at least one dot"))
    elif group:
        out.extend(errors.invalid("spec.group", group, m) for m in names.dns1123_subdomain(group))
    if name and names_.get("plural") and group and name != f"{names_['plural']}.{group}":
        out.append(errors.invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    for key in ("plural", "singular"):
        if names_.get(key):
            out.extend(errors.invalid(f"spec.names.{key}", names_[key], m) for m in names.dns1035_label(names_[key]))
    versions = spec.get("versions") or []
    if not versions:
        out.append(errors.required("spec.versions", "must have exactly one version marked as storage version"))
    elif sum(1 for v in versions if v.get("storage")) != 1:
        out.append(errors.invalid("spec.versions", versions, "must have exactly one version marked as storage version"))
    seen: set[str] = set()
    for i, v in enumerate(versions):
        vpath = f"spec.versions[{i}]"
        if v.get("name") in seen:
            out.append(errors.duplicate(f"{vpath}.name", v.get("name")))
        seen.add(v.get("name", ""))
        schema = (v.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            out.append(errors.required(f"{vpath}.schema.openAPIV3Schema", "schemas are required"))
        else:
            _structural(schema, f"{vpath}.schema.openAPIV3Schema", out, root=True)
        for j, col in enumerate(v.get("additionalPrinterColumns") or []):
            try:
                jsonpath.compile_path(col.get("jsonPath", ""))
            except jsonpath.JSONPathError as err:
                out.append(
                    errors.invalid(f"{vpath}.additionalPrinterColumns[{j}].jsonPath", col.get("jsonPath"), str(err))
                )
        for j, sel in enumerate(v.get("selectableFields") or []):
            try:
                jsonpath.compile_path(sel.get("jsonPath", ""))
            except jsonpath.JSONPathError as err:
                out.append(errors.invalid(f"{vpath}.selectableFields[{j}].jsonPath", sel.get("jsonPath"), str(err)))
    return out


# --- OpenAPI ---


def definition_name(resource: Resource) -> str:
    """Kubernetes names CR schemas by reversed group: stable.example.com/v1 Shirt → com.example.stable.v1.Shirt."""
    return ".".join(reversed(resource.group.split("."))) + f".{resource.version}.{resource.kind}"


def openapi_v3(crs: list[CustomResource]) -> openapi.Document:
    """The /openapi/v3/apis/<group>/<version> document for the CRDs served in one group-version."""
    schemas: dict[str, JSON] = {}
    paths: dict[str, JSON] = {}
    for cr in crs:
        name = definition_name(cr.resource)
        body = copy.deepcopy(cr.schema)
        props = body.setdefault("properties", {})
        props["apiVersion"] = {"type": "string"}
        props["kind"] = {"type": "string"}
        props["metadata"] = {"$ref": f"#/components/schemas/{OBJECT_META}"}
        gvk = {"group": cr.resource.group, "version": cr.resource.version, "kind": cr.resource.kind}
        body["x-kubernetes-group-version-kind"] = [gvk]
        schemas[name] = body
        schemas[name + "List"] = {
            "type": "object",
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"},
                "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{name}"}},
            },
            "required": ["items"],
            "x-kubernetes-group-version-kind": [{**gvk, "kind": cr.resource.kind + "List"}],
        }
        paths.update(openapi.resource_paths(cr.resource, name))
    schemas.update(openapi.meta_schemas(REGISTRY))
    return openapi.make_document(
        {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes CRD Swagger", "version": "v0.1.0"},
            "paths": paths,
            "components": {"schemas": schemas},
        }
    )
