"""Namespace deletion: once a Namespace is Terminating, delete everything in it, then finalize it.

The namespaced resources to clear come from discovery (the driver passes the deletable,
listable namespaced resources it found), so CRDs are cleared like built-ins. Progress is reported
in the Namespace's conditions exactly as kube-controller-manager words them, and the ``kubernetes``
finalizer is removed through the ``finalize`` subresource only when nothing is left.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from client.rest import ResourceRef
from controller_manager import timestamps
from controller_manager.actions import Action, Delete, RequeueAfter, Update, UpdateStatus
from controller_manager.view import NAMESPACES, PODS, Obj, View, meta

FINALIZER: Final = "kubernetes"
CONTENT_REMAINING: Final = "NamespaceContentRemaining"
FINALIZERS_REMAINING: Final = "NamespaceFinalizersRemaining"
DISCOVERY_FAILURE: Final = "NamespaceDeletionDiscoveryFailure"
CONTENT_FAILURE: Final = "NamespaceDeletionContentFailure"
GROUP_VERSION_FAILURE: Final = "NamespaceDeletionGroupVersionParsingFailure"
_CONDITION_ORDER: Final = (DISCOVERY_FAILURE, GROUP_VERSION_FAILURE, CONTENT_FAILURE, CONTENT_REMAINING,
                           FINALIZERS_REMAINING)
_OK_REASON: Final = {DISCOVERY_FAILURE: "ResourcesDiscovered", GROUP_VERSION_FAILURE: "ParsedGroupVersions",
                     CONTENT_FAILURE: "ContentDeleted", CONTENT_REMAINING: "ContentRemoved",
                     FINALIZERS_REMAINING: "ContentHasNoFinalizers"}
_OK_MESSAGE: Final = {DISCOVERY_FAILURE: "All resources successfully discovered",
                      GROUP_VERSION_FAILURE: "All legacy kube types successfully parsed",
                      CONTENT_FAILURE: "All content successfully deleted, may be waiting on finalization",
                      CONTENT_REMAINING: "All content successfully removed",
                      FINALIZERS_REMAINING: "All content-preserving finalizers finished"}


def _resource_label(ref: ResourceRef) -> str:
    return f"{ref.resource}.{ref.group}" if ref.group else ref.resource


def reconcile(view: View, name: str, resources: Sequence[ResourceRef], now: datetime,
              discovery_error: str | None = None) -> list[Action]:
    """One sync of Namespace ``name``; ``resources`` are the namespaced kinds discovery reported."""
    ns = view.get(NAMESPACES, None, name)
    if ns is None or meta(ns).get("deletionTimestamp") is None:
        return []
    if FINALIZER not in ((ns.get("spec") or {}).get("finalizers") or []):
        return []
    actions: list[Action] = []
    remaining: dict[str, int] = {}
    finalizers: dict[str, int] = {}
    pod_wait = 0.0
    for ref in resources:
        for obj in view.list(ref, name):
            remaining[_resource_label(ref)] = remaining.get(_resource_label(ref), 0) + 1
            for f in meta(obj).get("finalizers") or []:
                finalizers[f] = finalizers.get(f, 0) + 1
            deleting = timestamps.parse(meta(obj).get("deletionTimestamp"))
            if deleting is None:
                actions.append(Delete(ref, name, meta(obj)["name"], meta(obj).get("uid"),
                                      propagation_policy="Background"))
            elif ref == PODS:
                pod_wait = max(pod_wait, (deleting - now).total_seconds())
    new_ns = copy.deepcopy(ns)
    status = new_ns.setdefault("status", {})
    status["phase"] = "Terminating"
    messages: dict[str, str | None] = {
        DISCOVERY_FAILURE: f"Discovery failed for some groups: {discovery_error}" if discovery_error else None,
        GROUP_VERSION_FAILURE: None,
        CONTENT_FAILURE: None,
        CONTENT_REMAINING: ("Some resources are remaining: " + ", ".join(
            f"{r} has {n} resource instances" for r, n in sorted(remaining.items()))) if remaining else None,
        FINALIZERS_REMAINING: ("Some content in the namespace has finalizers remaining: " + ", ".join(
            f"{f} in {n} resource instances" for f, n in sorted(finalizers.items()))) if finalizers else None,
    }
    _set_conditions(status, messages, now)
    if status != (ns.get("status") or {}):
        actions.insert(0, UpdateStatus(NAMESPACES, new_ns))
    if remaining or discovery_error:
        actions.append(RequeueAfter(name, max(pod_wait, 1.0)))
        return actions
    # nothing left: finalize from the cached object (its resourceVersion is the one the decision saw);
    # a status write first would only bump that version for a namespace about to vanish
    final = copy.deepcopy(ns)
    final["spec"]["finalizers"] = [f for f in final["spec"]["finalizers"] if f != FINALIZER]
    kept: list[Action] = [a for a in actions if not isinstance(a, UpdateStatus)]
    return [*kept, Update(NAMESPACES, final, subresource="finalize")]


def _set_conditions(status: Obj, messages: dict[str, str | None], now: datetime) -> None:
    current = {c["type"]: c for c in status.get("conditions") or []}
    out = []
    for type_ in _CONDITION_ORDER:
        msg = messages[type_]
        if msg is None:
            want = {"type": type_, "status": "False", "reason": _OK_REASON[type_], "message": _OK_MESSAGE[type_]}
        else:
            reason = {CONTENT_REMAINING: "SomeResourcesRemain", FINALIZERS_REMAINING: "SomeFinalizersRemain",
                      DISCOVERY_FAILURE: "DiscoveryFailed"}.get(type_, "ContentDeletionFailed")
            want = {"type": type_, "status": "True", "reason": reason, "message": msg}
        old = current.get(type_)
        if old is not None and all(old.get(k) == v for k, v in want.items()):
            out.append(old)
        else:
            out.append({**want, "lastTransitionTime": timestamps.format_time(now)})
    status["conditions"] = out
