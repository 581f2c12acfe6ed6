"""NodePorts: a host port (per address and protocol) can be taken by one pod per node."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from scheduler.cache import Cache
from scheduler.events import Action, ClusterEvent, Resource
from scheduler.framework import SKIP, CycleState, FilterPlugin, PreFilterPlugin, Status, unschedulable
from scheduler.nodeinfo import NodeInfo
from scheduler.podinfo import PodInfo

REASON: Final = "node(s) didn't have free ports for the requested pod ports"
_REJECTED: Final = unschedulable(REASON, plugin="NodePorts")


class NodePorts(PreFilterPlugin, FilterPlugin):
    """Rejects nodes where a requested hostPort is in use; pods without host ports skip it."""

    name = "NodePorts"

    def events_to_register(self) -> Sequence[ClusterEvent]:
        return (ClusterEvent(Resource.ASSIGNED_POD, Action.DELETE), ClusterEvent(Resource.NODE, Action.ADD))

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Cache) -> Status | None:
        return None if pod.host_ports else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        for ip, protocol, port in pod.host_ports:
            if node.port_conflict(ip, protocol, port):
                return _REJECTED
        return None
