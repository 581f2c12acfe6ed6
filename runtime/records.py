"""The runtime's durable view of its objects: one JSON file per sandbox and per container under ``--state``.

Records hold what was asked for (and what only the runtime knows, like the netns and cgroup it
made); how a container ended lives beside it in ``status.json``, written by its shim. A restarted
daemon rebuilds everything from these files.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.atomicfile import write_atomic


@dataclass
class ContainerRecord:
    """A container as created: identity, placement, and the CRI fields it must echo back."""

    id: str
    sandbox_id: str
    name: str
    attempt: int = 0
    image: str = ""
    image_id: str = ""
    created_at: int = 0
    log_path: str = ""
    cgroup_path: str = ""
    bundle: str = ""
    rootfs_dir: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # opaque to the core: the API layer's echo fields
    started: bool = False


@dataclass
class SandboxRecord:
    """A pod sandbox: its holder container, network namespace, CNI result and host-namespace choices."""

    id: str
    name: str
    namespace: str = ""
    uid: str = ""
    attempt: int = 0
    created_at: int = 0
    hostname: str = ""
    netns: str = ""  # name under /run/netns, empty with hostNetwork
    host_network: bool = False
    host_pid: bool = False
    host_ipc: bool = False
    share_pid: bool = False
    cgroup_parent: str = ""
    owns_cgroup_parent: bool = False
    ip: str = ""
    additional_ips: list[str] = field(default_factory=list)
    cni_network: str = ""
    cni_result: dict[str, Any] = field(default_factory=dict)
    port_mappings: list[dict[str, Any]] = field(default_factory=list)
    holder_id: str = ""
    dir: str = ""
    state: str = "ready"  # ready | notready
    network_torn_down: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


class RecordStore:
    """Loads and saves records under ``<state>/{sandboxes,containers}/<id>/record.json``.

    Records hold only JSON types, so they are serialised straight from ``vars()``: ``asdict`` deep-copied
    every nested dict (a CNI result, labels) first, on every save of every pod.
    """

    def __init__(self, state_dir: str) -> None:
        self.root = Path(state_dir)
        self.sandboxes = self.root / "sandboxes"
        self.containers = self.root / "containers"
        self.sandboxes.mkdir(parents=True, exist_ok=True)
        self.containers.mkdir(parents=True, exist_ok=True)

    def container_dir(self, cid: str) -> Path:
        return self.containers / cid

    def sandbox_dir(self, sid: str) -> Path:
        return self.sandboxes / sid

    def save_container(self, rec: ContainerRecord) -> None:
        """Persist a container record atomically."""
        self.container_dir(rec.id).mkdir(parents=True, exist_ok=True)
        write_atomic(str(self.container_dir(rec.id) / "record.json"), json.dumps(vars(rec), sort_keys=True))

    def save_sandbox(self, rec: SandboxRecord) -> None:
        """Persist a sandbox record atomically."""
        self.sandbox_dir(rec.id).mkdir(parents=True, exist_ok=True)
        write_atomic(str(self.sandbox_dir(rec.id) / "record.json"), json.dumps(vars(rec), sort_keys=True))

    def load_containers(self) -> list[ContainerRecord]:
        """Every container record on disk."""
        return [ContainerRecord(**raw) for raw in self._load_all(self.containers)]

    def load_sandboxes(self) -> list[SandboxRecord]:
        """Every sandbox record on disk."""
        return [SandboxRecord(**raw) for raw in self._load_all(self.sandboxes)]

    @staticmethod
    def _load_all(parent: Path) -> list[dict[str, Any]]:
        out = []
        for entry in sorted(parent.iterdir()):
            path = entry / "record.json"
            try:
                out.append(json.loads(path.read_text()))
            except FileNotFoundError:
                continue  # created and crashed before the first save: nothing to resume
        return out

    def delete_container(self, cid: str) -> None:
        """Remove a container's state directory (record, bundle, shim files)."""
        shutil.rmtree(self.container_dir(cid), ignore_errors=True)

    def delete_sandbox(self, sid: str) -> None:
        """Remove a sandbox's state directory (record, holder bundle, /etc files)."""
        shutil.rmtree(self.sandbox_dir(sid), ignore_errors=True)


def read_status(bundle: str) -> dict[str, Any]:
    """The shim's ``status.json`` for a container bundle, or ``{}`` before the shim wrote one."""
    try:
        with open(os.path.join(bundle, "status.json")) as f:
            data: dict[str, Any] = json.load(f)
            return data
    except FileNotFoundError:
        return {}
