"""What a node's container runtime leaves when the cluster stops: containers (they outlive the runtime on
purpose), their cgroups, pod network namespaces and mounts. `tinykube down` removes them by the names the
cluster gave the runtime (``--cgroup-root <cluster>-<node>``, which also prefixes its pod namespaces), so
nothing that belongs to another cluster or to the host is touched.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from process.log import get_logger

log = get_logger("leftovers")

CGROUP_ROOT = Path("/sys/fs/cgroup")
NETNS_DIR = Path("/run/netns")


def _cgroup_trees(prefix: str) -> list[Path]:
    """Our top cgroup in every hierarchy that has one (v1 controllers and the unified tree)."""
    return sorted(p for p in CGROUP_ROOT.glob(f"*/{prefix}") if p.is_dir())


def _walk_bottom_up(top: Path) -> Iterator[Path]:
    for dirpath, _dirnames, _files in sorted(os.walk(top), key=lambda t: -t[0].count("/")):
        yield Path(dirpath)


def _pids(top: Path) -> set[int]:
    pids: set[int] = set()
    for group in _walk_bottom_up(top):
        with contextlib.suppress(OSError):
            pids.update(int(p) for p in (group / "cgroup.procs").read_text().split())
    return pids


def kill_and_remove_cgroups(prefix: str, wait: float = 5.0) -> int:
    """SIGKILL every process in our cgroups, wait for them to leave, then remove the cgroups bottom-up."""
    trees = _cgroup_trees(prefix)
    pids = set().union(*(_pids(t) for t in trees)) if trees else set()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + wait
    while trees and any(_pids(t) for t in trees) and time.monotonic() < deadline:
        time.sleep(0.05)  # rmdir fails with EBUSY while a dying process is still listed
    for tree in trees:
        for group in _walk_bottom_up(tree):
            try:
                group.rmdir()
            except OSError as exc:
                log.warning("cgroup not removed", path=str(group), err=exc.strerror)
    return len(pids)


def remove_pod_netns(prefix: str) -> int:
    removed = 0
    for path in sorted(NETNS_DIR.glob(f"{prefix}-*")):
        if subprocess.run(["ip", "netns", "delete", path.name], capture_output=True).returncode == 0:
            removed += 1
    return removed


def unmount_under(directory: Path) -> int:
    """Lazily unmount everything mounted below ``directory`` (rootfs overlays, tmpfs volumes), deepest first."""
    base = str(directory.resolve()) + "/"
    with open("/proc/self/mounts") as f:
        targets = [line.split()[1].encode().decode("unicode_escape") for line in f]
    ours = sorted((t for t in targets if t.startswith(base)), key=lambda t: -t.count("/"))
    for target in ours:
        subprocess.run(["umount", "-l", target], capture_output=True)
    return len(ours)


def remove(prefix: str, state_dir: Path) -> None:
    killed = kill_and_remove_cgroups(prefix)
    netns = remove_pod_netns(prefix)
    mounts = unmount_under(state_dir)
    if killed or netns or mounts:
        log.info("removed runtime leftovers", prefix=prefix, processes=killed, netns=netns, mounts=mounts)
