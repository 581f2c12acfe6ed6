"""Priority: a pod's `priorityClassName` becomes its `priority` (and preemption policy); one global default.

system-node-critical and system-cluster-critical are known even before the apiserver has written them.
"""

from __future__ import annotations

from api.schema import JSON
from apiserver.admission.lookup import PRIORITY_CLASSES, Lookup
from apiserver.admission.request import CREATE, UPDATE, Request

BUILTIN_CLASSES: dict[str, int] = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
DEFAULT_PREEMPTION = "PreemptLowerPriority"


def _is_global_default(pc: dict[str, JSON]) -> bool:
    return bool(pc.get("globalDefault"))


class Priority:
    """Resolves pods' priority classes; refuses a second globalDefault PriorityClass."""

    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup

    async def _class(self, name: str) -> dict[str, JSON] | None:
        pc = await self.lookup.get(PRIORITY_CLASSES, name)
        if pc is None and name in BUILTIN_CLASSES:
            return {"metadata": {"name": name}, "value": BUILTIN_CLASSES[name], "preemptionPolicy": DEFAULT_PREEMPTION}
        return pc

    async def mutate(self, req: Request) -> None:
        """Set a new pod's priority from its class, the global default class, or 0."""
        if req.operation != CREATE or not req.is_kind("", "Pod") or req.obj is None:
            return
        spec = req.obj.setdefault("spec", {})
        name = spec.get("priorityClassName")
        if name:
            pc = await self._class(str(name))
            if pc is None:
                raise req.forbidden(f"no PriorityClass with name {name} was found")
        else:
            defaults = await self.lookup.select(PRIORITY_CLASSES, keep=_is_global_default)
            pc = min(defaults, key=lambda c: int(c.get("value", 0))) if defaults else None
            if pc is not None:
                spec["priorityClassName"] = (pc.get("metadata") or {}).get("name", "")
        value = int(pc.get("value", 0)) if pc is not None else 0
        given = spec.get("priority")
        if given is not None and given != value:
            raise req.forbidden(
                f"the integer value of priority ({given}) must not be provided in pod spec; priority admission "
                f"controller computed {value} from the given PriorityClass name"
            )
        spec["priority"] = value
        if pc is not None and not spec.get("preemptionPolicy"):
            spec["preemptionPolicy"] = pc.get("preemptionPolicy") or DEFAULT_PREEMPTION

    async def validate(self, req: Request) -> None:
        """Only one PriorityClass may be the global default."""
        if req.operation not in (CREATE, UPDATE) or not req.is_kind("scheduling.k8s.io", "PriorityClass"):
            return
        if req.obj is None or not _is_global_default(req.obj):
            return
        for other in await self.lookup.current(PRIORITY_CLASSES, keep=_is_global_default):
            other_name = (other.get("metadata") or {}).get("name")
            if other_name != req.name:
                raise req.forbidden(
                    f"PriorityClass {other_name} is already marked as default. Only one default can exist"
                )
