"""Escalation prevention: nobody grants, through a Role or a binding, a permission they do not hold.

As in Kubernetes: writing a Role/ClusterRole needs every rule it grants (checked in the role's namespace,
or cluster-wide), or the `escalate` verb on it; an aggregating ClusterRole needs full authority; writing
a binding needs the referenced role's rules (in the binding's namespace), or the `bind` verb on it.
Members of system:masters may do anything.
"""

from __future__ import annotations

from api import status
from api.schema import JSON
from apiserver.auth import User
from apiserver.authz.attributes import MASTERS_GROUP, Attributes, Authorizer
from apiserver.authz.rbac import GROUP, RBACIndex
from apiserver.authz.rules import Rule, compact, missing, rules_of
from apiserver.errors import APIError

FULL_AUTHORITY = (Rule(("*",), ("*",), ("*",)), Rule(("*",), non_resource_urls=("*",)))
ROLE_KINDS = {"Role": "roles", "ClusterRole": "clusterroles"}
BINDING_KINDS = frozenset({"RoleBinding", "ClusterRoleBinding"})


def _go_strings(values: tuple[str, ...]) -> str:
    return "[" + " ".join('"' + v.replace('"', '\\"') + '"' for v in values) + "]"


class EscalationCheck:
    """Checks writes of the four RBAC kinds against what the writer holds."""

    def __init__(self, authorizer: Authorizer, index: RBACIndex) -> None:
        self.authorizer = authorizer
        self.index = index

    def check(self, user: User, group: str, kind: str, obj: JSON, namespace: str) -> None:
        """Raise 403 (or 404 for a binding to a missing role) when `user` may not write `obj`; objects of
        other kinds pass."""
        if group != GROUP or MASTERS_GROUP in user.groups:
            return
        name = str((obj.get("metadata") or {}).get("name", ""))
        plural = ROLE_KINDS.get(kind) or kind.lower() + "s"
        if kind in ROLE_KINDS:
            ns = namespace if kind == "Role" else ""
            if self._allowed(user, "escalate", ROLE_KINDS[kind], ns, name):
                return
            if kind == "ClusterRole" and obj.get("aggregationRule") is not None:
                if missing(self.index.rules_for(user, ""), FULL_AUTHORITY):
                    raise self._forbidden(plural, name, "must have cluster-admin privileges to use the aggregationRule")
                return
            self._covered(user, ns, rules_of(obj), plural, name)
        elif kind in BINDING_KINDS:
            ref = obj.get("roleRef") or {}
            role_kind, role_name = str(ref.get("kind", "")), str(ref.get("name", ""))
            ns = namespace if kind == "RoleBinding" else ""
            if role_kind in ROLE_KINDS and self._allowed(user, "bind", ROLE_KINDS[role_kind], ns, role_name):
                return
            rules = self.index.role_rules(role_kind, role_name, ns)
            if rules is None:
                raise APIError(status.not_found(ROLE_KINDS.get(role_kind, role_kind.lower()), GROUP, role_name))
            self._covered(user, ns, rules, plural, name)

    def _allowed(self, user: User, verb: str, resource: str, namespace: str, name: str) -> bool:
        attrs = Attributes(user, verb, resource=resource, api_group=GROUP, namespace=namespace, name=name)
        return self.authorizer.authorize(attrs).allowed

    def _covered(self, user: User, namespace: str, wanted: tuple[Rule, ...], plural: str, name: str) -> None:
        lacking = missing(self.index.rules_for(user, namespace), wanted)
        if lacking:
            lines = sorted(r.compact_string() for r in compact(lacking))
            message = (
                f'user "{user.name}" (groups={_go_strings(user.groups)}) is attempting to grant RBAC permissions '
                "not currently held:\n" + "\n".join(lines)
            )
            raise self._forbidden(plural, name, message)

    @staticmethod
    def _forbidden(plural: str, name: str, message: str) -> APIError:
        return APIError(
            status.failure(
                "Forbidden",
                f'{plural}.{GROUP} "{name}" is forbidden: {message}',
                {"name": name, "group": GROUP, "kind": plural},
            )
        )
