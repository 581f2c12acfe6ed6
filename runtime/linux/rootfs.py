"""Building a container's root filesystem inside its own mount namespace, then entering it, as runc does.

Everything here runs in the container's init process after ``unshare(CLONE_NEWNS)``: the overlay
and every other mount live only in that namespace and vanish with it, so a crashed container never
leaves a mount behind on the host.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass, field

from runtime.linux import syscalls as sc

MASKED_PATHS = (
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

# name, char major, minor
DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0))
DEV_LINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
             ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx"), ("core", "/proc/kcore"))

PROPAGATION_FLAGS = {"private": sc.MS_PRIVATE, "rslave": sc.MS_SLAVE, "rshared": sc.MS_SHARED}


@dataclass
class BindMount:
    """A CRI mount: host path onto container path, optionally read-only, with a propagation mode."""

    host_path: str
    container_path: str
    readonly: bool = False
    propagation: str = "private"


@dataclass
class RootfsSpec:
    """Where the layers are and what to put on top of them."""

    lowerdirs: list[str]
    upperdir: str
    workdir: str
    target: str
    mounts: list[BindMount] = field(default_factory=list)
    readonly: bool = False
    privileged: bool = False
    masked_paths: tuple[str, ...] = MASKED_PATHS
    readonly_paths: tuple[str, ...] = READONLY_PATHS
    new_pid_namespace: bool = True


def secure_join(root: str, unsafe: str) -> str:
    """Resolve ``unsafe`` inside ``root`` as the container would see it: symlinks and ``..`` never leave root."""
    parts = [p for p in unsafe.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            resolved.append(part)
            continue
        if stat.S_ISLNK(st.st_mode):
            hops += 1
            if hops > 40:
                raise OSError(40, f"too many symlinks resolving {unsafe!r} in {root}")
            link = os.readlink(candidate)
            if link.startswith("/"):
                resolved = []
            parts = [p for p in link.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def _mkdir_target(path: str, like_file: bool) -> None:
    if like_file:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if not os.path.exists(path):
            with open(path, "a"):
                pass
    else:
        os.makedirs(path, exist_ok=True)


def mount_overlay(spec: RootfsSpec) -> None:
    """Mount the image layers plus the container's upper/work dirs at the target."""
    options = f"lowerdir={':'.join(spec.lowerdirs)},upperdir={spec.upperdir},workdir={spec.workdir}"
    sc.mount("overlay", spec.target, "overlay", 0, options)


def _mount_dev(root: str) -> None:
    dev = os.path.join(root, "dev")
    os.makedirs(dev, exist_ok=True)
    sc.mount("tmpfs", dev, "tmpfs", sc.MS_NOSUID, "mode=755,size=65536k")
    for name, major, minor in DEVICES:
        path = os.path.join(dev, name)
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        os.chmod(path, 0o666)
    for name, target in DEV_LINKS:
        os.symlink(target, os.path.join(dev, name))
    pts = os.path.join(dev, "pts")
    os.mkdir(pts)
    sc.mount("devpts", pts, "devpts", sc.MS_NOSUID | sc.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5")
    shm = os.path.join(dev, "shm")
    os.mkdir(shm)
    sc.mount("shm", shm, "tmpfs", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC, "mode=1777,size=65536k")
    mqueue = os.path.join(dev, "mqueue")
    os.mkdir(mqueue)
    with contextlib.suppress(OSError):  # needs a private IPC namespace; a hostIPC pod goes without
        sc.mount("mqueue", mqueue, "mqueue", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)


def _bind(source: str, target: str, readonly: bool, propagation: str = "private") -> None:
    sc.mount(source, target, None, sc.MS_BIND | sc.MS_REC)
    if readonly:
        sc.mount(None, target, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_REC)
    sc.mount(None, target, None, PROPAGATION_FLAGS.get(propagation, sc.MS_PRIVATE) | sc.MS_REC)


def prepare(spec: RootfsSpec) -> None:
    """Mount the rootfs and everything under it at ``spec.target`` (still in the host's view of paths)."""
    # Nothing we mount may propagate back to the host, whatever the host's / propagation is.
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
    root = spec.target
    mount_overlay(spec)
    proc = os.path.join(root, "proc")
    os.makedirs(proc, exist_ok=True)
    sc.mount("proc", proc, "proc", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
    _mount_dev(root)
    sys_dir = os.path.join(root, "sys")
    os.makedirs(sys_dir, exist_ok=True)
    sys_flags = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC | (0 if spec.privileged else sc.MS_RDONLY)
    try:
        sc.mount("sysfs", sys_dir, "sysfs", sys_flags)
    except OSError:
        # A sysfs of a network namespace we do not own cannot be mounted fresh (hostNetwork): bind the host's.
        _bind("/sys", sys_dir, readonly=not spec.privileged)
    for m in spec.mounts:
        if not os.path.exists(m.host_path):
            raise FileNotFoundError(2, f"mount source {m.host_path} does not exist")
        target = secure_join(root, m.container_path)
        _mkdir_target(target, like_file=not os.path.isdir(m.host_path))
        _bind(m.host_path, target, m.readonly, m.propagation)


def enter(spec: RootfsSpec) -> None:
    """pivot_root into the prepared rootfs, detach the old root, then mask and protect sensitive paths."""
    old_root = os.open("/", os.O_DIRECTORY | os.O_RDONLY)
    new_root = os.open(spec.target, os.O_DIRECTORY | os.O_RDONLY)
    try:
        os.fchdir(new_root)
        # pivot_root(".", ".") stacks the old root on top of the new one: no writable .oldroot dir needed.
        sc.pivot_root(".", ".")
        os.fchdir(old_root)
        sc.mount(None, ".", None, sc.MS_SLAVE | sc.MS_REC)
        sc.umount2(".", sc.MNT_DETACH)
    finally:
        os.close(old_root)
        os.close(new_root)
    os.chdir("/")
    if not spec.privileged:
        for path in spec.masked_paths:
            mask_path(path)
        for path in spec.readonly_paths:
            readonly_path(path)
    if spec.readonly:
        sc.mount(None, "/", None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY)


def mask_path(path: str) -> None:
    """Hide ``path``: a directory gets an empty read-only tmpfs, a file gets /dev/null."""
    if not os.path.lexists(path):
        return
    if os.path.isdir(path):
        sc.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY)
    else:
        sc.mount("/dev/null", path, None, sc.MS_BIND)


def readonly_path(path: str) -> None:
    """Bind ``path`` onto itself read-only (nosuid, nodev, noexec)."""
    if not os.path.exists(path):
        return
    sc.mount(path, path, None, sc.MS_BIND | sc.MS_REC)
    sc.mount(path, path, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_REC | sc.MS_NOSUID
             | sc.MS_NODEV | sc.MS_NOEXEC)
