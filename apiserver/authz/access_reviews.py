"""authorization.k8s.io reviews answered by the configured authorizer: SubjectAccessReview,
SelfSubjectAccessReview, LocalSubjectAccessReview and SelfSubjectRulesReview (what `kubectl auth can-i`
and `can-i --list` ask).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from api import status
from api.errors import invalid
from api.schema import JSON
from apiserver.auth import User
from apiserver.authz.attributes import MASTERS_GROUP, Attributes, Authorizer, Outcome
from apiserver.authz.rules import Rule
from apiserver.errors import APIError

ACCESS_REVIEWS = frozenset({"SubjectAccessReview", "SelfSubjectAccessReview", "LocalSubjectAccessReview"})
RULES_REVIEW = "SelfSubjectRulesReview"
GROUP = "authorization.k8s.io"
RulesFor = Callable[[User, str], list[Rule]]


def _strings(value: JSON) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _invalid(kind: str, path: str, value: JSON, detail: str) -> APIError:
    return APIError(status.invalid(kind, GROUP, "", [invalid(path, value, detail)]))


def review_attributes(kind: str, user: User, spec: dict[str, JSON]) -> Attributes:
    """The attributes a review's spec asks about; 422 unless it names exactly one of a resource or a path."""
    res, non = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if isinstance(res, dict) and isinstance(non, dict):
        detail = "cannot be specified in combination with resourceAttributes"
        raise _invalid(kind, "spec.nonResourceAttributes", non, detail)
    if isinstance(res, dict):
        return Attributes(
            user,
            str(res.get("verb", "")),
            resource=str(res.get("resource", "")),
            api_group=str(res.get("group", "")),
            subresource=str(res.get("subresource", "")),
            namespace=str(res.get("namespace", "")),
            name=str(res.get("name", "")),
            api_version=str(res.get("version", "")),
            field_selector=str((res.get("fieldSelector") or {}).get("rawSelector", "")),
        )
    if isinstance(non, dict):
        return Attributes(user, str(non.get("verb", "")), path=str(non.get("path", "")), resource_request=False)
    detail = "exactly one of nonResourceAttributes or resourceAttributes must be specified"
    raise _invalid(kind, "spec.resourceAttributes", None, detail)


class AccessReviews:
    """Fills in the status of access and rules reviews."""

    def __init__(self, authorizer: Authorizer, rules_for: RulesFor | None, modes: Sequence[str]) -> None:
        self.authorizer = authorizer
        self.rules_for = rules_for
        """RBAC's rule resolver, when RBAC is a mode."""
        self.modes = tuple(modes)

    def access(self, kind: str, spec: dict[str, JSON], caller: User, namespace: str | None) -> dict[str, JSON]:
        """The status of a (Self|Local)SubjectAccessReview."""
        if kind == "SelfSubjectAccessReview":
            user = caller
        else:
            extra = spec.get("extra")
            user = User(
                str(spec.get("user", "")),
                str(spec.get("uid", "")),
                _strings(spec.get("groups")),
                {str(k): _strings(v) for k, v in extra.items()} if isinstance(extra, dict) else {},
            )
            if not user.name and not user.groups:
                raise _invalid(kind, "spec.user", "", "at least one of user or group must be specified")
        attrs = review_attributes(kind, user, spec)
        if kind == "LocalSubjectAccessReview":
            if not attrs.resource_request:
                non = spec.get("nonResourceAttributes")
                raise _invalid(kind, "spec.nonResourceAttributes", non, "disallowed on this kind of request")
            if attrs.namespace and attrs.namespace != namespace:
                detail = "must match metadata.namespace"
                raise _invalid(kind, "spec.resourceAttributes.namespace", attrs.namespace, detail)
            attrs = attrs._replace(namespace=namespace or "")
        decision = self.authorizer.authorize(attrs)
        out: dict[str, JSON] = {"allowed": decision.allowed}
        if decision.outcome is Outcome.DENY:
            out["denied"] = True
        if decision.reason:
            out["reason"] = decision.reason
        return out

    def rules(self, spec: dict[str, JSON], caller: User) -> dict[str, JSON]:
        """The status of a SelfSubjectRulesReview for the caller in spec.namespace."""
        namespace = str(spec.get("namespace", ""))
        everything = "AlwaysAllow" in self.modes or MASTERS_GROUP in caller.groups
        rules: list[Rule] = [Rule(("*",), ("*",), ("*",)), Rule(("*",), non_resource_urls=("*",))] if everything else []
        if self.rules_for is not None:
            rules += self.rules_for(caller, namespace)
        resource_rules: list[JSON] = []
        url_rules: list[JSON] = []
        for r in rules:
            if r.non_resource_urls:
                url_rules.append({"verbs": list(r.verbs), "nonResourceURLs": list(r.non_resource_urls)})
            else:
                entry: dict[str, JSON] = {
                    "verbs": list(r.verbs),
                    "apiGroups": list(r.api_groups),
                    "resources": list(r.resources),
                }
                if r.resource_names:
                    entry["resourceNames"] = list(r.resource_names)
                resource_rules.append(entry)
        out: dict[str, JSON] = {"resourceRules": resource_rules, "nonResourceRules": url_rules, "incomplete": False}
        if "Node" in self.modes and caller.name.startswith("system:node:") and not everything:
            out["incomplete"] = True
            out["evaluationError"] = "node authorizer does not support user rule resolution"
        return out
