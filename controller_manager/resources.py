"""Pod resource requests and limits as the scheduler, quota and autoscaler count them."""

from __future__ import annotations

from fractions import Fraction

from api.quantity import Quantity
from controller_manager.view import Obj


def pod_resource(pod: Obj, field: str, name: str) -> Fraction:
    """Effective ``requests``/``limits`` of one resource: the larger of the app containers' sum and any
    single init container (they run one at a time, before the rest), plus the pod overhead."""
    spec = pod.get("spec") or {}

    def of(c: Obj) -> Fraction:
        text = ((c.get("resources") or {}).get(field) or {}).get(name)
        return Quantity.parse(str(text)).value if text is not None else Fraction(0)

    total = sum((of(c) for c in spec.get("containers") or []), Fraction(0))
    for c in spec.get("initContainers") or []:
        if c.get("restartPolicy") == "Always":  # sidecars run alongside the app containers
            total += of(c)
        else:
            total = max(total, of(c))
    overhead = (spec.get("overhead") or {}).get(name)
    if overhead is not None:
        total += Quantity.parse(str(overhead)).value
    return total


def has_any(pod: Obj, field: str) -> bool:
    """Whether any container sets requests (or limits) at all: BestEffort pods set none."""
    spec = pod.get("spec") or {}
    return any(((c.get("resources") or {}).get(field)) for c in
               [*(spec.get("containers") or []), *(spec.get("initContainers") or [])])
