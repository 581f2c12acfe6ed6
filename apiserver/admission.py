"""Admission: the built-in plugins that run on every create, after decoding and before validation.

- NamespaceLifecycle: no new objects in a missing or terminating namespace.
- ServiceAccount: pods run as `default` unless they name an account.
- DefaultTolerationSeconds: pods tolerate not-ready/unreachable nodes for 300 s.
- Priority: `priorityClassName` resolved to `priority` (the global default class, or 0).
"""

from __future__ import annotations

from api import status, strategy
from api.schema import JSON, Resource
from apiserver.errors import APIError
from apiserver.registry import Registry
from apiserver.watch_cache import WatchCaches

DEFAULT_PLUGINS = ("NamespaceLifecycle", "ServiceAccount", "DefaultTolerationSeconds", "Priority")
KNOWN_PLUGINS = frozenset(DEFAULT_PLUGINS)
IMMORTAL_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})
PRIORITY_PREFIX = "/registry/scheduling.k8s.io/priorityclasses/"


class Admission:
    """The enabled plugins, in kube-apiserver's order."""

    def __init__(self, registry: Registry, caches: WatchCaches, enabled: tuple[str, ...] = DEFAULT_PLUGINS) -> None:
        unknown = set(enabled) - KNOWN_PLUGINS
        if unknown:
            raise ValueError(f"unknown admission plugins: {', '.join(sorted(unknown))}")
        self.registry = registry
        self.caches = caches
        self.enabled = frozenset(enabled)

    async def _lookup(self, prefix: str, name: str) -> JSON | None:
        """An object from the watch cache (no store round trip per create), or from the store when the cache
        has not seen it yet: it may have been created a moment ago through another apiserver."""
        cache = self.caches.get(prefix)
        if cache.ready.is_set():
            obj = cache.state.get((prefix + name).encode())
            if obj is not None:
                return obj
        return await self.registry.get(prefix + name)

    async def admit_create(self, res: Resource, obj: dict[str, JSON], namespace: str | None) -> None:
        """Mutate and check a new object; raises the plugin's Status."""
        if "NamespaceLifecycle" in self.enabled and res.namespaced and namespace:
            await self._namespace_open(namespace)
        if (res.group, res.kind) != ("", "Pod"):
            return
        spec = obj.setdefault("spec", {})
        assert isinstance(spec, dict)
        if "ServiceAccount" in self.enabled and not spec.get("serviceAccountName"):
            spec["serviceAccountName"] = spec.get("serviceAccount") or "default"
        if "DefaultTolerationSeconds" in self.enabled:
            strategy.add_default_tolerations(obj)
        if "Priority" in self.enabled:
            await self._priority(spec)

    async def _namespace_open(self, namespace: str) -> None:
        ns = await self._lookup("/registry/namespaces/", namespace)
        if ns is None:
            raise APIError(status.not_found("namespaces", "", namespace))
        if (ns.get("metadata") or {}).get("deletionTimestamp"):
            raise APIError(
                status.failure(
                    "Forbidden",
                    f"unable to create new content in namespace {namespace} because it is being terminated",
                    {
                        "name": namespace,
                        "kind": "namespaces",
                        "causes": [
                            {
                                "reason": "NamespaceTerminating",
                                "message": f"namespace {namespace} is being terminated",
                                "field": "metadata.namespace",
                            }
                        ],
                    },
                )
            )

    async def _priority(self, spec: dict[str, JSON]) -> None:
        name = spec.get("priorityClassName")
        if name:
            pc = await self._lookup(PRIORITY_PREFIX, str(name))
            if pc is None:
                raise APIError(
                    status.failure("Forbidden", f'pods "" is forbidden: no PriorityClass with name {name} was found')
                )
        else:
            cache = self.caches.get(PRIORITY_PREFIX)
            if cache.ready.is_set():
                defaults, _ = cache.snapshot(lambda o: bool(o.get("globalDefault")))
            else:
                defaults = (
                    await self.registry.list(PRIORITY_PREFIX, keep=lambda o: bool(o.get("globalDefault")))
                ).items
            pc = defaults[0] if defaults else None
            if pc is not None:
                spec["priorityClassName"] = (pc.get("metadata") or {}).get("name", "")
        if pc is None:
            spec.setdefault("priority", 0)
            return
        spec["priority"] = pc.get("value", 0)
        if pc.get("preemptionPolicy") and not spec.get("preemptionPolicy"):
            spec["preemptionPolicy"] = pc["preemptionPolicy"]
