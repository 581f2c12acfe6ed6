"""Template hashes and ControllerRevisions: how DaemonSets and StatefulSets remember past templates.

The hash is the one Deployments use for ``pod-template-hash`` (FNV-32a, then upstream's safe
encoding, which keeps vowels out so no word is ever spelled); revisions are named
``<owner>-<hash>`` and numbered upward, and reusing an old template bumps that revision's number.
"""

from __future__ import annotations

import json
from typing import Any, Final

from client.rest import ResourceRef
from controller_manager.actions import Action, Create, Delete, Update, UpdateStatus
from controller_manager.ownership import controller_ref, is_controlled_by
from controller_manager.view import CONTROLLER_REVISIONS, Obj, View, meta

REVISION_HASH: Final = "controller-revision-hash"
_ALPHANUMS: Final = "bcdfghjklmnpqrstvwxz2456789"


def _fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def template_hash(value: Any, collision_count: int | None = None) -> str:
    """A stable, name-safe hash of a JSON value (a pod template, a revision's data)."""
    data = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    if collision_count is not None:
        data += str(collision_count).encode()
    return "".join(_ALPHANUMS[ord(c) % len(_ALPHANUMS)] for c in str(_fnv32a(data)))


def revision_data(owner: Obj) -> Obj:
    """What a revision stores: the template as a strategic patch that replaces it wholesale."""
    template = dict((owner.get("spec") or {}).get("template") or {})
    return {"spec": {"template": {**template, "$patch": "replace"}}}


def owned_revisions(view: View, owner: Obj) -> list[Obj]:
    """The owner's ControllerRevisions, oldest revision first."""
    revs = [r for r in view.list(CONTROLLER_REVISIONS, meta(owner).get("namespace")) if is_controlled_by(r, owner)]
    return sorted(revs, key=lambda r: (int(r.get("revision", 0)), meta(r)["name"]))


def sync_revision(view: View, owner: Obj, owner_resource: ResourceRef) -> tuple[str | None, list[Action]]:
    """The name of the revision matching the owner's template, and the writes that make it the newest:
    create it (revision max+1) or renumber a matching older one. On a hash collision with someone
    else's revision the name is None and the write bumps the owner's ``status.collisionCount``."""
    revs = owned_revisions(view, owner)
    data = revision_data(owner)
    collision = int((owner.get("status") or {}).get("collisionCount") or 0)
    digest = template_hash(data, collision or None)
    name = f"{meta(owner)['name'][:223]}-{digest}"
    latest = max((int(r.get("revision", 0)) for r in revs), default=0)
    for rev in revs:
        if rev.get("data") == data:
            if int(rev.get("revision", 0)) == latest:
                return meta(rev)["name"], []
            bumped = {**rev, "revision": latest + 1}
            return meta(rev)["name"], [Update(CONTROLLER_REVISIONS, bumped)]
    clash = view.get(CONTROLLER_REVISIONS, meta(owner).get("namespace"), name)
    if clash is not None:
        status = {**(owner.get("status") or {}), "collisionCount": collision + 1}
        return None, [UpdateStatus(owner_resource, {**owner, "status": status})]
    labels = dict(((owner.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {})
    labels[REVISION_HASH] = digest
    body: Obj = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
                 "metadata": {"name": name, "namespace": meta(owner).get("namespace"), "labels": labels,
                              "ownerReferences": [controller_ref(owner)]},
                 "data": data, "revision": latest + 1}
    return name, [Create(CONTROLLER_REVISIONS, body)]


def truncate_history(view: View, owner: Obj, live: set[str], limit: int) -> list[Action]:
    """Delete the oldest revisions beyond ``limit`` that no live pod or status still names."""
    old = [r for r in owned_revisions(view, owner) if meta(r)["name"] not in live]
    excess = len(old) - limit
    return [Delete(CONTROLLER_REVISIONS, meta(r).get("namespace"), meta(r)["name"], meta(r).get("uid"))
            for r in old[:max(excess, 0)]]
