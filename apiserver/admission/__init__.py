"""Admission: the built-in plugins every write passes, mutating first, then (after the object's own validation)
validating, in kube-apiserver's order. A plugin's refusal is a Status; nothing refused reaches the store.

Plugins on by default, as in kube-apiserver: NamespaceLifecycle, LimitRanger, ServiceAccount, Priority,
DefaultTolerationSeconds, DefaultStorageClass, ResourceQuota. NodeRestriction is enabled with
`--enable-admission-plugins=NodeRestriction` (as kubeadm does).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from apiserver.admission.lifecycle import IMMORTAL_NAMESPACES, NamespaceLifecycle
from apiserver.admission.limitranger import LimitRanger
from apiserver.admission.lookup import Lookup
from apiserver.admission.noderestriction import NodeRestriction
from apiserver.admission.priority import Priority
from apiserver.admission.request import CREATE, DELETE, UPDATE, Charges, Request
from apiserver.admission.resourcequota import ResourceQuota
from apiserver.admission.serviceaccount import ServiceAccount
from apiserver.admission.storageclass import DefaultStorageClass
from apiserver.admission.tolerations import DefaultTolerationSeconds
from apiserver.registry import Registry
from apiserver.watch_cache import WatchCaches

__all__ = ["CREATE", "DEFAULT_PLUGINS", "DELETE", "IMMORTAL_NAMESPACES", "UPDATE", "Admission", "Charges", "Request"]

ORDER = (
    "NamespaceLifecycle",
    "LimitRanger",
    "ServiceAccount",
    "NodeRestriction",
    "Priority",
    "DefaultTolerationSeconds",
    "DefaultStorageClass",
    "ResourceQuota",
)
"""Every plugin we have, in kube-apiserver's plugin order."""
DEFAULT_PLUGINS = tuple(p for p in ORDER if p != "NodeRestriction")


@runtime_checkable
class Mutating(Protocol):
    """A plugin that may change the object."""

    async def mutate(self, req: Request) -> None: ...


@runtime_checkable
class Validating(Protocol):
    """A plugin that only accepts or refuses."""

    async def validate(self, req: Request) -> None: ...


def enabled_plugins(enable: Iterable[str] = (), disable: Iterable[str] = ()) -> tuple[str, ...]:
    """The defaults plus `enable` minus `disable`, in plugin order; ValueError naming unknown plugins."""
    enable, disable = list(enable), list(disable)
    unknown = sorted((set(enable) | set(disable)) - set(ORDER))
    if unknown:
        raise ValueError(f"unknown admission plugins: {', '.join(unknown)} (known: {', '.join(ORDER)})")
    chosen = (set(DEFAULT_PLUGINS) | set(enable)) - set(disable)
    return tuple(p for p in ORDER if p in chosen)


class Admission:
    """The enabled plugins of one apiserver (names from `enabled_plugins`)."""

    def __init__(self, registry: Registry, caches: WatchCaches, enabled: Iterable[str] = DEFAULT_PLUGINS) -> None:
        names = frozenset(enabled)
        lookup = Lookup(registry, caches)
        everything: dict[str, object] = {
            "NamespaceLifecycle": NamespaceLifecycle(lookup),
            "LimitRanger": LimitRanger(lookup),
            "ServiceAccount": ServiceAccount(lookup),
            "NodeRestriction": NodeRestriction(),
            "Priority": Priority(lookup),
            "DefaultTolerationSeconds": DefaultTolerationSeconds(),
            "DefaultStorageClass": DefaultStorageClass(lookup),
        }
        active = [everything[n] for n in ORDER if n in names and n in everything]
        self.mutating = [p for p in active if isinstance(p, Mutating)]
        self.validating = [p for p in active if isinstance(p, Validating)]
        self.quota = ResourceQuota(lookup, registry) if "ResourceQuota" in names else None

    async def mutate(self, req: Request) -> None:
        """Run the mutating phase (before the object's defaulting and validation)."""
        for plugin in self.mutating:
            await plugin.mutate(req)

    async def validate(self, req: Request) -> Charges:
        """Run the validating phase (after the object's validation); returns the writes that must commit with it."""
        for plugin in self.validating:
            await plugin.validate(req)
        charges = Charges()
        if self.quota is not None:
            await self.quota.validate(req, charges)
        return charges
