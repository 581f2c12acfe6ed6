"""Compiled NodeSelector terms (node affinity, PV node affinity): ORed terms of ANDed label and field clauses."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from api import labels
from api.labels import Requirement

_OPERATORS: Final = {
    "In": labels.IN,
    "NotIn": labels.NOT_IN,
    "Exists": labels.EXISTS,
    "DoesNotExist": labels.DOES_NOT_EXIST,
    "Gt": labels.GT,
    "Lt": labels.LT,
}
NODE_NAME_FIELD: Final = "metadata.name"


class NodeSelectorError(ValueError):
    """A term the apiserver should have refused (unknown operator or field)."""


def _requirement(expr: Mapping[str, Any]) -> Requirement:
    op = _OPERATORS.get(expr.get("operator", ""))
    if op is None:
        raise NodeSelectorError(f"{expr.get('operator')!r} is not a valid node selector operator")
    return Requirement(expr.get("key", ""), op, tuple(expr.get("values") or ()))


@dataclass(frozen=True, slots=True)
class Term:
    """One nodeSelectorTerm: every label and field requirement must hold; an empty term matches nothing."""

    label_requirements: tuple[Requirement, ...]
    field_requirements: tuple[Requirement, ...]

    def matches(self, node_name: str, node_labels: Mapping[str, str]) -> bool:
        if not self.label_requirements and not self.field_requirements:
            return False
        for r in self.label_requirements:
            if not r.matches(node_labels):
                return False
        if self.field_requirements:
            fields = {NODE_NAME_FIELD: node_name}
            return all(r.matches(fields) for r in self.field_requirements)
        return True

    def node_names(self) -> frozenset[str] | None:
        """The node names a `metadata.name In (...)` field clause allows, or None when unrestricted."""
        names: frozenset[str] | None = None
        for r in self.field_requirements:
            if r.key == NODE_NAME_FIELD and r.operator == labels.IN:
                names = frozenset(r.values) if names is None else names & frozenset(r.values)
        return names


def compile_term(raw: Mapping[str, Any]) -> Term:
    """Compile one nodeSelectorTerm; matchFields may only name `metadata.name`."""
    fields = tuple(_requirement(e) for e in raw.get("matchFields") or ())
    for r in fields:
        if r.key != NODE_NAME_FIELD:
            raise NodeSelectorError(f"field {r.key!r} is not supported in node selector matchFields")
    return Term(tuple(_requirement(e) for e in raw.get("matchExpressions") or ()), fields)


@dataclass(frozen=True, slots=True)
class NodeSelector:
    """ORed terms; `None` in place of a selector means no constraint."""

    terms: tuple[Term, ...]

    def matches(self, node_name: str, node_labels: Mapping[str, str]) -> bool:
        return any(t.matches(node_name, node_labels) for t in self.terms)

    def node_names(self) -> frozenset[str] | None:
        """Node names allowed when every term restricts by name; None when any term does not."""
        out: set[str] = set()
        for t in self.terms:
            names = t.node_names()
            if names is None:
                return None
            out |= names
        return frozenset(out)


def compile_selector(raw: Mapping[str, Any] | None) -> NodeSelector | None:
    """A NodeSelector object (`{"nodeSelectorTerms": [...]}`); None when absent."""
    if raw is None:
        return None
    return NodeSelector(tuple(compile_term(t) for t in raw.get("nodeSelectorTerms") or ()))


@dataclass(frozen=True, slots=True)
class PreferredTerm:
    """A preferred scheduling term and its weight."""

    weight: int
    term: Term


def compile_preferred(raw: Sequence[Mapping[str, Any]] | None) -> tuple[PreferredTerm, ...]:
    """Compile preferredDuringSchedulingIgnoredDuringExecution terms."""
    return tuple(PreferredTerm(int(p.get("weight", 0)), compile_term(p.get("preference") or {})) for p in raw or ())


@dataclass(frozen=True, slots=True)
class RequiredNodeAffinity:
    """A pod's hard node constraints: `nodeSelector` labels AND the required node-affinity terms."""

    label_selector: tuple[Requirement, ...]
    selector: NodeSelector | None

    @property
    def empty(self) -> bool:
        return not self.label_selector and self.selector is None

    def matches(self, node_name: str, node_labels: Mapping[str, str]) -> bool:
        for r in self.label_selector:
            if not r.matches(node_labels):
                return False
        return self.selector is None or self.selector.matches(node_name, node_labels)


def required_node_affinity(spec: Mapping[str, Any]) -> RequiredNodeAffinity:
    """The pod's nodeSelector and required node affinity, compiled together."""
    node_selector = spec.get("nodeSelector") or {}
    node_affinity = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    return RequiredNodeAffinity(
        tuple(Requirement(k, labels.EQUALS, (v,)) for k, v in sorted(node_selector.items())),
        compile_selector(node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")),
    )


V = TypeVar("V")
NodeMatches = dict[str, tuple[Mapping[str, str], V]]
NodeFunction = Callable[[str, Mapping[str, str]], V]


class NodeLabelMemo(Generic[V]):
    """Results of pure functions of a node's name and labels, one table per compiled constraint.

    Pods of one workload share their node affinity, and a node's labels rarely change, so a result stays
    valid while the node's labels are the same object; the oldest constraint's table goes beyond `limit`.
    """

    def __init__(self, limit: int = 32) -> None:
        self.limit = limit
        self._tables: dict[Hashable, NodeMatches[V]] = {}

    def lookup(self, key: Hashable, compute: NodeFunction[V]) -> NodeFunction[V]:
        """`compute` for one constraint, remembered per node."""
        table = self._tables.get(key)
        if table is None:
            if len(self._tables) >= self.limit:
                del self._tables[next(iter(self._tables))]
            table = self._tables[key] = {}

        def cached(name: str, node_labels: Mapping[str, str]) -> V:
            hit = table.get(name)
            if hit is None or hit[0] is not node_labels:
                hit = table[name] = (node_labels, compute(name, node_labels))
            return hit[1]

        return cached
