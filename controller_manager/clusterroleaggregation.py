"""ClusterRole aggregation: a ClusterRole with an ``aggregationRule`` holds the rules of every ClusterRole its
selectors match (``admin``, ``edit`` and ``view`` are built this way, and grow with any role labelled
``rbac.authorization.k8s.io/aggregate-to-view: "true"`` and the like).

Rules are gathered from the matching roles in name order, each rule once; the aggregated role is written
only when that list differs from what it holds.
"""

from __future__ import annotations

import copy
from typing import Final

from api import labels
from client.rest import ResourceRef
from controller_manager.actions import Action, Update
from controller_manager.view import Obj, View, meta

CLUSTER_ROLES: Final = ResourceRef("rbac.authorization.k8s.io", "v1", "clusterroles", False, "ClusterRole")


def _selectors(role: Obj) -> list[Obj]:
    rule = role.get("aggregationRule") or {}
    return list(rule.get("clusterRoleSelectors") or [])


def aggregating_roles(view: View) -> list[str]:
    """The names of every ClusterRole with an aggregationRule (what any ClusterRole change may affect)."""
    return sorted(str(meta(r).get("name")) for r in view.list(CLUSTER_ROLES) if r.get("aggregationRule"))


def reconcile(view: View, name: str) -> list[Action]:
    """Update the aggregated ClusterRole ``name`` to the union of its matching roles' rules."""
    role = view.get(CLUSTER_ROLES, None, name)
    if role is None or not role.get("aggregationRule"):
        return []
    selectors = _selectors(role)
    rules: list[Obj] = []
    for other in sorted(view.list(CLUSTER_ROLES), key=lambda r: str(meta(r).get("name"))):
        if meta(other).get("name") == name:
            continue
        other_labels = meta(other).get("labels") or {}
        if not any(labels.matches(s, other_labels) for s in selectors):
            continue
        for r in other.get("rules") or []:
            if r not in rules:
                rules.append(r)
    if rules == list(role.get("rules") or []):
        return []
    updated: Obj = copy.deepcopy(role)
    updated["rules"] = rules
    return [Update(CLUSTER_ROLES, updated)]
