"""DefaultStorageClass: a claim that names no class gets the cluster's default StorageClass."""

from __future__ import annotations

from api.schema import JSON
from apiserver.admission.lookup import STORAGE_CLASSES, Lookup
from apiserver.admission.request import CREATE, Request

DEFAULT_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


def is_default(sc: dict[str, JSON]) -> bool:
    """Whether a StorageClass is marked as the default (either annotation, "true")."""
    annotations = (sc.get("metadata") or {}).get("annotations") or {}
    return any(annotations.get(a) == "true" for a in DEFAULT_ANNOTATIONS)


class DefaultStorageClass:
    """Sets `spec.storageClassName` when it is absent (an explicit "" means "no class" and stays)."""

    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup

    async def mutate(self, req: Request) -> None:
        """Default a new PersistentVolumeClaim's class: with several defaults, the newest wins (Kubernetes ≥ 1.28)."""
        if req.operation != CREATE or not req.is_kind("", "PersistentVolumeClaim") or req.obj is None:
            return
        spec = req.obj.setdefault("spec", {})
        if spec.get("storageClassName") is not None:
            return
        defaults = await self.lookup.select(STORAGE_CLASSES, keep=is_default)
        if not defaults:
            return
        by_name = sorted(defaults, key=lambda sc: str((sc.get("metadata") or {}).get("name", "")))
        # max() keeps the first of equals: among classes created in the same second, the first name wins.
        newest = max(by_name, key=lambda sc: str((sc.get("metadata") or {}).get("creationTimestamp") or ""))
        spec["storageClassName"] = (newest.get("metadata") or {}).get("name")
