"""The static CPU manager policy as a pure core: who gets which CPUs exclusively, and what is left shared.

Upstream's rules (pkg/kubelet/cm/cpumanager/policy_static.go): only containers of Guaranteed pods whose cpu
request is a whole number get exclusive CPUs; every other container runs on the shared pool (the
"default set"), which shrinks as exclusive CPUs are handed out and grows back when their pods go. Reserved
CPUs stay in the shared pool and are never handed out. CPUs of a (non-sidecar) init container are reused by
the pod's later containers, since init containers run before them.

Choosing CPUs: upstream takes whole sockets, then whole cores, then single threads (``takeByTopology``). This
node type has one socket and one thread per core, where that order is simply the lowest-numbered CPUs
first, so ``take`` is a sorted take (CPUs the pod may reuse first); a node with SMT siblings would need the
topology-aware order to keep sibling threads together.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from kubelet.cpuset import format_cpus
from kubelet.qos import GUARANTEED, container_requests, qos_class

NONE: Final = "none"
STATIC: Final = "static"
POLICIES: Final = (NONE, STATIC)


class CpuPolicyError(ValueError):
    """The static policy cannot be set up as configured, or its saved state does not fit this machine."""


@dataclass(frozen=True)
class NotEnoughCpus(Exception):
    """A container asked for more exclusive CPUs than are free (upstream's wording in ``str``)."""

    requested: int
    available: int

    def __str__(self) -> str:
        return (f"not enough cpus available to satisfy request: requested={self.requested}, "
                f"available={self.available}")


@dataclass(frozen=True)
class CpuAssignments:
    """The policy's state: the shared pool and, by pod uid and container name, each exclusive CPU set."""

    default: frozenset[int]
    entries: Mapping[str, Mapping[str, frozenset[int]]] = field(default_factory=dict)

    def assigned(self) -> frozenset[int]:
        """Every CPU some container holds exclusively."""
        return frozenset(cpu for pod in self.entries.values() for cpus in pod.values() for cpu in cpus)


@dataclass(frozen=True)
class ContainerDemand:
    """One container's exclusive CPU count; ``reusable`` for init containers whose CPUs later ones may take."""

    name: str
    cpus: int
    reusable: bool = False


def take(available: Iterable[int], count: int, preferred: Collection[int] = ()) -> frozenset[int]:
    """``count`` CPUs of ``available``: those in ``preferred`` first, then the lowest-numbered (see module doc)."""
    pool = sorted(set(available), key=lambda cpu: (cpu not in preferred, cpu))
    if count > len(pool):
        raise NotEnoughCpus(count, len(pool))
    return frozenset(pool[:count])


def reserved_cpus(all_cpus: frozenset[int], explicit: frozenset[int], reserved_milli: int) -> frozenset[int]:
    """The CPUs kept for the system: ``--reserved-cpus`` if given, else ceil(kube + system reserved cpu)."""
    if explicit:
        if not explicit <= all_cpus:
            raise CpuPolicyError(f"--reserved-cpus {format_cpus(explicit)} is not within the machine's CPUs "
                                 f"{format_cpus(all_cpus)}")
        return explicit
    count = -(-reserved_milli // 1000)
    if count <= 0:
        raise CpuPolicyError("the static policy requires systemreserved.cpu + kubereserved.cpu to be greater "
                             "than zero (or --reserved-cpus)")
    try:
        return take(all_cpus, count)
    except NotEnoughCpus:
        raise CpuPolicyError(f"cannot reserve {count} CPUs out of {len(all_cpus)}") from None


def validate(state: CpuAssignments, all_cpus: frozenset[int], reserved: frozenset[int]) -> None:
    """Raise unless a (restored) state partitions this machine's CPUs and keeps the reserved ones shared."""
    assigned = state.assigned()
    if not reserved <= state.default:
        raise CpuPolicyError(f"reserved CPUs {format_cpus(reserved)} are not all in the shared pool "
                             f"{format_cpus(state.default)}")
    if assigned & state.default:
        raise CpuPolicyError(f"exclusive CPUs {format_cpus(assigned & state.default)} are also in the shared pool")
    if assigned | state.default != all_cpus:
        raise CpuPolicyError(f"current set of available CPUs {format_cpus(all_cpus)} doesn't match with CPUs in "
                             f"state {format_cpus(assigned | state.default)}")


def exclusive_cpus(pod: Mapping[str, Any], container: Mapping[str, Any]) -> int:
    """How many CPUs the container gets to itself: its whole-number cpu request in a Guaranteed pod, else 0."""
    if qos_class(pod) != GUARANTEED:
        return 0
    cpu = container_requests(container).get("cpu")
    if cpu is None or cpu.milli_value() % 1000:
        return 0
    return cpu.milli_value() // 1000


def demands(pod: Mapping[str, Any]) -> list[ContainerDemand]:
    """The pod's containers in start order (init containers first), each with its exclusive CPU count."""
    spec = pod.get("spec") or {}
    out = [ContainerDemand(c.get("name", ""), exclusive_cpus(pod, c), reusable=c.get("restartPolicy") != "Always")
           for c in spec.get("initContainers") or []]
    out += [ContainerDemand(c.get("name", ""), exclusive_cpus(pod, c)) for c in spec.get("containers") or []]
    return out


def allocate(state: CpuAssignments, uid: str, wanted: Sequence[ContainerDemand],
             reserved: frozenset[int]) -> CpuAssignments:
    """The state with pod ``uid``'s containers given their CPUs; all or nothing (raises NotEnoughCpus).

    Containers already holding CPUs keep them, so re-admitting a pod (after a restart) changes nothing.
    """
    pod = dict(state.entries.get(uid, {}))
    default = set(state.default)
    reusable: set[int] = set()
    for demand in wanted:
        if demand.cpus == 0:
            continue
        cpus = pod.get(demand.name)
        if cpus is None:
            cpus = take((default - reserved) | reusable, demand.cpus, preferred=reusable)
            pod[demand.name] = cpus
            default -= cpus
        if demand.reusable:
            reusable |= cpus
        else:
            reusable -= cpus
    if pod == state.entries.get(uid, {}):
        return state
    return CpuAssignments(frozenset(default), {**state.entries, uid: pod})


def release(state: CpuAssignments, keep: Collection[str]) -> CpuAssignments:
    """The state with every pod not in ``keep`` gone and its CPUs back in the shared pool."""
    gone = [uid for uid in state.entries if uid not in keep]
    if not gone:
        return state
    freed = {cpu for uid in gone for cpus in state.entries[uid].values() for cpu in cpus}
    return CpuAssignments(state.default | freed, {uid: pod for uid, pod in state.entries.items() if uid in keep})


def cpus_for(state: CpuAssignments, uid: str, name: str) -> frozenset[int]:
    """Where container ``name`` of pod ``uid`` runs: its exclusive CPUs, or the shared pool."""
    return state.entries.get(uid, {}).get(name) or state.default
