"""NodeName: a pod that names its node fits only there."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from scheduler.cache import Cache
from scheduler.events import Action, ClusterEvent, Resource
from scheduler.framework import SKIP, CycleState, FilterPlugin, PreFilterPlugin, Status, unresolvable
from scheduler.nodeinfo import NodeInfo
from scheduler.podinfo import PodInfo

REASON: Final = "node(s) didn't match the requested node name"
_REJECTED: Final = unresolvable(REASON, plugin="NodeName")


class NodeName(PreFilterPlugin, FilterPlugin):
    """Rejects every node but `spec.nodeName`; skipped for the usual pod that names none."""

    name = "NodeName"

    def events_to_register(self) -> Sequence[ClusterEvent]:
        return (ClusterEvent(Resource.NODE, Action.ADD),)

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Cache) -> Status | None:
        if not pod.node_name:
            return SKIP
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        return None if node.name == pod.node_name else _REJECTED
