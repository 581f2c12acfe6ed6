"""kubectl's rules for resolving a resource argument (``po``, ``deployments.apps``, ``Lease``) among served resources.

Free of ``api`` imports so short-lived CLIs can resolve names from cached discovery without loading the
kind catalog; ``client.mapping`` applies the same rules to the built-in registry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from client.errors import ClientError
from client.refs import ResourceRef


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
