"""ResourceQuota status: ``hard`` mirrors the spec and ``used`` is recomputed from the objects.

Admission enforces quota against ``used``, so the numbers here follow upstream's evaluators:
terminal pods do not count, pod requests/limits are effective values (init containers included),
scopes narrow which pods count, and object counts use ``count/<resource>`` as well as the legacy
names (``pods``, ``services``, ``secrets``, …).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from fractions import Fraction
from typing import Final

from api.quantity import BINARY_SI, DECIMAL_SI, Quantity
from client.cache import split_key
from client.rest import ResourceRef
from controller_manager import pods as podstate
from controller_manager.actions import Action, UpdateStatus
from controller_manager.resources import has_any, pod_resource
from controller_manager.view import (
    CONFIG_MAPS,
    PERSISTENT_VOLUME_CLAIMS,
    PODS,
    REPLICATION_CONTROLLERS,
    RESOURCE_QUOTAS,
    SECRETS,
    SERVICES,
    Obj,
    View,
)

_LEGACY_COUNTS: Final = {"services": SERVICES, "secrets": SECRETS, "configmaps": CONFIG_MAPS,
                         "persistentvolumeclaims": PERSISTENT_VOLUME_CLAIMS,
                         "replicationcontrollers": REPLICATION_CONTROLLERS, "resourcequotas": RESOURCE_QUOTAS}
_POD_COMPUTE: Final = {"requests.cpu": ("requests", "cpu"), "cpu": ("requests", "cpu"),
                       "requests.memory": ("requests", "memory"), "memory": ("requests", "memory"),
                       "limits.cpu": ("limits", "cpu"), "limits.memory": ("limits", "memory"),
                       "requests.ephemeral-storage": ("requests", "ephemeral-storage"),
                       "limits.ephemeral-storage": ("limits", "ephemeral-storage")}


def _pod_in_scopes(pod: Obj, scopes: Sequence[str]) -> bool:
    terminating = (pod.get("spec") or {}).get("activeDeadlineSeconds") is not None
    best_effort = not has_any(pod, "requests") and not has_any(pod, "limits")
    for scope in scopes:
        if (scope == "Terminating" and not terminating) or (scope == "NotTerminating" and terminating):
            return False
        if (scope == "BestEffort" and not best_effort) or (scope == "NotBestEffort" and best_effort):
            return False
    return True


def _has_node_ports(svc: Obj) -> bool:
    spec = svc.get("spec") or {}
    if spec.get("type") == "NodePort":
        return True
    return spec.get("type") == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True) is not False


def _fmt(value: Fraction, resource: str) -> str:
    binary = "memory" in resource or "storage" in resource
    return Quantity(value, BINARY_SI if binary else DECIMAL_SI).canonical()


def usage(view: View, namespace: str, hard: Sequence[str], scopes: Sequence[str],
          counted: dict[str, ResourceRef] | None = None) -> dict[str, str]:
    """``used`` for the named resources; ``counted`` adds ``count/<resource>`` kinds from discovery."""
    pods = [p for p in view.list(PODS, namespace)
            if podstate.phase(p) not in (podstate.SUCCEEDED, podstate.FAILED) and _pod_in_scopes(p, scopes)]
    services = view.list(SERVICES, namespace)
    claims = view.list(PERSISTENT_VOLUME_CLAIMS, namespace)
    kinds = {**{f"count/{k}": v for k, v in _LEGACY_COUNTS.items()}, "count/pods": PODS, **(counted or {})}
    out: dict[str, str] = {}
    for name in hard:
        if name in ("pods", "count/pods"):
            out[name] = str(len(pods))
        elif name in _POD_COMPUTE:
            field, res = _POD_COMPUTE[name]
            out[name] = _fmt(sum((pod_resource(p, field, res) for p in pods), Fraction(0)), res)
        elif name == "services.nodeports":
            out[name] = str(sum(len((s.get("spec") or {}).get("ports") or []) for s in services
                                if _has_node_ports(s)))
        elif name == "services.loadbalancers":
            out[name] = str(sum(1 for s in services if (s.get("spec") or {}).get("type") == "LoadBalancer"))
        elif name == "requests.storage":
            total = sum((Quantity.parse(str((((c.get("spec") or {}).get("resources") or {}).get("requests") or {})
                                            .get("storage", "0"))).value for c in claims), Fraction(0))
            out[name] = _fmt(total, "storage")
        elif name in _LEGACY_COUNTS:
            out[name] = str(len(view.list(_LEGACY_COUNTS[name], namespace)))
        elif name in kinds:
            out[name] = str(len(view.list(kinds[name], namespace)))
    return out


def reconcile(view: View, key: str, counted: dict[str, ResourceRef] | None = None) -> list[Action]:
    """One sync of ResourceQuota ``key``."""
    namespace, name = split_key(key)
    quota = view.get(RESOURCE_QUOTAS, namespace, name)
    if quota is None or namespace is None:
        return []
    spec = quota.get("spec") or {}
    hard = dict(spec.get("hard") or {})
    new = copy.deepcopy(quota)
    new["status"] = {"hard": hard, "used": usage(view, namespace, sorted(hard), spec.get("scopes") or [], counted)}
    if new["status"] == (quota.get("status") or {}):
        return []
    return [UpdateStatus(RESOURCE_QUOTAS, new)]
