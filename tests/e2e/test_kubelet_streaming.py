"""Streams and stats through the apiserver, a real kubelet and the real runtime (store + apiserver on loopback).

kubectl port-forward: SPDY tunnelled in WebSocket (kubectl 1.32's default) and the plain SPDY upgrade (its
fallback), to a pod and to a service, with concurrent connections and bodies larger than the SPDY windows
both ways; the Python client's channel protocol. Stats: the kubelet's /stats/summary, /metrics/resource and
/metrics, and ``kubectl top node|pod`` through metrics.k8s.io."""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import socket
import ssl
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import stream as k8s_stream

from tests.e2e.runtime_support import wait_for
from tests.support.apiserver_cluster import KUBECTL, ApiserverCluster
from tests.support.kubelet_node import DEFAULT_IMAGES, kubelet_argv
from tests.support.ports import free_port
from tests.support.processes import Processes

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="containers need root"),
    pytest.mark.skipif(not (DEFAULT_IMAGES / "index.json").exists(), reason="needs .venv/images"),
]

BIG = 3 * 1024 * 1024  # well past the 64 KiB SPDY stream and session windows
UPLOAD = 1024 * 1024

POD_YAML = r"""
apiVersion: v1
kind: Pod
metadata: {{name: {prefix}-web, labels: {{app: {prefix}-web}}}}
spec:
  nodeName: {node}
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: busybox
    imagePullPolicy: IfNotPresent
    command:
    - /bin/sh
    - -c
    - |
      mkdir -p /www/cgi-bin
      echo hello from {prefix} > /www/index.html
      head -c {big} /dev/zero | tr '\0' x > /www/big
      printf '#!/bin/sh\necho Content-Type: text/plain\necho\nhead -c "$CONTENT_LENGTH" | wc -c\n' > /www/cgi-bin/count
      chmod +x /www/cgi-bin/count
      exec httpd -f -p 127.0.0.1:{web_port} -h /www
    ports: [{{containerPort: {web_port}}}]
    readinessProbe:
      tcpSocket: {{port: {web_port}, host: 127.0.0.1}}
      periodSeconds: 1
  - name: burner
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["/bin/sh", "-c", "while :; do :; done"]
    resources:
      limits: {{cpu: 200m, memory: 32Mi}}
---
apiVersion: v1
kind: Service
metadata: {{name: {prefix}-svc}}
spec:
  selector: {{app: {prefix}-web}}
  ports: [{{port: 80, targetPort: {web_port}}}]
"""


@pytest.fixture
def cluster(tmp_path: Path, processes: Processes) -> Iterator[ApiserverCluster]:
    c = ApiserverCluster(processes, free_port, tmp_path / "cluster", apiservers=1)
    c.start()
    yield c


@dataclass(frozen=True)
class WebPod:
    """The pod under test and where things listen."""

    name: str
    web_port: int
    node: str
    kubelet_port: int


@pytest.fixture
def web_pod(cluster: ApiserverCluster, cri_endpoint: str, tmp_path: Path, prefix: str,
            processes: Processes) -> Iterator[WebPod]:
    """A Ready busybox httpd pod (host network, 127.0.0.1:<port>, plus a CPU burner) behind a Service, on a
    real kubelet."""
    node = f"{prefix}-node"
    kubelet_port = free_port()
    argv = kubelet_argv(cluster.apiservers[0].kubeconfig, cri_endpoint, node, tmp_path / "kubelet", kubelet_port)
    kubelet = processes.start("kubelet", argv)
    web_port = free_port()
    manifest = POD_YAML.format(prefix=prefix, node=node, web_port=web_port, big=BIG)
    try:
        wait_for(lambda: cluster.kubectl("get", "node", node, check=False).returncode == 0, 30, "the Node")
        cluster.kubectl("apply", "-f", "-", stdin=manifest)
        cluster.kubectl("wait", "--for=condition=Ready", f"pod/{prefix}-web", "--timeout=90s", timeout=100)
        yield WebPod(f"{prefix}-web", web_port, node, kubelet_port)
    finally:
        cluster.kubectl("delete", "-f", "-", "--wait=false", stdin=manifest, check=False)
        cluster.kubectl("delete", "node", node, "--ignore-not-found", check=False)
        kubelet.send_signal(signal.SIGTERM)
        kubelet.wait(10)


def port_forward(cluster: ApiserverCluster, target: str, remote: int, *, websockets: bool = True
                 ) -> tuple[subprocess.Popen[str], int]:
    """``kubectl port-forward target LOCAL:remote`` in the background, once it listens."""
    local = free_port()
    env = {**os.environ, "HOME": str(cluster.home), "KUBECONFIG": str(cluster.apiservers[0].kubeconfig),
           "KUBECTL_PORT_FORWARD_WEBSOCKETS": "true" if websockets else "false"}
    proc = subprocess.Popen([KUBECTL, "port-forward", "--cache-dir", str(cluster.home / "cache"), target,
                             f"{local}:{remote}", "-v=6"], env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)

    def listening() -> bool:
        assert proc.poll() is None, f"kubectl port-forward exited: {proc.communicate()[1]}"
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", local)) == 0

    wait_for(listening, 30, "kubectl port-forward to listen")
    return proc, local


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.communicate(timeout=10)[1]
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()[1]


def fetch(port: int, path: str, body: bytes | None = None) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", data=body, timeout=60) as resp:
        page: bytes = resp.read()
        return page


@pytest.mark.parametrize("websockets", [True, False], ids=["spdy-in-websocket", "spdy-upgrade"])
def test_kubectl_port_forward_to_a_pod(cluster: ApiserverCluster, web_pod: WebPod, prefix: str,
                                       websockets: bool) -> None:
    proc, local = port_forward(cluster, f"pod/{web_pod.name}", web_pod.web_port, websockets=websockets)
    try:
        index = f"hello from {prefix}\n".encode()
        assert fetch(local, "/index.html") == index
        # Several connections at once share one SPDY session; one of them moves far more than a window.
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            pages = list(pool.map(lambda p: fetch(local, p), ["/big", "/index.html", "/index.html", "/big"]))
        assert pages == [b"x" * BIG, index, index, b"x" * BIG]
        # A client that hangs up without a request: the pod's server sees the half-close and hangs up too.
        with socket.create_connection(("127.0.0.1", local), timeout=20) as conn:
            conn.shutdown(socket.SHUT_WR)
            assert conn.recv(100) == b""
        # And the other way: an upload larger than the windows, counted by a CGI script in the pod.
        assert fetch(local, "/cgi-bin/count", b"y" * UPLOAD).strip() == str(UPLOAD).encode()
    finally:
        log = stop(proc)
    assert ("Before WebSocket Upgrade" in log) == websockets, log  # kubectl -v=6 names the dialer it used
    assert "an error occurred forwarding" not in log, log


def test_kubectl_port_forward_to_a_service(cluster: ApiserverCluster, web_pod: WebPod, prefix: str) -> None:
    proc, local = port_forward(cluster, f"svc/{prefix}-svc", 80)
    try:
        assert fetch(local, "/index.html") == f"hello from {prefix}\n".encode()
    finally:
        stop(proc)


def test_a_port_nobody_listens_on(cluster: ApiserverCluster, web_pod: WebPod) -> None:
    closed = free_port()
    proc, local = port_forward(cluster, f"pod/{web_pod.name}", closed)
    try:
        with socket.create_connection(("127.0.0.1", local), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            assert s.recv(100) == b""  # kubectl closes the local connection
    finally:
        log = stop(proc)
    # The failure comes back on the request's error stream; kubectl 1.32 reports it and gives up.
    assert f"an error occurred forwarding {local} -> {closed}: error forwarding port {closed} to pod" in log, log
    assert "Connection refused" in log, log


def test_the_python_clients_port_forward(cluster: ApiserverCluster, web_pod: WebPod, prefix: str) -> None:
    configuration = k8s.Configuration()
    k8s_config.load_kube_config(config_file=str(cluster.apiservers[0].kubeconfig),
                                client_configuration=configuration)
    with k8s.ApiClient(configuration) as api:
        forward = k8s_stream.portforward(k8s.CoreV1Api(api).connect_get_namespaced_pod_portforward, web_pod.name,
                                         "default", ports=str(web_pod.web_port))
        sock = forward.socket(web_pod.web_port)
        sock.settimeout(30)
        sock.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
        sock.close()
        forward.close()
    assert response.startswith(b"HTTP/1.") and response.endswith(f"hello from {prefix}\n".encode())


def kubelet_get(cluster: ApiserverCluster, web_pod: WebPod, path: str) -> str:
    """GET on the kubelet as the cluster admin (its serving certificate is self-signed)."""
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    tls.load_cert_chain(cluster.pki / "admin.crt", cluster.pki / "admin.key")
    with urllib.request.urlopen(f"https://127.0.0.1:{web_pod.kubelet_port}{path}", context=tls, timeout=30) as resp:
        text: str = resp.read().decode()
        return text


def test_kubelet_stats_and_metrics(cluster: ApiserverCluster, web_pod: WebPod) -> None:
    summary = json.loads(kubelet_get(cluster, web_pod, "/stats/summary"))
    node = summary["node"]
    assert node["nodeName"] == web_pod.node
    assert node["cpu"]["usageNanoCores"] > 0 and node["memory"]["workingSetBytes"] > 0
    assert node["fs"]["capacityBytes"] > node["fs"]["availableBytes"] > 0
    pod = next(p for p in summary["pods"] if p["podRef"]["name"] == web_pod.name)
    burner = next(c for c in pod["containers"] if c["name"] == "burner")
    # The burner spins under a 200m limit: a clear share of a core, but within what CFS allows it.
    assert 20_000_000 < burner["cpu"]["usageNanoCores"] < 400_000_000, burner
    assert burner["memory"]["workingSetBytes"] > 0 and pod["memory"]["workingSetBytes"] > 0
    assert pod["cpu"]["usageCoreNanoSeconds"] >= burner["cpu"]["usageCoreNanoSeconds"]

    resource = kubelet_get(cluster, web_pod, "/metrics/resource")
    assert "# TYPE node_cpu_usage_seconds_total counter" in resource
    line = next(x for x in resource.splitlines()
                if x.startswith(f'container_cpu_usage_seconds_total{{container="burner",namespace="default",'
                                f'pod="{web_pod.name}"}}'))
    assert float(line.split()[1]) > 0
    assert "resource_scrape_error 0" in resource
    own = kubelet_get(cluster, web_pod, "/metrics")
    assert f'kubelet_node_name{{node="{web_pod.node}"}} 1' in own and "kubelet_running_pods 1" in own


def test_kubectl_top(cluster: ApiserverCluster, web_pod: WebPod) -> None:
    rows = cluster.kubectl("top", "node", web_pod.node, "--no-headers").stdout.split()
    assert rows[0] == web_pod.node and rows[1].endswith("m") and int(rows[1][:-1]) > 0, rows
    assert rows[3].endswith("Mi") and int(rows[3][:-2]) > 0, rows
    out = cluster.kubectl("top", "pod", web_pod.name, "--containers", "--no-headers").stdout
    usage = {fields[1]: fields[2:] for fields in (line.split() for line in out.splitlines())}
    cpu, memory = usage["burner"]
    assert cpu.endswith("m") and 20 < int(cpu[:-1]) < 400, out
    assert memory.endswith("Mi") and int(memory[:-2]) >= 0 and "web" in usage, out
    assert web_pod.name in cluster.kubectl("top", "pod", "-l", f"app={web_pod.name}").stdout
    missing = cluster.kubectl("top", "pod", "nope", check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr + missing.stdout
