"""The informer's local cache: objects by ``namespace/name`` key, with secondary indexes.

Controllers read from here instead of the apiserver ("list pods on node X" is ``by_index``), so
reads are free and consistent with the events they were told about. One event loop owns it:
no locks, and objects handed out are the cached ones (treat them as read-only; copy to modify).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]
IndexFunc = Callable[[Obj], list[str]]
NAMESPACE_INDEX = "namespace"


@dataclass(frozen=True)
class DeletedFinalStateUnknown:
    """Handed to ``on_delete`` when a relist showed an object gone whose DELETED event was missed.

    ``obj`` is the last state the cache knew, which may be stale.
    """

    key: str
    obj: Obj


def meta_namespace_key(obj: Obj | DeletedFinalStateUnknown) -> str:
    """``namespace/name``, or ``name`` for cluster-scoped objects (client-go's ``MetaNamespaceKeyFunc``)."""
    if isinstance(obj, DeletedFinalStateUnknown):
        return obj.key
    meta = obj.get("metadata") or {}
    name = meta.get("name")
    if not name:
        raise KeyError("object has no metadata.name")
    namespace = meta.get("namespace")
    return f"{namespace}/{name}" if namespace else str(name)


def split_key(key: str) -> tuple[str | None, str]:
    """The (namespace, name) of a cache key; namespace None for cluster-scoped objects."""
    namespace, sep, name = key.partition("/")
    return (namespace, name) if sep else (None, key)


def namespace_index(obj: Obj) -> list[str]:
    """Index objects by their namespace (cluster-scoped objects are not indexed)."""
    namespace = (obj.get("metadata") or {}).get("namespace")
    return [namespace] if namespace else []


class Indexer:
    """A keyed object store with named indexes kept up to date on every write."""

    def __init__(self, key_func: Callable[[Obj], str] = meta_namespace_key,
                 indexers: dict[str, IndexFunc] | None = None) -> None:
        self._key_func = key_func
        self._items: dict[str, Obj] = {}
        self._indexers: dict[str, IndexFunc] = {NAMESPACE_INDEX: namespace_index} if indexers is None \
            else dict(indexers)
        self._indices: dict[str, dict[str, set[str]]] = {name: {} for name in self._indexers}
        self._values: dict[str, dict[str, list[str]]] = {name: {} for name in self._indexers}  # key -> values

    def key(self, obj: Obj) -> str:
        return self._key_func(obj)

    def has_index(self, name: str) -> bool:
        return name in self._indexers

    def add_indexers(self, indexers: dict[str, IndexFunc]) -> None:
        """Add indexes (existing objects are indexed at once); a name already in use is an error."""
        clash = set(indexers) & set(self._indexers)
        if clash:
            raise ValueError(f"indexer(s) already registered: {', '.join(sorted(clash))}")
        for name, func in indexers.items():
            self._indexers[name] = func
            self._indices[name] = {}
            self._values[name] = {}
            for key, obj in self._items.items():
                self._index_one(name, key, obj)

    # --- writes -------------------------------------------------------------------------------

    def add(self, obj: Obj) -> None:
        """Insert or replace ``obj`` under its key (the same as ``update``)."""
        self.update(obj)

    def update(self, obj: Obj) -> None:
        """Insert or replace ``obj``, moving it between index values as its fields changed."""
        key = self._key_func(obj)
        if key in self._items:
            self._unindex(key)
        self._items[key] = obj
        for name in self._indexers:
            self._index_one(name, key, obj)

    def delete(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        """Remove the object with ``obj``'s key (a tombstone's key works too); absent is not an error."""
        self.delete_key(meta_namespace_key(obj) if isinstance(obj, DeletedFinalStateUnknown) else self._key_func(obj))

    def delete_key(self, key: str) -> Obj | None:
        """Remove by key; returns what was stored (None if nothing)."""
        if key not in self._items:
            return None
        self._unindex(key)
        return self._items.pop(key)

    def replace(self, objs: Iterable[Obj]) -> None:
        """Make the store hold exactly ``objs``."""
        self._items.clear()
        for name in self._indexers:
            self._indices[name] = {}
            self._values[name] = {}
        for obj in objs:
            self.update(obj)

    def _index_one(self, name: str, key: str, obj: Obj) -> None:
        values = list(dict.fromkeys(self._indexers[name](obj)))
        self._values[name][key] = values
        index = self._indices[name]
        for value in values:
            index.setdefault(value, set()).add(key)

    def _unindex(self, key: str) -> None:
        for name in self._indexers:
            index = self._indices[name]
            for value in self._values[name].pop(key, []):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]

    # --- reads --------------------------------------------------------------------------------

    def get(self, obj: Obj) -> Obj | None:
        return self._items.get(self._key_func(obj))

    def get_by_key(self, key: str) -> Obj | None:
        return self._items.get(key)

    def get_by_name(self, namespace: str | None, name: str) -> Obj | None:
        """The cached object ``namespace/name`` (namespace None for cluster-scoped), or None."""
        return self._items.get(f"{namespace}/{name}" if namespace else name)

    def list(self) -> builtins.list[Obj]:
        return list(self._items.values())

    def list_keys(self) -> builtins.list[str]:
        return list(self._items)

    def items(self) -> builtins.list[tuple[str, Obj]]:
        return list(self._items.items())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def by_index(self, name: str, value: str) -> builtins.list[Obj]:
        """Objects whose index ``name`` includes ``value`` (e.g. ``by_index("namespace", "default")``)."""
        return [self._items[k] for k in sorted(self._index(name).get(value, ()))]

    def index_keys(self, name: str, value: str) -> builtins.list[str]:
        return sorted(self._index(name).get(value, ()))

    def list_index_values(self, name: str) -> builtins.list[str]:
        return sorted(self._index(name))

    def index(self, name: str, obj: Obj) -> builtins.list[Obj]:
        """Objects sharing any value of index ``name`` with ``obj``."""
        keys: set[str] = set()
        for value in self._indexer(name)(obj):
            keys |= self._index(name).get(value, set())
        return [self._items[k] for k in sorted(keys)]

    def list_namespace(self, namespace: str) -> builtins.list[Obj]:
        """Objects of one namespace (through the namespace index when present)."""
        if NAMESPACE_INDEX in self._indexers:
            return self.by_index(NAMESPACE_INDEX, namespace)
        return [o for o in self._items.values() if (o.get("metadata") or {}).get("namespace") == namespace]

    def _index(self, name: str) -> dict[str, set[str]]:
        if name not in self._indices:
            raise KeyError(f"no index named {name!r}")
        return self._indices[name]

    def _indexer(self, name: str) -> IndexFunc:
        if name not in self._indexers:
            raise KeyError(f"no index named {name!r}")
        return self._indexers[name]
