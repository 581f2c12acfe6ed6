"""One apiserver's authorization, built from `--authorization-mode`: the union of authorizers, the RBAC
index and node graph they read (fed from the watch caches), the escalation check and the reviews.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from api import status
from apiserver.authz.access_reviews import AccessReviews
from apiserver.authz.attributes import Attributes, Authorizer, Decision
from apiserver.authz.bootstrap_policy import NODE_RULES
from apiserver.authz.escalation import EscalationCheck
from apiserver.authz.feed import Feeds
from apiserver.authz.forbidden import forbidden
from apiserver.authz.node import NodeAuthorizer
from apiserver.authz.node_graph import NodeGraph
from apiserver.authz.rbac import (
    CLUSTER_ROLE_BINDINGS,
    CLUSTER_ROLES,
    GROUP,
    ROLE_BINDINGS,
    ROLES,
    RBACAuthorizer,
    RBACIndex,
)
from apiserver.authz.rules import Rule
from apiserver.authz.union import AlwaysAllow, AlwaysDeny, PrivilegedGroup, Union
from apiserver.errors import APIError
from apiserver.watch_cache import WatchCaches

READY_SECONDS = 10.0
"""How long a request waits for the first sync of roles and bindings before a 503."""

StoragePrefixes = dict[tuple[str, str], str]
"""(group, plural) -> storage prefix without the trailing `/`."""


class Authorization:
    """The configured authorizer and what keeps it current."""

    def __init__(self, modes: Sequence[str], caches: WatchCaches, prefixes: StoragePrefixes) -> None:
        self.modes = tuple(modes)
        self.feeds = Feeds(caches)
        self.policy_ready = asyncio.Event()
        """Set once the bootstrap policy has been reconciled (kube-apiserver's rbac/bootstrap-roles hook)."""
        self.index: RBACIndex | None = None
        self.graph: NodeGraph | None = None
        members: list[Authorizer] = [PrivilegedGroup()]
        for mode in self.modes:
            if mode == "AlwaysAllow":
                members.append(AlwaysAllow())
            elif mode == "AlwaysDeny":
                members.append(AlwaysDeny())
            elif mode == "Node":
                self.graph = NodeGraph(prefixes[("", "pods")] + "/", prefixes[("", "persistentvolumeclaims")] + "/")
                members.append(NodeAuthorizer(self.graph, [Rule.from_json(r) for r in NODE_RULES]))
            elif mode == "RBAC":
                plurals = (ROLES, CLUSTER_ROLES, ROLE_BINDINGS, CLUSTER_ROLE_BINDINGS)
                self.index = RBACIndex({prefixes[(GROUP, p)] + "/": p for p in plurals})
                members.append(RBACAuthorizer(self.index))
        self.union = Union(members)
        self.escalation = EscalationCheck(self, self.index) if self.index is not None else None
        self.reviews = AccessReviews(self, self.index.rules_for if self.index is not None else None, self.modes)

    def start(self) -> None:
        """Begin following the watch caches the authorizers read."""
        if self.index is not None:
            self.feeds.follow(self.index, sorted(self.index.prefixes))
        if self.graph is not None:
            self.feeds.follow(self.graph, [self.graph.pods_prefix, self.graph.claims_prefix])
        if not self.feeds.tasks:
            self.feeds.ready.set()

    def unready(self) -> str:
        """Why this apiserver should not be reported ready yet ("" when it should)."""
        if not self.policy_ready.is_set():
            return "poststarthook/rbac/bootstrap-roles failed: not finished"
        if not self.feeds.ready.is_set():
            return "authorization caches not synced"
        return ""

    async def stop(self) -> None:
        """Stop following."""
        await self.feeds.stop()

    def authorize(self, attrs: Attributes) -> Decision:
        """The union's decision (the `Authorizer` interface, for impersonation and the escalation check)."""
        return self.union.authorize(attrs)

    async def check(self, attrs: Attributes) -> None:
        """Raise the 403 Status unless `attrs` is allowed; waits for the first sync after start-up."""
        if not self.feeds.ready.is_set():
            try:
                await asyncio.wait_for(self.feeds.ready.wait(), READY_SECONDS)
            except TimeoutError:
                raise APIError(status.service_unavailable("authorization is not ready: roles not yet loaded")) from None
        decision = self.union.authorize(attrs)
        if not decision.allowed:
            raise APIError(forbidden(attrs, decision.reason))
