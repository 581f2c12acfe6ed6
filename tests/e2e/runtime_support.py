"""Plumbing for the runtime's e2e tests: a busybox rootfs, an engine on tmp dirs, and a leak check.

Everything a test creates is named with its ``prefix`` (cgroup root, netns) or lives under its
``tmp_path`` (state, root, shims' bundles), so ``leaks`` can prove from the host that nothing is left.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from protos.cri import api_pb2 as cri
from protos.cri import api_pb2_grpc
from runtime.cni import CNI
from runtime.containers import ContainerRequest
from runtime.engine import Runtime
from runtime.linux.cgroups import CgroupV1
from runtime.sandbox import SandboxRequest
from runtime.shimclient import close_zygote

CGROUP_MOUNT = Path("/sys/fs/cgroup")


def busybox_rootfs(target: Path) -> Path:
    """A 2 MB rootfs: static busybox, its applets as symlinks, and passwd/group with root and nobody."""
    for sub in ("bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "etc", "tmp", "root", "var/run", "www"):
        (target / sub).mkdir(parents=True, exist_ok=True)
    shutil.copy2("/bin/busybox", target / "bin" / "busybox")
    applets = subprocess.run([str(target / "bin" / "busybox"), "--list-full"], capture_output=True, text=True,
                             check=True).stdout.split()
    for applet in applets:
        link = target / applet
        if applet != "bin/busybox" and not link.exists():
            link.symlink_to("/bin/busybox")
    (target / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n")
    (target / "etc" / "group").write_text("root:x:0:\nnobody:x:65534:\n")
    (target / "www" / "index.html").write_text("hello from a tinykube pod\n")
    return target


@dataclass(frozen=True)
class DirConfig:
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=lambda: ["sh"])
    env: list[str] = field(default_factory=lambda: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"])
    working_dir: str = ""
    user: str = ""
    stop_signal: str = ""


@dataclass(frozen=True)
class DirImage:
    image_id: str
    lowerdirs: list[Path]
    config: DirConfig


class DirImages:
    """Images as plain directories, so container tests do not depend on the image store."""

    def __init__(self, images: dict[str, Path]) -> None:
        self.images = images
        self.leases: dict[str, str] = {}

    def lease(self, holder: str, text: str) -> DirImage:
        if text not in self.images:
            raise KeyError(text)
        self.leases[holder] = text
        return DirImage(f"sha256:{text}", [self.images[text]], DirConfig())

    def release(self, holder: str) -> None:
        self.leases.pop(holder, None)


def make_runtime(tmp_path: Path, prefix: str, cni_conf_dir: Path | None = None, pump: str | None = None) -> Runtime:
    rootfs = busybox_rootfs(tmp_path / "images" / "busybox")
    return Runtime(str(tmp_path / "state"), str(tmp_path / "root"), CgroupV1(), DirImages({"busybox": rootfs}),
                   CNI(["/usr/lib/cni"], str(cni_conf_dir or tmp_path / "no-cni")), cgroup_root=prefix, pump=pump)


def leaks(prefix: str, tmp_path: Path) -> list[str]:
    """What the test left behind on the host: mounts, cgroups, netns, processes."""
    found = []
    with open("/proc/mounts") as f:
        found += [f"mount {line.split()[1]}" for line in f if str(tmp_path) in line or f"/{prefix}" in line]
    found += [f"cgroup {p}" for p in CGROUP_MOUNT.glob(f"*/{prefix}*")]
    found += [f"netns {n}" for n in os.listdir("/run/netns") if n.startswith(prefix)]
    for pid in _pids_mentioning(str(tmp_path)):
        found.append(f"process {pid}")
    return found


def _pids_mentioning(text: str) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            with contextlib.suppress(OSError):
                if text.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    out.append(int(entry))
    return out


def force_cleanup(prefix: str, tmp_path: Path) -> None:
    """Last-resort teardown after a failed test: kill, unmount, delete whatever carries our names."""
    for pid in _pids_mentioning(str(tmp_path)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    drv = CgroupV1()
    paths: set[str] = set()
    for ctl_dir in CGROUP_MOUNT.iterdir():
        if (ctl_dir / prefix).is_dir():
            paths.update(os.path.relpath(d, ctl_dir) for d, _, _ in os.walk(ctl_dir / prefix))
    for path in sorted(paths, key=lambda s: -s.count("/")):
        with contextlib.suppress(OSError):
            drv.kill(path)
            drv.remove(path, timeout=5)
    for name in os.listdir("/run/netns"):
        if name.startswith(prefix):
            subprocess.run(["ip", "netns", "delete", name], capture_output=True)


@contextlib.contextmanager
def runtime_session(tmp_path: Path, prefix: str, cni_conf_dir: Path | None = None,
                    pump: str | None = None) -> Iterator[Runtime]:
    """An engine whose every object is removed afterwards, and the host checked for leaks, pass or fail."""
    rt = make_runtime(tmp_path, prefix, cni_conf_dir, pump)
    try:
        yield rt
    finally:
        try:
            rt.shutdown_all()
            close_zygote()
            CgroupV1().remove(prefix, timeout=5)
        finally:
            left = leaks(prefix, tmp_path)
            force_cleanup(prefix, tmp_path)
        assert not left, f"leaked: {left}"


def wait_for(predicate: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def run_pod(rt: Runtime, name: str = "pod") -> str:
    return rt.sandboxes.run(SandboxRequest(name=name, namespace="test", uid=f"uid-{name}")).id


def run_container(rt: Runtime, sid: str, command: list[str], name: str = "c", pid_mode: str = "container",
                  **fields: object) -> str:
    log_path = str(Path(rt.root).parent / "logs" / f"{name}.log")
    req = ContainerRequest(name=name, image="busybox", command=command, log_path=log_path, **fields)  # type: ignore[arg-type]
    cid = rt.containers.create(sid, req, rt.sandboxes.placement(sid, pid_mode)).id
    rt.containers.start(cid)
    return cid


def log_text(rt: Runtime, cid: str) -> str:
    """The content of a container's CRI log, one line per record."""
    path = Path(rt.containers.get(cid).log_path)
    if not path.exists():
        return ""
    return "\n".join(line.split(" ", 3)[3] for line in path.read_text().splitlines())


def wait_exit(rt: Runtime, cid: str, timeout: float = 30.0) -> None:
    wait_for(lambda: rt.containers.state(cid).state == "exited", timeout, f"container {cid[:12]} to exit")


def import_default_images(root: Path) -> None:
    """busybox:latest and pause:latest from the image half, into the store the daemon will open."""
    from runtime.images.archive import import_images  # noqa: PLC0415 - only daemon tests need the image half
    from runtime.images.defaults import build_defaults  # noqa: PLC0415
    from runtime.images.store import ImageStore  # noqa: PLC0415

    layout = root.parent / "default-images"
    build_defaults(layout)
    import_images(layout, ImageStore(root / "images"))


def daemon_argv(tmp_path: Path, prefix: str, cni_conf_dir: Path, netns: str = "") -> list[str]:
    argv = [sys.executable, "-m", "tinykube.cli", "runtime", "--listen", f"unix://{tmp_path}/cri.sock",
            "--root", str(tmp_path / "root"), "--state", str(tmp_path / "state"),
            "--cni-conf-dir", str(cni_conf_dir), "--cgroup-root", prefix, "--cgroup-driver", "v1"]
    return ["nsenter", f"--net=/run/netns/{netns}", *argv] if netns else argv


def cri_stub(tmp_path: Path) -> tuple[grpc.Channel, api_pb2_grpc.RuntimeServiceStub]:
    """A stub on a channel of its own, once the daemon answers on it.

    The channel must not share gRPC's process-wide subchannel pool: right after a daemon is SIGKILLed
    and restarted, the pool may still hold the connection to the dead daemon as READY. A new channel
    then adopts it, drops to IDLE when the loss is noticed, and ``channel_ready_future`` (which asks to
    connect only once) waits on that IDLE channel until it times out, however soon the new daemon serves.
    Reconnect attempts stay at most a second apart, so readiness is seen within a second of the daemon's.
    """
    channel = grpc.insecure_channel(f"unix://{tmp_path}/cri.sock", options=[("grpc.use_local_subchannel_pool", 1),
                                                                          ("grpc.max_reconnect_backoff_ms", 1000)])
    grpc.channel_ready_future(channel).result(timeout=30)
    return channel, api_pb2_grpc.RuntimeServiceStub(channel)


def remove_all_pods(stub: api_pb2_grpc.RuntimeServiceStub) -> None:
    for pod in stub.ListPodSandbox(cri.ListPodSandboxRequest(), timeout=30).items:
        stub.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=pod.id), timeout=60)
        stub.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=pod.id), timeout=60)
