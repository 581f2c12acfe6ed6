"""Garbage collector: ownerReferences as a graph, and the three deletion propagation policies.

For one object it decides, as upstream's attemptToDelete/processDeletingDependents/orphanDependents do:
- an object whose owners are all gone (or being deleted in the foreground) is deleted, in the
  foreground if it has dependents of its own and an owner waits for it, else as its finalizers say;
  owners missing from the cache are confirmed absent by a live read first (``RequireAbsent``);
- references to vanished owners are pruned from objects that still have a live owner;
- an owner deleted with ``orphan`` has itself removed from its dependents' ownerReferences, then
  the finalizer removed;
- an owner deleted in the ``foregroundDeletion`` mode has its dependents deleted and keeps the
  finalizer until no dependent with blockOwnerDeletion remains.

``kinds`` maps (apiVersion, kind) to the resource serving it: discovery's job, done by the driver.
Dependents are found by scanning the kinds in the owner's namespace (and cluster-scoped ones); the
driver can give the view an owner-uid index to make that cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from client.rest import PatchType, ResourceRef
from controller_manager.actions import Action, Delete, Patch, RequireAbsent
from controller_manager.view import Obj, View, meta

ORPHAN: Final = "orphan"
FOREGROUND: Final = "foregroundDeletion"

Kinds = Mapping[tuple[str, str], ResourceRef]


def _refs(obj: Obj) -> list[Obj]:
    refs: list[Obj] = meta(obj).get("ownerReferences") or []
    return refs


def _owner_of(view: View, kinds: Kinds, obj: Obj, ref: Obj) -> tuple[ResourceRef | None, Obj | None]:
    res = kinds.get((ref.get("apiVersion", ""), ref.get("kind", "")))
    if res is None:
        return None, None
    ns = meta(obj).get("namespace") if res.namespaced else None
    return res, view.get(res, ns, ref.get("name", ""))


def dependents(view: View, kinds: Kinds, owner: Obj) -> list[tuple[ResourceRef, Obj]]:
    """Objects naming ``owner`` (by uid) in their ownerReferences."""
    uid = meta(owner).get("uid")
    ns = meta(owner).get("namespace")
    out = []
    for res in dict.fromkeys(kinds.values()):
        # a cluster-scoped owner may have dependents in every namespace
        scan = view.list(res, ns if res.namespaced else None)
        out += [(res, o) for o in scan if any(r.get("uid") == uid for r in _refs(o))]
    return out


def _finalizers(obj: Obj) -> list[str]:
    found: list[str] = meta(obj).get("finalizers") or []
    return found


def _remove_finalizer(res: ResourceRef, obj: Obj, finalizer: str) -> Patch:
    """Merge patch with the resourceVersion, as upstream: a concurrent finalizer change makes it conflict."""
    m = meta(obj)
    return Patch(res, m.get("namespace"), m["name"], {"metadata": {
        "finalizers": [f for f in _finalizers(obj) if f != finalizer], "resourceVersion": m.get("resourceVersion")}},
        PatchType.MERGE)


def _drop_owner_refs(res: ResourceRef, obj: Obj, uids: list[str]) -> Patch:
    m = meta(obj)
    return Patch(res, m.get("namespace"), m["name"], {"metadata": {
        "ownerReferences": [{"$patch": "delete", "uid": u} for u in uids], "uid": m.get("uid")}})


def reconcile(view: View, kinds: Kinds, resource: ResourceRef, namespace: str | None, name: str) -> list[Action]:
    """One pass over one object of the graph."""
    obj = view.get(resource, namespace, name)
    if obj is None:
        return []
    m = meta(obj)
    if m.get("deletionTimestamp") is not None:
        finalizers = _finalizers(obj)
        if ORPHAN in finalizers:
            return _orphan_dependents(view, kinds, resource, obj)
        if FOREGROUND in finalizers:
            return _delete_dependents(view, kinds, resource, obj)
        return []
    if not _refs(obj):
        return []
    return _attempt_to_delete(view, kinds, resource, obj)


def _orphan_dependents(view: View, kinds: Kinds, resource: ResourceRef, owner: Obj) -> list[Action]:
    uid = meta(owner).get("uid", "")
    actions: list[Action] = [_drop_owner_refs(res, dep, [uid]) for res, dep in dependents(view, kinds, owner)]
    actions.append(_remove_finalizer(resource, owner, ORPHAN))
    return actions


def _delete_dependents(view: View, kinds: Kinds, resource: ResourceRef, owner: Obj) -> list[Action]:
    uid = meta(owner).get("uid")
    blocking = [(res, dep) for res, dep in dependents(view, kinds, owner)
                if any(r.get("uid") == uid and r.get("blockOwnerDeletion") for r in _refs(dep))]
    if not blocking:
        return [_remove_finalizer(resource, owner, FOREGROUND)]
    actions: list[Action] = []
    for res, dep in blocking:
        if meta(dep).get("deletionTimestamp") is None:
            actions += _attempt_to_delete(view, kinds, res, dep)
    return actions


def _attempt_to_delete(view: View, kinds: Kinds, resource: ResourceRef, obj: Obj) -> list[Action]:
    solid: list[Obj] = []
    dangling: list[tuple[ResourceRef | None, Obj]] = []
    waiting: list[Obj] = []
    for ref in _refs(obj):
        res, owner = _owner_of(view, kinds, obj, ref)
        if res is None:
            return []  # an owner kind discovery does not know: never guess
        if owner is None or meta(owner).get("uid") != ref.get("uid"):
            dangling.append((res, ref))
        elif meta(owner).get("deletionTimestamp") is not None and FOREGROUND in _finalizers(owner):
            waiting.append(ref)
        else:
            solid.append(ref)
    m = meta(obj)
    checks: list[Action] = [RequireAbsent(res, m.get("namespace") if res.namespaced else None, ref.get("name", ""),
                                          ref.get("uid")) for res, ref in dangling if res is not None]
    if solid:
        stale = [str(ref.get("uid")) for _, ref in dangling] + [str(ref.get("uid")) for ref in waiting]
        if not stale:
            return []
        return [*checks, _drop_owner_refs(resource, obj, stale)]
    if waiting and dependents(view, kinds, obj):
        policy = "Foreground"
    elif ORPHAN in _finalizers(obj):
        policy = "Orphan"
    elif FOREGROUND in _finalizers(obj):
        policy = "Foreground"
    else:
        policy = "Background"
    return [*checks, Delete(resource, m.get("namespace"), m["name"], m.get("uid"), propagation_policy=policy)]
