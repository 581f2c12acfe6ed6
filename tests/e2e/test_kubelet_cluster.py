"""``tinykube kubelet`` as a process between a real apiserver (store + apiserver on loopback) and the real
runtime: pods created with kubectl run, report status, and delete gracefully (a kubelet restart: see
test_kubelet_interactive)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from protos.cri import api_pb2 as cri
from tests.e2e.runtime_support import cri_stub
from tests.support.apiserver_cluster import ApiserverCluster
from tests.support.kubelet_node import DEFAULT_IMAGES, kubelet_argv
from tests.support.ports import free_port
from tests.support.processes import Processes

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="containers need root"),
    pytest.mark.skipif(not (DEFAULT_IMAGES / "index.json").exists(), reason="needs .venv/images"),
]

POD_YAML = """
apiVersion: v1
kind: ConfigMap
metadata: {{name: {prefix}-cfg}}
data: {{GREETING: hello}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: {prefix}-sa}}
---
apiVersion: v1
kind: Pod
metadata: {{name: {prefix}-web}}
spec:
  nodeName: {node}
  serviceAccountName: {prefix}-sa
  hostNetwork: true
  terminationGracePeriodSeconds: 5
  initContainers:
  - name: init
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["/bin/sh", "-c", "echo seeded > /data/seed"]
    volumeMounts: [{{name: data, mountPath: /data}}]
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["/bin/sh", "-c", "echo started $GREETING; httpd -p 127.0.0.1:{web_port} -h /data;
              trap 'exit 0' TERM; while true; do sleep 0.2; done"]
    envFrom: [{{configMapRef: {{name: {prefix}-cfg}}}}]
    readinessProbe:
      exec: {{command: ["/bin/sh", "-c", "test -e /data/seed && test $GREETING = hello"]}}
      periodSeconds: 1
    resources:
      limits: {{cpu: 200m, memory: 64Mi}}
    volumeMounts: [{{name: data, mountPath: /data}}, {{name: token, mountPath: /var/run/secrets/tokens}}]
  volumes:
  - name: data
    emptyDir: {{}}
  - name: token
    projected:
      sources:
      - serviceAccountToken: {{path: token, audience: tinykube-test, expirationSeconds: 3600}}
"""


STATIC_YAML = """
apiVersion: v1
kind: Pod
metadata: {name: static, labels: {tier: control-plane}}
spec:
  hostNetwork: true
  containers:
  - name: c
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]
"""


@pytest.fixture
def cluster(tmp_path: Path, processes: Processes) -> Iterator[ApiserverCluster]:
    c = ApiserverCluster(processes, free_port, tmp_path / "cluster", apiservers=1)
    c.start()
    yield c


async def kubelet_get(kubelet_port: int, path: str) -> tuple[int, str]:
    """A plain GET on the kubelet's HTTPS server (self-signed certificate, no client certificate needed)."""
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    async with aiohttp.ClientSession() as session, session.get(f"https://127.0.0.1:{kubelet_port}{path}",
                                                               ssl=tls) as resp:
        return resp.status, await resp.text()


async def forward_get(kubelet_port: int, pod: str, port: int, path: str, body_end: bytes) -> bytes:
    """GET ``path`` from ``port`` in the pod through the kubelet's /portForward WebSocket; the response once
    it ends with ``body_end`` (the server closes its side, but the stream itself may linger)."""
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE  # the kubelet's self-signed serving certificate
    url = f"wss://127.0.0.1:{kubelet_port}/portForward/default/{pod}?port={port}"
    async with aiohttp.ClientSession() as session, session.ws_connect(
            url, protocols=["v4.channel.k8s.io"], ssl=tls) as ws:
        opened: set[int] = set()
        while len(opened) < 2:  # each channel first carries the port number
            msg = await ws.receive(timeout=10)
            opened.add(msg.data[0])
        await ws.send_bytes(b"\x00" + f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
        body = b""
        while True:
            msg = await ws.receive(timeout=10)
            if msg.type != aiohttp.WSMsgType.BINARY:
                return body
            if msg.data[0] == 0:
                body += bytes(msg.data[1:])
                if body.endswith(body_end):
                    return body


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_pods_through_the_api(cluster: ApiserverCluster, cri_endpoint: str, tmp_path: Path, prefix: str,
                              processes: Processes) -> None:
    node = f"{prefix}-node"
    argv = kubelet_argv(cluster.apiservers[0].kubeconfig, cri_endpoint, node, tmp_path / "kubelet",
                        kubelet_port := free_port(), "--pod-manifest-path", str(tmp_path / "manifests"),
                        "--file-check-frequency", "1s")
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "static.yaml").write_text(STATIC_YAML)
    kubelet = processes.start("kubelet", argv)
    pod = f"{prefix}-web"
    try:
        wait_for(lambda: cluster.kubectl("get", "node", node, check=False).returncode == 0, 30, "the Node")
        cluster.kubectl("wait", "--for=condition=Ready", f"node/{node}", "--timeout=30s")
        web_port = free_port()
        cluster.kubectl("apply", "-f", "-", stdin=POD_YAML.format(prefix=prefix, node=node, web_port=web_port))

        def status() -> dict[str, Any]:
            out = cluster.kubectl("get", "pod", pod, "-o", "json", check=False)
            return json.loads(out.stdout)["status"] if out.returncode == 0 else {}

        def ready() -> bool:
            return any(c["type"] == "Ready" and c["status"] == "True" for c in status().get("conditions", []))

        wait_for(ready, 90, "the pod to be Ready")
        st = status()
        # Burstable, not Guaranteed: the init container sets no limits.
        assert st["phase"] == "Running" and st["qosClass"] == "Burstable" and st["hostIP"] == "127.0.0.3"
        assert st["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
        app_id = st["containerStatuses"][0]["containerID"]
        assert app_id.startswith("tinykube://")
        assert "Running" in cluster.kubectl("get", "pod", pod).stdout
        events = cluster.kubectl("get", "events", "--field-selector", f"involvedObject.name={pod}").stdout
        assert "Started" in events and "Created" in events
        # Logs and exec go kubectl -> apiserver -> this kubelet's HTTPS server -> files / the runtime.
        assert cluster.kubectl("logs", pod).stdout == "started hello\n"
        assert cluster.kubectl("logs", pod, "--timestamps").stdout.split(" ", 1)[1] == "started hello\n"
        out = cluster.kubectl("exec", pod, "--", "/bin/sh", "-c", "cat /data/seed; echo $GREETING")
        assert out.stdout == "seeded\nhello\n"
        failed = cluster.kubectl("exec", pod, "--", "/bin/sh", "-c", "exit 7", check=False)
        assert failed.returncode == 7
        token = cluster.kubectl("exec", pod, "--", "cat", "/var/run/secrets/tokens/token").stdout
        assert token.count(".") == 2  # a JWT, from TokenRequest, bound to the pod
        (tmp_path / "upload.txt").write_text("from the host\n")
        cluster.kubectl("cp", str(tmp_path / "upload.txt"), f"{pod}:/data/upload.txt")
        cluster.kubectl("cp", f"{pod}:/data/seed", str(tmp_path / "seed.txt"))
        assert (tmp_path / "seed.txt").read_text() == "seeded\n"
        assert cluster.kubectl("exec", pod, "--", "cat", "/data/upload.txt").stdout == "from the host\n"
        # Port-forward straight at the kubelet, as the Python client speaks it (v4.channel.k8s.io); kubectl's
        # SPDY port-forward through the apiserver is covered by test_kubelet_streaming.
        assert asyncio.run(kubelet_get(kubelet_port, "/healthz")) == (200, "ok")
        code, text = asyncio.run(kubelet_get(kubelet_port, f"/containerLogs/default/{pod}/app?tailLines=1"))
        assert (code, text) == (200, "started hello\n")
        assert asyncio.run(kubelet_get(kubelet_port, "/containerLogs/default/nope/app"))[0] == 404
        page = asyncio.run(forward_get(kubelet_port, pod, web_port, "/seed", b"\r\n\r\nseeded\n"))
        assert page.startswith(b"HTTP/1.1 200 OK")

        # The static pod runs from its manifest; its mirror in the API reports it and comes back if deleted.
        mirror = f"static-{node}"

        def mirror_status() -> dict[str, Any]:
            out = cluster.kubectl("get", "pod", mirror, "-o", "json", check=False)
            return json.loads(out.stdout) if out.returncode == 0 else {}

        first = wait_for(lambda: (m := mirror_status()).get("status", {}).get("phase") == "Running" and m, 60,
                         "the static pod's mirror to report Running")
        assert "kubernetes.io/config.mirror" in first["metadata"]["annotations"]
        assert first["metadata"]["ownerReferences"][0]["kind"] == "Node"
        static_cid = first["status"]["containerStatuses"][0]["containerID"]
        cluster.kubectl("delete", "pod", mirror, "--wait=false")
        again_m = wait_for(lambda: (m := mirror_status()) and m["metadata"]["uid"] != first["metadata"]["uid"]
                           and m.get("status", {}).get("phase") == "Running" and m, 30, "the mirror to come back")
        assert again_m["status"]["containerStatuses"][0]["containerID"] == static_cid
        (tmp_path / "manifests" / "static.yaml").unlink()
        wait_for(lambda: not mirror_status(), 30, "the mirror to go with its manifest")

        def static_sandboxes() -> list[Any]:
            stub = cri_stub(tmp_path)[1]
            return list(stub.ListPodSandbox(cri.ListPodSandboxRequest(filter=cri.PodSandboxFilter(
                label_selector={"io.kubernetes.pod.name": mirror})), timeout=10).items)

        wait_for(lambda: not static_sandboxes(), 30, "the static pod to be stopped and removed")

        began = time.monotonic()
        cluster.kubectl("delete", "pod", pod, "--wait=true", "--timeout=60s")
        assert time.monotonic() - began < 30  # the container exits on SIGTERM, well within its grace
        assert "NotFound" in cluster.kubectl("get", "pod", pod, check=False).stderr
    finally:
        cluster.kubectl("delete", "configmap", f"{prefix}-cfg", "--ignore-not-found", check=False)
        cluster.kubectl("delete", "serviceaccount", f"{prefix}-sa", "--ignore-not-found", check=False)
        cluster.kubectl("delete", "node", node, "--ignore-not-found", check=False)
        kubelet.send_signal(signal.SIGTERM)
        kubelet.wait(10)
