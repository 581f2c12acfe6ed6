"""From names kubectl users type (``po``, ``deployments.apps``, ``Lease``) to a ``ResourceRef``.

Built-in resources come from ``api``'s registry, where every kind is declared once, so the
client keeps no table of its own; resources known only at runtime (custom resources) come from
the server's discovery documents (``client.discovery``). Both resolve names by the same rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from api.catalog import REGISTRY
from api.schema import Resource
from client.errors import ClientError
from client.rest import ResourceRef


class UnknownResource(ClientError):
    """No resource matches the name, kind or group/version/resource asked for."""


@dataclass(frozen=True)
class ResourceInfo:
    """What a name resolution needs to know about one served resource."""

    ref: ResourceRef
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()

    def names(self) -> set[str]:
        """Every name kubectl accepts for it: plural, singular, kind (any case) and short names."""
        return {self.ref.resource, self.singular or self.ref.kind.lower(), self.ref.kind.lower(), *self.short_names}


def _info(res: Resource) -> ResourceInfo:
    return ResourceInfo(ResourceRef(res.group, res.version, res.plural, res.namespaced, res.kind),
                        res.singular_name, tuple(res.short_names), tuple(res.categories), tuple(res.verbs),
                        tuple(s.name for s in res.subresources))


def builtin_resources() -> list[ResourceInfo]:
    """Every built-in resource, core group first, each group's preferred version first."""
    return [_info(r) for r in sorted(REGISTRY.resources, key=lambda r: r.group != "")]  # sorted() is stable


def resolve(name: str, resources: Iterable[ResourceInfo]) -> ResourceRef:
    """kubectl's resolution of a resource argument among ``resources`` (in priority order): plural,
    singular, short name or kind, optionally qualified as ``deployments.apps`` or ``deployments.v1.apps``."""
    base, _, qualifier = name.partition(".")
    version: str | None = None
    group: str | None = None
    if qualifier:
        first, _, rest = qualifier.partition(".")
        if rest and first.startswith("v") and first[1:2].isdigit():
            version, group = first, rest
        else:
            group = qualifier
    lowered = base.lower()
    for info in resources:
        if group is not None and info.ref.group != group:
            continue
        if version is not None and info.ref.version != version:
            continue
        if lowered in info.names():
            return info.ref
    raise UnknownResource(f'the server doesn\'t have a resource type "{name}"')


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
