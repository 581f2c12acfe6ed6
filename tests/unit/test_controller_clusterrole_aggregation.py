"""The clusterrole-aggregation reconcile core: an aggregating ClusterRole holds its matching roles' rules."""

from __future__ import annotations

from typing import Any

from controller_manager.clusterroleaggregation import CLUSTER_ROLES, aggregating_roles, reconcile
from tests.unit.controller_fixtures import FakeCluster

VIEW_LABEL = "rbac.authorization.k8s.io/aggregate-to-view"
PODS = {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}
JOBS = {"verbs": ["list"], "apiGroups": ["batch"], "resources": ["jobs"]}


def cluster_role(
    name: str, rules: list[dict[str, Any]], labels: dict[str, str] | None = None, aggregate: bool = False
) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"name": name, "labels": labels or {}}, "rules": rules}
    if aggregate:
        obj["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {VIEW_LABEL: "true"}}]}
    return obj


def test_aggregated_role_collects_matching_rules_once_and_follows_changes() -> None:
    c = FakeCluster()
    c.add(CLUSTER_ROLES, cluster_role("view", [], aggregate=True))
    c.add(CLUSTER_ROLES, cluster_role("b-extra", [PODS, JOBS], {VIEW_LABEL: "true"}))
    c.add(CLUSTER_ROLES, cluster_role("a-base", [PODS], {VIEW_LABEL: "true"}))
    c.add(CLUSTER_ROLES, cluster_role("unrelated", [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]))
    assert aggregating_roles(c) == ["view"]
    c.apply(reconcile(c, "view"))
    assert c.get(CLUSTER_ROLES, None, "view")["rules"] == [PODS, JOBS]
    assert reconcile(c, "view") == []
    c.remove(CLUSTER_ROLES, None, "b-extra")
    c.apply(reconcile(c, "view"))
    assert c.get(CLUSTER_ROLES, None, "view")["rules"] == [PODS]


def test_roles_without_aggregation_rule_are_left_alone() -> None:
    c = FakeCluster()
    c.add(CLUSTER_ROLES, cluster_role("plain", [PODS]))
    c.add(CLUSTER_ROLES, cluster_role("labelled", [JOBS], {VIEW_LABEL: "true"}))
    assert reconcile(c, "plain") == [] and reconcile(c, "missing") == []
