"""What the runtime says about one pod, in the shape the pure cores read (built from CRI by the CRI client).

Times are seconds since the epoch (float); a container's ``attempt`` is CRI's restart counter, which is the
pod's restartCount for that container.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

CREATED: Final = "created"
RUNNING: Final = "running"
EXITED: Final = "exited"
UNKNOWN: Final = "unknown"

SANDBOX_READY: Final = "ready"
SANDBOX_NOTREADY: Final = "notready"


@dataclass(frozen=True)
class SandboxView:
    """One pod sandbox (the pause holder and its network namespace)."""

    id: str
    state: str
    created_at: float
    attempt: int = 0
    ip: str = ""
    additional_ips: tuple[str, ...] = ()
    host_network: bool = False


@dataclass(frozen=True)
class ContainerView:
    """One container instance; a restarted container is a new instance with ``attempt`` one higher."""

    id: str
    name: str
    state: str
    created_at: float
    attempt: int = 0
    started_at: float = 0.0
    finished_at: float = 0.0
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    image: str = ""
    image_ref: str = ""
    spec_hash: str = ""


PodStates = tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]  # sorted (id, state): sandboxes, containers


@dataclass
class PodRuntime:
    """Every sandbox and container instance the runtime holds for one pod uid."""

    sandboxes: list[SandboxView] = field(default_factory=list)
    containers: list[ContainerView] = field(default_factory=list)

    def states(self) -> PodStates:
        """What a relist compares: the (id, state) of each sandbox and container."""
        return (tuple(sorted((s.id, s.state) for s in self.sandboxes)),
                tuple(sorted((c.id, c.state) for c in self.containers)))

    def latest_sandbox(self) -> SandboxView | None:
        """The newest sandbox, which the pod's network and IP belong to."""
        return max(self.sandboxes, key=lambda s: (s.created_at, s.attempt), default=None)

    def instances(self, name: str) -> list[ContainerView]:
        """Instances of container ``name``, newest first."""
        found = [c for c in self.containers if c.name == name]
        return sorted(found, key=lambda c: (c.attempt, c.created_at), reverse=True)

    def latest(self, name: str) -> ContainerView | None:
        """The newest instance of container ``name``, if any."""
        found = self.instances(name)
        return found[0] if found else None
