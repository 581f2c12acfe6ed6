"""What the shim needs to start one container: our equivalent of an OCI bundle's config.json.

The daemon writes it at CreateContainer; the shim and the exec helper read it. Nothing in it refers
to CRI messages, so the launch code stays independent of the API that asked for the container.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from runtime.linux.rootfs import BindMount, RootfsSpec


@dataclass
class ProcessSpec:
    """The process to exec and the identity and privileges it runs with."""

    args: list[str]
    env: list[str] = field(default_factory=list)
    cwd: str = "/"
    uid: int = 0
    gid: int = 0
    groups: list[int] = field(default_factory=list)
    tty: bool = False
    stdin: bool = False
    stdin_once: bool = False
    caps: list[str] = field(default_factory=list)
    ambient_caps: list[str] = field(default_factory=list)
    no_new_privs: bool = False
    seccomp: bool = True
    oom_score_adj: int | None = None


@dataclass
class ContainerSpec:
    """Namespaces to join or create, cgroup, rootfs, process and log file of one container."""

    id: str
    process: ProcessSpec
    rootfs: RootfsSpec
    hostname: str = ""
    join_namespaces: dict[str, str] = field(default_factory=dict)
    new_namespaces: list[str] = field(default_factory=lambda: ["mnt", "pid", "cgroup"])
    cgroup_driver: str = "v1"
    cgroup_mount: str = "/sys/fs/cgroup"
    cgroup_path: str = ""
    log_path: str = ""
    log_max_size: int = 10 * 1024 * 1024
    log_max_files: int = 5
    pump: str = ""  # the compiled shim pump to exec once the container runs; "" keeps the Python one

    def to_json(self) -> str:
        """The spec as the shim reads it from ``config.json``: compact, so the C encoder writes it (an indented
        dump runs the pure-Python one, a visible share of the daemon's CPU on every sandbox and container).
        The nested dataclasses are encoded from their fields as they are met (``default=vars``): ``asdict``'s
        deep copy first took four times as long as the whole dump."""
        return json.dumps(vars(self), default=vars, sort_keys=True)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ContainerSpec:
        """Rebuild a spec (nested dataclasses included) from its JSON form."""
        rootfs = dict(raw["rootfs"])
        rootfs["mounts"] = [BindMount(**m) for m in rootfs.get("mounts", [])]
        rootfs["masked_paths"] = tuple(rootfs.get("masked_paths", ()))
        rootfs["readonly_paths"] = tuple(rootfs.get("readonly_paths", ()))
        return cls(**{**raw, "process": ProcessSpec(**raw["process"]), "rootfs": RootfsSpec(**rootfs)})

    @classmethod
    def load(cls, path: str) -> ContainerSpec:
        """Read a bundle's ``config.json``."""
        with open(path) as f:
            return cls.from_dict(json.load(f))

