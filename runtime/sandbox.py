"""Pod sandboxes: a holder (pause) process owning the pod's IPC/UTS (and, if shared, PID) namespaces,
a network namespace pinned at ``/run/netns/<name>`` and configured through CNI, and the pod's /etc files.

Network namespaces are created before the holder so CNI can run first and the holder merely joins
it; the bind mount outlives the holder, so a crashed pod still gets its CNI DEL and its netns removed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from process.log import get_logger
from runtime import shimclient
from runtime.cni import CNI, pod_ips
from runtime.containers import ORPHAN_POLL, ContainerError, ImageSource, NotFound, Placement
from runtime.linux import capabilities, netns
from runtime.linux.cgroups import CgroupDriver, Resources
from runtime.linux.rootfs import BindMount, RootfsSpec
from runtime.records import RecordStore, SandboxRecord, read_status
from runtime.spec import ContainerSpec, ProcessSpec

log = get_logger("runtime.sandbox")

NETNS_DIR = "/run/netns"
PAUSE_IMAGE = "pause"
FALLBACK_PAUSE_ARGS = ["/bin/sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"]


@dataclass
class SandboxRequest:
    """A pod sandbox as the API asks for it, already translated out of CRI messages."""

    name: str
    namespace: str = ""
    uid: str = ""
    attempt: int = 0
    hostname: str = ""
    log_directory: str = ""
    dns_servers: list[str] = field(default_factory=list)
    dns_searches: list[str] = field(default_factory=list)
    dns_options: list[str] = field(default_factory=list)
    port_mappings: list[dict[str, Any]] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    cgroup_parent: str = ""
    host_network: bool = False
    host_pid: bool = False
    host_ipc: bool = False
    share_pid: bool = False
    sysctls: dict[str, str] = field(default_factory=dict)
    resources: Resources = field(default_factory=Resources)  # the pod's total, for a pod cgroup we create
    extra: dict[str, Any] = field(default_factory=dict)


def resolv_conf(servers: list[str], searches: list[str], options: list[str]) -> str:
    """The pod's /etc/resolv.conf from CRI's DNSConfig."""
    lines = []
    if searches:
        lines.append("search " + " ".join(searches))
    lines.extend(f"nameserver {s}" for s in servers)
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"


def hosts_file(hostname: str, ips: list[str]) -> str:
    """The pod's /etc/hosts: localhost entries and the pod's own name."""
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
             "fe00::0\tip6-localnet", "fe00::1\tip6-allnodes", "fe00::2\tip6-allrouters"]
    lines.extend(f"{ip}\t{hostname}" for ip in ips if hostname)
    return "\n".join(lines) + "\n"


def netns_add(name: str, sysctls: dict[str, str]) -> str:
    """Create and pin ``/run/netns/<name>`` with its loopback up and ``sysctls`` set; returns the path."""
    path = os.path.join(NETNS_DIR, name)
    try:
        netns.create(path, sysctls)
    except netns.SysctlError as exc:
        raise ContainerError(str(exc), "INVALID_ARGUMENT") from None
    except OSError as exc:
        raise ContainerError(f"creating netns {name}: {exc}", "INTERNAL") from None
    return path


def netns_delete(name: str) -> None:
    """Remove a pinned netns if present."""
    try:
        netns.delete(os.path.join(NETNS_DIR, name))
    except OSError as exc:
        raise ContainerError(f"deleting netns {name}: {exc}", "INTERNAL") from None


def fallback_pause_rootfs(root: str) -> Path:
    """A read-only rootfs holding a static busybox, for when the image store has no ``pause`` image."""
    base = Path(root) / "pause-rootfs"
    if (base / "bin" / "sleep").exists():
        return base
    tmp = Path(root) / f"pause-rootfs.tmp.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    for sub in ("bin", "proc", "dev", "sys", "etc", "tmp"):
        (tmp / sub).mkdir(parents=True)
    busybox = shutil.which("busybox") or "/bin/busybox"
    shutil.copy2(busybox, tmp / "bin" / "busybox")
    for applet in ("sh", "sleep"):
        (tmp / "bin" / applet).symlink_to("busybox")
    (tmp / "etc" / "passwd").write_text("root:x:0:0:root:/:/bin/sh\n")
    (tmp / "etc" / "group").write_text("root:x:0:\n")
    shutil.rmtree(base, ignore_errors=True)
    tmp.rename(base)
    return base


class SandboxManager:
    """Runs, stops and removes pod sandboxes; records under ``<state>/sandboxes``."""

    def __init__(self, store: RecordStore, root: str, cgroups: CgroupDriver, images: ImageSource, cni: CNI, *,
                 cgroup_root: str, cgroup_driver_name: str = "v1", cgroup_mount: str = "/sys/fs/cgroup",
                 pump: str = "") -> None:
        self.store = store
        self.pump = pump
        self.root = root
        self.cgroups = cgroups
        self.images = images
        self.cni = cni
        self.cgroup_root = cgroup_root.strip("/")
        self.cgroup_driver_name = cgroup_driver_name
        self.cgroup_mount = cgroup_mount
        self._lock = threading.RLock()
        self._claims_ended = threading.Condition(self._lock)
        self._claims: dict[str, int] = {}  # sandbox id -> containers being created or started in it
        self._records: dict[str, SandboxRecord] = {r.id: r for r in store.load_sandboxes()}
        self.netns_marks = store.root / "netns"
        self.cgroup_marks = store.root / "cgroups"

    # ---- queries -------------------------------------------------------------------------

    def records(self) -> list[SandboxRecord]:
        """Every sandbox this runtime knows."""
        with self._lock:
            return list(self._records.values())

    def get(self, sid: str) -> SandboxRecord:
        """A sandbox by id or unique id prefix."""
        with self._lock:
            if sid in self._records:
                return self._records[sid]
            matches = [r for r in self._records.values() if r.id.startswith(sid)] if sid else []
        if len(matches) == 1:
            return matches[0]
        raise NotFound(f"pod sandbox {sid!r}")

    def holder_bundle(self, rec: SandboxRecord) -> str:
        """The holder's bundle directory (config.json, status.json)."""
        return os.path.join(rec.dir, "holder")

    def holder_pid(self, rec: SandboxRecord) -> int:
        """The holder's host PID, or 0 once it is gone."""
        status = read_status(self.holder_bundle(rec))
        if status.get("finished_at") or not shimclient.shim_alive(status):
            return 0
        return int(status.get("pid", 0))

    def ready(self, rec: SandboxRecord) -> bool:
        """Whether the sandbox can take containers: marked ready and its holder alive."""
        return rec.state == "ready" and self.holder_pid(rec) > 0

    def holder_cgroup(self, rec: SandboxRecord) -> str:
        """The holder's own cgroup, inside the pod cgroup."""
        return f"{rec.cgroup_parent}/{rec.id[:16]}"

    def placement(self, sid: str, pid_mode: str = "container", target_pid: int = 0) -> Placement:
        """How a new container joins this sandbox; ``pid_mode`` is pod, container, node or target."""
        rec = self.get(sid)
        holder = self.holder_pid(rec)
        if not holder or rec.state != "ready":
            raise ContainerError(f"pod sandbox {rec.id[:12]} is not ready", "FAILED_PRECONDITION")
        join: dict[str, str] = {}
        if not rec.host_network:
            join["net"] = os.path.join(NETNS_DIR, rec.netns)
            join["uts"] = f"/proc/{holder}/ns/uts"
        if not rec.host_ipc:
            join["ipc"] = f"/proc/{holder}/ns/ipc"
        # The container's own mode decides; the sandbox's says only whether the holder's PID ns is the host's.
        new_pid = False
        if pid_mode == "pod" and not rec.host_pid:
            join["pid"] = f"/proc/{holder}/ns/pid"
        elif pid_mode == "target" and target_pid:
            join["pid"] = f"/proc/{target_pid}/ns/pid"
        elif pid_mode == "container":
            new_pid = True
        etc = [BindMount(os.path.join(rec.dir, "hostname"), "/etc/hostname", readonly=False),
               BindMount(os.path.join(rec.dir, "resolv.conf"), "/etc/resolv.conf", readonly=False),
               BindMount(os.path.join(rec.dir, "hosts"), "/etc/hosts", readonly=False)]
        return Placement(join_namespaces=join, new_pid_namespace=new_pid, cgroup_parent=rec.cgroup_parent,
                         etc_mounts=etc, hostname=rec.hostname or os.uname().nodename)

    # ---- lifecycle -----------------------------------------------------------------------

    def run(self, req: SandboxRequest) -> SandboxRecord:
        """Create the sandbox: /etc files, pod cgroup, netns and CNI ADD, then the holder."""
        sid = secrets.token_hex(32)
        sdir = self.store.sandbox_dir(sid)
        parent = req.cgroup_parent.strip("/")
        if not parent.startswith(self.cgroup_root + "/"):
            parent = f"{self.cgroup_root}/{parent or 'pod-' + sid[:16]}"
        rec = SandboxRecord(id=sid, name=req.name, namespace=req.namespace, uid=req.uid, attempt=req.attempt,
                            created_at=time.time_ns(), hostname=req.hostname, host_network=req.host_network,
                            host_pid=req.host_pid, host_ipc=req.host_ipc, share_pid=req.share_pid,
                            cgroup_parent=parent, owns_cgroup_parent=not self.cgroups.exists(parent),
                            port_mappings=list(req.port_mappings), dir=str(sdir), labels=dict(req.labels),
                            annotations=dict(req.annotations), extra=dict(req.extra), state="notready")
        if not req.host_network:
            # Named and chosen up front, so the first save already says what teardown must undo (DEL of
            # what was never added is no error in CNI): each save is an fsync on the pod's critical path.
            rec.netns = f"{self.cgroup_root}-{sid[:12]}"
            net = self.cni.network()
            if net is not None:
                rec.extra["cni_net"] = net
        with self._lock:
            self._records[sid] = rec
        self.store.save_sandbox(rec)  # first, so a crash from here on leaves something to clean up
        try:
            self._setup(rec, req)
        except BaseException:
            with contextlib.suppress(Exception):
                self.remove(sid)
            raise
        rec.state = "ready"
        self.store.save_sandbox(rec)
        log.info("sandbox ready", id=sid[:12], pod=f"{req.namespace}/{req.name}", ip=rec.ip)
        return rec

    def _setup(self, rec: SandboxRecord, req: SandboxRequest) -> None:
        sdir = Path(rec.dir)
        hostname = req.hostname or (os.uname().nodename if req.host_network else req.name)[:63]
        rec.hostname = hostname
        (sdir / "hostname").write_text(hostname + "\n")
        if req.dns_servers or req.dns_searches or req.dns_options:
            (sdir / "resolv.conf").write_text(resolv_conf(req.dns_servers, req.dns_searches, req.dns_options))
        else:
            shutil.copyfile("/etc/resolv.conf", sdir / "resolv.conf")
        if rec.owns_cgroup_parent:
            self._mark_cgroup(rec.cgroup_parent)
        # A pod cgroup someone else made (the kubelet's) carries that owner's limits; ours carries the pod's.
        self.cgroups.create(rec.cgroup_parent, req.resources if rec.owns_cgroup_parent else Resources())
        if rec.netns:
            self._mark_netns(rec.netns)
            netns_path = netns_add(rec.netns, req.sysctls)
            net = rec.extra.get("cni_net")
            if net is not None:
                result = self.cni.add(net, rec.id, netns_path, args=self._cni_args(rec),
                                      runtime_config=self._runtime_config(rec))
                rec.cni_network = str(net.get("name", ""))
                rec.cni_result = result
                ips = pod_ips(result)
                rec.ip = ips[0] if ips else ""
                rec.additional_ips = ips[1:]
                self.store.save_sandbox(rec)
        (sdir / "hosts").write_text(hosts_file(hostname, [rec.ip] if rec.ip else []))
        self._start_holder(rec, req)

    def _cni_args(self, rec: SandboxRecord) -> dict[str, str]:
        return {"K8S_POD_NAMESPACE": rec.namespace, "K8S_POD_NAME": rec.name, "K8S_POD_INFRA_CONTAINER_ID": rec.id,
                "K8S_POD_UID": rec.uid}

    def _runtime_config(self, rec: SandboxRecord) -> dict[str, Any]:
        mappings = [m for m in rec.port_mappings if m.get("hostPort")]
        return {"portMappings": mappings} if mappings else {}

    def _holder_rootfs(self, rec: SandboxRecord) -> tuple[list[str], list[str]]:
        try:
            image = self.images.lease(f"sandbox-{rec.id}", PAUSE_IMAGE)
        except Exception:
            return [str(fallback_pause_rootfs(self.root))], list(FALLBACK_PAUSE_ARGS)
        argv = list(image.config.entrypoint) + list(image.config.cmd)
        return [str(p) for p in image.lowerdirs], argv or list(FALLBACK_PAUSE_ARGS)

    def _start_holder(self, rec: SandboxRecord, req: SandboxRequest) -> None:
        lowerdirs, argv = self._holder_rootfs(rec)
        bundle = Path(self.holder_bundle(rec))
        rootfs_dir = Path(self.root) / "sandboxes" / rec.id
        for sub in ("upper", "work", "merged"):
            (rootfs_dir / sub).mkdir(parents=True, exist_ok=True)
        bundle.mkdir(parents=True, exist_ok=True)
        join = {} if req.host_network else {"net": os.path.join(NETNS_DIR, rec.netns)}
        new_ns = ["mnt", "cgroup"]
        if not req.host_network:
            new_ns.append("uts")
        if not req.host_ipc:
            new_ns.append("ipc")
        if not req.host_pid:
            new_ns.append("pid")
        spec = ContainerSpec(
            id=rec.id,
            process=ProcessSpec(args=argv, env=["PATH=/bin:/usr/bin:/sbin:/usr/sbin"],
                                caps=capabilities.resolve([], ["ALL"]), no_new_privs=True, oom_score_adj=-998),
            rootfs=RootfsSpec(lowerdirs=lowerdirs, upperdir=str(rootfs_dir / "upper"),
                              workdir=str(rootfs_dir / "work"), target=str(rootfs_dir / "merged"), readonly=True),
            hostname=rec.hostname,
            join_namespaces=join,
            new_namespaces=new_ns,
            cgroup_driver=self.cgroup_driver_name, cgroup_mount=self.cgroup_mount,
            cgroup_path=self.holder_cgroup(rec),
            pump=self.pump,
        )
        (bundle / "config.json").write_text(spec.to_json())
        self.cgroups.create(self.holder_cgroup(rec), Resources(), restrict_devices=True)
        shimclient.start_shim(str(bundle))

    @contextlib.contextmanager
    def claim(self, sid: str) -> Iterator[SandboxRecord]:
        """Hold a ready sandbox open while a container is created or started in it (``close`` waits).

        Without the claim a container checked against a ready sandbox could be recorded or started just after
        the sandbox's stop listed its containers, and run on in a sandbox whose holder and network are gone.
        """
        with self._lock:
            rec = self.get(sid)
            if rec.state != "ready":
                raise ContainerError(f"pod sandbox {rec.id[:12]} is not ready", "FAILED_PRECONDITION")
            self._claims[rec.id] = self._claims.get(rec.id, 0) + 1
        try:
            yield rec
        finally:
            with self._lock:
                self._claims[rec.id] -= 1
                if not self._claims[rec.id]:
                    del self._claims[rec.id]
                self._claims_ended.notify_all()

    def close(self, sid: str) -> SandboxRecord:
        """Mark the sandbox not ready for good, then wait out the claims already held; idempotent.

        The first step of every stop: a sandbox still reported ready while its containers are stopped gets
        them restarted inside it by a kubelet sync landing in between (upstream kills and recreates a sandbox
        that is not ready). Saved, so a runtime that dies mid-stop finishes the stop when it starts again.
        """
        with self._lock:
            rec = self.get(sid)
            closing = rec.state != "notready"
            rec.state = "notready"
            self._claims_ended.wait_for(lambda: rec.id not in self._claims)
        if closing:
            self.store.save_sandbox(rec)
        return rec

    def stop(self, sid: str) -> None:
        """Close the sandbox, kill the holder and tear down the network (CNI DEL, netns removal); idempotent."""
        rec = self.close(sid)
        self._kill_holder(rec)
        self._teardown_network(rec)

    def _kill_holder(self, rec: SandboxRecord) -> None:
        """SIGKILL the holder's cgroup until empty; then wait for its shim (woken by its exit, not polling)."""
        cgroup = self.holder_cgroup(rec)
        deadline = time.monotonic() + 10
        status = read_status(self.holder_bundle(rec))
        while self.cgroups.exists(cgroup) and self.cgroups.procs(cgroup):
            with contextlib.suppress(OSError):
                self.cgroups.kill(cgroup, signal.SIGKILL)
            left = deadline - time.monotonic()
            if left <= 0:
                raise ContainerError(f"sandbox {rec.id[:12]}: holder did not die", "INTERNAL")
            if shimclient.shim_alive(status):
                shimclient.wait_shim_exit(status, min(left, 1.0))  # the holder's end is its shim's end
            else:
                time.sleep(min(ORPHAN_POLL, left))
        shimclient.wait_shim_exit(status, deadline - time.monotonic())

    def _teardown_network(self, rec: SandboxRecord) -> None:
        if rec.network_torn_down:
            return
        net = rec.extra.get("cni_net")
        if rec.netns and net:
            self.cni.delete(net, rec.id, os.path.join(NETNS_DIR, rec.netns), args=self._cni_args(rec),
                            runtime_config=self._runtime_config(rec), prev_result=rec.cni_result or None)
        if rec.netns:
            netns_delete(rec.netns)
            self._unmark_netns(rec.netns)
        rec.network_torn_down = True
        self.store.save_sandbox(rec)

    def remove(self, sid: str) -> None:
        """Stop, then remove cgroups, netns, lease and records; idempotent."""
        try:
            rec = self.get(sid)
        except NotFound:
            return
        self.stop(rec.id)
        self.cgroups.remove(self.holder_cgroup(rec))
        if rec.owns_cgroup_parent:
            self.cgroups.remove(rec.cgroup_parent)
            self.unmark_cgroup(rec.cgroup_parent)
        with contextlib.suppress(Exception):
            self.images.release(f"sandbox-{rec.id}")
        shutil.rmtree(Path(self.root) / "sandboxes" / rec.id, ignore_errors=True)
        self.store.delete_sandbox(rec.id)
        with self._lock:
            self._records.pop(rec.id, None)
        log.info("removed sandbox", id=rec.id[:12])

    def _mark_cgroup(self, path: str) -> None:
        """Note a pod cgroup as ours before creating it: another runtime may share the cgroup root."""
        self.cgroup_marks.mkdir(parents=True, exist_ok=True)
        (self.cgroup_marks / path.replace("/", "%")).touch()

    def unmark_cgroup(self, path: str) -> None:
        """Forget a pod cgroup once it is removed."""
        with contextlib.suppress(FileNotFoundError):
            (self.cgroup_marks / path.replace("/", "%")).unlink()

    def marked_cgroups(self) -> list[str]:
        """Pod cgroups this runtime created and has not removed yet."""
        if not self.cgroup_marks.is_dir():
            return []
        return sorted(m.name.replace("%", "/") for m in self.cgroup_marks.iterdir())

    def _mark_netns(self, name: str) -> None:
        """Note a netns as ours before creating it: only marked ones are ever deleted as orphans."""
        self.netns_marks.mkdir(parents=True, exist_ok=True)
        (self.netns_marks / name).touch()

    def _unmark_netns(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.netns_marks / name).unlink()

    def remove_orphan_netns(self) -> list[str]:
        """Delete network namespaces this runtime created that no sandbox record claims (left by a crash)."""
        known = {r.netns for r in self.records() if r.netns}
        removed = []
        for mark in sorted(self.netns_marks.glob("*")) if self.netns_marks.is_dir() else []:
            if mark.name in known:
                continue
            netns_delete(mark.name)
            self._unmark_netns(mark.name)
            removed.append(mark.name)
        return removed
