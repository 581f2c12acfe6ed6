"""Resource amounts as plain integers, and a pod's effective request computed the way Kubernetes does.

Quantities are parsed once per pod (when its PodInfo is built) and once per node, so the filter and score
hot paths compare integers only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from api.quantity import Quantity

CPU: Final = "cpu"
MEMORY: Final = "memory"
EPHEMERAL_STORAGE: Final = "ephemeral-storage"
PODS: Final = "pods"

# What the scheduler assumes a container uses when it requests nothing, so that many request-less pods are
# not all packed onto one node by the scoring plugins (Kubernetes' DefaultMilliCPURequest/DefaultMemoryRequest).
DEFAULT_MILLI_CPU_REQUEST: Final = 100
DEFAULT_MEMORY_REQUEST: Final = 200 * 1024 * 1024


def quantity_value(name: str, raw: object) -> int:
    """Milli-units for CPU, whole units (bytes, counts) for everything else, rounded up as Kubernetes does."""
    q = Quantity.parse(str(raw))
    return q.milli_value() if name == CPU else q.int_value()


class Resources:
    """A vector of resource amounts: CPU in milli-cores, the rest in whole units; `scalar` holds extended ones."""

    __slots__ = ("ephemeral_storage", "memory", "milli_cpu", "pods", "scalar")

    def __init__(
        self,
        milli_cpu: int = 0,
        memory: int = 0,
        ephemeral_storage: int = 0,
        pods: int = 0,
        scalar: dict[str, int] | None = None,
    ) -> None:
        self.milli_cpu = milli_cpu
        self.memory = memory
        self.ephemeral_storage = ephemeral_storage
        self.pods = pods
        self.scalar: dict[str, int] = scalar if scalar is not None else {}

    @classmethod
    def from_list(cls, resources: Mapping[str, Any] | None) -> Resources:
        """Parse a ResourceList (`{"cpu": "500m", "memory": "1Gi", "nvidia.com/gpu": "1"}`)."""
        out = cls()
        for name, raw in (resources or {}).items():
            out.set(name, quantity_value(name, raw))
        return out

    def get(self, name: str) -> int:
        """The amount of one named resource."""
        if name == CPU:
            return self.milli_cpu
        if name == MEMORY:
            return self.memory
        if name == EPHEMERAL_STORAGE:
            return self.ephemeral_storage
        if name == PODS:
            return self.pods
        return self.scalar.get(name, 0)

    def set(self, name: str, value: int) -> None:
        """Set the amount of one named resource."""
        if name == CPU:
            self.milli_cpu = value
        elif name == MEMORY:
            self.memory = value
        elif name == EPHEMERAL_STORAGE:
            self.ephemeral_storage = value
        elif name == PODS:
            self.pods = value
        else:
            self.scalar[name] = value

    def add(self, other: Resources, sign: int = 1) -> None:
        """Add (or with sign=-1 subtract) another vector in place; used when pods come and go on a node."""
        self.milli_cpu += sign * other.milli_cpu
        self.memory += sign * other.memory
        self.ephemeral_storage += sign * other.ephemeral_storage
        self.pods += sign * other.pods
        for name, value in other.scalar.items():
            self.scalar[name] = self.scalar.get(name, 0) + sign * value

    def max_with(self, other: Resources) -> None:
        """Raise each amount to at least the other's, for the init-container rule."""
        self.milli_cpu = max(self.milli_cpu, other.milli_cpu)
        self.memory = max(self.memory, other.memory)
        self.ephemeral_storage = max(self.ephemeral_storage, other.ephemeral_storage)
        self.pods = max(self.pods, other.pods)
        for name, value in other.scalar.items():
            self.scalar[name] = max(self.scalar.get(name, 0), value)

    def copy(self) -> Resources:
        return Resources(self.milli_cpu, self.memory, self.ephemeral_storage, self.pods, dict(self.scalar))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Resources):
            return NotImplemented
        return (
            self.milli_cpu == other.milli_cpu
            and self.memory == other.memory
            and self.ephemeral_storage == other.ephemeral_storage
            and self.pods == other.pods
            and {k: v for k, v in self.scalar.items() if v} == {k: v for k, v in other.scalar.items() if v}
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return (
            f"Resources(milli_cpu={self.milli_cpu}, memory={self.memory}, "
            f"ephemeral_storage={self.ephemeral_storage}, pods={self.pods}, scalar={self.scalar})"
        )


def _container_requests(container: Mapping[str, Any]) -> Resources:
    return Resources.from_list((container.get("resources") or {}).get("requests"))


def _non_zero(container: Mapping[str, Any]) -> tuple[int, int]:
    requests = (container.get("resources") or {}).get("requests") or {}
    cpu = quantity_value(CPU, requests[CPU]) if CPU in requests else DEFAULT_MILLI_CPU_REQUEST
    memory = quantity_value(MEMORY, requests[MEMORY]) if MEMORY in requests else DEFAULT_MEMORY_REQUEST
    return cpu, memory


def pod_requests(spec: Mapping[str, Any]) -> Resources:
    """max(sum of containers (plus sidecars), each init container plus the sidecars started before it) + overhead.

    Sidecars are init containers with `restartPolicy: Always`: they keep running, so they count towards the
    steady-state sum and towards every init container that starts after them.
    """
    total = Resources()
    for c in spec.get("containers") or ():
        total.add(_container_requests(c))
    init_peak = Resources()
    sidecars = Resources()
    for c in spec.get("initContainers") or ():
        req = _container_requests(c)
        if c.get("restartPolicy") == "Always":
            total.add(req)
            sidecars.add(req)
            init_peak.max_with(sidecars)
        else:
            req.add(sidecars)
            init_peak.max_with(req)
    total.max_with(init_peak)
    overhead = spec.get("overhead")
    if overhead:
        total.add(Resources.from_list(overhead))
    return total


def pod_non_zero_requests(spec: Mapping[str, Any]) -> tuple[int, int]:
    """(milli-CPU, memory) with each container's missing request replaced by the scheduler's default."""
    cpu = memory = 0
    for c in spec.get("containers") or ():
        c_cpu, c_mem = _non_zero(c)
        cpu += c_cpu
        memory += c_mem
    side_cpu = side_mem = peak_cpu = peak_mem = 0
    for c in spec.get("initContainers") or ():
        c_cpu, c_mem = _non_zero(c)
        if c.get("restartPolicy") == "Always":
            cpu += c_cpu
            memory += c_mem
            side_cpu += c_cpu
            side_mem += c_mem
            peak_cpu, peak_mem = max(peak_cpu, side_cpu), max(peak_mem, side_mem)
        else:
            peak_cpu, peak_mem = max(peak_cpu, c_cpu + side_cpu), max(peak_mem, c_mem + side_mem)
    cpu, memory = max(cpu, peak_cpu), max(memory, peak_mem)
    overhead = spec.get("overhead") or {}
    if CPU in overhead:
        cpu += quantity_value(CPU, overhead[CPU])
    if MEMORY in overhead:
        memory += quantity_value(MEMORY, overhead[MEMORY])
    return cpu, memory
