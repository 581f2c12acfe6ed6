"""A whole cluster as a user makes one: `tinykube up -d` in a per-test state directory, `down` at cleanup,
driven through the `tinykube` CLI and kubectl. Tests and benches share it; a cluster is heavy, so run one
at a time."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.cleanup import Cleanup

BIN = Path(sys.executable).parent / "tinykube"


def tk(*argv: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN), *argv], capture_output=True, text=True, timeout=timeout)


@dataclass(frozen=True)
class LocalCluster:
    name: str
    state: Path

    @property
    def args(self) -> list[str]:
        """The flags that name this cluster to every cluster command."""
        return ["--name", self.name, "--state-dir", str(self.state)]

    @property
    def kubeconfig(self) -> Path:
        return self.state / "admin.kubeconfig"

    def tk(self, command: str, *argv: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        """``tinykube COMMAND`` on this cluster."""
        return tk(command, *self.args, *argv, timeout=timeout)

    def kubectl_argv(self, *argv: str) -> list[str]:
        return ["kubectl", "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.state.parent / "kube-cache"),
                *argv]

    def kubectl(self, *argv: str, check: bool = True, timeout: float = 240) -> str:
        """kubectl as the cluster's admin; its stdout (asserting success unless ``check`` is false)."""
        out = subprocess.run(self.kubectl_argv(*argv), capture_output=True, text=True, timeout=timeout)
        if check:
            assert out.returncode == 0, f"kubectl {' '.join(argv)}: {out.stderr}"
        return out.stdout

    def status(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.tk("status", "-o", "json").stdout)
        return doc


def up(name: str, state: Path, cleanup: Cleanup, *up_args: str, timeout: float = 300) -> LocalCluster:
    """Bring the cluster ``name`` up (3 nodes, pods, Services, DNS); it goes down when the test ends (its
    `down` is registered first, so a failed bring-up goes too)."""
    cluster = LocalCluster(name, state)
    cleanup.add(lambda: cluster.tk("down"))
    started = cluster.tk("up", "-d", *up_args, timeout=timeout)
    assert started.returncode == 0, started.stdout + started.stderr
    return cluster
