"""Container start latency and shim memory: tinykube's CRI daemon against Debian's runc, in one run (root).

1. create+start until the process runs, p50/p99: CreateContainer + StartContainer through CRI (StartContainer
   returns once the container has exec'd) against an overlay bundle + ``runc create`` + ``runc start``;
   every container stays running (``sleep``), all of tinykube's in one pod sandbox.
2. run-to-exit of ``/bin/true``, p50/p99: create+start until ContainerStatus reports EXITED, against ``runc run``
   (which waits for the exit and deletes the container).
3. the shim's RSS and PSS per idle container (runc keeps no process per container, so its overhead is 0).

Both runtimes get the same busybox rootfs (the image store's layers as overlay lowerdirs, a fresh
upper dir per container), v1 cgroups, a pod-like network namespace with only loopback, new mount,
PID, cgroup (and for runc IPC/UTS) namespaces, Docker's default capabilities and the same seccomp
deny-list. Samples of the two alternate, so a shared machine's background load falls on both alike;
one untimed warm-up of each comes first (the daemon's first start also spawns its shim zygote).

Everything lives under one scratch directory or carries one unique prefix (cgroup root, netns), and is
removed on the way out, on failure and on Ctrl-C too; nothing else is touched.

    .venv/bin/python -m bench.runtime_bench [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import grpc

from protos.cri import api_pb2 as cri
from protos.cri import api_pb2_grpc
from runtime.images.archive import import_images
from runtime.images.store import ImageStore
from runtime.linux import syscalls
from runtime.linux.capabilities import DEFAULT_CAPS
from runtime.linux.rootfs import MASKED_PATHS, READONLY_PATHS
from runtime.linux.seccomp import DENIED

REPO = Path(__file__).resolve().parent.parent
DEFAULT_IMAGES = REPO / ".venv" / "images"
IMAGE = "busybox"
RUNC = "/usr/sbin/runc"
CGROUP_MOUNT = Path("/sys/fs/cgroup")
NETNS_DIR = Path("/run/netns")
SLEEP = ["sleep", "3600"]
TRUE = ["/bin/true"]
RPC_TIMEOUT = 60.0
TEARDOWN_TIMEOUT = 600.0  # removing a pod stops and removes each of its (hundreds of) containers
EXIT_POLL = 0.001  # seconds between ContainerStatus polls: the resolution of tinykube's run-to-exit figure
START_RATIO_TARGET = 2.0
SHIM_RSS_TARGET_KIB = 10 * 1024
HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class BenchError(RuntimeError):
    """A step of the bench failed; the message says which and carries the tool's own words."""


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: always a value actually observed, and defined for any number of samples."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass(frozen=True)
class ProcessMemory:
    """One process's resident memory: RSS, and PSS (shared pages split among the processes mapping them)."""

    pid: int
    exe: str
    rss_kib: int
    pss_kib: int


def process_memory(pid: int) -> ProcessMemory:
    """RSS and PSS from ``/proc/PID/smaps_rollup``."""
    sizes: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("Rss", "Pss"):
            sizes[key] = int(rest.split()[0])
    return ProcessMemory(pid, Path(os.readlink(f"/proc/{pid}/exe")).name, sizes["Rss"], sizes["Pss"])


def _parent_pid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    raise BenchError(f"/proc/{pid}/status has no PPid")


@dataclass
class Results:
    """Samples in seconds by runtime name, the idle shims' memory, per-node processes (not per container), and
    the exits tinykube first reported wrongly (a runtime bug the bench works around and shows)."""

    start: dict[str, list[float]] = field(default_factory=dict)
    run_to_exit: dict[str, list[float]] = field(default_factory=dict)
    shims: list[ProcessMemory] = field(default_factory=list)
    node: dict[str, ProcessMemory] = field(default_factory=dict)
    exit_misreports: list[str] = field(default_factory=list)


# ---- scratch space: what we made, and only that ----------------------------------------------------------------


def _our_cgroups(prefix: str) -> list[Path]:
    """Every cgroup under our two top-level names (``PREFIX`` for tinykube, ``PREFIX-runc``), deepest first."""
    found: list[Path] = []
    for hierarchy in CGROUP_MOUNT.iterdir():
        if hierarchy.is_symlink():  # cpu -> cpu,cpuacct: the same cgroups again
            continue
        for top in (hierarchy / prefix, hierarchy / f"{prefix}-runc"):
            if top.is_dir():
                found.extend(Path(d) for d, _, _ in os.walk(top))
    return sorted(found, key=lambda p: -len(p.parts))


def _our_netns(prefix: str) -> list[str]:
    """The sandbox's (``PREFIX-<id>``) and runc's (``PREFIX-runc``) network namespaces."""
    return [n for n in os.listdir(NETNS_DIR) if n.startswith(f"{prefix}-")] if NETNS_DIR.is_dir() else []


def _our_mounts(workdir: Path, prefix: str) -> list[str]:
    """Mount points under the workdir or of our netns, deepest first."""
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4]
            if point.startswith(f"{workdir}/") or point.startswith(f"{NETNS_DIR}/{prefix}-"):
                points.append(point)
    return sorted(points, key=lambda p: -p.count("/"))


def _pids_mentioning(text: str) -> list[int]:
    """Processes whose command line names ``text`` (the daemon, the shims' pumps, runc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            with contextlib.suppress(OSError):
                if text.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
    return found


def _procs(cgroup: Path) -> list[int]:
    try:
        return [int(p) for p in (cgroup / "cgroup.procs").read_text().split()]
    except OSError:
        return []


def leftovers(workdir: Path, prefix: str) -> list[str]:
    """What the bench left on the host: processes, cgroups, netns, mounts, the scratch directory."""
    found = [f"process {pid}" for pid in _pids_mentioning(str(workdir))]
    found += [f"process {pid} in {cg}" for cg in _our_cgroups(prefix) for pid in _procs(cg)]
    found += [f"cgroup {cg}" for cg in _our_cgroups(prefix)]
    found += [f"netns {n}" for n in _our_netns(prefix)]
    found += [f"mount {m}" for m in _our_mounts(workdir, prefix)]
    if workdir.exists():
        found.append(f"directory {workdir}")
    return found


def sweep(workdir: Path, prefix: str) -> None:
    """The last step of every teardown: force away whatever still carries our names, after the orderly part."""
    cgroups = _our_cgroups(prefix)
    for pid in {*_pids_mentioning(str(workdir)), *(p for cg in cgroups for p in _procs(cg))}:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for cg in cgroups:
        deadline = time.monotonic() + 5
        while _procs(cg) and time.monotonic() < deadline:  # rmdir fails with EBUSY until the dead are reaped
            time.sleep(0.02)
        with contextlib.suppress(FileNotFoundError):
            cg.rmdir()
    for name in _our_netns(prefix):
        subprocess.run(["ip", "netns", "delete", name], capture_output=True)
    for point in _our_mounts(workdir, prefix):
        with contextlib.suppress(OSError):
            syscalls.umount2(point, syscalls.MNT_DETACH)
    shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Teardown runs to the end even through another Ctrl-C; a signal that came meanwhile is honoured after."""
    caught: list[int] = []

    def hold(signum: int, _frame: FrameType | None) -> None:
        caught.append(signum)

    previous = {sig: signal.signal(sig, hold) for sig in HELD_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if caught:
            raise KeyboardInterrupt(f"signal {caught[0]} during teardown")


def _remove_top_cgroup(name: str) -> None:
    """rmdir ``name`` at the top of every hierarchy; what runs below it has been removed already."""
    for hierarchy in CGROUP_MOUNT.iterdir():
        with contextlib.suppress(OSError):
            (hierarchy / name).rmdir()


def _tail(path: Path, limit: int = 2000) -> str:
    with contextlib.suppress(OSError):
        return path.read_text(errors="replace")[-limit:].strip()
    return ""


# ---- tinykube through CRI ---------------------------------------------------------------------------------------


class Tinykube:
    """A ``tinykube runtime`` of our own on a socket in the workdir, with one pod sandbox for every container."""

    def __init__(self, workdir: Path, prefix: str) -> None:
        self.workdir = workdir
        self.prefix = prefix
        self.root = workdir / "root"
        self.log = workdir / "runtime.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.channel: grpc.Channel | None = None
        self._stub: api_pb2_grpc.RuntimeServiceStub | None = None
        self.pod_id = ""
        self.pod_config = cri.PodSandboxConfig(
            metadata=cri.PodSandboxMetadata(name="bench", namespace="bench", uid=f"uid-{prefix}"),
            hostname="bench", log_directory=str(workdir / "logs"))
        self._serial = itertools.count()
        # Exits first reported wrongly, then correctly: ContainerStatus read the shim's status file just before
        # the shim wrote the exit down and saw the shim gone just after, so it answered "shim died" (255).
        self.exit_misreports: list[str] = []

    @property
    def stub(self) -> api_pb2_grpc.RuntimeServiceStub:
        """The CRI RuntimeService client (only once ``start`` has succeeded)."""
        if self._stub is None:
            raise BenchError("the tinykube daemon is not running")
        return self._stub

    def start(self) -> None:
        """Import the default images, start the daemon, wait for its socket, run the pod sandbox."""
        if not (DEFAULT_IMAGES / "index.json").exists():
            raise BenchError(f"no default images in {DEFAULT_IMAGES}: run `make setup`")
        import_images(DEFAULT_IMAGES, ImageStore(self.root / "images"))
        argv = [sys.executable, "-m", "tinykube.cli", "runtime", "--listen", f"unix://{self.workdir}/cri.sock",
                "--root", str(self.root), "--state", str(self.workdir / "state"),
                "--cni-conf-dir", str(self.workdir / "no-cni"), "--cgroup-root", self.prefix,
                "--cgroup-driver", "v1"]
        with self.log.open("ab") as log:
            # A session of its own: a Ctrl-C at the terminal is ours to handle, by an orderly teardown.
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True, cwd=REPO)
        self.channel = grpc.insecure_channel(f"unix://{self.workdir}/cri.sock")
        ready = grpc.channel_ready_future(self.channel)
        deadline = time.monotonic() + 120
        while True:
            try:
                ready.result(timeout=0.5)
                break
            except grpc.FutureTimeoutError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise BenchError(f"tinykube runtime did not come up; its log ends:\n{_tail(self.log)}") from None
        self._stub = api_pb2_grpc.RuntimeServiceStub(self.channel)
        self.pod_id = self.stub.RunPodSandbox(cri.RunPodSandboxRequest(config=self.pod_config),
                                              timeout=RPC_TIMEOUT).pod_sandbox_id

    def _create_and_start(self, argv: list[str]) -> str:
        name = f"c{next(self._serial)}"
        config = cri.ContainerConfig(
            metadata=cri.ContainerMetadata(name=name), image=cri.ImageSpec(image=IMAGE), command=argv,
            log_path=f"{name}.log",
            linux=cri.LinuxContainerConfig(security_context=cri.LinuxContainerSecurityContext(
                namespace_options=cri.NamespaceOption(pid=cri.CONTAINER))))
        cid: str = self.stub.CreateContainer(
            cri.CreateContainerRequest(pod_sandbox_id=self.pod_id, config=config, sandbox_config=self.pod_config),
            timeout=RPC_TIMEOUT).container_id
        self.stub.StartContainer(cri.StartContainerRequest(container_id=cid), timeout=RPC_TIMEOUT)
        return cid

    def _status(self, cid: str, verbose: bool = False) -> cri.ContainerStatusResponse:
        return self.stub.ContainerStatus(cri.ContainerStatusRequest(container_id=cid, verbose=verbose),
                                         timeout=RPC_TIMEOUT)

    def start_to_running(self) -> float:
        """Seconds from CreateContainer to StartContainer's answer for a ``sleep``; checked to run, then left so."""
        t0 = time.perf_counter()
        cid = self._create_and_start(SLEEP)
        elapsed = time.perf_counter() - t0
        state = self._status(cid).status.state
        if state != cri.CONTAINER_RUNNING:
            raise BenchError(f"tinykube container {cid[:12]} is {cri.ContainerState.Name(state)}, not running")
        return elapsed

    def run_to_exit(self) -> float:
        """Seconds from CreateContainer until ContainerStatus reports ``/bin/true`` EXITED (code 0); then removed."""
        t0 = time.perf_counter()
        cid = self._create_and_start(TRUE)
        while (status := self._status(cid).status).state != cri.CONTAINER_EXITED:
            time.sleep(EXIT_POLL)
        elapsed = time.perf_counter() - t0
        if status.exit_code != 0:
            # The runtime can report an exit in the instant its shim records it and exits (see
            # ``exit_misreports``); only what the shim wrote down is the verdict.
            first = f"{status.exit_code} ({status.reason}: {status.message})"
            status = self._status(cid).status
            if status.exit_code != 0:
                raise BenchError(f"tinykube: /bin/true exited {status.exit_code} ({status.reason}: {status.message})")
            self.exit_misreports.append(first)
        self.stub.RemoveContainer(cri.RemoveContainerRequest(container_id=cid), timeout=RPC_TIMEOUT)
        return elapsed

    def idle_shims(self, count: int) -> list[ProcessMemory]:
        """Start ``count`` sleepers and measure each one's shim: the parent (a subreaper) of the container's init."""
        interpreter = Path(os.path.realpath(sys.executable)).name
        shims = []
        for cid in [self._create_and_start(SLEEP) for _ in range(count)]:
            pid = json.loads(self._status(cid, verbose=True).info["info"])["pid"]
            shim = _parent_pid(pid)
            # The shim starts the container in Python, then execs its compiled pump: measure it settled.
            deadline = time.monotonic() + 5
            while process_memory(shim).exe == interpreter and time.monotonic() < deadline:
                time.sleep(0.01)
            shims.append(process_memory(shim))
        return shims

    def node_processes(self) -> dict[str, ProcessMemory]:
        """The daemon and its shim zygote: paid once per node, not per container."""
        if self.proc is None:
            return {}
        found = {"daemon": process_memory(self.proc.pid)}
        # Each thread has its own list of children, and the daemon forks the zygote from a worker thread.
        children = [c for task in Path(f"/proc/{self.proc.pid}/task").iterdir()
                    for c in (task / "children").read_text().split()]
        for child in children:
            if b"runtime.zygote" in Path(f"/proc/{child}/cmdline").read_bytes():
                found["shim zygote"] = process_memory(int(child))
        return found

    def close(self) -> None:
        """Remove every pod (and so every container) through CRI, stop the daemon, remove its cgroup root.

        Every pod the daemon lists is ours, including one whose RunPodSandbox answer never arrived.
        """
        try:
            if self._stub is not None and self.proc is not None and self.proc.poll() is None:
                for pod in self._stub.ListPodSandbox(cri.ListPodSandboxRequest(), timeout=RPC_TIMEOUT).items:
                    self._stub.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=pod.id),
                                              timeout=TEARDOWN_TIMEOUT)
                    self._stub.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=pod.id),
                                                timeout=TEARDOWN_TIMEOUT)
        finally:
            if self.channel is not None:
                self.channel.close()
            if self.proc is not None:
                self._stop_daemon(self.proc)
            _remove_top_cgroup(self.prefix)  # the daemon's --cgroup-root: it leaves the root itself in place

    @staticmethod
    def _stop_daemon(proc: subprocess.Popen[bytes]) -> None:
        """SIGTERM (the daemon then stops its zygote); SIGKILL to its whole process group if it lingers.

        The group is signalled only while the daemon is unreaped, so its PID (the group's id) cannot be reused.
        """
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# ---- runc on generated bundles ----------------------------------------------------------------------------------


class Runc:
    """Debian's runc with its state in the workdir, its cgroups under ``PREFIX-runc`` and a netns of ours.

    Each bundle's rootfs is an overlay of the image's layers mounted here, as containerd would do before
    calling runc; that mount and writing ``config.json`` count in runc's time, as their like does in tinykube's.
    """

    def __init__(self, workdir: Path, prefix: str) -> None:
        self.prefix = prefix
        self.state = workdir / "runc-state"
        self.bundles = workdir / "runc-bundles"
        self.log = workdir / "runc.log"
        self.netns = f"{prefix}-runc"
        self.lowerdirs: list[str] = []
        self.template: dict[str, Any] = {}
        self._serial = itertools.count()

    def start(self, lowerdirs: list[str]) -> None:
        """Make the pod-like netns and the config template (``runc spec``, adapted to tinykube's defaults)."""
        self.lowerdirs = lowerdirs
        self.bundles.mkdir(parents=True)
        subprocess.run(["ip", "netns", "add", self.netns], check=True, capture_output=True)
        subprocess.run(["ip", "-n", self.netns, "link", "set", "lo", "up"], check=True, capture_output=True)
        self._runc("spec", "--bundle", str(self.bundles))
        self.template = json.loads((self.bundles / "config.json").read_text())
        (self.bundles / "config.json").unlink()
        self._adapt(self.template)

    def _adapt(self, spec: dict[str, Any]) -> None:
        """What tinykube gives a CRI container by default, in OCI terms: caps, seccomp, masked paths, namespaces."""
        caps = [f"CAP_{c}" for c in DEFAULT_CAPS]
        process = spec["process"]
        process.update(terminal=False, env=["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                       noNewPrivileges=False,
                       capabilities={"bounding": caps, "effective": caps, "permitted": caps})
        process.pop("rlimits", None)
        spec["root"] = {"path": "rootfs", "readonly": False}
        spec["mounts"] = [m for m in spec["mounts"] if m["destination"] != "/sys/fs/cgroup"]  # tinykube has none
        linux = spec["linux"]
        linux["namespaces"] = [{"type": t} for t in ("pid", "ipc", "uts", "mount", "cgroup")] + [
            {"type": "network", "path": str(NETNS_DIR / self.netns)}]
        linux["maskedPaths"] = list(MASKED_PATHS)
        linux["readonlyPaths"] = list(READONLY_PATHS)
        linux["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                            "syscalls": [{"names": sorted(DENIED), "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                                         {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}

    def _runc(self, *args: str) -> None:
        # Output goes to a file, never a pipe: a detached container inherits it and would hold a pipe open forever.
        with self.log.open("ab") as log:
            proc = subprocess.run([RUNC, "--root", str(self.state), *args], stdin=subprocess.DEVNULL, stdout=log,
                                  stderr=log, start_new_session=True)
        if proc.returncode != 0:
            raise BenchError(f"runc {' '.join(args)} exited {proc.returncode}; runc.log ends:\n{_tail(self.log)}")

    def _bundle(self, name: str, argv: list[str]) -> Path:
        bundle = self.bundles / name
        for sub in ("upper", "work", "rootfs"):
            (bundle / sub).mkdir(parents=True)
        syscalls.mount("overlay", str(bundle / "rootfs"), "overlay", 0,
                       f"lowerdir={':'.join(self.lowerdirs)},upperdir={bundle}/upper,workdir={bundle}/work")
        spec = json.loads(json.dumps(self.template))
        spec["process"]["args"] = argv
        spec["hostname"] = name
        spec["linux"]["cgroupsPath"] = f"/{self.prefix}-runc/{name}"
        (bundle / "config.json").write_text(json.dumps(spec))
        return bundle

    def _name(self) -> str:
        return f"{self.prefix}-{next(self._serial)}"

    def start_to_running(self) -> float:
        """Seconds for bundle + ``runc create`` + ``runc start`` of a ``sleep``; checked to run, then left so."""
        name = self._name()
        t0 = time.perf_counter()
        bundle = self._bundle(name, SLEEP)
        self._runc("create", "--bundle", str(bundle), name)
        self._runc("start", name)
        elapsed = time.perf_counter() - t0
        state = subprocess.run([RUNC, "--root", str(self.state), "state", name], capture_output=True, text=True)
        status = json.loads(state.stdout).get("status") if state.returncode == 0 else state.stderr.strip()
        if status != "running":
            raise BenchError(f"runc container {name} is not running: {status}")
        return elapsed

    def run_to_exit(self) -> float:
        """Seconds for bundle + ``runc run`` of ``/bin/true`` (which waits, then deletes the container)."""
        name = self._name()
        t0 = time.perf_counter()
        bundle = self._bundle(name, TRUE)
        self._runc("run", "--bundle", str(bundle), name)
        elapsed = time.perf_counter() - t0
        self._remove_bundle(bundle)
        return elapsed

    def _remove_bundle(self, bundle: Path) -> None:
        with contextlib.suppress(OSError):
            syscalls.umount2(str(bundle / "rootfs"), syscalls.MNT_DETACH)
        shutil.rmtree(bundle, ignore_errors=True)

    def close(self) -> None:
        """Delete every container in our runc root, unmount the bundles, then the netns and the cgroup parent."""
        if self.state.is_dir():
            for entry in self.state.iterdir():
                subprocess.run([RUNC, "--root", str(self.state), "delete", "--force", entry.name],
                               capture_output=True, start_new_session=True)
        if self.bundles.is_dir():
            for bundle in self.bundles.iterdir():
                self._remove_bundle(bundle)
        subprocess.run(["ip", "netns", "delete", self.netns], capture_output=True)
        _remove_top_cgroup(f"{self.prefix}-runc")


# ---- the two together -------------------------------------------------------------------------------------------


class Bench:
    """Both runtimes over one scratch directory (created here, never adopted) and one name prefix.

    Leaving the ``with`` block, however it is left, removes everything either runtime created.
    """

    def __init__(self, workdir: Path, prefix: str) -> None:
        self.workdir = workdir
        self.prefix = prefix
        self.tinykube = Tinykube(workdir, prefix)
        self.runc = Runc(workdir, prefix)

    def __enter__(self) -> Bench:
        # Claim the names first: whatever carries them later is then ours to remove.
        taken = leftovers(self.workdir, self.prefix)
        if taken:
            raise BenchError(f"refusing to start: {taken} already exist, and the bench removes only what it made")
        self.workdir.mkdir(parents=True)
        try:
            self.tinykube.start()
            rootfs = ImageStore(self.tinykube.root / "images").rootfs(IMAGE)
            self.runc.start([str(p) for p in rootfs.lowerdirs])
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """The orderly teardown of each runtime, then the sweep; raises if anything is still left."""
        with signals_held():
            errors = []
            for step in (self.tinykube.close, self.runc.close):
                try:
                    step()
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
            sweep(self.workdir, self.prefix)
            left = leftovers(self.workdir, self.prefix)
        if errors and not left:
            print(f"warning: the orderly teardown failed, the sweep cleaned up: {errors}", file=sys.stderr)
        if left:
            raise BenchError(f"teardown left {left} (errors on the way: {errors})")

    @staticmethod
    def interleaved(count: int, tinykube: Callable[[], float], runc: Callable[[], float]) -> dict[str, list[float]]:
        """``count`` samples of each after one untimed warm-up, alternating which runtime goes first."""
        tinykube()
        runc()
        samples: dict[str, list[float]] = {"tinykube": [], "runc": []}
        for i in range(count):
            pair = [("tinykube", tinykube), ("runc", runc)]
            for name, measure in pair if i % 2 == 0 else reversed(pair):
                samples[name].append(measure())
        return samples

    def run(self, count: int, idle: int) -> Results:
        """The three measurements, in this order: start-to-running, run-to-exit, idle shim memory."""
        results = Results()
        results.start = self.interleaved(count, self.tinykube.start_to_running, self.runc.start_to_running)
        results.run_to_exit = self.interleaved(count, self.tinykube.run_to_exit, self.runc.run_to_exit)
        results.shims = self.tinykube.idle_shims(idle)
        results.node = self.tinykube.node_processes()
        results.exit_misreports = list(self.tinykube.exit_misreports)
        return results


def measure(count: int, idle: int, workdir: Path, prefix: str) -> Results:
    """Run the whole bench in ``workdir`` (which must not exist yet) with names starting ``prefix``."""
    with Bench(workdir, prefix) as bench:
        return bench.run(count, idle)


# ---- report -----------------------------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _mib(kib: float) -> str:
    return f"{kib / 1024:.2f} MiB"


def render(results: Results, runc_version: str) -> str:
    """The table: absolute figures, tinykube/runc ratios, and each target with whether it is met."""
    count = len(results.start["tinykube"])
    lines = [f"tinykube runtime vs {runc_version}: {count} containers each, {len(results.shims)} idle shims",
             f"{'measure':34} {'tinykube':>11} {'runc':>11} {'ratio':>7}  target",
             "-" * 80]
    for label, samples in (("create+start -> running", results.start),
                           ("run /bin/true -> exited", results.run_to_exit)):
        for q in (50, 99):
            ours, theirs = percentile(samples["tinykube"], q), percentile(samples["runc"], q)
            ratio = ours / theirs
            verdict = (f"<= {START_RATIO_TARGET:g}x runc: {'met' if ratio <= START_RATIO_TARGET else 'MISSED'}"
                       if q == 50 else "")
            lines.append(f"{label + f' p{q}':34} {_ms(ours):>11} {_ms(theirs):>11} {ratio:6.2f}x  {verdict}")
    rss = [s.rss_kib for s in results.shims]
    pss = [s.pss_kib for s in results.shims]
    met = "met" if max(rss) <= SHIM_RSS_TARGET_KIB else "MISSED"
    lines.append(f"{'idle shim RSS per container (mean)':34} {_mib(sum(rss) / len(rss)):>11} {'0 (none)':>11} "
                 f"{'':>7}  <= {_mib(SHIM_RSS_TARGET_KIB)}: {met} (max {_mib(max(rss))})")
    lines.append(f"{'idle shim PSS per container (mean)':34} {_mib(sum(pss) / len(pss)):>11} {'0 (none)':>11} "
                 f"{'':>7}  (max {_mib(max(pss))})")
    lines.append("-" * 80)
    shim_exes = sorted({s.exe for s in results.shims})
    lines.append(f"shim process: {', '.join(shim_exes)}; runc keeps no process per container after `runc start`")
    for name, mem in results.node.items():
        lines.append(f"per node, not per container: {name} RSS {_mib(mem.rss_kib)}, PSS {_mib(mem.pss_kib)}")
    if results.exit_misreports:
        lines.append(f"tinykube bug: {len(results.exit_misreports)} of {count + 1} /bin/true exits were first reported "
                     f"as {results.exit_misreports[0]}, then as 0 (Completed)")
    lines.append("runc times include mounting the overlay rootfs and writing config.json; tinykube's run-to-exit "
                 f"polls ContainerStatus every {EXIT_POLL * 1000:g} ms")
    return "\n".join(lines)


def runc_version() -> str:
    """``runc 1.1.5+ds1``, from ``runc --version``."""
    out = subprocess.run([RUNC, "--version"], capture_output=True, text=True, check=True).stdout
    return out.splitlines()[0].replace(" version", "")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: measure, tear down, print the table; non-zero if anything failed or was left behind."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 containers and 5 idle shims, for a smoke run")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("run as root: the bench creates cgroups, network namespaces and mounts")
    # SIGTERM and SIGHUP unwind like Ctrl-C, so the teardown in Bench still runs.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: sys.exit(128 + signum))
    count, idle = (20, 5) if args.quick else (100, 20)
    prefix = f"tkb{secrets.token_hex(2)}"
    workdir = Path(tempfile.gettempdir()) / f"{prefix}-runtime-bench"
    print(f"measuring in {workdir} with prefix {prefix} ...", file=sys.stderr)
    try:
        results = measure(count, idle, workdir, prefix)
    except KeyboardInterrupt:
        print("interrupted; everything the bench created is removed", file=sys.stderr)
        return 130
    print(render(results, runc_version()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
