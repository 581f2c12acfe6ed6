"""Writes the bootstrap policy at start-up without undoing what administrators changed.

As kube-apiserver's RBAC post-start hook: a missing default role or binding is created; an existing one
annotated `rbac.authorization.kubernetes.io/autoupdate: "false"` is left alone; otherwise the missing
rules, subjects, labels, annotations and aggregation selectors are added and nothing is removed. A
binding whose roleRef differs (immutable) is deleted and recreated. Every apiserver does this; racing
writes from another apiserver are simply skipped.
"""

from __future__ import annotations

import copy

from api.schema import JSON
from apiserver.authz.bootstrap_policy import AUTOUPDATE, cluster_role_bindings, cluster_roles
from apiserver.authz.rules import compact, missing, rules_of
from apiserver.errors import APIError
from apiserver.handlers import Handlers, Target, meta
from process.log import get_logger

log = get_logger("apiserver.rbac")
GROUP, VERSION = "rbac.authorization.k8s.io", "v1"
SKIPPED_REASONS = frozenset({"AlreadyExists", "Conflict", "NotFound"})


def _merge_meta(existing: dict[str, JSON], wanted: dict[str, JSON]) -> None:
    """Add the wanted labels and annotations the existing object lacks (its own values win)."""
    m, w = meta(existing), wanted.get("metadata") or {}
    for key in ("labels", "annotations"):
        if w.get(key):
            m[key] = {**w[key], **(m.get(key) or {})}


def reconciled_role(existing: dict[str, JSON], wanted: dict[str, JSON]) -> dict[str, JSON] | None:
    """The ClusterRole to write over `existing`, or None when nothing is to change."""
    if ((existing.get("metadata") or {}).get("annotations") or {}).get(AUTOUPDATE) == "false":
        return None
    out = copy.deepcopy(existing)
    _merge_meta(out, wanted)
    lacking = missing(rules_of(existing), rules_of(wanted))
    if lacking:
        out["rules"] = [*(existing.get("rules") or []), *(r.to_json() for r in compact(lacking))]
    want_agg = (wanted.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
    if want_agg:
        have = list((existing.get("aggregationRule") or {}).get("clusterRoleSelectors") or [])
        out["aggregationRule"] = {"clusterRoleSelectors": have + [s for s in want_agg if s not in have]}
    return out if out != existing else None


def reconciled_binding(existing: dict[str, JSON], wanted: dict[str, JSON]) -> tuple[dict[str, JSON] | None, bool]:
    """(the binding to write, whether it must be recreated because its roleRef differs); (None, False) to keep."""
    if ((existing.get("metadata") or {}).get("annotations") or {}).get(AUTOUPDATE) == "false":
        return None, False
    if existing.get("roleRef") != wanted.get("roleRef"):
        return copy.deepcopy(wanted), True
    out = copy.deepcopy(existing)
    _merge_meta(out, wanted)
    have = list(existing.get("subjects") or [])
    added = [s for s in wanted.get("subjects") or [] if s not in have]
    if added:
        out["subjects"] = have + added
    return (out if out != existing else None), False


async def reconcile_policy(handlers: Handlers) -> None:
    """Create or top up every default ClusterRole and ClusterRoleBinding."""
    changed = 0
    for plural, objs in (("clusterroles", cluster_roles()), ("clusterrolebindings", cluster_role_bindings())):
        kind = await handlers.kinds.resolve(GROUP, VERSION, plural)
        assert kind is not None, plural
        for wanted in objs:
            name = str(meta(wanted)["name"])
            t = Target(kind, None, name, None)
            try:
                current = await handlers.registry.get(t.key)
                if current is None:
                    await handlers.create_object(Target(kind, None, None, None), copy.deepcopy(wanted))
                    changed += 1
                    continue
                served = kind.from_storage(current)
                if plural == "clusterroles":
                    new, recreate = reconciled_role(served, wanted), False
                else:
                    new, recreate = reconciled_binding(served, wanted)
                if new is None:
                    continue
                if recreate:
                    rv = int(meta(served).get("resourceVersion") or 0)
                    await handlers.registry.delete(kind.resource, t.key, name, rv)
                    await handlers.create_object(Target(kind, None, None, None), new)
                else:
                    await handlers.write_update(t, current, new, False)
                changed += 1
            except APIError as err:
                if err.body.get("reason") not in SKIPPED_REASONS:
                    raise
    log.info("bootstrap RBAC policy reconciled", changed=changed)
