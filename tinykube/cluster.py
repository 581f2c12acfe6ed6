"""A local cluster's identity, options and on-disk layout (ARCHITECTURE.md §10), saved as ``cluster.json``.

Every cluster command (`up`, `down`, `status`, `logs`, `chaos`, …) finds the same cluster through
``--name`` and ``--state-dir`` and reads everything else from here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tinykube.topology import Node, Topology

DEFAULT_NAME = "tinykube"
STATE_ROOT = Path("/var/lib/tinykube")


def default_state_dir(name: str) -> Path:
    return STATE_ROOT / name


@dataclass(frozen=True)
class Options:
    """What the user chose at `tinykube up`; a later `up` of the same cluster reuses it."""

    proxy_mode: str = "iptables"
    backend: str = "vxlan"
    underlay_iface: str = "eth0"  # the node's link to the other nodes (eth1 on a Vagrant VM)
    # The scheduler's and controller-manager's --leader-elect-* timings in seconds; None keeps their defaults.
    leader_elect_lease_duration: float | None = None
    leader_elect_renew_deadline: float | None = None
    leader_elect_retry_period: float | None = None

    def leader_elect_flags(self) -> tuple[str, ...]:
        timings = {"lease-duration": self.leader_elect_lease_duration,
                   "renew-deadline": self.leader_elect_renew_deadline,
                   "retry-period": self.leader_elect_retry_period}
        return tuple(f"--leader-elect-{flag}={seconds}s" for flag, seconds in timings.items() if seconds is not None)


@dataclass(frozen=True)
class Cluster:
    topology: Topology
    state_dir: Path
    options: Options = Options()

    @property
    def name(self) -> str:
        return self.topology.name

    @property
    def pki_dir(self) -> Path:
        return self.state_dir / "pki"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def supervisor_state(self) -> Path:
        return self.state_dir / "supervisor.json"

    @property
    def pid_file(self) -> Path:
        """The supervising `tinykube up` process, so `down` and `status` can find it."""
        return self.state_dir / "supervisor.pid"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.state_dir / "admin.kubeconfig"

    def node_dir(self, node: Node) -> Path:
        return self.state_dir / node.name

    def infra_dir(self) -> Path:
        return self.state_dir / "infra"

    def save(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        data = {"topology": self.topology.to_dict(), "options": asdict(self.options)}
        tmp = self.state_dir / "cluster.json.tmp"
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(self.state_dir / "cluster.json")

    @classmethod
    def load(cls, state_dir: Path) -> Cluster:
        """The cluster saved in ``state_dir``; FileNotFoundError when there is none."""
        data: dict[str, Any] = json.loads((state_dir / "cluster.json").read_text())
        return cls(Topology.from_dict(data["topology"]), state_dir, Options(**data.get("options", {})))
