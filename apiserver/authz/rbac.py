"""The RBAC authorizer: Roles, ClusterRoles and their bindings, indexed by subject.

Bindings are indexed by the users and groups they name (a ServiceAccount subject is indexed under its
username), per namespace for RoleBindings and cluster-wide for ClusterRoleBindings; a request then looks
only at the bindings of its user and groups. The rules a (user, groups, namespace) holds are memoized
until the next change to any role or binding.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from api.schema import JSON
from apiserver.auth import User
from apiserver.authz.attributes import NO_OPINION, Attributes, Decision, Outcome
from apiserver.authz.rules import Rule, allows, rules_of
from apiserver.watch_cache import Event

GROUP = "rbac.authorization.k8s.io"
ROLES, CLUSTER_ROLES = "roles", "clusterroles"
ROLE_BINDINGS, CLUSTER_ROLE_BINDINGS = "rolebindings", "clusterrolebindings"
MEMO_LIMIT = 10_000
"""Distinct (user, groups, namespace) rule sets remembered; more than this and the memo starts over."""


@dataclass(frozen=True, slots=True)
class Grant:
    """One rule and the sentence saying where it came from."""

    rule: Rule
    source: str


@dataclass(frozen=True, slots=True)
class Binding:
    """A RoleBinding (namespace set) or ClusterRoleBinding, reduced to what authorization needs."""

    namespace: str
    name: str
    role_kind: str
    role_name: str
    subjects: tuple[tuple[str, str, str], ...]
    """(index kind "User"/"Group", index name, how Kubernetes describes the subject)."""


def _subjects(obj: JSON, namespace: str) -> tuple[tuple[str, str, str], ...]:
    out: list[tuple[str, str, str]] = []
    for s in obj.get("subjects") or []:
        if not isinstance(s, dict):
            continue
        kind, name = str(s.get("kind", "")), str(s.get("name", ""))
        if kind == "ServiceAccount":
            sa_ns = str(s.get("namespace") or namespace)
            if sa_ns and name:
                out.append(("User", f"system:serviceaccount:{sa_ns}:{name}", f'ServiceAccount "{name}/{sa_ns}"'))
        elif kind in ("User", "Group") and name:
            out.append((kind, name, f'{kind} "{name}"'))
    return tuple(out)


def binding_of(obj: JSON) -> Binding:
    """The Binding view of a RoleBinding or ClusterRoleBinding object."""
    m = obj.get("metadata") or {}
    namespace = str(m.get("namespace") or "")
    ref = obj.get("roleRef") or {}
    return Binding(
        namespace, str(m.get("name", "")), str(ref.get("kind", "")), str(ref.get("name", "")), _subjects(obj, namespace)
    )


class RBACIndex:
    """Every role and binding, with bindings indexed by subject; fed by `authz.feed`."""

    def __init__(self, prefixes: dict[str, str]) -> None:
        self.prefixes = prefixes
        """storage prefix (ending in `/`) -> plural."""
        self.roles: dict[tuple[str, str], tuple[Rule, ...]] = {}
        self.cluster_roles: dict[str, tuple[Rule, ...]] = {}
        self.bindings: dict[tuple[str, str], Binding] = {}
        self.by_subject: defaultdict[tuple[str, str, str], set[tuple[str, str]]] = defaultdict(set)
        """(binding namespace or "" for cluster, subject kind, subject name) -> binding keys."""
        self._memo: dict[tuple[str, tuple[str, ...], str], tuple[Grant, ...]] = {}

    # ---- feed ----

    def replace(self, prefix: str, objs: Iterable[dict[str, JSON]]) -> None:
        """Take the whole state of one of the four kinds."""
        plural = self.prefixes[prefix]
        if plural == ROLES:
            self.roles.clear()
        elif plural == CLUSTER_ROLES:
            self.cluster_roles.clear()
        else:
            cluster = plural == CLUSTER_ROLE_BINDINGS
            for key in [k for k in self.bindings if (k[0] == "") == cluster]:
                self._unbind(key)
        for obj in objs:
            self._put(plural, obj)
        self._memo.clear()

    def apply(self, prefix: str, event: Event) -> None:
        """One change."""
        plural = self.prefixes[prefix]
        if event.type == "DELETED":
            m = event.obj.get("metadata") or {}
            key = (str(m.get("namespace") or ""), str(m.get("name", "")))
            if plural == ROLES:
                self.roles.pop(key, None)
            elif plural == CLUSTER_ROLES:
                self.cluster_roles.pop(key[1], None)
            else:
                self._unbind(key)
        else:
            self._put(plural, event.obj)
        self._memo.clear()

    def _put(self, plural: str, obj: dict[str, JSON]) -> None:
        m = obj.get("metadata") or {}
        key = (str(m.get("namespace") or ""), str(m.get("name", "")))
        if plural == ROLES:
            self.roles[key] = rules_of(obj)
        elif plural == CLUSTER_ROLES:
            self.cluster_roles[key[1]] = rules_of(obj)
        else:
            self._unbind(key)
            binding = binding_of(obj)
            self.bindings[key] = binding
            for kind, name, _ in binding.subjects:
                self.by_subject[(key[0], kind, name)].add(key)

    def _unbind(self, key: tuple[str, str]) -> None:
        old = self.bindings.pop(key, None)
        if old is None:
            return
        for kind, name, _ in old.subjects:
            keys = self.by_subject.get((key[0], kind, name))
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self.by_subject[(key[0], kind, name)]

    # ---- resolution ----

    def role_rules(self, kind: str, name: str, namespace: str) -> tuple[Rule, ...] | None:
        """The rules a roleRef names (None when the role does not exist)."""
        if kind == "ClusterRole":
            return self.cluster_roles.get(name)
        if kind == "Role" and namespace:
            return self.roles.get((namespace, name))
        return None

    def grants(self, user: User, namespace: str) -> tuple[Grant, ...]:
        """Every rule `user` holds in `namespace` ("" = cluster-wide only), with its source."""
        memo_key = (user.name, user.groups, namespace)
        found = self._memo.get(memo_key)
        if found is not None:
            return found
        out: list[Grant] = []
        scopes = ("", namespace) if namespace else ("",)
        for scope in scopes:
            keys: dict[tuple[str, str], str] = {}
            for kind, name in (("User", user.name), *(("Group", g) for g in user.groups)):
                for key in self.by_subject.get((scope, kind, name), ()):
                    keys.setdefault(key, f'{kind} "{name}"')
            for key in sorted(keys):
                b = self.bindings[key]
                rules = self.role_rules(b.role_kind, b.role_name, scope)
                if not rules:
                    continue
                what = f'ClusterRoleBinding "{b.name}"' if not scope else f'RoleBinding "{b.name}/{scope}"'
                source = f'{what} of {b.role_kind} "{b.role_name}" to {keys[key]}'
                out.extend(Grant(r, source) for r in rules)
        result = tuple(out)
        if len(self._memo) >= MEMO_LIMIT:
            self._memo.clear()
        self._memo[memo_key] = result
        return result

    def rules_for(self, user: User, namespace: str) -> list[Rule]:
        """The rules alone (for rules reviews and the escalation check)."""
        return [g.rule for g in self.grants(user, namespace)]


class RBACAuthorizer:
    """Allows what some bound rule allows; otherwise no opinion (RBAC never denies)."""

    def __init__(self, index: RBACIndex) -> None:
        self.index = index

    def authorize(self, attrs: Attributes) -> Decision:
        """Allow with the granting binding as the reason, or no opinion."""
        for grant in self.index.grants(attrs.user, attrs.namespace):
            if allows(grant.rule, attrs):
                return Decision(Outcome.ALLOW, f"RBAC: allowed by {grant.source}")
        return NO_OPINION
