"""The runtime as one object: sandboxes and their containers, and the reconcile pass after a restart.

Pod-level operations that span both managers live here (a container is created and started only in a
ready sandbox; stopping a sandbox closes it, then stops its containers; removing it removes them), so
the gRPC layer only translates messages.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

from process.log import get_logger
from runtime.atomicfile import write_atomic
from runtime.cni import CNI, CNIError
from runtime.containers import EXITED, ContainerError, ContainerManager, ContainerRequest, ImageSource, NotFound
from runtime.linux.cgroups import CgroupDriver
from runtime.records import ContainerRecord, RecordStore, read_status
from runtime.sandbox import SandboxManager
from runtime.shimbin import ensure_pump

log = get_logger("runtime.engine")


class Runtime:
    """Owns the on-disk state under ``state_dir`` and ``root`` and everything named with ``cgroup_root``."""

    def __init__(self, state_dir: str, root: str, cgroups: CgroupDriver, images: ImageSource, cni: CNI, *,
                 cgroup_root: str, cgroup_driver_name: str = "v1", cgroup_mount: str = "/sys/fs/cgroup",
                 pump: str | None = None) -> None:
        """``pump`` is the compiled shim pump to use; None builds it under ``root``, "" keeps shims in Python."""
        self.store = RecordStore(state_dir)
        self.root = root
        self.cgroups = cgroups
        self.cgroup_root = cgroup_root.strip("/")
        self.images = images
        self.pump = ensure_pump(root) if pump is None else pump
        self.containers = ContainerManager(self.store, root, cgroups, images, cgroup_driver_name=cgroup_driver_name,
                                           cgroup_mount=cgroup_mount, pump=self.pump)
        self.sandboxes = SandboxManager(self.store, root, cgroups, images, cni, cgroup_root=self.cgroup_root,
                                        cgroup_driver_name=cgroup_driver_name, cgroup_mount=cgroup_mount,
                                        pump=self.pump)

    def containers_of(self, sid: str) -> list[ContainerRecord]:
        """The containers created in sandbox ``sid``."""
        return [c for c in self.containers.records() if c.sandbox_id == sid]

    def create_container(self, sid: str, req: ContainerRequest, pid_mode: str = "container",
                         target_pid: int = 0) -> ContainerRecord:
        """Create a container in sandbox ``sid``, which cannot close before the container is recorded."""
        with self.sandboxes.claim(sid) as rec:
            return self.containers.create(rec.id, req, self.sandboxes.placement(rec.id, pid_mode, target_pid))

    def start_container(self, cid: str) -> int:
        """Start a created container while its sandbox is ready: a closing sandbox takes no new process."""
        rec = self.containers.get(cid)
        with self.sandboxes.claim(rec.sandbox_id):
            return self.containers.start(rec.id)

    def stop_sandbox(self, sid: str) -> None:
        """Close the sandbox, stop its containers (no grace: the kubelet stopped them already), then the sandbox.

        Closed first, so no sync sees it ready with a stopped container, and no container joins it meanwhile.
        """
        rec = self.sandboxes.close(sid)
        for c in self.containers_of(rec.id):
            self.containers.stop(c.id, 0)
        self.sandboxes.stop(rec.id)

    def remove_sandbox(self, sid: str) -> None:
        """Remove the sandbox's containers, then the sandbox; idempotent."""
        try:
            rec = self.sandboxes.get(sid)
        except NotFound:
            return
        for c in self.containers_of(rec.id):
            self.containers.remove(c.id)
        self.sandboxes.remove(rec.id)

    def reconcile(self) -> None:
        """Rebuild a consistent view after a restart: finish what crashed half-way, drop what nothing owns.

        Live shims are simply found again through their status files. A container whose shim died
        without recording an exit gets a final status now, so its exit is reported the same way forever.
        """
        sandbox_ids = {s.id for s in self.sandboxes.records()}
        for c in self.containers.records():
            if c.sandbox_id not in sandbox_ids or not Path(c.bundle, "config.json").exists():
                log.warning("removing container left without sandbox or bundle", id=c.id[:12])
                with contextlib.suppress(Exception):
                    self.containers.remove(c.id)
                continue
            st = self.containers.state(c.id)
            if st.state == EXITED and c.started and not read_status(c.bundle).get("finished_at"):
                status = read_status(c.bundle)
                status.update(finished_at=st.finished_at, exit_code=st.exit_code, reason=st.reason,
                              message=st.message, oom_killed=False)
                write_atomic(os.path.join(c.bundle, "status.json"), json.dumps(status))
                log.warning("container's shim died; recorded it as exited", id=c.id[:12])
        for s in self.sandboxes.records():
            if s.state == "ready" and not self.sandboxes.holder_pid(s):
                log.warning("sandbox holder is gone; marking sandbox not ready", id=s.id[:12])
                s.state = "notready"
                self.store.save_sandbox(s)
            elif s.state == "notready" and self.sandboxes.holder_pid(s):
                # Closed (or never made ready) but its holder lives: a stop or a creation died half-way.
                log.warning("sandbox was left half-stopped; stopping it", id=s.id[:12])
                try:
                    self.stop_sandbox(s.id)
                except (ContainerError, CNIError, OSError) as exc:
                    log.warning("could not finish stopping a sandbox", id=s.id[:12], err=str(exc))
        try:
            for name in self.sandboxes.remove_orphan_netns():
                log.warning("removed orphaned netns", netns=name)
        except ContainerError as exc:
            log.warning("could not remove an orphaned netns", err=str(exc))
        self._remove_orphan_cgroups()
        self._remove_orphan_dirs()

    def _remove_orphan_cgroups(self) -> None:
        """Remove cgroups left by a crash, only inside pod cgroups this runtime created (and marked).

        Other runtimes may share the cgroup root (several nodes on one machine), so nothing else is touched.
        """
        live_parents = {s.cgroup_parent for s in self.sandboxes.records()}
        keep = {self.sandboxes.holder_cgroup(s) for s in self.sandboxes.records()}
        keep.update(c.cgroup_path for c in self.containers.records())
        for parent in self.sandboxes.marked_cgroups():
            orphaned_parent = parent not in live_parents
            for path in self._cgroup_subtree(parent):
                if path in keep or (path == parent and not orphaned_parent):
                    continue
                log.warning("removing orphaned cgroup", cgroup=path)
                try:
                    self.cgroups.kill(path)
                    self.cgroups.remove(path, timeout=5)
                except OSError as exc:
                    log.warning("could not remove an orphaned cgroup", cgroup=path, err=str(exc))
            if orphaned_parent and not self.cgroups.exists(parent):
                self.sandboxes.unmark_cgroup(parent)

    def _cgroup_subtree(self, path: str) -> list[str]:
        """``path`` and every cgroup below it, deepest first (as found in the memory or unified hierarchy)."""
        base = Path(getattr(self.cgroups, "mount", "/sys/fs/cgroup"))
        top = base / "memory" / path if (base / "memory").is_dir() else base / path
        if not top.is_dir():
            return []
        found = [os.path.join(path, os.path.relpath(d, top)).removesuffix("/.") for d, _, _ in os.walk(top)]
        return sorted(found, key=lambda p: -p.count("/"))

    def _remove_orphan_dirs(self) -> None:
        live_containers = {c.id for c in self.containers.records()}
        live_sandboxes = {s.id for s in self.sandboxes.records()}
        for sub, live in (("containers", live_containers), ("sandboxes", live_sandboxes)):
            parent = Path(self.root) / sub
            if not parent.is_dir():
                continue
            for entry in parent.iterdir():
                if entry.name not in live:
                    shutil.rmtree(entry, ignore_errors=True)

    def shutdown_all(self) -> None:
        """Remove every sandbox and container (used by tests' teardown and ``tinykube down``-style cleanup)."""
        for s in self.sandboxes.records():
            self.remove_sandbox(s.id)
        for c in self.containers.records():
            self.containers.remove(c.id)
