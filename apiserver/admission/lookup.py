"""Reads admission plugins make: from the watch cache when it is ready (no store round trip per request),
from the store otherwise or when the answer must be current."""

from __future__ import annotations

from collections.abc import Callable

from api.schema import JSON
from apiserver.registry import Registry
from apiserver.watch_cache import WatchCaches

NAMESPACES = "/registry/namespaces/"
SERVICE_ACCOUNTS = "/registry/serviceaccounts/"
PRIORITY_CLASSES = "/registry/scheduling.k8s.io/priorityclasses/"
STORAGE_CLASSES = "/registry/storage.k8s.io/storageclasses/"
LIMIT_RANGES = "/registry/limitranges/"
RESOURCE_QUOTAS = "/registry/resourcequotas/"


class Lookup:
    """Objects by store prefix (a resource's prefix ending in `/`) and name."""

    def __init__(self, registry: Registry, caches: WatchCaches) -> None:
        self.registry = registry
        self.caches = caches

    async def get(self, prefix: str, name: str) -> dict[str, JSON] | None:
        """One object; a cache miss asks the store, since it may have been created a moment ago through
        another apiserver."""
        cache = self.caches.get(prefix)
        if cache.ready.is_set():
            obj = cache.state.get((prefix + name).encode())
            if obj is not None:
                return obj
        return await self.registry.get(prefix + name)

    async def select(
        self, prefix: str, namespace: str = "", keep: Callable[[dict[str, JSON]], bool] | None = None
    ) -> list[dict[str, JSON]]:
        """Objects under `prefix` (in `namespace` if given) that `keep` accepts."""
        cache = self.caches.get(prefix)
        if cache.ready.is_set():
            start = f"{prefix}{namespace}/".encode() if namespace else prefix.encode()
            return [o for k, o in sorted(cache.state.items()) if k.startswith(start) and (keep is None or keep(o))]
        return await self.current(prefix, namespace, keep)

    async def current(
        self, prefix: str, namespace: str = "", keep: Callable[[dict[str, JSON]], bool] | None = None
    ) -> list[dict[str, JSON]]:
        """Like `select`, but read from the store (objects and resourceVersions as of now)."""
        return (await self.registry.list(f"{prefix}{namespace}/" if namespace else prefix, keep=keep)).items
