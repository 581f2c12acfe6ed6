"""Control groups behind one interface: v1 (this machine: one hierarchy per controller) and v2 (unified).

A container's cgroup is named by a relative path such as ``tinykube/<sandbox>/<container>``; the
driver maps it onto its hierarchy. The first segment is the project-owned parent (``--cgroup-root``):
nothing outside it is ever created, written or removed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

V1_CONTROLLERS = ("memory", "cpu", "cpuacct", "cpuset", "pids", "freezer", "devices")
V2_CONTROLLERS = ("cpu", "cpuset", "memory", "pids")
# Creating missing v1 directories: one creator at a time in this process (the runtime's only user of its root).
_CREATING = threading.Lock()

# What a default container may touch in /dev: the minimal nodes rootfs creates plus ptys (runc's list).
DEFAULT_DEVICE_RULES = (
    "c *:* m", "b *:* m",
    "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
    "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm",
)


class CgroupError(OSError):
    """A cgroup could not be created, configured or removed; says which file and why."""


@dataclass
class Resources:
    """Limits in CRI's units (LinuxContainerResources); zero or empty means "not set"."""

    memory_limit: int = 0
    cpu_shares: int = 0
    cpu_quota: int = 0
    cpu_period: int = 0
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    pids_limit: int = 0


@dataclass
class Stats:
    """A point-in-time reading of a cgroup's usage."""

    memory_usage: int = 0
    memory_working_set: int = 0
    memory_rss: int = 0
    memory_limit: int = 0
    cpu_usage_ns: int = 0
    pids: int = 0
    oom_kills: int = 0


def _read(path: Path, default: str = "") -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return default


def _write(path: Path, value: str | int) -> None:
    try:
        with open(path, "w") as f:
            f.write(str(value))
    except OSError as exc:
        raise CgroupError(exc.errno, f"write {value!r} to {path}: {os.strerror(exc.errno or 0)}") from None


def _keyed(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def _pids(procs_file: Path) -> list[int]:
    return [int(p) for p in _read(procs_file).split()]


def shares_to_weight(shares: int) -> int:
    """cgroup v2 cpu.weight for v1 cpu.shares, the conversion runc and the kubelet use."""
    return 1 + ((max(2, min(shares, 262144)) - 2) * 9999) // 262142


class CgroupDriver(ABC):
    """Creates, limits, joins, measures and removes the cgroup at a relative path."""

    name: str

    @abstractmethod
    def create(self, path: str, resources: Resources, restrict_devices: bool = False) -> None:
        """Create every missing level down to ``path`` and apply ``resources`` to the leaf."""

    @abstractmethod
    def update(self, path: str, resources: Resources) -> None:
        """Apply ``resources`` to an existing cgroup (zero fields are left alone)."""

    @abstractmethod
    def add_process(self, path: str, pid: int) -> None:
        """Move ``pid`` into the cgroup (every controller, for v1)."""

    @abstractmethod
    def procs(self, path: str) -> list[int]:
        """PIDs in the cgroup."""

    @abstractmethod
    def stats(self, path: str) -> Stats:
        """Current usage and OOM count."""

    @abstractmethod
    def exists(self, path: str) -> bool:
        """Whether the cgroup exists."""

    @abstractmethod
    def _rmdir(self, path: str) -> None: ...

    def oom_kills(self, path: str) -> int:
        """How many processes the OOM killer took in this cgroup."""
        return self.stats(path).oom_kills

    def kill(self, path: str, sig: int = signal.SIGKILL) -> None:
        """Signal every process in the cgroup (a container's whole tree, whatever its PID namespace)."""
        for pid in self.procs(path):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def remove(self, path: str, timeout: float = 10.0) -> None:
        """Remove the leaf once it is empty: rmdir on a populated cgroup fails with EBUSY.

        Waits up to ``timeout`` seconds for ``cgroup.procs`` to drain; a missing cgroup is not an error.
        """
        deadline = time.monotonic() + timeout
        while True:
            if not self.exists(path):
                return
            if not self.procs(path):
                try:
                    self._rmdir(path)
                    return
                except OSError as exc:
                    if exc.errno != errno.EBUSY:
                        raise
            if time.monotonic() > deadline:
                raise CgroupError(errno.EBUSY, f"cgroup {path} still has processes {self.procs(path)}")
            time.sleep(0.02)


class CgroupV1(CgroupDriver):
    """One directory per controller, ``<mount>/<controller>/<path>`` (this machine's hybrid layout)."""

    name = "cgroupfs-v1"

    def __init__(self, mount: str = "/sys/fs/cgroup", controllers: tuple[str, ...] = V1_CONTROLLERS) -> None:
        self.mount = Path(mount)
        self.controllers = tuple(c for c in controllers if (self.mount / c).is_dir())

    def dir(self, controller: str, path: str) -> Path:
        """The directory of ``path`` in one controller's hierarchy."""
        return self.mount / controller / path.strip("/")

    def create(self, path: str, resources: Resources, restrict_devices: bool = False) -> None:
        if not all(self.dir(ctl, path).is_dir() for ctl in self.controllers):
            with _CREATING:
                self._make_dirs([p for p in path.strip("/").split("/") if p])
        if restrict_devices and "devices" in self.controllers:
            leaf = self.dir("devices", path)
            _write(leaf / "devices.deny", "a")
            for rule in DEFAULT_DEVICE_RULES:
                _write(leaf / "devices.allow", rule)
        self.update(path, resources)

    def _make_dirs(self, parts: list[str]) -> None:
        """Each missing directory of ``parts`` in every hierarchy; a new cpuset gets its parent's cpus and mems
        (it refuses tasks while empty), which is why creators take turns: one that found a parent made but not
        yet filled would copy its emptiness."""
        for ctl in self.controllers:
            current = self.mount / ctl
            for part in parts:
                parent, current = current, current / part
                if current.is_dir():
                    continue
                current.mkdir()
                if ctl == "cpuset":
                    _write(current / "cpuset.cpus", _read(parent / "cpuset.cpus"))
                    _write(current / "cpuset.mems", _read(parent / "cpuset.mems"))

    def update(self, path: str, resources: Resources) -> None:
        r = resources
        if r.memory_limit and "memory" in self.controllers:
            _write(self.dir("memory", path) / "memory.limit_in_bytes", r.memory_limit)
        if "cpu" in self.controllers:
            cpu = self.dir("cpu", path)
            if r.cpu_shares:
                _write(cpu / "cpu.shares", max(2, r.cpu_shares))
            if r.cpu_period:
                _write(cpu / "cpu.cfs_period_us", r.cpu_period)
            if r.cpu_quota:
                _write(cpu / "cpu.cfs_quota_us", r.cpu_quota)
        if "cpuset" in self.controllers:
            if r.cpuset_cpus:
                _write(self.dir("cpuset", path) / "cpuset.cpus", r.cpuset_cpus)
            if r.cpuset_mems:
                _write(self.dir("cpuset", path) / "cpuset.mems", r.cpuset_mems)
        if r.pids_limit and "pids" in self.controllers:
            _write(self.dir("pids", path) / "pids.max", r.pids_limit if r.pids_limit > 0 else "max")

    def add_process(self, path: str, pid: int) -> None:
        for ctl in self.controllers:
            _write(self.dir(ctl, path) / "cgroup.procs", pid)

    def procs(self, path: str) -> list[int]:
        seen: set[int] = set()
        for ctl in self.controllers:
            seen.update(_pids(self.dir(ctl, path) / "cgroup.procs"))
        return sorted(seen)

    def stats(self, path: str) -> Stats:
        mem = self.dir("memory", path)
        usage = int(_read(mem / "memory.usage_in_bytes", "0"))
        memory_stat = _keyed(_read(mem / "memory.stat"))
        return Stats(
            memory_usage=usage,
            memory_working_set=max(0, usage - memory_stat.get("total_inactive_file", 0)),
            memory_rss=memory_stat.get("total_rss", 0),
            memory_limit=int(_read(mem / "memory.limit_in_bytes", "0")),
            cpu_usage_ns=int(_read(self.dir("cpuacct", path) / "cpuacct.usage", "0")),
            pids=int(_read(self.dir("pids", path) / "pids.current", "0")),
            oom_kills=_keyed(_read(mem / "memory.oom_control")).get("oom_kill", 0),
        )

    def exists(self, path: str) -> bool:
        return any(self.dir(ctl, path).is_dir() for ctl in self.controllers)

    def _rmdir(self, path: str) -> None:
        for ctl in self.controllers:
            with contextlib.suppress(FileNotFoundError):
                os.rmdir(self.dir(ctl, path))


class CgroupV2(CgroupDriver):
    """The unified hierarchy: ``<mount>/<path>``, controllers enabled down the tree via subtree_control."""

    name = "cgroupfs-v2"

    def __init__(self, mount: str = "/sys/fs/cgroup") -> None:
        self.mount = Path(mount)

    def dir(self, path: str) -> Path:
        """The directory of ``path`` in the unified hierarchy."""
        return self.mount / path.strip("/")

    def create(self, path: str, resources: Resources, restrict_devices: bool = False) -> None:
        # Device rules are eBPF programs in v2; not implemented: /dev holds only the safe nodes anyway.
        parts = [p for p in path.strip("/").split("/") if p]
        current = self.mount
        for part in parts:
            available = set(_read(current / "cgroup.controllers").split())
            wanted = [c for c in V2_CONTROLLERS if c in available]
            enabled = set(_read(current / "cgroup.subtree_control").split())
            missing = [c for c in wanted if c not in enabled]
            if missing:
                _write(current / "cgroup.subtree_control", " ".join("+" + c for c in missing))
            current = current / part
            current.mkdir(exist_ok=True)
        self.update(path, resources)

    def update(self, path: str, resources: Resources) -> None:
        r, leaf = resources, self.dir(path)
        if r.memory_limit:
            _write(leaf / "memory.max", r.memory_limit)
        if r.cpu_shares:
            _write(leaf / "cpu.weight", shares_to_weight(r.cpu_shares))
        if r.cpu_quota or r.cpu_period:
            quota = str(r.cpu_quota) if r.cpu_quota > 0 else "max"
            _write(leaf / "cpu.max", f"{quota} {r.cpu_period or 100000}")
        if r.cpuset_cpus:
            _write(leaf / "cpuset.cpus", r.cpuset_cpus)
        if r.cpuset_mems:
            _write(leaf / "cpuset.mems", r.cpuset_mems)
        if r.pids_limit:
            _write(leaf / "pids.max", r.pids_limit if r.pids_limit > 0 else "max")

    def add_process(self, path: str, pid: int) -> None:
        _write(self.dir(path) / "cgroup.procs", pid)

    def procs(self, path: str) -> list[int]:
        return _pids(self.dir(path) / "cgroup.procs")

    def stats(self, path: str) -> Stats:
        leaf = self.dir(path)
        usage = int(_read(leaf / "memory.current", "0"))
        memory_stat = _keyed(_read(leaf / "memory.stat"))
        limit = _read(leaf / "memory.max", "max")
        return Stats(
            memory_usage=usage,
            memory_working_set=max(0, usage - memory_stat.get("inactive_file", 0)),
            memory_rss=memory_stat.get("anon", 0),
            memory_limit=0 if limit == "max" else int(limit),
            cpu_usage_ns=_keyed(_read(leaf / "cpu.stat")).get("usage_usec", 0) * 1000,
            pids=int(_read(leaf / "pids.current", "0")),
            oom_kills=_keyed(_read(leaf / "memory.events")).get("oom_kill", 0),
        )

    def kill(self, path: str, sig: int = signal.SIGKILL) -> None:
        kill_file = self.dir(path) / "cgroup.kill"
        if sig == signal.SIGKILL and kill_file.exists():
            _write(kill_file, 1)
            return
        super().kill(path, sig)

    def exists(self, path: str) -> bool:
        return self.dir(path).is_dir()

    def _rmdir(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.rmdir(self.dir(path))


def driver_for(kind: str, mount: str = "/sys/fs/cgroup") -> CgroupDriver:
    """``v1`` or ``v2``; ``auto`` picks v2 only when the mount itself is a cgroup2 filesystem with memory."""
    if kind == "auto":
        kind = "v2" if "memory" in _read(Path(mount) / "cgroup.controllers").split() else "v1"
    if kind == "v1":
        return CgroupV1(mount)
    if kind == "v2":
        return CgroupV2(mount)
    raise ValueError(f"unknown cgroup driver {kind!r} (want v1, v2 or auto)")
