"""Containers: create (bundle + cgroup + rootfs dirs), start (a shim), stop, remove, exec, stats.

The manager is synchronous and thread-safe; the gRPC layer calls it from worker threads. Truth
lives on disk (records and shim status files), so every method works the same after a restart.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from process.log import get_logger
from runtime import shimclient
from runtime.linux import capabilities
from runtime.linux.cgroups import CgroupDriver, Resources, Stats
from runtime.linux.rootfs import MASKED_PATHS, READONLY_PATHS, BindMount, RootfsSpec
from runtime.records import ContainerRecord, RecordStore, read_status
from runtime.spec import ContainerSpec, ProcessSpec

log = get_logger("runtime.containers")

EXEC_OUTPUT_CAP = 16 * 1024 * 1024
EXEC_ENV = {"PYTHONPATH": shimclient.REPO_ROOT}
CREATED, RUNNING, EXITED, UNKNOWN = "created", "running", "exited", "unknown"
ORPHAN_POLL = 0.02  # seconds between looks at a container whose shim is gone: no process left to wait on


class ContainerError(Exception):
    """A request the runtime refuses or cannot carry out; ``code`` names the gRPC status to answer with."""

    def __init__(self, message: str, code: str = "FAILED_PRECONDITION") -> None:
        super().__init__(message)
        self.code = code


class NotFound(ContainerError):
    """The container or sandbox does not exist (gRPC NOT_FOUND)."""
    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found", "NOT_FOUND")


class ImageConfigView(Protocol):
    """The parts of an image config a container needs."""

    @property
    def entrypoint(self) -> list[str]: ...
    @property
    def cmd(self) -> list[str]: ...
    @property
    def env(self) -> list[str]: ...
    @property
    def working_dir(self) -> str: ...
    @property
    def user(self) -> str: ...
    @property
    def stop_signal(self) -> str: ...


class LeasedImage(Protocol):
    """An image held for a container: its id, overlay lowerdirs (topmost first) and config."""

    @property
    def image_id(self) -> str: ...
    @property
    def lowerdirs(self) -> Sequence[Path]: ...
    @property
    def config(self) -> ImageConfigView: ...


class ImageSource(Protocol):
    """What containers need from the image half: a rootfs held until released."""

    def lease(self, holder: str, text: str) -> LeasedImage:
        """Hold ``text``'s layers for ``holder`` and return where they are."""

    def release(self, holder: str) -> None:
        """Let go of what ``holder`` leased."""


@dataclass
class Placement:
    """Where a container goes in its sandbox: namespaces to join, cgroup parent, /etc files to bind."""

    join_namespaces: dict[str, str]
    new_pid_namespace: bool
    cgroup_parent: str
    etc_mounts: list[BindMount] = field(default_factory=list)
    hostname: str = ""
    new_namespaces: list[str] = field(default_factory=list)


@dataclass
class ContainerRequest:
    """A container as the API asks for it, already translated out of CRI messages."""

    name: str
    image: str
    attempt: int = 0
    command: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    working_dir: str = ""
    env: list[tuple[str, str]] = field(default_factory=list)
    mounts: list[BindMount] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    log_path: str = ""
    tty: bool = False
    stdin: bool = False
    stdin_once: bool = False
    resources: Resources = field(default_factory=Resources)
    oom_score_adj: int | None = None
    privileged: bool = False
    caps_add: list[str] = field(default_factory=list)
    caps_drop: list[str] = field(default_factory=list)
    caps_ambient: list[str] = field(default_factory=list)
    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_username: str = ""
    supplemental_groups: list[int] = field(default_factory=list)
    readonly_rootfs: bool = False
    no_new_privs: bool = False
    seccomp: bool = True
    masked_paths: list[str] | None = None
    readonly_paths: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ContainerState:
    """A container's record plus how it is doing now."""

    record: ContainerRecord
    state: str
    pid: int = 0
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    reason: str = ""
    message: str = ""


@dataclass
class ExecResult:
    """What ExecSync returns: captured output (capped) and the exit code."""
    stdout: bytes
    stderr: bytes
    exit_code: int


def stop_signal(name: str) -> int:
    """The image's STOPSIGNAL (``SIGQUIT``, ``QUIT`` or ``3``); SIGTERM when unset or unknown."""
    text = name.strip().upper()
    if text.isdigit():
        return int(text)
    member = signal.Signals.__members__.get(text if text.startswith("SIG") else "SIG" + text)
    return int(member) if member is not None else int(signal.SIGTERM)


def _passwd_lookup(lowerdirs: Sequence[Path], upper: str, filename: str) -> list[list[str]]:
    for base in [Path(upper), *lowerdirs]:
        path = base / "etc" / filename
        if path.is_file():
            return [line.split(":") for line in path.read_text(errors="replace").splitlines() if ":" in line]
    return []


def resolve_user(spec: str, lowerdirs: Sequence[Path], upper: str = "/nonexistent") -> tuple[int, int, list[int]]:
    """``user``, ``uid``, ``user:group`` or ``uid:gid`` as Docker resolves them against the image's /etc files."""
    user, _, group = spec.partition(":")
    passwd = _passwd_lookup(lowerdirs, upper, "passwd")
    groups = _passwd_lookup(lowerdirs, upper, "group")
    uid, gid, name = 0, 0, "root"
    if user:
        if user.isdigit():
            uid = int(user)
            entry = next((e for e in passwd if len(e) > 3 and e[2] == user), None)
            gid = int(entry[3]) if entry else 0
            name = entry[0] if entry else ""
        else:
            entry = next((e for e in passwd if e[0] == user and len(e) > 3), None)
            if entry is None:
                raise ContainerError(f"user {user!r} not found in the image's /etc/passwd", "INVALID_ARGUMENT")
            uid, gid, name = int(entry[2]), int(entry[3]), user
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            gentry = next((g for g in groups if g[0] == group and len(g) > 2), None)
            if gentry is None:
                raise ContainerError(f"group {group!r} not found in the image's /etc/group", "INVALID_ARGUMENT")
            gid = int(gentry[2])
    extra = sorted({int(g[2]) for g in groups if len(g) > 3 and name and name in g[3].split(",") and g[2].isdigit()})
    return uid, gid, extra


class ContainerManager:
    """Creates and drives containers; records under ``<state>/containers``, rootfs dirs under ``<root>``."""

    def __init__(self, store: RecordStore, root: str, cgroups: CgroupDriver, images: ImageSource, *,
                 cgroup_driver_name: str = "v1", cgroup_mount: str = "/sys/fs/cgroup", pump: str = "") -> None:
        self.store = store
        self.pump = pump
        self.root = Path(root) / "containers"
        self.root.mkdir(parents=True, exist_ok=True)
        self.cgroups = cgroups
        self.images = images
        self.cgroup_driver_name = cgroup_driver_name
        self.cgroup_mount = cgroup_mount
        self._lock = threading.RLock()
        self._records: dict[str, ContainerRecord] = {r.id: r for r in store.load_containers()}

    # ---- queries -------------------------------------------------------------------------

    def records(self) -> list[ContainerRecord]:
        """Every container this runtime knows."""
        with self._lock:
            return list(self._records.values())

    def get(self, cid: str) -> ContainerRecord:
        """A container by id or unique id prefix."""
        with self._lock:
            if cid in self._records:
                return self._records[cid]
            matches = [r for r in self._records.values() if r.id.startswith(cid)] if cid else []
        if len(matches) == 1:
            return matches[0]
        raise NotFound(f"container {cid!r}")

    def state(self, cid: str) -> ContainerState:
        """How a container is doing now, from its shim's status file and liveness."""
        rec = self.get(cid)
        if not rec.started:
            return ContainerState(rec, CREATED)
        status = read_status(rec.bundle)
        if not status.get("finished_at"):
            if shimclient.shim_alive(status):
                return self._from_status(rec, status, RUNNING)
            # The shim writes the exit before it exits: read again, or a container that ended between the
            # two looks as though its shim died without recording anything.
            status = read_status(rec.bundle)
        base = self._from_status(rec, status, EXITED)
        if base.finished_at:
            return base
        # The shim is gone without recording an end: the container may still run (orphaned), or be gone too.
        if base.pid and base.pid in self._cgroup_procs(rec):
            base.state = RUNNING
            base.message = "shim lost; output is no longer logged"
            return base
        base.finished_at = base.finished_at or time.time_ns()
        base.exit_code, base.reason = 255, "Unknown"
        base.message = "the container's shim died before recording its exit"
        return base

    @staticmethod
    def _from_status(rec: ContainerRecord, status: dict[str, Any], state: str) -> ContainerState:
        return ContainerState(rec, state, pid=int(status.get("pid", 0)), started_at=int(status.get("started_at", 0)),
                              finished_at=int(status.get("finished_at", 0)), exit_code=int(status.get("exit_code", 0)),
                              reason=str(status.get("reason", "")), message=str(status.get("message", "")))

    def _cgroup_procs(self, rec: ContainerRecord) -> list[int]:
        try:
            return self.cgroups.procs(rec.cgroup_path)
        except OSError:
            return []

    # ---- lifecycle -----------------------------------------------------------------------

    def create(self, sandbox_id: str, req: ContainerRequest, placement: Placement) -> ContainerRecord:
        """Write the bundle, lease the image, make rootfs dirs and the cgroup; nothing runs yet."""
        with self._lock:
            for other in self._records.values():
                if (other.sandbox_id, other.name, other.attempt) == (sandbox_id, req.name, req.attempt):
                    raise ContainerError(f"container {req.name!r} attempt {req.attempt} already exists in sandbox "
                                         f"{sandbox_id[:12]} as {other.id[:12]}", "ALREADY_EXISTS")
            cid = secrets.token_hex(32)
            rec = ContainerRecord(id=cid, sandbox_id=sandbox_id, name=req.name, attempt=req.attempt,
                                  image=req.image, created_at=time.time_ns(), log_path=req.log_path,
                                  cgroup_path=f"{placement.cgroup_parent}/{cid[:16]}",
                                  bundle=str(self.store.container_dir(cid)), rootfs_dir=str(self.root / cid),
                                  labels=dict(req.labels), annotations=dict(req.annotations), extra=dict(req.extra))
            self._records[cid] = rec
        try:
            self._prepare(rec, req, placement)
        except BaseException:
            self._discard(rec)
            raise
        self.store.save_container(rec)
        log.info("created container", id=cid[:12], name=req.name, sandbox=sandbox_id[:12])
        return rec

    def _prepare(self, rec: ContainerRecord, req: ContainerRequest, placement: Placement) -> None:
        try:
            image = self.images.lease(rec.id, req.image)
        except KeyError as exc:
            raise ContainerError(f"image {req.image!r} not found: pull it first", "NOT_FOUND") from exc
        except Exception as exc:
            raise ContainerError(f"image {req.image!r}: {exc}", "NOT_FOUND") from exc
        rec.image_id = image.image_id
        conf = image.config
        rec.extra["stop_signal"] = conf.stop_signal
        rootfs_dir = Path(rec.rootfs_dir)
        for sub in ("upper", "work", "merged"):
            (rootfs_dir / sub).mkdir(parents=True, exist_ok=True)
        if req.command:
            argv = list(req.command) + list(req.args)
        else:
            argv = list(conf.entrypoint) + (list(req.args) if req.args else list(conf.cmd))
        if not argv:
            raise ContainerError("no command: neither the container nor its image specifies one", "INVALID_ARGUMENT")
        env: dict[str, str] = {}
        for item in conf.env:
            key, _, value = item.partition("=")
            env[key] = value
        for key, value in req.env:
            env[key] = value
        if req.run_as_user is not None:
            uid, gid, groups = resolve_user(str(req.run_as_user), image.lowerdirs)
        else:
            uid, gid, groups = resolve_user(req.run_as_username or conf.user, image.lowerdirs)
        if req.run_as_group is not None:
            gid = req.run_as_group
        groups = sorted(set(groups) | set(req.supplemental_groups))
        env.setdefault("HOSTNAME", placement.hostname)
        caps = capabilities.resolve(req.caps_add, req.caps_drop, req.privileged)
        user_mount_targets = {os.path.normpath(m.container_path) for m in req.mounts}
        mounts = [m for m in placement.etc_mounts if m.container_path not in user_mount_targets] + list(req.mounts)
        new_ns = ["mnt", "cgroup", *placement.new_namespaces]
        if placement.new_pid_namespace:
            new_ns.append("pid")
        spec = ContainerSpec(
            id=rec.id,
            process=ProcessSpec(args=argv, env=[f"{k}={v}" for k, v in env.items()],
                                cwd=req.working_dir or conf.working_dir or "/", uid=uid, gid=gid, groups=groups,
                                tty=req.tty, stdin=req.stdin, stdin_once=req.stdin_once, caps=caps,
                                ambient_caps=[capabilities.normalize(c) for c in req.caps_ambient],
                                no_new_privs=req.no_new_privs, seccomp=req.seccomp and not req.privileged,
                                oom_score_adj=req.oom_score_adj),
            rootfs=RootfsSpec(lowerdirs=[str(p) for p in image.lowerdirs], upperdir=str(rootfs_dir / "upper"),
                              workdir=str(rootfs_dir / "work"), target=str(rootfs_dir / "merged"), mounts=mounts,
                              readonly=req.readonly_rootfs, privileged=req.privileged,
                              masked_paths=tuple(MASKED_PATHS if req.masked_paths is None else req.masked_paths),
                              readonly_paths=tuple(READONLY_PATHS if req.readonly_paths is None
                                                   else req.readonly_paths)),
            hostname=placement.hostname,
            join_namespaces=dict(placement.join_namespaces),
            new_namespaces=new_ns,
            cgroup_driver=self.cgroup_driver_name, cgroup_mount=self.cgroup_mount, cgroup_path=rec.cgroup_path,
            log_path=req.log_path,
            pump=self.pump,
        )
        Path(rec.bundle).mkdir(parents=True, exist_ok=True)
        (Path(rec.bundle) / "config.json").write_text(spec.to_json())
        self.cgroups.create(rec.cgroup_path, req.resources, restrict_devices=not req.privileged)
        rec.extra.setdefault("resources", req.resources.__dict__)

    def _discard(self, rec: ContainerRecord) -> None:
        with contextlib.suppress(Exception):
            self.cgroups.kill(rec.cgroup_path)
            self.cgroups.remove(rec.cgroup_path)
        with contextlib.suppress(Exception):
            self.images.release(rec.id)
        shutil.rmtree(rec.rootfs_dir, ignore_errors=True)
        self.store.delete_container(rec.id)
        with self._lock:
            self._records.pop(rec.id, None)

    def start(self, cid: str) -> int:
        """Start the container's shim; returns once the process has exec'd."""
        rec = self.get(cid)
        with self._lock:
            if rec.started:
                raise ContainerError(f"container {cid[:12]} was already started", "FAILED_PRECONDITION")
            rec.started = True
            self.store.save_container(rec)
        pid = shimclient.start_shim(rec.bundle)
        log.info("started container", id=rec.id[:12], pid=pid)
        return pid

    def stop(self, cid: str, timeout: float) -> None:
        """The image's stop signal (SIGTERM by default), then SIGKILL to every process after ``timeout`` seconds."""
        rec = self.get(cid)
        st = self.state(rec.id)
        if st.state != RUNNING:
            return
        if timeout > 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(st.pid, stop_signal(rec.extra.get("stop_signal", "")))
            if self._wait_exit(rec.id, timeout):
                return
        for _ in range(3):
            with contextlib.suppress(OSError):
                self.cgroups.kill(rec.cgroup_path, signal.SIGKILL)
            if self._wait_exit(rec.id, 5.0):
                return
        raise ContainerError(f"container {rec.id[:12]} did not exit after SIGKILL", "INTERNAL")

    def _wait_exit(self, cid: str, timeout: float) -> bool:
        """Whether the container is no longer running within ``timeout`` seconds.

        The shim records the exit just before it exits itself, so its exit is the moment to look again;
        only a container whose shim is already gone (orphaned) is polled.
        """
        deadline = time.monotonic() + timeout
        while True:
            st = self.state(cid)
            left = deadline - time.monotonic()
            if st.state != RUNNING or left <= 0:
                return st.state != RUNNING
            status = read_status(st.record.bundle)
            if shimclient.shim_alive(status):
                shimclient.wait_shim_exit(status, left)
            else:
                time.sleep(min(ORPHAN_POLL, left))

    def remove(self, cid: str) -> None:
        """Kill if running, then remove cgroup, rootfs, lease and records; idempotent."""
        try:
            rec = self.get(cid)
        except NotFound:
            return
        self.stop(rec.id, 0)
        # The shim may still be draining pipes; it writes its final status before exiting.
        shimclient.wait_shim_exit(read_status(rec.bundle), 5.0)
        self.cgroups.remove(rec.cgroup_path)
        self._discard(rec)
        log.info("removed container", id=rec.id[:12])

    def update_resources(self, cid: str, resources: Resources) -> None:
        """Apply new limits to the running container's cgroup; fields left unset keep their values.

        As containerd does: the CPU manager sends only ``cpuset_cpus``, which must not wipe the memory limit.
        """
        rec = self.get(cid)
        self.cgroups.update(rec.cgroup_path, resources)
        with self._lock:
            changed = {name: value for name, value in resources.__dict__.items() if value}
            rec.extra["resources"] = {**rec.extra.get("resources", {}), **changed}
            self.store.save_container(rec)

    def reopen_log(self, cid: str) -> None:
        """Make the shim reopen the log file (after kubelet rotated it)."""
        st = self.state(cid)
        if st.state != RUNNING:
            raise ContainerError(f"container {cid[:12]} is not running", "FAILED_PRECONDITION")
        status = read_status(st.record.bundle)
        if not shimclient.shim_alive(status):
            raise ContainerError(f"container {cid[:12]} has no shim to reopen its log", "FAILED_PRECONDITION")
        os.kill(int(status["shim_pid"]), signal.SIGUSR1)

    def stats(self, cid: str) -> tuple[Stats, int, int]:
        """cgroup stats, writable-layer bytes and inodes."""
        rec = self.get(cid)
        try:
            cg = self.cgroups.stats(rec.cgroup_path)
        except OSError:
            cg = Stats()
        used, inodes = 0, 0
        for dirpath, _, files in os.walk(os.path.join(rec.rootfs_dir, "upper")):
            inodes += 1 + len(files)
            for name in files:
                with contextlib.suppress(OSError):
                    used += os.lstat(os.path.join(dirpath, name)).st_size
        return cg, used, inodes

    def exec_argv(self, cid: str, cmd: list[str], tty: bool = False) -> list[str]:
        """The exec helper's command line (run it with ``EXEC_ENV``, in a session of its own)."""
        st = self.state(cid)
        if st.state != RUNNING:
            raise ContainerError(f"container {cid[:12]} is not running", "FAILED_PRECONDITION")
        if not cmd:
            raise ContainerError("exec needs a command", "INVALID_ARGUMENT")
        return [sys.executable, "-S", "-B", "-m", "runtime.launch", "exec",
                os.path.join(st.record.bundle, "config.json"), str(st.pid), *(["--tty"] if tty else []), "--", *cmd]

    def exec_sync(self, cid: str, cmd: list[str], timeout: float) -> ExecResult:
        """Run ``cmd`` in the container and collect its output, killing it after ``timeout``."""
        proc = subprocess.Popen(self.exec_argv(cid, cmd), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True, env=EXEC_ENV, cwd="/")
        try:
            out, err = proc.communicate(timeout=timeout if timeout > 0 else None)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            raise ContainerError(f"command {cmd!r} timed out after {timeout:g}s", "DEADLINE_EXCEEDED") from None
        return ExecResult(out[:EXEC_OUTPUT_CAP], err[:EXEC_OUTPUT_CAP], proc.returncode)
