"""Validation after defaulting: schema rules (required, enums, list-map keys) plus each kind's own checks.

`validate(reg, resource, obj)` and `validate_update(reg, resource, new, old)` return a list of
Causes; an empty list means valid. Messages follow kube-apiserver's wording so kubectl prints what
users expect. The per-kind checks live in api.checks and register themselves with `validator`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Final

from api import core_v1, errors, names
from api.errors import Cause
from api.schema import JSON, ListOf, MapOf, ObjectType, Ref, Registry, Resource, Scalar, TypeSpec
from api.structure import join

Validator = Callable[[dict[str, JSON], str], list[Cause]]

VALIDATORS: dict[str, list[Validator]] = {}

STATEFUL_SET_SPEC: Final = "io.k8s.api.apps.v1.StatefulSetSpec"
PV_SOURCE_FIELDS: Final = tuple(f.name for f in core_v1.PersistentVolumeSpec.fields if f.embedded_in)
"""The members of Go's inline PersistentVolumeSource (immutable after creation)."""
TOTAL_ANNOTATION_SIZE: Final = 256 * 1024


def validator(*type_names: str) -> Callable[[Validator], Validator]:
    """Attach a check to object types; it runs wherever an object of that type appears."""

    def register(fn: Validator) -> Validator:
        for t in type_names:
            VALIDATORS.setdefault(t, []).append(fn)
        return fn

    return register


# --- schema walk ---


def _is_status_path(path: str) -> bool:
    # Status is written by controllers and validated by the status strategy, which does not enforce the
    # OpenAPI "required" list; neither do we.
    return path == "status" or path.startswith("status.")


_CLAIM_VOLUMES: ContextVar[frozenset[str]] = ContextVar("claim_volumes", default=frozenset())


def claim_volumes() -> frozenset[str]:
    """Volume names a StatefulSet's volumeClaimTemplates add to its pod template while it is being walked."""
    return _CLAIM_VOLUMES.get()


def _walk_object(reg: Registry, otype: ObjectType, obj: JSON, path: str, out: list[Cause]) -> None:
    if not isinstance(obj, dict):
        return
    if otype.name == STATEFUL_SET_SPEC:
        claims = frozenset(str((t.get("metadata") or {}).get("name")) for t in obj.get("volumeClaimTemplates") or [])
        token = _CLAIM_VOLUMES.set(claims)
        try:
            _walk_fields(reg, otype, obj, path, out)
        finally:
            _CLAIM_VOLUMES.reset(token)
        return
    _walk_fields(reg, otype, obj, path, out)


_NUMERIC: Final = frozenset({"int32", "int64", "boolean", "double"})


def _enforced_required(otype: ObjectType) -> tuple[str, ...]:
    cached = _REQUIRED.get(otype.name)
    if cached is None:
        cached = tuple(
            f.name
            for f in otype.fields
            if f.required and not (isinstance(f.type, Scalar) and f.type.format in _NUMERIC)
        )
        _REQUIRED[otype.name] = cached
    return cached


_REQUIRED: dict[str, tuple[str, ...]] = {}


def _walk_fields(reg: Registry, otype: ObjectType, obj: dict[str, JSON], path: str, out: list[Cause]) -> None:
    if not _is_status_path(path):
        for name in _enforced_required(otype):
            if obj.get(name) is None:
                out.append(errors.required(join(path, name)))
    by_name = otype.by_name
    nested = otype.nested
    for key, value in obj.items():
        f = by_name.get(key)
        if f is None or value is None:
            continue
        if f.enum and isinstance(value, str) and value not in f.enum:
            out.append(errors.not_supported(join(path, key), value, f.enum))
        if f.list_type and isinstance(value, list):
            if f.list_type == "map":
                _check_map_list(value, f.map_keys, join(path, key), out)
            elif f.list_type == "set":
                seen: set[str] = set()
                for i, item in enumerate(value):
                    marker = repr(item)
                    if marker in seen:
                        out.append(errors.duplicate(f"{join(path, key)}[{i}]", item))
                    seen.add(marker)
        if key in nested:
            _walk_value(reg, f.type, value, join(path, key), out)
    for check in VALIDATORS.get(otype.name, ()):
        out.extend(check(obj, path))


def _check_map_list(items: list[JSON], keys: tuple[str, ...], path: str, out: list[Cause]) -> None:
    seen: set[tuple[str, ...]] = set()
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        key = tuple(repr(item.get(k)) for k in keys)
        if key in seen and keys:
            out.append(errors.duplicate(f"{path}[{i}]", {k: item.get(k) for k in keys if k in item}))
        seen.add(key)


def _walk_value(reg: Registry, spec: TypeSpec, value: JSON, path: str, out: list[Cause]) -> None:
    if isinstance(spec, Ref):
        _walk_object(reg, reg.resolve(spec), value, path, out)
    elif isinstance(spec, ListOf) and isinstance(value, list):
        for i, item in enumerate(value):
            _walk_value(reg, spec.item, item, f"{path}[{i}]", out)
    elif isinstance(spec, MapOf) and isinstance(value, dict):
        for key, item in value.items():
            _walk_value(reg, spec.value, item, f"{path}[{key}]", out)


def validate_object(reg: Registry, type_name: str, obj: JSON, path: str = "") -> list[Cause]:
    """Schema and type checks for any object type (used for nested kinds such as Scale too)."""
    out: list[Cause] = []
    _walk_object(reg, reg.type(type_name), obj, path, out)
    return out


def validate(reg: Registry, resource: Resource, obj: JSON) -> list[Cause]:
    """All checks for creating `obj` as `resource` (after defaulting)."""
    out = validate_metadata(resource, obj.get("metadata") or {})
    out.extend(validate_object(reg, resource.type_name, obj))
    return out


# --- metadata ---


def validate_metadata(resource: Resource, meta: JSON, path: str = "metadata") -> list[Cause]:
    """Name, namespace, labels, annotations, finalizers and owner references."""
    out: list[Cause] = []
    name = meta.get("name")
    if not name and not meta.get("generateName"):
        out.append(errors.required(f"{path}.name", "name or generateName is required"))
    elif name and resource.name_rule in names.NAME_RULES:
        for msg in names.NAME_RULES[resource.name_rule](name):
            out.append(errors.invalid(f"{path}.name", name, msg))
    elif not name and resource.name_rule in names.NAME_RULES:
        # The server appends random characters, so a trailing dash in the prefix is fine.
        prefix = str(meta["generateName"])
        masked = prefix[:-1] + "a" if prefix.endswith("-") else prefix
        for msg in names.NAME_RULES[resource.name_rule](masked):
            out.append(errors.invalid(f"{path}.generateName", prefix, msg))
    if resource.namespaced:
        ns = meta.get("namespace")
        if not ns:
            out.append(errors.required(f"{path}.namespace"))
        else:
            out.extend(errors.invalid(f"{path}.namespace", ns, m) for m in names.dns1123_label(ns))
    elif meta.get("namespace"):
        out.append(errors.forbidden(f"{path}.namespace", "not allowed on this type"))
    out.extend(validate_labels(meta.get("labels") or {}, f"{path}.labels"))
    out.extend(validate_annotations(meta.get("annotations") or {}, f"{path}.annotations"))
    for i, fin in enumerate(meta.get("finalizers") or []):
        msgs = names.qualified_name(fin)
        out.extend(errors.invalid(f"{path}.finalizers[{i}]", fin, m) for m in msgs)
    for i, ref in enumerate(meta.get("ownerReferences") or []):
        for key in ("apiVersion", "kind", "name", "uid"):
            if not ref.get(key):
                out.append(
                    errors.invalid(f"{path}.ownerReferences[{i}].{key}", ref.get(key, ""), f"{key} must not be empty")
                )
    controllers = [r for r in meta.get("ownerReferences") or [] if r.get("controller")]
    if len(controllers) > 1:
        out.append(
            errors.invalid(
                f"{path}.ownerReferences", meta["ownerReferences"], "Only one reference can have Controller set to true"
            )
        )
    if (meta.get("generation") or 0) < 0:
        out.append(errors.invalid(f"{path}.generation", meta["generation"], "must be greater than or equal to 0"))
    return out


def validate_labels(values: dict[str, JSON], path: str) -> list[Cause]:
    """Label keys are qualified names and values valid label values."""
    out: list[Cause] = []
    for key, value in values.items():
        out.extend(errors.invalid(path, key, m) for m in names.qualified_name(key))
        if isinstance(value, str):
            out.extend(errors.invalid(path, value, m) for m in names.label_value(value))
    return out


def validate_annotations(values: dict[str, JSON], path: str) -> list[Cause]:
    """Annotation keys are qualified names; 256 KiB in total."""
    out: list[Cause] = []
    total = 0
    for key, value in values.items():
        out.extend(errors.invalid(path, key, m) for m in names.qualified_name(key.lower()))
        total += len(key) + len(str(value))
    if total > TOTAL_ANNOTATION_SIZE:
        out.append(errors.too_long(path, TOTAL_ANNOTATION_SIZE))
    return out


# --- updates ---

Immutables = Callable[[JSON, JSON], list[Cause]]


def _same(new: JSON, old: JSON, *path: str) -> bool:
    a, b = new, old
    for p in path:
        a = a.get(p) if isinstance(a, dict) else None
        b = b.get(p) if isinstance(b, dict) else None
    return bool(a == b)


def _immutable(*path: str) -> Immutables:
    def check(new: JSON, old: JSON) -> list[Cause]:
        if _same(new, old, *path):
            return []
        value = new
        for p in path:
            value = value.get(p) if isinstance(value, dict) else None
        return [errors.invalid(".".join(path), value, "field is immutable")]

    return check


def _pod_spec_update(new: JSON, old: JSON) -> list[Cause]:
    """Only images, activeDeadlineSeconds, tolerations (additions) and a few more may change on a pod."""
    a, b = dict(new.get("spec") or {}), dict(old.get("spec") or {})
    for spec in (a, b):
        spec.pop("activeDeadlineSeconds", None)
        spec.pop("tolerations", None)
        spec.pop("terminationGracePeriodSeconds", None)
        spec.pop("schedulingGates", None)
        for group in ("containers", "initContainers"):
            spec[group] = [{k: v for k, v in c.items() if k != "image"} for c in spec.get(group) or []]
    if a == b:
        old_tol = (old.get("spec") or {}).get("tolerations") or []
        new_tol = (new.get("spec") or {}).get("tolerations") or []
        if all(t in new_tol for t in old_tol):
            return []
        return [
            errors.forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds")
        ]
    return [
        errors.forbidden(
            "spec",
            "pod updates may not change fields other than `spec.containers[*].image`,"
            "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
            "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
            "previously negative)",
        )
    ]


def _configmap_update(new: JSON, old: JSON) -> list[Cause]:
    out: list[Cause] = []
    if old.get("immutable"):
        for key in ("data", "binaryData"):
            if not _same(new, old, key):
                out.append(errors.forbidden(key, "field is immutable when `immutable` is set"))
        if not new.get("immutable"):
            out.append(errors.forbidden("immutable", "field is immutable when `immutable` is set"))
    return out


def _secret_update(new: JSON, old: JSON) -> list[Cause]:
    out = _configmap_update(new, old)
    if not _same(new, old, "type"):
        out.append(errors.invalid("type", new.get("type"), "field is immutable"))
    return out


def _job_template(new: JSON, old: JSON) -> list[Cause]:
    # A suspended job's scheduling directives may change; everything else in the template is fixed.
    a = (new.get("spec") or {}).get("template")
    b = (old.get("spec") or {}).get("template")
    if a == b:
        return []
    return [errors.invalid("spec.template", a, "field is immutable")]


_STATEFULSET_MUTABLE: Final = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)


def _statefulset_update(new: JSON, old: JSON) -> list[Cause]:
    a = {k: v for k, v in (new.get("spec") or {}).items() if k not in _STATEFULSET_MUTABLE}
    b = {k: v for k, v in (old.get("spec") or {}).items() if k not in _STATEFULSET_MUTABLE}
    if a == b:
        return []
    return [
        errors.forbidden(
            "spec",
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
            "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
            "'minReadySeconds' are forbidden",
        )
    ]


def _pvc_update(new: JSON, old: JSON) -> list[Cause]:
    def frozen(obj: JSON) -> dict[str, JSON]:
        spec = dict(obj.get("spec") or {})
        spec.pop("volumeAttributesClassName", None)
        resources = dict(spec.get("resources") or {})
        resources.pop("requests", None)
        spec["resources"] = resources
        return spec

    a, b = frozen(new), frozen(old)
    if not b.get("volumeName"):
        a.pop("volumeName", None)  # binding fills it in once
        b.pop("volumeName", None)
    if a == b:
        return []
    return [
        errors.forbidden(
            "spec",
            "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
        )
    ]


def _pv_update(new: JSON, old: JSON) -> list[Cause]:
    spec_new, spec_old = new.get("spec") or {}, old.get("spec") or {}
    sources = [f for f in PV_SOURCE_FIELDS if spec_new.get(f) != spec_old.get(f)]
    if sources:
        return [
            errors.forbidden("spec.persistentVolumeSource", "spec.persistentVolumeSource is immutable after creation")
        ]
    return []


def _storage_class_update(new: JSON, old: JSON) -> list[Cause]:
    out = []
    for key in ("parameters", "provisioner", "reclaimPolicy"):
        if new.get(key) != old.get(key):
            out.append(errors.forbidden(key, f"updates to {key} are forbidden."))
    if new.get("volumeBindingMode") != old.get("volumeBindingMode"):
        out.append(errors.forbidden("volumeBindingMode", "field is immutable"))
    return out


def _priority_class_update(new: JSON, old: JSON) -> list[Cause]:
    if new.get("value") != old.get("value"):
        return [errors.forbidden("value", "may not be changed in an update.")]
    return []


def _node_update(new: JSON, old: JSON) -> list[Cause]:
    before = (old.get("spec") or {}).get("podCIDR")
    if before and (new.get("spec") or {}).get("podCIDR") != before:
        return [errors.forbidden("spec.podCIDR", 'node updates may not change podCIDR except from "" to valid')]
    return []


UPDATE_CHECKS: Final[dict[tuple[str, str], tuple[Immutables, ...]]] = {
    ("", "Pod"): (_pod_spec_update,),
    ("", "ConfigMap"): (_configmap_update,),
    ("", "Secret"): (_secret_update,),
    ("", "Service"): (_immutable("spec", "clusterIP"),),
    ("", "PersistentVolumeClaim"): (_pvc_update,),
    ("", "PersistentVolume"): (_pv_update,),
    ("", "Node"): (_node_update,),
    ("apps", "Deployment"): (_immutable("spec", "selector"),),
    ("apps", "ReplicaSet"): (_immutable("spec", "selector"),),
    ("apps", "DaemonSet"): (_immutable("spec", "selector"),),
    ("apps", "StatefulSet"): (_statefulset_update,),
    ("batch", "Job"): (_immutable("spec", "selector"), _job_template, _immutable("spec", "completionMode")),
    ("rbac.authorization.k8s.io", "RoleBinding"): (_immutable("roleRef"),),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): (_immutable("roleRef"),),
    ("apps", "ControllerRevision"): (_immutable("data"),),
    ("storage.k8s.io", "StorageClass"): (_storage_class_update,),
    ("scheduling.k8s.io", "PriorityClass"): (_priority_class_update,),
    ("discovery.k8s.io", "EndpointSlice"): (_immutable("addressType"),),
    ("networking.k8s.io", "IngressClass"): (_immutable("spec", "controller"),),
}


def validate_update(reg: Registry, resource: Resource, new: JSON, old: JSON) -> list[Cause]:
    """Checks for replacing `old` with `new`: everything validate() checks, plus immutability."""
    out = validate(reg, resource, new)
    meta_new, meta_old = new.get("metadata") or {}, old.get("metadata") or {}
    for key in ("name", "namespace", "uid", "creationTimestamp"):
        if key in meta_old and meta_new.get(key) != meta_old.get(key):
            out.append(errors.invalid(f"metadata.{key}", meta_new.get(key), "field is immutable"))
    for check in UPDATE_CHECKS.get((resource.group, resource.kind), ()):
        out.extend(check(new, old))
    return out
