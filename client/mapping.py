"""From names kubectl users type (``po``, ``deployments.apps``, ``Lease``) to a ``ResourceRef``.

Built-in resources come from ``api``'s registry, where every kind is declared once, so the
client keeps no table of its own; resources known only at runtime (custom resources) come from
the server's discovery documents (``client.discovery``). Both resolve names by the same rules.
"""

from __future__ import annotations

from typing import Any

from api.catalog import REGISTRY
from api.schema import Resource
from client.refs import ResourceRef
from client.resources import ResourceInfo, UnknownResource, resolve

# The resolution rules live in client.resources (no api import, cheap for CLIs); re-exported here.
__all__ = ["ResourceInfo", "UnknownResource", "builtin_resources", "lookup", "ref_for_kind", "ref_for_object",
           "resolve", "resource_ref"]


def _info(res: Resource) -> ResourceInfo:
    return ResourceInfo(ResourceRef(res.group, res.version, res.plural, res.namespaced, res.kind),
                        res.singular_name, tuple(res.short_names), tuple(res.categories), tuple(res.verbs),
                        tuple(s.name for s in res.subresources))


def builtin_resources() -> list[ResourceInfo]:
    """Every built-in resource, core group first, each group's preferred version first."""
    return [_info(r) for r in sorted(REGISTRY.resources, key=lambda r: r.group != "")]  # sorted() is stable


def lookup(name: str) -> ResourceRef:
    """Resolve a built-in resource name (``po``, ``deploy``, ``deployments.apps``, ``Lease``)."""
    return resolve(name, builtin_resources())


def resource_ref(group: str, version: str, resource: str) -> ResourceRef:
    """The ref of a built-in resource by group/version/plural (core group ``""``)."""
    res = REGISTRY.resource(group, version, resource)
    if res is None:
        raise UnknownResource(f"no resource {resource!r} in {group or 'core'}/{version}")
    return _info(res).ref


def ref_for_kind(api_version: str, kind: str) -> ResourceRef:
    """The ref serving objects of ``apiVersion``/``kind`` (as written in a manifest)."""
    res = REGISTRY.resource_for_api_version(api_version, kind)
    if res is None:
        raise UnknownResource(f"no resource serves kind {kind!r} in {api_version}")
    return _info(res).ref


def ref_for_object(obj: dict[str, Any]) -> ResourceRef:
    """The ref an object belongs to, from its own ``apiVersion`` and ``kind``."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not api_version or not kind:
        raise UnknownResource("the object has no apiVersion/kind to map it to a resource")
    return ref_for_kind(str(api_version), str(kind))
