"""NodeUnschedulable: cordoned nodes take only pods that tolerate the unschedulable taint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from scheduler.cache import Cache
from scheduler.events import Action, ClusterEvent, Resource
from scheduler.framework import CycleState, FilterPlugin, NodeFilter, Status, unresolvable
from scheduler.nodeinfo import NodeInfo
from scheduler.podinfo import PodInfo, tolerates_any

REASON: Final = "node(s) were unschedulable"
UNSCHEDULABLE_TAINT: Final = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
_REJECTED: Final = unresolvable(REASON, plugin="NodeUnschedulable")


class NodeUnschedulable(FilterPlugin):
    """Honours `spec.unschedulable` (kubectl cordon) unless the pod tolerates the matching taint."""

    name = "NodeUnschedulable"

    def events_to_register(self) -> Sequence[ClusterEvent]:
        return (ClusterEvent(Resource.NODE, Action.ADD | Action.UPDATE_NODE_UNSCHEDULABLE | Action.UPDATE_NODE_TAINT),)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.unschedulable or tolerates_any(pod.tolerations, UNSCHEDULABLE_TAINT):
            return None
        return _REJECTED

    def node_filter(self, state: CycleState, pod: PodInfo, snapshot: Cache) -> NodeFilter | None:
        if not snapshot.unschedulable_nodes or tolerates_any(pod.tolerations, UNSCHEDULABLE_TAINT):
            return None
        return lambda node: _REJECTED if node.unschedulable else None
