"""The static CPU manager and image garbage collection with a real ``tinykube kubelet``, runtime, store and
apiserver: exclusive cpusets in the containers' cgroups, the shared pool shrinking and growing back, the
checkpoint surviving a kubelet restart, and an unused image collected while the one in use stays."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubelet.cpuset import format_cpus
from kubelet.machine import online_cpus
from protos.cri import api_pb2 as cri
from protos.cri import api_pb2_grpc
from tests.e2e.runtime_support import cri_stub
from tests.e2e.test_kubelet_cluster import wait_for
from tests.support.apiserver_cluster import ApiserverCluster
from tests.support.kubelet_node import DEFAULT_IMAGES, kubelet_argv
from tests.support.ports import free_port
from tests.support.processes import Processes

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="containers need root"),
    pytest.mark.skipif(not (DEFAULT_IMAGES / "index.json").exists(), reason="needs .venv/images"),
    pytest.mark.skipif(len(online_cpus()) < 2, reason="needs 2 CPUs"),
    pytest.mark.skipif(not Path("/sys/fs/cgroup/cpuset/cpuset.cpus").exists(), reason="needs the v1 cpuset"),
]

LOOP = ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]
CPUSET = Path("/sys/fs/cgroup/cpuset")


def pod(name: str, node: str, resources: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "hostNetwork": True, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "c", "image": "busybox", "imagePullPolicy": "IfNotPresent",
                                     "command": LOOP, "resources": resources}]}}


@pytest.fixture
def cluster(tmp_path: Path, processes: Processes) -> Iterator[ApiserverCluster]:
    c = ApiserverCluster(processes, free_port, tmp_path / "cluster", apiservers=1)
    c.start()
    yield c


def test_exclusive_cpus_and_image_gc(cluster: ApiserverCluster, cri_endpoint: str, tmp_path: Path, prefix: str,
                                     processes: Processes) -> None:
    node = f"{prefix}-node"
    root = tmp_path / "kubelet"
    # An image no pod uses: built FROM busybox, so it has an id of its own.
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text(f"FROM busybox\nENV MARK={prefix}\n")
    subprocess.run([sys.executable, "-m", "tinykube.cli", "image", "--root", str(tmp_path / "root" / "images"),
                    "build", "-q", "-t", f"{prefix}-unused:1", str(tmp_path / "ctx")],
                   check=True, capture_output=True, timeout=120)
    base = kubelet_argv(cluster.apiservers[0].kubeconfig, cri_endpoint, node, root, free_port(),
                        "--cpu-manager-policy", "static", "--reserved-cpus", "0",
                        "--cpu-manager-reconcile-period", "1s")
    kubelet = processes.start("kubelet", [*base, "--image-gc-high-threshold", "100"])
    channel, runtime = cri_stub(tmp_path)
    images = api_pb2_grpc.ImageServiceStub(channel)
    try:
        wait_for(lambda: cluster.kubectl("get", "node", node, check=False).returncode == 0, 60, "the Node")
        # --reserved-cpus 0 is taken from allocatable, as upstream does.
        node_status = json.loads(cluster.kubectl("get", "node", node, "-o", "json").stdout)["status"]
        everything = online_cpus()
        shared, whole = format_cpus(everything - {1}), format_cpus(everything)
        assert node_status["allocatable"]["cpu"] == str(len(everything) - 1)
        guaranteed = pod(f"{prefix}-g", node, {"limits": {"cpu": "1", "memory": "64Mi"}})
        best_effort = pod(f"{prefix}-be", node, {})
        cluster.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List",
                                                               "items": [guaranteed, best_effort]}))

        def container(name: str) -> tuple[str, str]:
            """(container id, cpuset.cpus of its cgroup) once the pod's container runs, else ("", "")."""
            out = cluster.kubectl("get", "pod", name, "-o", "json", check=False)
            if out.returncode != 0:
                return "", ""
            statuses = json.loads(out.stdout)["status"].get("containerStatuses") or []
            if not statuses or "running" not in statuses[0]["state"]:
                return "", ""
            cid = statuses[0]["containerID"].split("://", 1)[1]
            info = runtime.ContainerStatus(cri.ContainerStatusRequest(container_id=cid, verbose=True), timeout=30)
            cgroup = json.loads(info.info["info"])["cgroup"]
            return cid, (CPUSET / cgroup.strip("/") / "cpuset.cpus").read_text().strip()

        def state() -> dict[str, Any]:
            return dict(json.loads((root / "cpu_manager_state").read_text()))

        g_id, g_cpus = wait_for(lambda: container(guaranteed["metadata"]["name"])[0] and
                                container(guaranteed["metadata"]["name"]), 120, "the Guaranteed pod")
        be_id, _ = wait_for(lambda: container(best_effort["metadata"]["name"])[0] and
                            container(best_effort["metadata"]["name"]), 120, "the BestEffort pod")
        g_uid = json.loads(cluster.kubectl("get", "pod", guaranteed["metadata"]["name"], "-o", "json").stdout
                           )["metadata"]["uid"]
        assert g_cpus == "1"
        wait_for(lambda: container(best_effort["metadata"]["name"])[1] == shared, 30, "the shared pool without CPU 1")
        saved = state()
        assert saved["policyName"] == "static" and saved["defaultCpuSet"] == shared
        assert saved["entries"] == {g_uid: {"c": "1"}}

        # A restart keeps the assignment (from the checkpoint) and the containers; now with image GC forced on.
        kubelet.send_signal(signal.SIGTERM)
        kubelet.wait(30)
        kubelet = processes.start("kubelet-again", [
            *base, "--image-gc-high-threshold", "0", "--image-gc-low-threshold", "0",
            "--minimum-image-ttl-duration", "0s", "--image-gc-period", "1s"])
        wait_for(lambda: "pods synced" in processes.log("kubelet-again"), 60, "the new kubelet to list its pods")

        def image_names() -> set[str]:
            return {t for i in images.ListImages(cri.ListImagesRequest(), timeout=30).images for t in i.repo_tags}

        wait_for(lambda: f"docker.io/library/{prefix}-unused:1" not in image_names(), 60, "the unused image to go")
        left = image_names()
        assert "docker.io/library/busybox:latest" in left  # in use by both pods' containers
        assert "docker.io/library/pause:latest" in left  # pinned
        # Thresholds at 0 ask for more than unused images can give: upstream's event says so on the Node.
        wait_for(lambda: "FreeDiskSpaceFailed" in cluster.kubectl(
            "get", "events", "--field-selector", f"involvedObject.kind=Node,involvedObject.name={node}").stdout,
            30, "the FreeDiskSpaceFailed event")
        assert container(guaranteed["metadata"]["name"]) == (g_id, "1")
        # The reconcile's cpuset-only update (resent after the restart) keeps the container's other limits.
        linux = runtime.ContainerStatus(cri.ContainerStatusRequest(container_id=g_id), timeout=30
                                        ).status.resources.linux
        assert (linux.cpuset_cpus, linux.memory_limit_in_bytes) == ("1", 64 * 1024 * 1024)
        assert container(best_effort["metadata"]["name"]) == (be_id, shared)
        assert state()["entries"] == {g_uid: {"c": "1"}}

        # The Guaranteed pod ends: its CPU returns to the shared pool, and running containers get it back.
        cluster.kubectl("delete", "pod", guaranteed["metadata"]["name"], "--wait=true", "--timeout=60s")
        wait_for(lambda: container(best_effort["metadata"]["name"])[1] == whole, 30, "the shared pool to grow")
        assert state() | {"checksum": 0} == {"policyName": "static", "defaultCpuSet": whole, "checksum": 0}
        assert container(best_effort["metadata"]["name"])[0] == be_id
    finally:
        channel.close()
        cluster.kubectl("delete", "pods", "--all", "--grace-period=0", "--force", check=False)
        wait_for(lambda: not cluster.kubectl("get", "pods", "-o", "name", check=False).stdout.strip(), 60,
                 "the pods to be gone")
        kubelet.send_signal(signal.SIGTERM)
        kubelet.wait(30)
