"""Authorization cores: request attributes, rule matching and coverage, the RBAC index, the union of modes,
escalation prevention, the node graph and Node authorizer, access reviews and the bootstrap policy merge."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from multidict import MultiDict

from apiserver.auth import User
from apiserver.authz.access_reviews import AccessReviews
from apiserver.authz.attributes import Attributes, Outcome
from apiserver.authz.bootstrap_policy import NODE_RULES, cluster_role_bindings, cluster_roles
from apiserver.authz.escalation import EscalationCheck
from apiserver.authz.forbidden import forbidden
from apiserver.authz.node import NodeAuthorizer
from apiserver.authz.node_graph import NodeGraph
from apiserver.authz.policy_reconcile import reconciled_binding, reconciled_role
from apiserver.authz.rbac import RBACAuthorizer, RBACIndex
from apiserver.authz.request_info import attributes_for
from apiserver.authz.rules import Rule, allows, compact, missing
from apiserver.authz.union import AlwaysAllow, AlwaysDeny, PrivilegedGroup, Union, parse_modes
from apiserver.errors import APIError
from apiserver.watch_cache import Event

JANE = User("jane", "", ("devs", "system:authenticated"))
RBAC_PREFIXES = {
    "/r/roles/": "roles",
    "/r/clusterroles/": "clusterroles",
    "/r/rolebindings/": "rolebindings",
    "/r/clusterrolebindings/": "clusterrolebindings",
}


def attrs(
    verb: str, resource: str, *, ns: str = "", name: str = "", sub: str = "", group: str = "", user: User = JANE
) -> Attributes:
    return Attributes(user, verb, resource=resource, api_group=group, subresource=sub, namespace=ns, name=name)


def role(name: str, rules: list[dict[str, Any]], ns: str = "", kind: str = "Role") -> dict[str, Any]:
    meta = {"name": name, **({"namespace": ns} if ns else {})}
    return {"kind": kind, "metadata": meta, "rules": rules}


def binding(name: str, role_kind: str, role_name: str, subjects: list[dict[str, Any]], ns: str = "") -> dict[str, Any]:
    meta = {"name": name, **({"namespace": ns} if ns else {})}
    return {
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
        "subjects": subjects,
    }


def index_with(
    roles: Sequence[dict[str, Any]] = (),
    cluster_roles_: Sequence[dict[str, Any]] = (),
    bindings: Sequence[dict[str, Any]] = (),
    cluster_bindings: Sequence[dict[str, Any]] = (),
) -> RBACIndex:
    index = RBACIndex(RBAC_PREFIXES)
    index.replace("/r/roles/", roles)
    index.replace("/r/clusterroles/", cluster_roles_)
    index.replace("/r/rolebindings/", bindings)
    index.replace("/r/clusterrolebindings/", cluster_bindings)
    return index


# ---- request attributes ----


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("GET", "/api/v1/namespaces/ns/pods", {}, ("list", "pods", "", "ns", "", "")),
        ("GET", "/api/v1/namespaces/ns/pods", {"watch": "true"}, ("watch", "pods", "", "ns", "", "")),
        ("GET", "/api/v1/watch/namespaces/ns/pods", {}, ("watch", "pods", "", "ns", "", "")),
        ("GET", "/api/v1/namespaces/ns/pods/p/log", {}, ("get", "pods", "", "ns", "p", "log")),
        ("POST", "/api/v1/namespaces/ns/pods/p/eviction", {}, ("create", "pods", "", "ns", "p", "eviction")),
        (
            "DELETE",
            "/apis/apps/v1/namespaces/ns/deployments",
            {},
            ("deletecollection", "deployments", "apps", "ns", "", ""),
        ),
        (
            "PATCH",
            "/apis/apps/v1/namespaces/ns/deployments/d/scale",
            {},
            ("patch", "deployments", "apps", "ns", "d", "scale"),
        ),
        ("GET", "/api/v1/namespaces/ns", {}, ("get", "namespaces", "", "ns", "ns", "")),
        ("PUT", "/api/v1/namespaces/ns/finalize", {}, ("update", "namespaces", "", "ns", "ns", "finalize")),
        ("GET", "/api/v1/nodes", {}, ("list", "nodes", "", "", "", "")),
        (
            "GET",
            "/api/v1/namespaces/ns/secrets",
            {"fieldSelector": "metadata.name=s1"},
            ("list", "secrets", "", "ns", "s1", ""),
        ),
    ],
)
def test_resource_request_attributes(method: str, path: str, query: dict[str, str], expected: tuple[str, ...]) -> None:
    a = attributes_for(JANE, method, path, MultiDict(query))
    assert a.resource_request
    assert (a.verb, a.resource, a.api_group, a.namespace, a.name, a.subresource) == expected


@pytest.mark.parametrize("path", ["/healthz", "/version", "/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1"])
def test_non_resource_paths(path: str) -> None:
    a = attributes_for(JANE, "GET", path, MultiDict())
    assert not a.resource_request and a.verb == "get" and a.path == path


# ---- rules ----


def test_rule_matching_wildcards_subresources_names_and_urls() -> None:
    pods_read = Rule(("get", "list"), ("",), ("pods",))
    assert allows(pods_read, attrs("get", "pods", ns="a"))
    assert not allows(pods_read, attrs("get", "pods", ns="a", sub="log"))
    assert not allows(pods_read, attrs("delete", "pods", ns="a"))
    assert not allows(pods_read, attrs("get", "deployments", group="apps"))
    assert allows(Rule(("get",), ("",), ("pods/log",)), attrs("get", "pods", sub="log", name="p"))
    assert allows(Rule(("update",), ("*",), ("*/scale",)), attrs("update", "deployments", group="apps", sub="scale"))
    named = Rule(("get",), ("",), ("configmaps",), ("cm1",))
    assert allows(named, attrs("get", "configmaps", name="cm1"))
    assert not allows(named, attrs("get", "configmaps", name="cm2"))
    assert not allows(named, attrs("list", "configmaps"))
    health = Rule(("get",), non_resource_urls=("/healthz", "/apis/*"))
    assert allows(health, Attributes(JANE, "get", path="/healthz", resource_request=False))
    assert allows(health, Attributes(JANE, "get", path="/apis/apps/v1", resource_request=False))
    assert not allows(health, Attributes(JANE, "get", path="/metrics", resource_request=False))
    assert not allows(health, attrs("get", "healthz"))


def test_covers_and_compact_missing() -> None:
    owner = [Rule(("get", "list"), ("",), ("pods", "secrets")), Rule(("*",), ("apps",), ("*",))]
    assert missing(owner, [Rule(("get",), ("",), ("pods",))]) == []
    assert missing(owner, [Rule(("delete",), ("apps",), ("deployments", "deployments/scale"))]) == []
    lacking = missing(owner, [Rule(("get", "delete", "watch"), ("",), ("pods",))])
    assert [r.compact_string() for r in compact(lacking)] == [
        '{APIGroups:[""], Resources:["pods"], Verbs:["delete" "watch"]}'
    ]
    named_owner = [Rule(("get",), ("",), ("secrets",), ("a",))]
    assert missing(named_owner, [Rule(("get",), ("",), ("secrets",), ("a",))]) == []
    assert missing(named_owner, [Rule(("get",), ("",), ("secrets",))])
    assert (
        missing([Rule(("get",), non_resource_urls=("/logs/*",))], [Rule(("get",), non_resource_urls=("/logs/x",))])
        == []
    )


# ---- RBAC ----


def test_rbac_role_binding_grants_only_in_its_namespace() -> None:
    index = index_with(
        roles=[role("reader", [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}], "a")],
        bindings=[binding("jane-reads", "Role", "reader", [{"kind": "User", "name": "jane"}], "a")],
    )
    rbac = RBACAuthorizer(index)
    decision = rbac.authorize(attrs("list", "pods", ns="a"))
    assert (
        decision.allowed
        and decision.reason == 'RBAC: allowed by RoleBinding "jane-reads/a" of Role "reader" to User "jane"'
    )
    assert rbac.authorize(attrs("list", "pods", ns="b")).outcome is Outcome.NO_OPINION
    assert rbac.authorize(attrs("list", "pods")).outcome is Outcome.NO_OPINION
    assert not rbac.authorize(attrs("list", "pods", ns="a", user=User("bob"))).allowed


def test_rbac_groups_service_accounts_and_cluster_roles_through_role_bindings() -> None:
    index = index_with(
        cluster_roles_=[
            role("view", [{"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"]}], kind="ClusterRole")
        ],
        bindings=[binding("sa-view", "ClusterRole", "view", [{"kind": "ServiceAccount", "name": "robot"}], "a")],
        cluster_bindings=[binding("devs-view", "ClusterRole", "view", [{"kind": "Group", "name": "devs"}])],
    )
    rbac = RBACAuthorizer(index)
    robot = User("system:serviceaccount:a:robot", "", ("system:serviceaccounts",))
    assert rbac.authorize(attrs("get", "configmaps", ns="a", user=robot)).allowed
    assert not rbac.authorize(attrs("get", "configmaps", ns="b", user=robot)).allowed
    assert rbac.authorize(attrs("get", "configmaps", ns="anything")).allowed


def test_rbac_index_follows_events_and_drops_stale_memo() -> None:
    index = index_with(
        cluster_roles_=[role("r", [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}], kind="ClusterRole")]
    )
    rbac = RBACAuthorizer(index)
    assert not rbac.authorize(attrs("get", "pods", ns="a")).allowed
    b = binding("b", "ClusterRole", "r", [{"kind": "User", "name": "jane"}])
    index.apply("/r/clusterrolebindings/", Event("ADDED", b, 2))
    assert rbac.authorize(attrs("get", "pods", ns="a")).allowed
    index.apply("/r/clusterroles/", Event("MODIFIED", role("r", [], kind="ClusterRole"), 3))
    assert not rbac.authorize(attrs("get", "pods", ns="a")).allowed
    index.apply("/r/clusterrolebindings/", Event("DELETED", b, 4))
    assert index.by_subject == {}


def test_union_first_opinion_wins_and_masters_always_pass() -> None:
    deny_first = Union([PrivilegedGroup(), AlwaysDeny(), AlwaysAllow()])
    assert deny_first.authorize(attrs("get", "pods")).outcome is Outcome.DENY
    admin = User("root", "", ("system:masters",))
    assert deny_first.authorize(attrs("delete", "nodes", user=admin)).allowed
    assert not Union([PrivilegedGroup()]).authorize(attrs("get", "pods")).allowed
    assert parse_modes("Node,RBAC") == ["Node", "RBAC"]
    with pytest.raises(ValueError, match="unknown authorization mode"):
        parse_modes("Node,ABAC")


def test_forbidden_messages_match_kube_apiserver() -> None:
    assert forbidden(attrs("list", "pods", ns="default"))["message"] == (
        'pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the namespace "default"'
    )
    body = forbidden(attrs("get", "deployments", group="apps", name="d", sub="scale"), "no way")
    assert body["code"] == 403 and body["reason"] == "Forbidden"
    assert body["message"] == (
        'deployments.apps "d" is forbidden: User "jane" cannot get resource "deployments/scale" '
        'in API group "apps" at the cluster scope: no way'
    )
    assert forbidden(Attributes(JANE, "get", path="/metrics", resource_request=False))["message"] == (
        'forbidden: User "jane" cannot get path "/metrics"'
    )


# ---- escalation ----


def test_escalation_needs_the_rules_or_the_escalate_and_bind_verbs() -> None:
    # Explicit verbs: "*" would include `escalate` and `bind`.
    rbac_admin = {
        "verbs": ["get", "create", "update"],
        "apiGroups": ["rbac.authorization.k8s.io"],
        "resources": ["roles", "rolebindings"],
    }
    index = index_with(
        roles=[role("rbac-admin", [rbac_admin, {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}], "a")],
        cluster_roles_=[
            role("view", [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["secrets"]}], kind="ClusterRole")
        ],
        bindings=[binding("jane", "Role", "rbac-admin", [{"kind": "User", "name": "jane"}], "a")],
    )
    union = Union([PrivilegedGroup(), RBACAuthorizer(index)])
    check = EscalationCheck(union, index)
    group = "rbac.authorization.k8s.io"
    check.check(JANE, group, "Role", role("ok", [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]), "a")
    with pytest.raises(APIError) as err:
        check.check(
            JANE, group, "Role", role("bad", [{"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]}]), "a"
        )
    assert err.value.code == 403
    assert err.value.body["message"] == (
        'roles.rbac.authorization.k8s.io "bad" is forbidden: user "jane" (groups=["devs" "system:authenticated"]) '
        "is attempting to grant RBAC permissions not currently held:\n"
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}'
    )
    with pytest.raises(APIError, match="not currently held"):
        check.check(JANE, group, "RoleBinding", binding("b", "ClusterRole", "view", []), "a")
    with pytest.raises(APIError) as missing_role:
        check.check(JANE, group, "RoleBinding", binding("b", "Role", "nope", []), "a")
    assert missing_role.value.code == 404
    bind_view = {"verbs": ["bind"], "apiGroups": [group], "resources": ["clusterroles"], "resourceNames": ["view"]}
    index.apply("/r/roles/", Event("MODIFIED", role("rbac-admin", [rbac_admin, bind_view], "a"), 5))
    check.check(JANE, group, "RoleBinding", binding("b", "ClusterRole", "view", []), "a")
    with pytest.raises(APIError, match="aggregationRule"):
        check.check(JANE, group, "ClusterRole", {**role("agg", [], kind="ClusterRole"), "aggregationRule": {}}, "")
    check.check(User("root", "", ("system:masters",)), group, "ClusterRole", role("any", [{"verbs": ["*"]}]), "")
    check.check(
        JANE, "example.com", "Role", role("crd", [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]), "a"
    )


# ---- node graph and Node authorizer ----


def pod(name: str, node: str | None, ns: str = "a", **spec: Any) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns},
        "spec": {**({"nodeName": node} if node else {}), "containers": [], **spec},
    }


NODE1 = User("system:node:n1", "", ("system:nodes", "system:authenticated"))


def node_authorizer(*pods: dict[str, Any], claims: Sequence[dict[str, Any]] = ()) -> tuple[NodeAuthorizer, NodeGraph]:
    graph = NodeGraph("/pods/", "/claims/")
    graph.replace("/pods/", list(pods))
    graph.replace("/claims/", claims)
    return NodeAuthorizer(graph, [Rule.from_json(r) for r in NODE_RULES]), graph


def test_node_reads_only_what_its_pods_reference() -> None:
    p1 = pod(
        "p1",
        "n1",
        volumes=[
            {"name": "v", "secret": {"secretName": "s1"}},
            {"name": "c", "persistentVolumeClaim": {"claimName": "data"}},
            {"name": "p", "projected": {"sources": [{"configMap": {"name": "cm1"}}]}},
        ],
        containers=[{"name": "c", "envFrom": [{"secretRef": {"name": "env-secret"}}]}],
    )
    p2 = pod("p2", "n2", volumes=[{"name": "v", "secret": {"secretName": "s2"}}])
    claim = {"metadata": {"name": "data", "namespace": "a"}, "spec": {"volumeName": "pv1"}}
    node, graph = node_authorizer(p1, p2, claims=[claim])

    def can(verb: str, resource: str, name: str, ns: str = "a", sub: str = "") -> bool:
        return node.authorize(attrs(verb, resource, ns=ns, name=name, sub=sub, user=NODE1)).allowed

    assert can("get", "secrets", "s1") and can("get", "secrets", "env-secret") and can("get", "configmaps", "cm1")
    assert can("watch", "secrets", "s1")
    assert not can("get", "secrets", "s2") and not can("get", "secrets", "s1", ns="b")
    assert not can("list", "secrets", "")
    assert not can("update", "secrets", "s1")
    assert can("get", "persistentvolumeclaims", "data") and can("get", "persistentvolumes", "pv1", ns="")
    assert can("create", "serviceaccounts", "default", sub="token")
    assert node.authorize(attrs("get", "secrets", ns="a", name="s2", user=NODE1)).reason == (
        "no relationship found between node 'n1' and this object"
    )
    graph.apply("/pods/", Event("DELETED", p1, 9))
    assert not can("get", "secrets", "s1") and graph.reach.get("n1") is None
    graph.apply("/pods/", Event("ADDED", pod("p3", "n1", volumes=[{"name": "v", "secret": {"secretName": "s2"}}]), 10))
    assert can("get", "secrets", "s2")


def test_node_own_objects_pods_and_static_rules() -> None:
    node, _ = node_authorizer(pod("mine", "n1"), pod("theirs", "n2"))

    def decide(
        verb: str,
        resource: str,
        name: str = "",
        ns: str = "",
        sub: str = "",
        group: str = "",
        user: User = NODE1,
        selector: str = "",
    ) -> bool:
        a = Attributes(
            user,
            verb,
            resource=resource,
            api_group=group,
            subresource=sub,
            namespace=ns,
            name=name,
            field_selector=selector,
        )
        return node.authorize(a).allowed

    assert decide("get", "nodes", "n1") and decide("patch", "nodes", "n1", sub="status") and decide("create", "nodes")
    assert not decide("get", "nodes", "n2") and not decide("patch", "nodes", "n2", sub="status")
    assert decide("update", "leases", "n1", "kube-node-lease", group="coordination.k8s.io")
    assert not decide("update", "leases", "n2", "kube-node-lease", group="coordination.k8s.io")
    assert decide("update", "pods", "mine", "a", sub="status") and not decide(
        "update", "pods", "theirs", "a", sub="status"
    )
    assert decide("delete", "pods", "mine", "a") and not decide("get", "pods", "theirs", "a")
    assert decide("list", "pods", selector="spec.nodeName=n1") and not decide("list", "pods")
    assert not decide("watch", "pods", selector="spec.nodeName=n2")
    assert decide("list", "services") and decide("create", "events", ns="a")
    assert not decide("list", "deployments", group="apps")
    assert (
        not decide("get", "secrets", "s", "a", user=JANE)
        and node.authorize(attrs("get", "pods", user=JANE)).reason == ""
    )


# ---- reviews ----


def test_access_and_rules_reviews() -> None:
    index = index_with(
        roles=[role("reader", [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}], "a")],
        bindings=[binding("jane-reads", "Role", "reader", [{"kind": "User", "name": "jane"}], "a")],
    )
    reviews = AccessReviews(Union([PrivilegedGroup(), RBACAuthorizer(index)]), index.rules_for, ("RBAC",))
    spec = {"resourceAttributes": {"verb": "list", "resource": "pods", "namespace": "a"}}
    assert reviews.access("SelfSubjectAccessReview", spec, JANE, None)["allowed"] is True
    assert reviews.access("SubjectAccessReview", {**spec, "user": "bob"}, JANE, None) == {"allowed": False}
    local = {"resourceAttributes": {"verb": "get", "resource": "pods"}, "user": "jane"}
    assert reviews.access("LocalSubjectAccessReview", local, JANE, "a")["allowed"] is True
    bad: list[tuple[str, dict[str, Any]]] = [
        ("LocalSubjectAccessReview", {**local, "resourceAttributes": {"namespace": "b"}}),
        ("SubjectAccessReview", spec),
        ("SubjectAccessReview", {"user": "bob"}),
        ("SelfSubjectAccessReview", {**spec, "nonResourceAttributes": {"path": "/x", "verb": "get"}}),
    ]
    for kind, wrong in bad:
        with pytest.raises(APIError) as err:
            reviews.access(kind, wrong, JANE, "a")
        assert err.value.code == 422 and err.value.body["reason"] == "Invalid"
    rules = reviews.rules({"namespace": "a"}, JANE)
    assert rules["resourceRules"] == [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]
    assert reviews.rules({"namespace": "b"}, JANE)["resourceRules"] == []


# ---- bootstrap policy ----


def test_bootstrap_policy_is_well_formed() -> None:
    roles = {r["metadata"]["name"]: r for r in cluster_roles()}
    for b in cluster_role_bindings():
        assert b["roleRef"]["name"] in roles, b["metadata"]["name"]
    assert roles["view"]["aggregationRule"]["clusterRoleSelectors"] == [
        {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}
    ]
    assert len(roles) == len(cluster_roles())


def test_reconcile_adds_what_is_missing_and_respects_autoupdate_false() -> None:
    wanted = next(r for r in cluster_roles() if r["metadata"]["name"] == "system:basic-user")
    trimmed = {**wanted, "rules": wanted["rules"][:1], "metadata": {**wanted["metadata"], "labels": {"mine": "x"}}}
    merged = reconciled_role(trimmed, wanted)
    assert merged is not None and not missing(
        [Rule.from_json(r) for r in merged["rules"]], [Rule.from_json(r) for r in wanted["rules"]]
    )
    assert merged["metadata"]["labels"]["mine"] == "x"
    assert reconciled_role(merged, wanted) is None
    frozen = {
        **trimmed,
        "metadata": {**trimmed["metadata"], "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "false"}},
    }
    assert reconciled_role(frozen, wanted) is None
    wanted_b = next(b for b in cluster_role_bindings() if b["metadata"]["name"] == "system:discovery")
    extra = {**wanted_b, "subjects": [{"kind": "User", "name": "extra"}]}
    merged_b, recreate = reconciled_binding(extra, wanted_b)
    assert not recreate and merged_b is not None and len(merged_b["subjects"]) == 2
    moved = {**wanted_b, "roleRef": {**wanted_b["roleRef"], "name": "other"}}
    assert reconciled_binding(moved, wanted_b) == (wanted_b, True)
