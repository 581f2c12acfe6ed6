"""RUN for ``tinykube image build``: a command in one of our containers, on the image built so far.

The builder starts ``python -m runtime.images.run_step SPEC`` with a container spec whose rootfs is
the image's snapshots plus a fresh upperdir. This process becomes a child subreaper, starts the
container through the container half's launch path (new mount, PID, IPC and UTS namespaces, the
host's network, Docker's default capabilities, the seccomp filter), waits for it, and exits with
its status; the upperdir then holds the step's changes. The overlay lives in the container's own
mount namespace, so nothing stays mounted afterwards.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from runtime import launch
from runtime.linux import capabilities
from runtime.linux import syscalls as sc
from runtime.linux.rootfs import RootfsSpec
from runtime.spec import ContainerSpec, ProcessSpec

HOSTNAME = "tinykube-build"


def container_spec(lowerdirs: Sequence[Path], workspace: Path, *, argv: list[str], env: list[str], cwd: str,
                   uid: int, gid: int) -> ContainerSpec:
    """The spec of one RUN step; ``workspace`` gets its ``upper``, ``work`` and ``merged`` directories."""
    for name in ("upper", "work", "merged"):
        (workspace / name).mkdir(parents=True, exist_ok=True)
    rootfs = RootfsSpec(lowerdirs=[str(p) for p in lowerdirs], upperdir=str(workspace / "upper"),
                        workdir=str(workspace / "work"), target=str(workspace / "merged"))
    process = ProcessSpec(args=argv, env=env, cwd=cwd or "/", uid=uid, gid=gid,
                          caps=capabilities.resolve([], []), seccomp=True)
    return ContainerSpec(id=workspace.name, process=process, rootfs=rootfs, hostname=HOSTNAME,
                         new_namespaces=["mnt", "pid", "ipc", "uts", "cgroup"])


def run(spec: ContainerSpec) -> int:
    """Start the container and wait for it; returns its exit status as a shell reports it."""
    sc.set_child_subreaper()  # the container's init is re-parented to us when the intermediate exits
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        launch.intermediate(spec, (0, 1, 2), write_fd)
    os.close(write_fd)
    report = b""
    while chunk := os.read(read_fd, 4096):
        report += chunk
    os.close(read_fd)
    os.waitpid(pid, 0)
    init_pid = 0
    for line in report.decode(errors="replace").splitlines():
        if line.startswith("pid "):
            init_pid = int(line[4:])
        elif line.startswith("error "):
            sys.stderr.write(f"cannot start the build container: {line[6:]}\n")
    if not init_pid:
        return 127
    _, status = os.waitpid(init_pid, 0)  # a failure before execve exits 126/127, as a shell would
    return launch.exit_code(status)


def main(argv: Sequence[str]) -> int:
    """``python -m runtime.images.run_step SPEC.json``: run one RUN container; exit with its status."""
    if len(argv) != 1:
        sys.stderr.write("usage: python -m runtime.images.run_step SPEC.json\n")
        return 2
    return run(ContainerSpec.load(argv[0]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
