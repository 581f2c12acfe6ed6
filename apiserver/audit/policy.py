"""audit.k8s.io/v1 Policy: the first rule matching a request gives its level and the stages to leave out.

Matching follows Kubernetes' policy checker: users, userGroups and verbs narrow any rule; resources and
namespaces only match resource requests, nonResourceURLs only the others; a request no rule matches is not
recorded (level None).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from apiserver.authz.attributes import Attributes

LEVELS = ("None", "Metadata", "Request", "RequestResponse")
STAGES = frozenset({"RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"})
API_VERSIONS = frozenset({"audit.k8s.io/v1", "audit.k8s.io/v1beta1"})


class PolicyError(ValueError):
    """The policy file is unusable; the message names the field."""


@dataclass(frozen=True)
class GroupResources:
    """Resources of one API group (`""` is core), optionally only some names."""

    group: str = ""
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()

    def matches(self, attrs: Attributes) -> bool:
        if attrs.api_group != self.group:
            return False
        if not self.resources:
            return True
        if self.resource_names and attrs.name not in self.resource_names:
            return False
        combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
        for res in self.resources:
            if res in (combined, "*"):
                return True
            if attrs.subresource and res.startswith("*/") and res[2:] == attrs.subresource:
                return True
            if res.endswith("/*") and res[:-2] == attrs.resource:
                return True
        return False


@dataclass(frozen=True)
class Rule:
    """One policy rule."""

    level: str
    users: tuple[str, ...] = ()
    user_groups: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()
    resources: tuple[GroupResources, ...] = ()
    namespaces: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()
    omit_stages: frozenset[str] = frozenset()

    def matches(self, attrs: Attributes) -> bool:
        """Whether this rule covers the request."""
        if self.users and attrs.user.name not in self.users:
            return False
        if self.user_groups and not set(self.user_groups) & set(attrs.user.groups):
            return False
        if self.verbs and attrs.verb not in self.verbs:
            return False
        if self.resources or self.namespaces:
            if not attrs.resource_request:
                return False
            if self.namespaces and attrs.namespace not in self.namespaces:
                return False
            return not self.resources or any(gr.matches(attrs) for gr in self.resources)
        if self.non_resource_urls:
            if attrs.resource_request:
                return False
            return any(_url_matches(pattern, attrs.path) for pattern in self.non_resource_urls)
        return True


def _url_matches(pattern: str, path: str) -> bool:
    return pattern == path or (pattern.endswith("*") and path.startswith(pattern[:-1]))


@dataclass(frozen=True)
class Decision:
    """What to record of one request."""

    level: str
    omit_stages: frozenset[str] = frozenset()

    def at_least(self, level: str) -> bool:
        """Whether the decided level includes `level`'s detail."""
        return LEVELS.index(self.level) >= LEVELS.index(level)


@dataclass(frozen=True)
class Policy:
    """Rules in order, plus stages every event leaves out."""

    rules: tuple[Rule, ...]
    omit_stages: frozenset[str] = field(default_factory=frozenset)

    def evaluate(self, attrs: Attributes) -> Decision:
        """The first matching rule's decision, or None."""
        for rule in self.rules:
            if rule.matches(attrs):
                return Decision(rule.level, self.omit_stages | rule.omit_stages)
        return Decision("None", self.omit_stages)


def _strings(where: str, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{where}: must be a list of strings")
    return tuple(value)


def _stages(where: str, value: object) -> frozenset[str]:
    stages = _strings(where, value)
    unknown = sorted(set(stages) - STAGES)
    if unknown:
        raise PolicyError(f"{where}: unknown stage {unknown[0]!r}")
    return frozenset(stages)


def _group_resources(where: str, value: object) -> tuple[GroupResources, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise PolicyError(f"{where}: must be a list")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise PolicyError(f"{where}[{i}]: must be an object")
        out.append(
            GroupResources(
                str(item.get("group") or ""),
                _strings(f"{where}[{i}].resources", item.get("resources")),
                _strings(f"{where}[{i}].resourceNames", item.get("resourceNames")),
            )
        )
    return tuple(out)


def _rule(where: str, item: object) -> Rule:
    if not isinstance(item, dict):
        raise PolicyError(f"{where}: must be an object")
    level = item.get("level")
    if level not in LEVELS:
        raise PolicyError(f"{where}.level: {level!r} is not one of {', '.join(LEVELS)}")
    rule = Rule(
        str(level),
        _strings(f"{where}.users", item.get("users")),
        _strings(f"{where}.userGroups", item.get("userGroups")),
        _strings(f"{where}.verbs", item.get("verbs")),
        _group_resources(f"{where}.resources", item.get("resources")),
        _strings(f"{where}.namespaces", item.get("namespaces")),
        _strings(f"{where}.nonResourceURLs", item.get("nonResourceURLs")),
        _stages(f"{where}.omitStages", item.get("omitStages")),
    )
    if rule.non_resource_urls and (rule.resources or rule.namespaces):
        raise PolicyError(f"{where}: rules can apply to API resources or non-resource URLs, but not both")
    return rule


def parse(doc: object) -> Policy:
    """A Policy from a parsed audit.k8s.io/v1 Policy document."""
    if not isinstance(doc, dict) or doc.get("kind") != "Policy":
        raise PolicyError("kind: must be Policy")
    if doc.get("apiVersion") not in API_VERSIONS:
        raise PolicyError(f"apiVersion: {doc.get('apiVersion')!r} is not audit.k8s.io/v1")
    rules: Sequence[object] = doc.get("rules") or []
    if not isinstance(rules, list):
        raise PolicyError("rules: must be a list")
    return Policy(
        tuple(_rule(f"rules[{i}]", r) for i, r in enumerate(rules)), _stages("omitStages", doc.get("omitStages"))
    )


def load(path: Path) -> Policy:
    """--audit-policy-file, parsed; PolicyError saying what is wrong."""
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise PolicyError(f"cannot read {path}: {err}") from None
    return parse(doc)
