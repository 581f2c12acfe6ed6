"""Server-side apply's merge (`application/apply-patch+yaml`), driven by list-type and map-type markers.

This is the merge without field ownership: the applied configuration is merged into the live object
(granular maps merge, `map` lists merge by their keys, `set` lists union, atomic lists and maps are
replaced). The apiserver omits managedFields, which kubectl accepts, so fields a manager stops
applying are not removed; that needs ownership tracking this merge does not do.
"""

from __future__ import annotations

import copy
from typing import Protocol

from api.schema import JSON, ListOf, MapOf, Ref, Registry, TypeSpec


class Node(Protocol):
    """Where the merge is in a schema: built-in types and CRD JSON schemas both answer these."""

    def child(self, key: str) -> Node: ...

    def item(self) -> Node: ...

    def list_type(self) -> str: ...

    def list_keys(self) -> tuple[str, ...]: ...

    def atomic(self) -> bool: ...

    def defaults(self) -> dict[str, JSON]: ...


class TypeNode:
    """A position in the built-in types: `spec` is the type of the value, `field_*` its field's markers."""

    __slots__ = ("_list_type", "_map_keys", "_map_type", "reg", "spec")

    def __init__(
        self,
        reg: Registry,
        spec: TypeSpec | None,
        list_type: str = "",
        map_keys: tuple[str, ...] = (),
        map_type: str = "",
    ) -> None:
        self.reg = reg
        self.spec = spec
        self._list_type = list_type
        self._map_keys = map_keys
        self._map_type = map_type

    def child(self, key: str) -> TypeNode:
        if isinstance(self.spec, Ref):
            f = self.reg.resolve(self.spec).by_name.get(key)
            if f is None:
                return TypeNode(self.reg, None)
            return TypeNode(self.reg, f.type, f.list_type, f.map_keys, f.map_type)
        if isinstance(self.spec, MapOf):
            return TypeNode(self.reg, self.spec.value)
        return TypeNode(self.reg, None)

    def item(self) -> TypeNode:
        return TypeNode(self.reg, self.spec.item if isinstance(self.spec, ListOf) else None)

    def list_type(self) -> str:
        if self._list_type:
            return self._list_type
        return "atomic"

    def list_keys(self) -> tuple[str, ...]:
        return self._map_keys

    def atomic(self) -> bool:
        if self._map_type == "atomic":
            return True
        return isinstance(self.spec, Ref) and self.reg.resolve(self.spec).map_type == "atomic"

    def defaults(self) -> dict[str, JSON]:
        if not isinstance(self.spec, Ref):
            return {}
        return {f.name: f.default for f in self.reg.resolve(self.spec).defaulted}


class SchemaNode:
    """A position in a CRD's structural OpenAPI schema."""

    __slots__ = ("schema",)

    def __init__(self, schema: JSON) -> None:
        self.schema = schema if isinstance(schema, dict) else {}

    def child(self, key: str) -> SchemaNode:
        props = self.schema.get("properties") or {}
        if key in props:
            return SchemaNode(props[key])
        extra = self.schema.get("additionalProperties")
        return SchemaNode(extra if isinstance(extra, dict) else {})

    def item(self) -> SchemaNode:
        return SchemaNode(self.schema.get("items") or {})

    def list_type(self) -> str:
        return str(self.schema.get("x-kubernetes-list-type") or "atomic")

    def list_keys(self) -> tuple[str, ...]:
        return tuple(self.schema.get("x-kubernetes-list-map-keys") or ())

    def atomic(self) -> bool:
        return self.schema.get("x-kubernetes-map-type") == "atomic"

    def defaults(self) -> dict[str, JSON]:
        props = self.schema.get("properties") or {}
        return {k: v["default"] for k, v in props.items() if isinstance(v, dict) and "default" in v}


def merge(node: Node, live: JSON, applied: JSON) -> JSON:
    """Merge an applied configuration into the live object (neither argument is modified)."""
    if isinstance(applied, dict) and isinstance(live, dict) and not node.atomic():
        out = dict(live)
        for key, value in applied.items():
            if value is None:
                continue
            out[key] = merge(node.child(key), live.get(key), value) if key in live else copy.deepcopy(value)
        return out
    if isinstance(applied, list) and isinstance(live, list):
        kind = node.list_type()
        if kind == "set":
            return [*live, *(copy.deepcopy(v) for v in applied if v not in live)]
        if kind == "map":
            return _merge_map_list(node, live, applied)
    return copy.deepcopy(applied)


def _merge_map_list(node: Node, live: list[JSON], applied: list[JSON]) -> list[JSON]:
    keys = node.list_keys()
    item_node = node.item()
    # A key left out takes its default, so `{containerPort: 80}` matches the live `{containerPort: 80, protocol: TCP}`.
    defaults = item_node.defaults()

    def ident(v: JSON) -> tuple[JSON, ...]:
        return tuple(v.get(k, defaults.get(k)) for k in keys) if isinstance(v, dict) else (v,)

    out = list(live)
    index = {ident(v): i for i, v in enumerate(out)}
    for value in applied:
        at = index.get(ident(value))
        if at is None:
            index[ident(value)] = len(out)
            out.append(copy.deepcopy(value))
        else:
            out[at] = merge(item_node, out[at], value)
    return out


def apply_builtin(reg: Registry, type_name: str, live: JSON, applied: JSON) -> JSON:
    """Server-side apply of a built-in kind; `live` is {} when the object does not exist yet."""
    return merge(TypeNode(reg, Ref(type_name)), live or {}, applied)


def apply_custom(schema: JSON, live: JSON, applied: JSON) -> JSON:
    """Server-side apply of a custom resource, using its CRD's openAPIV3Schema."""
    return merge(SchemaNode(schema), live or {}, applied)
