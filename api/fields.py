"""Field selectors (`metadata.name=x,status.phase!=Running`), checked against what each kind supports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from api.schema import JSON, FieldGetter, Resource


class FieldSelectorError(ValueError):
    """Unparseable selector or unsupported field; the message is what kube-apiserver returns with 400."""


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    """One `field=value` or `field!=value` term."""

    field: str
    value: str
    negate: bool

    def __str__(self) -> str:
        return f"{self.field}{'!=' if self.negate else '='}{self.value}"


def _split(text: str, seps: str) -> list[str]:
    """Split on unescaped separators; a backslash escapes ',', '=', '!' and itself."""
    parts, cur, i = [], [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            cur.append(text[i : i + 2])
            i += 2
            continue
        if c in seps:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _find_operator(term: str) -> tuple[int, str]:
    i = 0
    while i < len(term):
        if term[i] == "\\":
            i += 2
            continue
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return i, op
        i += 1
    return -1, ""


def parse(text: str) -> tuple[FieldRequirement, ...]:
    """Parse `a=b,c!=d`; an empty string selects everything."""
    reqs = []
    if not text.strip():
        return ()
    for term in _split(text, ","):
        at, op = _find_operator(term)
        if at < 0:
            raise FieldSelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        reqs.append(FieldRequirement(_unescape(term[:at]).strip(), _unescape(term[at + len(op) :]), op == "!="))
    return tuple(reqs)


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """Parsed terms bound to the getters of one resource's selectable fields."""

    requirements: tuple[FieldRequirement, ...]
    getters: Mapping[str, FieldGetter]

    def matches(self, obj: JSON) -> bool:
        """Whether every term holds for the object."""
        for r in self.requirements:
            equal = self.getters[r.field](obj) == r.value
            if equal == r.negate:
                return False
        return True

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def metadata_getters(namespaced: bool) -> dict[str, FieldGetter]:
    """The selectable metadata fields every resource has (namespace only when namespaced)."""
    getters: dict[str, FieldGetter] = {"metadata.name": lambda o: (o.get("metadata") or {}).get("name", "")}
    if namespaced:
        getters["metadata.namespace"] = lambda o: (o.get("metadata") or {}).get("namespace", "")
    return getters


def path_getter(path: str) -> FieldGetter:
    """A getter for a dotted path, rendering values as Kubernetes' field labels do (bools as true/false)."""
    keys = path.split(".")

    def get(obj: JSON) -> str:
        cur = obj
        for k in keys:
            if not isinstance(cur, dict):
                return ""
            cur = cur.get(k)
        if cur is None:
            return ""
        if isinstance(cur, bool):
            return "true" if cur else "false"
        return str(cur)

    return get


def compile_selector(resource: Resource, text: str) -> FieldSelector:
    """Parse and bind to the resource's selectable fields, rejecting the rest as kube-apiserver does."""
    reqs = parse(text)
    getters = {**metadata_getters(resource.namespaced), **resource.field_selectors}
    for r in reqs:
        if r.field not in getters:
            raise FieldSelectorError(f"field label not supported: {r.field}")
    return FieldSelector(reqs, getters)


def single_value(selector: FieldSelector, field: str) -> str | None:
    """The value an equality term pins `field` to (lets the apiserver narrow a list to one key)."""
    for r in selector.requirements:
        if r.field == field and not r.negate:
            return r.value
    return None
