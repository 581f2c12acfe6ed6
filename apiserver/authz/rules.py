"""PolicyRule semantics: does a rule allow an action, and does one set of rules cover another.

Matching is RBAC's: `*` matches any verb, group or resource; `*/scale` any resource's `scale`
subresource; `resourceNames` narrow to those objects; a non-resource URL ending in `*` is a prefix.
`covers` is the escalation check's core: a rule set is broken down into single-verb, single-resource
rules, and each must be allowed by some owner rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from api.schema import JSON
from apiserver.authz.attributes import Attributes

ALL = "*"


@dataclass(frozen=True, slots=True)
class Rule:
    """A PolicyRule with its lists as tuples (hashable, comparable)."""

    verbs: tuple[str, ...] = ()
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, rule: JSON) -> Rule:
        """From a PolicyRule object (missing lists are empty)."""

        def strings(key: str) -> tuple[str, ...]:
            value = rule.get(key) if isinstance(rule, dict) else None
            return tuple(str(v) for v in value) if isinstance(value, list) else ()

        return cls(
            strings("verbs"),
            strings("apiGroups"),
            strings("resources"),
            strings("resourceNames"),
            strings("nonResourceURLs"),
        )

    def to_json(self) -> dict[str, JSON]:
        """As a PolicyRule object, omitting empty lists as kube-apiserver does."""
        out: dict[str, JSON] = {"verbs": list(self.verbs)}
        if self.api_groups:
            out["apiGroups"] = list(self.api_groups)
        if self.resources:
            out["resources"] = list(self.resources)
        if self.resource_names:
            out["resourceNames"] = list(self.resource_names)
        if self.non_resource_urls:
            out["nonResourceURLs"] = list(self.non_resource_urls)
        return out

    def compact_string(self) -> str:
        """Kubernetes' CompactString: `{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}`."""
        fields = (
            ("APIGroups", self.api_groups),
            ("Resources", self.resources),
            ("NonResourceURLs", self.non_resource_urls),
            ("ResourceNames", self.resource_names),
            ("Verbs", self.verbs),
        )
        shown = [f"{label}:[{' '.join(_go_quote(v) for v in values)}]" for label, values in fields if values]
        return "{" + ", ".join(shown) + "}"


def _go_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rules_of(obj: JSON) -> tuple[Rule, ...]:
    """The rules of a Role or ClusterRole object."""
    raw = obj.get("rules") if isinstance(obj, dict) else None
    return tuple(Rule.from_json(r) for r in raw) if isinstance(raw, list) else ()


def _resource_matches(rule: Rule, combined: str, subresource: str) -> bool:
    for r in rule.resources:
        if r in (ALL, combined):
            return True
        if subresource and r == "*/" + subresource:
            return True
    return False


def url_matches(pattern: str, path: str) -> bool:
    """A nonResourceURLs entry against a path: exact, `*`, or a prefix ending in `*`."""
    if pattern in (ALL, path):
        return True
    return pattern.endswith(ALL) and path.startswith(pattern[:-1])


def allows(rule: Rule, attrs: Attributes) -> bool:
    """Whether `rule` grants the action."""
    if not (ALL in rule.verbs or attrs.verb in rule.verbs):
        return False
    if not attrs.resource_request:
        return any(url_matches(p, attrs.path) for p in rule.non_resource_urls)
    if not (ALL in rule.api_groups or attrs.api_group in rule.api_groups):
        return False
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    if not _resource_matches(rule, combined, attrs.subresource):
        return False
    return not rule.resource_names or attrs.name in rule.resource_names


def any_allows(rules: Iterable[Rule], attrs: Attributes) -> bool:
    """Whether some rule grants the action."""
    return any(allows(r, attrs) for r in rules)


def breakdown(rule: Rule) -> list[Rule]:
    """The rule as simple rules: one verb and one group/resource(/name), or one verb and one URL."""
    out: list[Rule] = []
    for group in rule.api_groups:
        for resource in rule.resources:
            for verb in rule.verbs:
                if rule.resource_names:
                    out.extend(Rule((verb,), (group,), (resource,), (n,)) for n in rule.resource_names)
                else:
                    out.append(Rule((verb,), (group,), (resource,)))
    for url in rule.non_resource_urls:
        out.extend(Rule((verb,), non_resource_urls=(url,)) for verb in rule.verbs)
    return out


def _resources_cover(owner: Sequence[str], wanted: Sequence[str]) -> bool:
    if ALL in owner:
        return True
    for r in wanted:
        if r in owner:
            continue
        _, slash, sub = r.partition("/")
        if not (slash and "*/" + sub in owner):
            return False
    return True


def _urls_cover(owner: Sequence[str], wanted: Sequence[str]) -> bool:
    return all(any(url_matches(o, w) for o in owner) for w in wanted)


def rule_covers(owner: Rule, sub: Rule) -> bool:
    """Whether `owner` grants everything the simple rule `sub` does (Kubernetes' ruleCovers)."""
    if not (ALL in owner.verbs or set(sub.verbs) <= set(owner.verbs)):
        return False
    if not (ALL in owner.api_groups or set(sub.api_groups) <= set(owner.api_groups)):
        return False
    if not _resources_cover(owner.resources, sub.resources):
        return False
    if not _urls_cover(owner.non_resource_urls, sub.non_resource_urls):
        return False
    if not sub.resource_names:
        return not owner.resource_names
    return not owner.resource_names or set(sub.resource_names) <= set(owner.resource_names)


def missing(owner: Sequence[Rule], wanted: Iterable[Rule]) -> list[Rule]:
    """The simple rules of `wanted` that no rule of `owner` covers (empty: no escalation)."""
    out: list[Rule] = []
    for rule in wanted:
        for simple in breakdown(rule):
            if not any(rule_covers(o, simple) for o in owner) and simple not in out:
                out.append(simple)
    return out


def compact(simple: Iterable[Rule]) -> list[Rule]:
    """Simple resource rules that differ only in verb merged into one (Kubernetes' CompactRules)."""
    merged: dict[Rule, list[str]] = {}
    urls: list[Rule] = []
    for r in simple:
        if r.non_resource_urls:
            urls.append(r)
            continue
        key = Rule((), r.api_groups, r.resources, r.resource_names, r.non_resource_urls)
        verbs = merged.setdefault(key, [])
        verbs.extend(v for v in r.verbs if v not in verbs)
    resource_rules = [Rule(tuple(verbs), k.api_groups, k.resources, k.resource_names) for k, verbs in merged.items()]
    return resource_rules + urls
