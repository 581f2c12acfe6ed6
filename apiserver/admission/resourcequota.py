"""ResourceQuota: a create that would take a namespace past a quota's `hard` is refused (403 `exceeded quota`);
an admitted one adds its usage to the quota's `status.used` in the same store transaction as the object,
guarded by the quota's revision, so concurrent creates through any apiserver can never overshoot: the loser
of a race is admitted again against the new usage. The quota controller recomputes `used` from the objects.
"""

from __future__ import annotations

import copy
from fractions import Fraction

from api.quantity import Quantity, QuantityError
from api.schema import JSON
from apiserver.admission.limitranger import CONTAINER_LISTS, pod_totals, quantity
from apiserver.admission.lookup import RESOURCE_QUOTAS, Lookup
from apiserver.admission.request import CREATE, Charges, Request
from apiserver.registry import Registry
from store import client as store

LEGACY_COUNTS = frozenset(
    {"services", "secrets", "configmaps", "persistentvolumeclaims", "replicationcontrollers", "resourcequotas"}
)
POD_COMPUTE = {
    "requests.cpu": ("requests", "cpu"),
    "cpu": ("requests", "cpu"),
    "requests.memory": ("requests", "memory"),
    "memory": ("requests", "memory"),
    "limits.cpu": ("limits", "cpu"),
    "limits.memory": ("limits", "memory"),
    "requests.ephemeral-storage": ("requests", "ephemeral-storage"),
    "ephemeral-storage": ("requests", "ephemeral-storage"),
    "limits.ephemeral-storage": ("limits", "ephemeral-storage"),
}
MUST_SPECIFY = ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "cpu", "memory")
Usage = dict[str, Fraction]


def _has_compute(pod: dict[str, JSON], field: str) -> bool:
    spec = pod.get("spec") or {}
    return any(((c.get("resources") or {}).get(field) or {}) for lst in CONTAINER_LISTS for c in spec.get(lst) or [])


def pod_in_scopes(pod: dict[str, JSON], scopes: list[str]) -> bool:
    """Whether a quota with these scopes counts the pod (Terminating, NotTerminating, BestEffort, NotBestEffort)."""
    terminating = (pod.get("spec") or {}).get("activeDeadlineSeconds") is not None
    best_effort = not _has_compute(pod, "requests") and not _has_compute(pod, "limits")
    wanted = {
        "Terminating": terminating,
        "NotTerminating": not terminating,
        "BestEffort": best_effort,
        "NotBestEffort": not best_effort,
    }
    return all(wanted.get(scope, True) for scope in scopes)


def usage(req: Request) -> Usage:
    """What creating `req.obj` adds to its namespace's usage, by quota resource name."""
    obj = req.obj or {}
    res = req.resource
    count_name = f"count/{res.plural}.{res.group}" if res.group else f"count/{res.plural}"
    out: Usage = {count_name: Fraction(1)}
    if not res.group and res.plural in LEGACY_COUNTS:
        out[res.plural] = Fraction(1)
    spec = obj.get("spec") or {}
    if (res.group, res.kind) == ("", "Pod"):
        out["pods"] = Fraction(1)
        totals = {"requests": pod_totals(spec, "requests"), "limits": pod_totals(spec, "limits")}
        for name, (field, resource) in POD_COMPUTE.items():
            out[name] = totals[field][resource].value if resource in totals[field] else Fraction(0)
    elif (res.group, res.kind) == ("", "Service"):
        kind = spec.get("type")
        node_ports = kind == "NodePort" or (kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True))
        out["services.nodeports"] = Fraction(len(spec.get("ports") or []) if node_ports else 0)
        out["services.loadbalancers"] = Fraction(1 if kind == "LoadBalancer" else 0)
    elif (res.group, res.kind) == ("", "PersistentVolumeClaim"):
        try:
            storage = Quantity.parse(str(((spec.get("resources") or {}).get("requests") or {}).get("storage", "0")))
        except QuantityError:
            storage = Quantity(0)
        out["requests.storage"] = storage.value
        sc = spec.get("storageClassName")
        if sc:
            out[f"{sc}.storageclass.storage.k8s.io/requests.storage"] = storage.value
            out[f"{sc}.storageclass.storage.k8s.io/persistentvolumeclaims"] = Fraction(1)
    return out


def _listing(values: dict[str, Fraction], names: list[str]) -> str:
    return ",".join(f"{n}={quantity(values.get(n, Fraction(0)), n)}" for n in names)


def _parse(values: JSON) -> Usage:
    out: Usage = {}
    for name, text in (values or {}).items():
        try:
            out[name] = Quantity.parse(str(text)).value
        except QuantityError:
            continue
    return out


def _missing_compute(pod: dict[str, JSON], hard: list[str]) -> str:
    """Kubernetes' `must specify limits.cpu for: a,b; ...` for compute resources a quota limits."""
    spec = pod.get("spec") or {}
    parts = []
    for name in sorted(n for n in hard if n in MUST_SPECIFY):
        field, resource = POD_COMPUTE[name]
        lacking = [
            str(c.get("name"))
            for lst in CONTAINER_LISTS
            for c in spec.get(lst) or []
            if resource not in ((c.get("resources") or {}).get(field) or {})
        ]
        if lacking:
            parts.append(f"{name} for: {','.join(lacking)}")
    return "; ".join(parts)


class ResourceQuota:
    """Checks new objects against the namespace's quotas and charges them."""

    def __init__(self, lookup: Lookup, registry: Registry) -> None:
        self.lookup = lookup
        self.registry = registry

    async def validate(self, req: Request, charges: Charges) -> None:
        """Refuse a create beyond any quota; otherwise add the quota usage writes to `charges`."""
        if req.operation != CREATE or req.subresource or req.obj is None or not req.namespace:
            return
        if not await self.lookup.select(RESOURCE_QUOTAS, req.namespace):
            return
        delta = usage(req)
        is_pod = req.is_kind("", "Pod")
        for quota in await self.lookup.current(RESOURCE_QUOTAS, req.namespace):
            spec = quota.get("spec") or {}
            if is_pod and not pod_in_scopes(req.obj, list(spec.get("scopes") or [])):
                continue
            name = str((quota.get("metadata") or {}).get("name", ""))
            hard = _parse(spec.get("hard"))
            relevant = sorted(n for n in hard if n in delta)
            if not relevant:
                continue
            if is_pod:
                missing = _missing_compute(req.obj, relevant)
                if missing:
                    raise req.forbidden(f"failed quota: {name}: must specify {missing}")
            st = quota.get("status") or {}
            unknown = [n for n in relevant if n not in (st.get("hard") or {})]
            if unknown:
                raise req.forbidden(f"status unknown for quota: {name}, resources: {','.join(unknown)}")
            used = _parse(st.get("used"))
            after = {n: used.get(n, Fraction(0)) + delta[n] for n in relevant}
            exceeded = [n for n in relevant if after[n] > hard[n]]
            if exceeded:
                raise req.forbidden(
                    f"exceeded quota: {name}, requested: {_listing(delta, exceeded)}, "
                    f"used: {_listing(used, exceeded)}, limited: {_listing(hard, exceeded)}"
                )
            if req.dry_run or all(delta[n] == 0 for n in relevant):
                continue
            charged = copy.deepcopy(quota)
            new_used = dict((charged.setdefault("status", {})).get("used") or {})
            new_used.update({n: quantity(after[n], n).canonical() for n in relevant})
            charged["status"]["used"] = new_used
            key = f"{RESOURCE_QUOTAS}{req.namespace}/{name}"
            revision = int((quota.get("metadata") or {}).get("resourceVersion") or 0)
            charges.extend(
                [store.compare_mod(key, "==", revision)], [store.op_put(key, self.registry.value(key, charged))]
            )
