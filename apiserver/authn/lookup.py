"""Existence checks for the objects credentials are tied to, answered from the watch cache.

A token bound to a pod is checked on every request, so the check must cost a dict lookup: the watch
cache answers, and the store is read only when the cache lacks the object or holds another uid (the
cache may lag a write by a moment; the store is the truth).
"""

from __future__ import annotations

from typing import Protocol

from api.schema import JSON
from apiserver.registry import Registry
from apiserver.watch_cache import WatchCaches


def _key(plural: str, namespace: str | None, name: str) -> str:
    # Core-group layout (ARCHITECTURE §10): /registry/<resource>/[<namespace>/]<name>.
    return f"/registry/{plural}/{namespace}/{name}" if namespace else f"/registry/{plural}/{name}"


class ObjectGetter(Protocol):
    """What authenticators need to know about objects: does this one exist (with this uid)?"""

    async def get(self, plural: str, namespace: str | None, name: str, uid: str = "") -> dict[str, JSON] | None:
        """The object, if it exists (and has `uid`, when one is given)."""
        ...


class ObjectLookup:
    """Reads core objects by name, cache first."""

    def __init__(self, caches: WatchCaches, registry: Registry) -> None:
        self.caches = caches
        self.registry = registry

    async def get(self, plural: str, namespace: str | None, name: str, uid: str = "") -> dict[str, JSON] | None:
        """The object, if it exists (and has `uid`, when one is given)."""
        key = _key(plural, namespace, name)
        cache = self.caches.caches.get(f"/registry/{plural}/")
        if cache is not None and cache.ready.is_set():
            obj = cache.state.get(key.encode())
            if obj is not None and (not uid or _uid(obj) == uid):
                return obj
        obj = await self.registry.get(key)
        if obj is None or (uid and _uid(obj) != uid):
            return None
        return obj


def _uid(obj: dict[str, JSON]) -> str:
    meta = obj.get("metadata")
    return str(meta.get("uid", "")) if isinstance(meta, dict) else ""
