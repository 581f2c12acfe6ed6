"""Strategic merge patch, driven by the schema's patch strategies and merge keys.

`apply` is what the apiserver does with `application/strategic-merge-patch+json`; `create_two_way`
and `create_three_way` compute patches the way kubectl's client-side apply does.
"""

from __future__ import annotations

import copy
from typing import Final

from api.patch import PatchError
from api.schema import JSON, Field, ListOf, MapOf, ObjectType, Ref, Registry, TypeSpec

PATCH: Final = "$patch"
RETAIN_KEYS: Final = "$retainKeys"
SET_ORDER: Final = "$setElementOrder/"
DELETE_PRIMITIVE: Final = "$deleteFromPrimitiveList/"


class Schema:
    """Where we are in the type tree: an object type, a map's value type, or nothing (plain JSON merge)."""

    __slots__ = ("otype", "reg", "spec")

    def __init__(self, reg: Registry, spec: TypeSpec | None) -> None:
        self.reg = reg
        self.spec = spec
        self.otype: ObjectType | None = reg.resolve(spec) if isinstance(spec, Ref) else None

    def field(self, key: str) -> Field | None:
        return self.otype.by_name.get(key) if self.otype is not None else None

    def child(self, key: str) -> Schema:
        if self.otype is not None:
            f = self.otype.by_name.get(key)
            return Schema(self.reg, f.type if f else None)
        if isinstance(self.spec, MapOf):
            return Schema(self.reg, self.spec.value)
        return Schema(self.reg, None)

    def item(self, f: Field) -> Schema:
        return Schema(self.reg, f.type.item if isinstance(f.type, ListOf) else None)


def for_type(reg: Registry, type_name: str) -> Schema:
    """The schema position of a whole object of the named type."""
    return Schema(reg, Ref(type_name))


def apply(reg: Registry, type_name: str, original: JSON, patch: JSON) -> JSON:
    """Apply a strategic merge patch to a copy of `original`."""
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be a JSON object")
    return _merge_map(copy.deepcopy(original) if isinstance(original, dict) else {}, patch, for_type(reg, type_name))


def _merge_map(orig: dict[str, JSON], patch: dict[str, JSON], schema: Schema) -> dict[str, JSON]:
    directive = patch.get(PATCH)
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != PATCH}
    if directive == "delete":
        return {}
    if directive not in (None, "merge"):
        raise PatchError(f"unknown patch type: {directive!r} in map")
    result = orig
    retain = patch.get(RETAIN_KEYS)
    orders = {k[len(SET_ORDER) :]: v for k, v in patch.items() if k.startswith(SET_ORDER)}
    server_lists: dict[str, list[JSON]] = {
        name: list(orig[name]) if isinstance(orig.get(name), list) else [] for name in orders
    }
    for key, value in patch.items():
        if key in (PATCH, RETAIN_KEYS) or key.startswith(SET_ORDER):
            continue
        if key.startswith(DELETE_PRIMITIVE):
            field = key[len(DELETE_PRIMITIVE) :]
            if isinstance(result.get(field), list) and isinstance(value, list):
                result[field] = [v for v in result[field] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
            continue
        child = schema.child(key)
        current = result.get(key)
        if isinstance(value, dict):
            if value.get(PATCH) == "delete":
                result.pop(key, None)
            else:
                result[key] = _merge_map(current if isinstance(current, dict) else {}, value, child)
        elif isinstance(value, list):
            f = schema.field(key)
            result[key] = _merge_list(current if isinstance(current, list) else [], value, f, schema)
        else:
            result[key] = copy.deepcopy(value)
    if isinstance(retain, list):
        for key in list(result):
            if key not in retain:
                del result[key]
    for field, order in orders.items():
        if isinstance(result.get(field), list) and isinstance(order, list):
            result[field] = _reorder(result[field], order, server_lists[field], schema.field(field))
    return result


def _merge_list(orig: list[JSON], patch: list[JSON], f: Field | None, parent: Schema) -> list[JSON]:
    if f is None or not f.merges:
        replaced = [p for p in patch if not (isinstance(p, dict) and p.get(PATCH) == "replace")]
        return copy.deepcopy(replaced)
    if any(isinstance(p, dict) and p.get(PATCH) == "replace" for p in patch):
        return [copy.deepcopy(p) for p in patch if not (isinstance(p, dict) and PATCH in p)]
    if not f.merge_key:
        out = []
        for p in [*orig, *patch]:
            if p not in out:
                out.append(copy.deepcopy(p))
        return out
    key = f.merge_key
    item_schema = parent.item(f)
    out = list(orig)
    for p in patch:
        if not isinstance(p, dict):
            raise PatchError(f"a list merged by {key!r} may only contain objects")
        if key not in p:
            raise PatchError(f"map: {p} does not contain declared merge key: {key}")
        at = next((i for i, o in enumerate(out) if isinstance(o, dict) and o.get(key) == p[key]), None)
        if p.get(PATCH) == "delete":
            out = [o for o in out if not (isinstance(o, dict) and o.get(key) == p[key])]
        elif at is None:
            out.append(_merge_map({}, p, item_schema))
        else:
            out[at] = _merge_map(out[at], p, item_schema)
    return out


def _reorder(items: list[JSON], order: list[JSON], server: list[JSON], f: Field | None) -> list[JSON]:
    """Apply `$setElementOrder`: listed elements take the given order; elements only the server has are
    interleaved by their position in the live list, as Kubernetes does."""
    key = f.merge_key if f is not None else ""

    def ident(v: JSON) -> str:
        return repr(v.get(key) if key and isinstance(v, dict) else v)

    rank = {ident(o): i for i, o in enumerate(order)}
    server_index = {ident(v): i for i, v in enumerate(server)}
    listed = sorted((v for v in items if ident(v) in rank), key=lambda v: rank[ident(v)])
    server_only = sorted((v for v in items if ident(v) not in rank), key=lambda v: server_index.get(ident(v), 0))
    out: list[JSON] = []
    i = j = 0
    while i < len(server_only) or j < len(listed):
        if i >= len(server_only):
            out.append(listed[j])
            j += 1
        elif j >= len(listed):
            out.append(server_only[i])
            i += 1
        else:
            si, li = server_index.get(ident(server_only[i]), -1), server_index.get(ident(listed[j]), -1)
            if si >= 0 and li >= 0 and si < li:
                out.append(server_only[i])
                i += 1
            else:
                out.append(listed[j])
                j += 1
    return out


# --- computing patches (kubectl apply) ---


def create_two_way(reg: Registry, type_name: str, original: JSON, modified: JSON) -> dict[str, JSON]:
    """The patch turning `original` into `modified`."""
    return _diff_map(original or {}, modified or {}, for_type(reg, type_name), additions=True, deletions=True)


def create_three_way(reg: Registry, type_name: str, original: JSON, modified: JSON, current: JSON) -> dict[str, JSON]:
    """kubectl apply's patch: changes from the live object to the new config, plus deletions of fields the
    last applied config had and the new one drops (fields set by others are left alone)."""
    schema = for_type(reg, type_name)
    delta = _diff_map(current or {}, modified or {}, schema, additions=True, deletions=False)
    deletions = _diff_map(original or {}, modified or {}, schema, additions=False, deletions=True)
    return _merge_patches(delta, deletions)


def _merge_patches(a: dict[str, JSON], b: dict[str, JSON]) -> dict[str, JSON]:
    out = copy.deepcopy(a)
    for key, value in b.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge_patches(out[key], value)
        elif isinstance(value, list) and isinstance(out.get(key), list) and not key.startswith(SET_ORDER):
            out[key] = out[key] + [v for v in value if v not in out[key]]
        else:
            out.setdefault(key, copy.deepcopy(value))
    return out


def _diff_map(
    orig: dict[str, JSON],
    mod: dict[str, JSON],
    schema: Schema,
    *,
    additions: bool,
    deletions: bool,
    retain: bool = False,
) -> dict[str, JSON]:
    """The patch from `orig` to `mod`. `retain` marks a union (retainKeys strategy): the patch then lists the keys
    to keep, so fields the new value dropped are cleared even when they were set by someone else."""
    patch: dict[str, JSON] = {}
    if deletions:
        for key in orig:
            if key not in mod:
                patch[key] = None
    for key, new in mod.items():
        old = orig.get(key)
        if key not in orig:
            if additions:
                patch[key] = copy.deepcopy(new)
        elif old == new:
            continue
        elif isinstance(new, dict) and isinstance(old, dict):
            f = schema.field(key)
            if f is not None and "replace" in f.strategy.split(","):
                if additions:
                    patch[key] = copy.deepcopy(new)
                continue
            union = f is not None and "retainKeys" in f.strategy
            sub = _diff_map(old, new, schema.child(key), additions=additions, deletions=deletions, retain=union)
            if sub:
                patch[key] = sub
        elif isinstance(new, list) and isinstance(old, list):
            _diff_list(patch, key, old, new, schema, additions=additions, deletions=deletions)
        elif additions:
            patch[key] = copy.deepcopy(new)
    dropped = any(v is not None and k not in mod for k, v in orig.items())
    if retain and (patch or dropped):
        kept = sorted(k for k, v in mod.items() if v is not None)
        if kept:
            patch[RETAIN_KEYS] = kept
    return patch


def _diff_list(
    patch: dict[str, JSON],
    key: str,
    old: list[JSON],
    new: list[JSON],
    schema: Schema,
    *,
    additions: bool,
    deletions: bool,
) -> None:
    f = schema.field(key)
    if f is None or not f.merges:
        if additions:
            patch[key] = copy.deepcopy(new)
        return
    if not old:
        if new and additions:
            patch[key] = copy.deepcopy(new)
        return
    if not f.merge_key:
        added = [v for v in new if v not in old]
        removed = [v for v in old if v not in new]
        if additions and added:
            patch[key] = added
        if deletions and removed:
            patch[DELETE_PRIMITIVE + key] = removed
        if (deletions and removed) or (additions and old != new):
            patch[SET_ORDER + key] = copy.deepcopy(new)
        return
    mk = f.merge_key
    retain = "retainKeys" in f.strategy
    old_by = {repr(o.get(mk)): o for o in old if isinstance(o, dict)}
    new_keys = {repr(n.get(mk)) for n in new if isinstance(n, dict)}
    items: list[JSON] = []
    item_schema = schema.item(f)
    for n in new:
        if not isinstance(n, dict):
            continue
        o = old_by.get(repr(n.get(mk)))
        if o is None:
            if additions:
                items.append(copy.deepcopy(n))
            continue
        sub = _diff_map(o, n, item_schema, additions=additions, deletions=deletions, retain=retain)
        if sub:
            sub[mk] = n.get(mk)
            items.append(sub)
    if deletions:
        items.extend({mk: o.get(mk), PATCH: "delete"} for k, o in old_by.items() if k not in new_keys)
    reordered = [repr(o.get(mk)) for o in old if isinstance(o, dict)] != [
        repr(n.get(mk)) for n in new if isinstance(n, dict)
    ]
    if items:
        patch[key] = items
    if (additions and (items or reordered)) or (deletions and items):
        patch[SET_ORDER + key] = [{mk: n.get(mk)} for n in new if isinstance(n, dict)]
