"""The 403 Status of a denied request, worded as kube-apiserver words it (kubectl prints the message)."""

from __future__ import annotations

from api import status
from api.schema import JSON
from apiserver.authz.attributes import Attributes


def forbidden(attrs: Attributes, reason: str = "") -> dict[str, JSON]:
    """`pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the namespace "default"`."""
    user = attrs.user.name
    if not attrs.resource_request:
        text = f'User "{user}" cannot {attrs.verb} path "{attrs.path}"'
        return status.failure("Forbidden", f"forbidden: {text}" + (f": {reason}" if reason else ""))
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    scope = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    text = f'User "{user}" cannot {attrs.verb} resource "{resource}" in API group "{attrs.api_group}" {scope}'
    if reason:
        text += f": {reason}"
    what = status.qualified_resource(attrs.resource, attrs.api_group) + (f' "{attrs.name}"' if attrs.name else "")
    details: dict[str, JSON] = {"name": attrs.name, "kind": attrs.resource}
    if attrs.api_group:
        details["group"] = attrs.api_group
    return status.failure("Forbidden", f"{what} is forbidden: {text}", details)
