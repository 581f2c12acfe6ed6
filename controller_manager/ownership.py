"""ownerReferences as controllers use them: who controls an object, and claiming (adopt/release) by selector."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from api.labels import Selector
from client.rest import ResourceRef
from controller_manager.actions import Action, Patch
from controller_manager.view import Obj, meta


def controller_of(obj: Obj) -> Obj | None:
    """The ownerReference with controller=true, if any."""
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            found: Obj = ref
            return found
    return None


def is_controlled_by(obj: Obj, owner: Obj) -> bool:
    """Whether ``owner`` (by uid) is the controller of ``obj``."""
    ref = controller_of(obj)
    return ref is not None and ref.get("uid") == meta(owner).get("uid")


def controller_ref(owner: Obj) -> Obj:
    """The ownerReference a controller puts on what it creates; blockOwnerDeletion lets foreground
    deletion of the owner wait for it."""
    m = meta(owner)
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": m["name"], "uid": m.get("uid", ""),
            "controller": True, "blockOwnerDeletion": True}


@dataclass
class Claim:
    """The outcome of claiming: the objects the owner now controls and the patches that make it so."""

    claimed: list[Obj] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)


def claim(owner: Obj, selector: Selector, candidates: Sequence[Obj], resource: ResourceRef,
          can_adopt: Callable[[Obj], bool] | None = None) -> Claim:
    """Upstream's ClaimObjects: keep owned objects that still match, release owned ones that no longer
    match, adopt matching orphans (not while the owner or the orphan is being deleted)."""
    out = Claim()
    owner_meta = meta(owner)
    owner_uid = owner_meta.get("uid")
    owner_deleting = owner_meta.get("deletionTimestamp") is not None
    for obj in candidates:
        m = meta(obj)
        labels = m.get("labels")
        ref = controller_of(obj)
        if ref is not None:
            if ref.get("uid") != owner_uid:
                continue
            if selector.matches(labels):
                out.claimed.append(obj)
            elif not owner_deleting:
                out.actions.append(Patch(resource, m.get("namespace"), m["name"], {
                    "metadata": {"ownerReferences": [{"$patch": "delete", "uid": owner_uid}], "uid": m.get("uid")}}))
            continue
        if owner_deleting or not selector.matches(labels) or m.get("deletionTimestamp") is not None:
            continue
        if can_adopt is not None and not can_adopt(obj):
            continue
        out.actions.append(Patch(resource, m.get("namespace"), m["name"], {
            "metadata": {"ownerReferences": [controller_ref(owner)], "uid": m.get("uid")}}))
        adopted = dict(obj)
        adopted["metadata"] = {**m, "ownerReferences": [*(m.get("ownerReferences") or []), controller_ref(owner)]}
        out.claimed.append(adopted)
    return out
