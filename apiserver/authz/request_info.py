"""Request attributes from the HTTP request alone, parsed as kube-apiserver's RequestInfoFactory does.

The path decides everything (no lookup of the resource's scope): `/api/v1/namespaces/x/pods/y/log` is a
`get` of `pods/log` named `y` in namespace `x`; `/api/v1/namespaces/x` is a `get` of namespace `x` *in*
namespace `x` (so namespaced Roles can grant reading one's own namespace). A list or watch with
`fieldSelector=metadata.name=N` is authorized as a request for the object `N`.
"""

from __future__ import annotations

from collections.abc import Mapping

from apiserver.auth import User
from apiserver.authz.attributes import Attributes

API_PREFIXES = frozenset({"api", "apis"})
METHOD_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
SPECIAL_VERBS = frozenset({"proxy", "watch"})
NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
TRUE_VALUES = frozenset({"1", "t", "T", "true", "TRUE", "True"})


def exact_match(field_selector: str, name: str) -> str | None:
    """The value `field_selector` requires for field `name` (`a=b` or `a==b`), or None."""
    for raw in field_selector.split(","):
        term = raw.strip()
        for op in ("==", "="):
            key, sep, value = term.partition(op)
            if sep and key.strip() == name and not value.startswith("="):
                return value.strip()
    return None


def _valid_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and "%" not in name


def attributes_for(user: User, method: str, path: str, query: Mapping[str, str]) -> Attributes:
    """The attributes of one request."""
    parts = [p for p in path.split("/") if p]
    if len(parts) < 3 or parts[0] not in API_PREFIXES:
        return Attributes(user, method.lower(), path=path, resource_request=False)
    rest = parts[1:]
    group = ""
    if parts[0] == "apis":
        if len(rest) < 3:
            return Attributes(user, method.lower(), path=path, resource_request=False)
        group, rest = rest[0], rest[1:]
    version, rest = rest[0], rest[1:]
    if rest[0] in SPECIAL_VERBS:
        verb, rest = rest[0], rest[1:]
        if not rest:
            return Attributes(user, method.lower(), path=path, resource_request=False)
    else:
        verb = METHOD_VERBS.get(method, "")
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 and verb != "proxy" else ""
    field_selector = query.get("fieldSelector", "")
    if not name and verb == "get":
        verb = "watch" if query.get("watch", "") in TRUE_VALUES else "list"
        selected = exact_match(field_selector, "metadata.name")
        if selected is not None and _valid_name(selected):
            name = selected
    if not name and verb == "delete":
        verb = "deletecollection"
    return Attributes(
        user,
        verb,
        resource=resource,
        api_group=group,
        subresource=subresource,
        namespace=namespace,
        name=name,
        path=path,
        api_version=version,
        field_selector=field_selector,
    )
