"""NamespaceLifecycle: nothing new in a missing or terminating namespace; the system namespaces stay."""

from __future__ import annotations

from api import status
from apiserver.admission.lookup import NAMESPACES, Lookup
from apiserver.admission.request import CREATE, DELETE, Request
from apiserver.errors import APIError

IMMORTAL_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})
REVIEWS = frozenset({"authentication.k8s.io", "authorization.k8s.io"})
"""Reviews are never stored, so they are admitted in any namespace (as in Kubernetes)."""


class NamespaceLifecycle:
    """Creates need an active namespace; deleting default, kube-system or kube-public is refused."""

    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup

    async def validate(self, req: Request) -> None:
        """Refuse creates in missing or terminating namespaces, and deletes of immortal namespaces."""
        if req.operation == DELETE and req.is_kind("", "Namespace") and req.name in IMMORTAL_NAMESPACES:
            raise req.forbidden("this namespace may not be deleted")
        if req.operation != CREATE or not req.resource.namespaced or not req.namespace:
            return
        if req.resource.group in REVIEWS:
            return
        ns = await self.lookup.get(NAMESPACES, req.namespace)
        if ns is None:
            raise APIError(status.not_found("namespaces", "", req.namespace))
        if (ns.get("metadata") or {}).get("deletionTimestamp"):
            raise APIError(
                status.failure(
                    "Forbidden",
                    f"unable to create new content in namespace {req.namespace} because it is being terminated",
                    {
                        "name": req.namespace,
                        "kind": "namespaces",
                        "causes": [
                            {
                                "reason": "NamespaceTerminating",
                                "message": f"namespace {req.namespace} is being terminated",
                                "field": "metadata.namespace",
                            }
                        ],
                    },
                )
            )
