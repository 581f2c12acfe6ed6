"""Cluster events that may make an unschedulable pod schedulable, and how to classify an update.

Plugins register the events they care about; the queue moves a parked pod back only when an event matches
what one of the plugins that rejected it registered (Kubernetes' QueueingHints, without per-pod hint
functions).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class Resource(enum.Enum):
    """The kind of object an event is about; assigned and unassigned pods are told apart."""

    NODE = "Node"
    ASSIGNED_POD = "AssignedPod"
    UNSCHEDULED_POD = "UnscheduledPod"
    PERSISTENT_VOLUME = "PersistentVolume"
    PERSISTENT_VOLUME_CLAIM = "PersistentVolumeClaim"
    STORAGE_CLASS = "StorageClass"
    NAMESPACE = "Namespace"
    WILDCARD = "*"


class Action(enum.IntFlag):
    """What happened; the specific update flags let a plugin ignore irrelevant updates."""

    ADD = enum.auto()
    DELETE = enum.auto()
    UPDATE_NODE_ALLOCATABLE = enum.auto()
    UPDATE_NODE_LABEL = enum.auto()
    UPDATE_NODE_TAINT = enum.auto()
    UPDATE_NODE_CONDITION = enum.auto()
    UPDATE_NODE_UNSCHEDULABLE = enum.auto()
    UPDATE_POD_LABEL = enum.auto()
    UPDATE_POD_SCALE_DOWN = enum.auto()
    UPDATE_OTHER = enum.auto()
    UPDATE = (
        UPDATE_NODE_ALLOCATABLE
        | UPDATE_NODE_LABEL
        | UPDATE_NODE_TAINT
        | UPDATE_NODE_CONDITION
        | UPDATE_NODE_UNSCHEDULABLE
        | UPDATE_POD_LABEL
        | UPDATE_POD_SCALE_DOWN
        | UPDATE_OTHER
    )
    ALL = ADD | DELETE | UPDATE


@dataclass(frozen=True, slots=True)
class ClusterEvent:
    """A resource and the actions on it (a registration may cover several actions)."""

    resource: Resource
    action: Action

    def covers(self, incoming: ClusterEvent) -> bool:
        """Whether a registration (self) is interested in an incoming event."""
        if self.resource is Resource.WILDCARD:
            return True
        return self.resource is incoming.resource and bool(self.action & incoming.action)


# Events the queue itself raises.
UNSCHEDULABLE_TIMEOUT = ClusterEvent(Resource.WILDCARD, Action.ALL)
NODE_ADD = ClusterEvent(Resource.NODE, Action.ADD)
ASSIGNED_POD_DELETE = ClusterEvent(Resource.ASSIGNED_POD, Action.DELETE)
ASSIGNED_POD_ADD = ClusterEvent(Resource.ASSIGNED_POD, Action.ADD)


def node_update_event(old: Mapping[str, Any], new: Mapping[str, Any]) -> ClusterEvent | None:
    """Classify a Node update by what changed; None when nothing the scheduler reads changed."""
    action = Action(0)
    old_status, new_status = old.get("status") or {}, new.get("status") or {}
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if old_status.get("allocatable") != new_status.get("allocatable"):
        action |= Action.UPDATE_NODE_ALLOCATABLE
    if (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
        action |= Action.UPDATE_NODE_LABEL
    if old_spec.get("taints") != new_spec.get("taints"):
        action |= Action.UPDATE_NODE_TAINT
    if bool(old_spec.get("unschedulable")) != bool(new_spec.get("unschedulable")):
        action |= Action.UPDATE_NODE_UNSCHEDULABLE
    old_conditions = {c.get("type"): c.get("status") for c in old_status.get("conditions") or ()}
    new_conditions = {c.get("type"): c.get("status") for c in new_status.get("conditions") or ()}
    if old_conditions != new_conditions:
        action |= Action.UPDATE_NODE_CONDITION
    if old_status.get("images") != new_status.get("images"):
        action |= Action.UPDATE_OTHER
    return ClusterEvent(Resource.NODE, action) if action else None


def assigned_pod_update_event(old: Mapping[str, Any], new: Mapping[str, Any]) -> ClusterEvent | None:
    """Classify an update of a pod that is on a node: its labels changed, or it needs less now."""
    action = Action(0)
    if (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
        action |= Action.UPDATE_POD_LABEL
    old_containers = (old.get("spec") or {}).get("containers")
    new_containers = (new.get("spec") or {}).get("containers")
    if old_containers != new_containers:
        action |= Action.UPDATE_POD_SCALE_DOWN
    return ClusterEvent(Resource.ASSIGNED_POD, action) if action else None
