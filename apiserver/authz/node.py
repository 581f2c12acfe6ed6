"""The Node authorizer: a kubelet (user `system:node:<name>` in group `system:nodes`) reaches only its Node,
its Lease, the pods bound to it and the objects those pods use.

Secrets, configmaps, claims, volumes and ServiceAccount tokens are checked against the node graph; Nodes,
Leases and pods against the node's name; everything else against the `system:node` rules. A request
this authorizer does not allow gets no opinion, so RBAC may still grant it.
"""

from __future__ import annotations

from collections.abc import Sequence

from apiserver.authz.attributes import ALLOW, NO_OPINION, Attributes, Decision, Outcome
from apiserver.authz.node_graph import NodeGraph
from apiserver.authz.request_info import exact_match
from apiserver.authz.rules import Rule, any_allows

NODES_GROUP = "system:nodes"
NODE_USER_PREFIX = "system:node:"
LEASE_NAMESPACE = "kube-node-lease"
READ = frozenset({"get", "list", "watch"})
OWN_OBJECT_VERBS = frozenset({"get", "update", "patch", "delete"})
LEASE_VERBS = frozenset({"get", "create", "update", "patch", "delete"})


def node_name(attrs: Attributes) -> str | None:
    """The node a request comes from, or None when the user is not a node."""
    user = attrs.user
    if NODES_GROUP not in user.groups or not user.name.startswith(NODE_USER_PREFIX):
        return None
    return user.name[len(NODE_USER_PREFIX) :]


def _no(reason: str) -> Decision:
    return Decision(Outcome.NO_OPINION, reason)


class NodeAuthorizer:
    """Node identities against the node graph and the system:node rules."""

    def __init__(self, graph: NodeGraph, node_rules: Sequence[Rule]) -> None:
        self.graph = graph
        self.node_rules = tuple(node_rules)

    def authorize(self, attrs: Attributes) -> Decision:
        """Allow what the node's pods need; no opinion otherwise."""
        node = node_name(attrs)
        if node is None:
            return NO_OPINION
        if not node:
            return _no("unknown node")
        if attrs.resource_request:
            group, resource = attrs.api_group, attrs.resource
            if group == "" and resource in ("secrets", "configmaps"):
                return self._read_referenced(node, attrs)
            if group == "" and resource == "persistentvolumeclaims":
                if attrs.subresource == "status":
                    return self._claim_status(node, attrs)
                return self._get_referenced(node, attrs)
            if group == "" and resource == "persistentvolumes":
                return self._get_referenced(node, attrs)
            if group == "" and resource == "serviceaccounts":
                return self._token(node, attrs)
            if group == "coordination.k8s.io" and resource == "leases":
                return self._lease(node, attrs)
            if group == "" and resource == "pods":
                return self._pod(node, attrs)
            if group == "" and resource == "nodes":
                return self._node(node, attrs)
        return ALLOW if any_allows(self.node_rules, attrs) else NO_OPINION

    def _related(self, node: str, attrs: Attributes) -> Decision:
        if not attrs.name:
            return _no("can only access resources of this type by name")
        if self.graph.reaches(node, attrs.resource, attrs.namespace, attrs.name):
            return ALLOW
        return _no(f"no relationship found between node '{node}' and this object")

    def _read_referenced(self, node: str, attrs: Attributes) -> Decision:
        if attrs.verb not in READ or attrs.subresource:
            return _no("can only read resources of this type")
        return self._related(node, attrs)

    def _get_referenced(self, node: str, attrs: Attributes) -> Decision:
        if attrs.verb != "get" or attrs.subresource:
            return _no("can only get individual resources of this type")
        return self._related(node, attrs)

    def _claim_status(self, node: str, attrs: Attributes) -> Decision:
        if attrs.verb not in ("get", "update", "patch"):
            return _no("can only get, update or patch a claim's status")
        return self._related(node, attrs)

    def _token(self, node: str, attrs: Attributes) -> Decision:
        if attrs.verb != "create" or attrs.subresource != "token":
            return _no("can only create tokens for individual service accounts")
        return self._related(node, attrs)

    def _lease(self, node: str, attrs: Attributes) -> Decision:
        if attrs.verb not in LEASE_VERBS or attrs.namespace != LEASE_NAMESPACE:
            return _no("can only get, create, update, patch, or delete its node lease")
        # A create names no object in its URL; admission checks the name in the body.
        if attrs.verb != "create" and attrs.name != node:
            return _no("can only access its own node lease")
        return ALLOW

    def _pod(self, node: str, attrs: Attributes) -> Decision:
        if attrs.verb == "create" and not attrs.name:
            return ALLOW  # mirror pods; NodeRestriction admission checks what they are
        if attrs.verb in ("list", "watch") and not attrs.name:
            if exact_match(attrs.field_selector, "spec.nodeName") == node:
                return ALLOW
            return _no("can only list/watch pods with spec.nodeName field selector")
        own = bool(attrs.name) and self.graph.pod_node(attrs.namespace, attrs.name) == node
        if own and (
            (attrs.subresource in ("", "status") and attrs.verb in OWN_OBJECT_VERBS | READ)
            or (attrs.subresource == "eviction" and attrs.verb == "create")
        ):
            return ALLOW
        return _no(f"no relationship found between node '{node}' and this object")

    def _node(self, node: str, attrs: Attributes) -> Decision:
        if attrs.verb == "create" and not attrs.name:
            return ALLOW  # registration; NodeRestriction admission checks the name
        if attrs.name == node and attrs.subresource in ("", "status") and attrs.verb in OWN_OBJECT_VERBS | READ:
            return ALLOW
        return _no("can only access its own Node")
