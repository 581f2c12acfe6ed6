"""A kubelet's pod workers on a real runtime, without an apiserver: pods go in, statuses and events come out.

``RuntimeNode`` starts ``tinykube runtime`` inside a test netns (with the reference bridge CNI and the
default images imported through ``tinykube image import``); ``KubeletHarness`` wires the kubelet's real
workers to it, with API objects served from dicts the test controls.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cni.plugin_install import install_plugin
from kubelet.cri import CriClient
from kubelet.volumes.manager import Lookups, VolumeManager
from kubelet.worker import Hub, NodeContext, PodWorkers
from runtime.linux.cgroups import CgroupV1
from tests.e2e.runtime_support import cri_stub, force_cleanup, leaks, remove_all_pods
from tests.support.netns import delete_netns
from tests.support.processes import Processes

REPO = Path(__file__).resolve().parents[2]
DEFAULT_IMAGES = REPO / ".venv" / "images"


def subnet(prefix: str) -> str:
    return f"10.{200 + int(prefix[2:4], 16) % 50}.{int(prefix[4:6], 16)}"


def write_cni_config(conf_dir: Path, prefix: str, ipam_dir: Path, plugin: str = "bridge") -> None:
    """A bridge network for pods through the reference ``bridge`` + ``host-local`` plugins, or ``tinykube-cni``."""
    conf_dir.mkdir(parents=True, exist_ok=True)
    net = subnet(prefix)
    if plugin == "tinykube-cni":
        conf: dict[str, Any] = {"type": plugin, "bridge": f"{prefix}-br", "isGateway": True,
                                "ipam": {"subnet": f"{net}.0/24", "dataDir": str(ipam_dir)}}
    else:
        conf = {"type": "bridge", "bridge": f"{prefix}-br", "isGateway": True, "ipMasq": False,
                "ipam": {"type": "host-local", "ranges": [[{"subnet": f"{net}.0/24"}]], "dataDir": str(ipam_dir)}}
    (conf_dir / "10-test.conflist").write_text(json.dumps({"cniVersion": "1.0.0", "name": f"{prefix}-net",
                                                           "plugins": [conf]}))


def import_images(runtime_root: Path) -> None:
    subprocess.run([sys.executable, "-m", "tinykube.cli", "image", "--root", str(runtime_root / "images"),
                    "import", str(DEFAULT_IMAGES)], check=True, capture_output=True, timeout=120)


def plugin_socket(tmp_path: Path) -> Path:
    """Where the node's CNI plugin server listens (``running_runtime`` runs one for ``tinykube-cni``)."""
    return tmp_path / "cni-plugin.sock"


def plugin_server_argv(node_ns: str, socket: Path) -> list[str]:
    """The node's CNI plugin server on ``socket``, in the node's network namespace as flanneld serves it."""
    return ["nsenter", f"--net=/run/netns/{node_ns}", sys.executable, "-m", "cni.plugin_server", str(socket)]


def plugin_dir(tmp_path: Path) -> Path:
    """A CNI bin dir holding ``tinykube-cni`` as flanneld installs it on a node: its client for the plugin
    server, which runs the plugin itself when no server listens."""
    install_plugin(tmp_path / "cni-bin", str(plugin_socket(tmp_path)))
    return tmp_path / "cni-bin"


def runtime_argv(tmp_path: Path, prefix: str, netns: str | None) -> list[str]:
    argv = [sys.executable, "-m", "tinykube.cli", "runtime",
            "--listen", f"unix://{tmp_path}/cri.sock", "--root", str(tmp_path / "root"),
            "--state", str(tmp_path / "state"), "--cni-conf-dir", str(tmp_path / "cni"),
            "--cni-bin-dir", f"/usr/lib/cni:{plugin_dir(tmp_path)}", "--cgroup-root", prefix,
            "--cgroup-driver", "v1"]
    return ["nsenter", f"--net=/run/netns/{netns}", *argv] if netns else argv


NO_LOOKUPS = Lookups(config_maps=lambda ns, n: None, secrets=lambda ns, n: None, claims=lambda ns, n: None,
                     volumes=lambda ns, n: None)


def kubelet_argv(kubeconfig: Path, endpoint: str, node: str, root_dir: Path, port: int, *extra: str) -> list[str]:
    """``tinykube kubelet`` for a test node on 127.0.0.3. Memory is its only eviction signal and image GC is off
    (flags given in ``extra`` win): the tests' nodes share the host's disk, whose fullness is not theirs to free
    (as kind configures its nodes, and tinykube its own)."""
    return [sys.executable, "-m", "tinykube.cli", "kubelet", "--kubeconfig", str(kubeconfig),
            "--container-runtime-endpoint", endpoint, "--hostname-override", node, "--node-ip", "127.0.0.3",
            "--root-dir", str(root_dir), "--port", str(port), "--eviction-hard=memory.available<100Mi",
            "--image-gc-high-threshold=100", *extra]


def remove_cgroup_tree(prefix: str) -> None:
    """The QoS levels (``kubepods/burstable``) outlive pods, as on a real node: remove them deepest first."""
    driver = CgroupV1()
    paths: set[str] = set()
    for controller in Path("/sys/fs/cgroup").iterdir():
        root = controller / prefix
        if root.is_dir():
            paths.update(os.path.relpath(d, controller) for d, _, _ in os.walk(root))
    for path in sorted(paths, key=lambda p: -p.count("/")):
        driver.remove(path, timeout=5)


@contextlib.contextmanager
def running_runtime(tmp_path: Path, prefix: str, processes: Processes, node_ns: str | None,
                    cni_plugin: str = "bridge") -> Iterator[str]:
    """``tinykube runtime`` in ``node_ns`` with a bridge network for pods (through ``cni_plugin``), or (None) in
    the test's own network namespace with no pod network, for host-network pods whose streaming URLs the test
    process can reach. Afterwards every pod, volume, cgroup and mount is gone (checked)."""
    if node_ns:
        subprocess.run(["ip", "-n", node_ns, "link", "set", "lo", "up"], check=True)
        write_cni_config(tmp_path / "cni", prefix, tmp_path / "ipam", cni_plugin)
    import_images(tmp_path / "root")
    if node_ns and cni_plugin == "tinykube-cni":  # as flanneld serves it on a node, in the runtime's netns
        processes.start("cni-plugin-server", plugin_server_argv(node_ns, plugin_socket(tmp_path)))
    processes.start("runtime", runtime_argv(tmp_path, prefix, node_ns))
    try:
        cri_stub(tmp_path)  # the runtime answers
        yield f"unix://{tmp_path}/cri.sock"
    finally:
        try:
            remove_all_pods(cri_stub(tmp_path)[1])
            for uid_dir in (tmp_path / "kubelet" / "pods").glob("*"):
                VolumeManager(tmp_path / "kubelet", NO_LOOKUPS).teardown(uid_dir.name)
            processes.stop_all()
            remove_cgroup_tree(prefix)
            if node_ns:
                delete_netns(node_ns)
        finally:
            left = leaks(prefix, tmp_path)
            force_cleanup(prefix, tmp_path)
        assert not left, f"leaked: {left}"


@dataclass
class Recorded:
    """What the workers reported."""

    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[tuple[str, str, str, str]] = field(default_factory=list)  # (pod name, type, reason, message)
    terminated: list[str] = field(default_factory=list)


class KubeletHarness:
    """Real pod workers on a real runtime; the test plays the apiserver."""

    def __init__(self, endpoint: str, root_dir: Path, cgroup_root: str = "") -> None:
        self.config_maps: dict[tuple[str, str], dict[str, Any]] = {}
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}
        self.recorded = Recorded()
        self.cri = CriClient(endpoint)
        self._changed = asyncio.Event()
        lookups = Lookups(config_maps=self._get(self.config_maps), secrets=self._get(self.secrets),
                          claims=lambda ns, name: None, volumes=lambda ns, name: None)
        self.volumes = VolumeManager(root_dir, lookups)
        node = NodeContext(node_name="node1", host_ips=("172.28.0.11",), root_dir=root_dir,
                           memory_capacity=8 * 1024**3, cgroup_root=cgroup_root,
                           node_allocatable={"cpu": "2", "memory": "8Gi"})
        self.hub = Hub(cri=self.cri, volumes=self.volumes, node=node, config_maps=self._get(self.config_maps),
                       secrets=self._get(self.secrets), report=self._report, on_terminated=self._terminated,
                       events=self._event)
        self.workers = PodWorkers(self.hub)
        self._relist: asyncio.Task[None] | None = None

    @staticmethod
    def _get(store: Mapping[tuple[str, str], dict[str, Any]]) -> Callable[[str, str], dict[str, Any] | None]:
        return lambda ns, name: store.get((ns, name))

    async def _report(self, pod: dict[str, Any], status: dict[str, Any]) -> bool:
        self.recorded.statuses[pod["metadata"]["uid"]] = status
        self._changed.set()
        return True

    async def _terminated(self, pod: dict[str, Any]) -> None:
        self.recorded.terminated.append(pod["metadata"]["uid"])
        self._changed.set()

    def _event(self, pod: dict[str, Any], type_: str, reason: str, message: str) -> None:
        self.recorded.events.append((pod["metadata"]["name"], type_, reason, message))
        self._changed.set()

    def start(self) -> None:
        self._relist = asyncio.get_running_loop().create_task(self.workers.relist(0.5))

    async def close(self) -> None:
        if self._relist is not None:
            self._relist.cancel()
        await self.workers.stop()
        await self.cri.close()

    def run(self, pod: dict[str, Any]) -> str:
        self.workers.update(pod)
        return str(pod["metadata"]["uid"])

    def status(self, uid: str) -> dict[str, Any]:
        return self.recorded.statuses.get(uid, {})

    async def wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; "
                                     f"statuses={self.recorded.statuses} events={self.recorded.events[-10:]}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 1.0))


def make_pod(name: str, containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    """A pod as the apiserver would hand it over, defaults included where the kubelet reads them."""
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": str(uuid.uuid4())},
            "spec": {"nodeName": "node1", "restartPolicy": "Always", "terminationGracePeriodSeconds": 2,
                     "containers": containers, **spec},
            "status": {"phase": "Pending"}}


def container_state(status: Mapping[str, Any], name: str, init: bool = False) -> dict[str, Any]:
    key = "initContainerStatuses" if init else "containerStatuses"
    for cs in status.get(key) or []:
        if cs["name"] == name:
            return dict(cs)
    return {}
