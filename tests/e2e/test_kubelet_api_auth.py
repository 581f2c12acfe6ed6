"""The kubelet's 10250 API as kubeadm configures it (anonymous off, token webhook, Webhook authorization,
client CA) on a real runtime, against a Node,RBAC apiserver: who gets in, who is refused, and why."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.support.apiserver_cluster import ApiserverCluster
from tests.support.kubelet_node import DEFAULT_IMAGES, kubelet_argv
from tests.support.ports import free_port
from tests.support.processes import Processes
from tests.support.secure_endpoints import TOKENS, component_kubeconfig, https_status, start_rbac_cluster

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the runtime needs root"),
    pytest.mark.skipif(not (DEFAULT_IMAGES / "index.json").exists(), reason="needs .venv/images"),
]


def test_kubelet_api_refuses_anonymous_and_unauthorized_callers(tmp_path: Path, prefix: str, processes: Processes,
                                                                cri_endpoint: str) -> None:
    cluster = ApiserverCluster(processes, free_port, tmp_path / "cluster", apiservers=0)
    node = f"{prefix}-node"
    start_rbac_cluster(cluster, f"{node}=127.0.0.3")
    pki = cluster.pki
    port = free_port()
    processes.start("kubelet", kubelet_argv(
        component_kubeconfig(cluster, f"kubelet-{node}"), cri_endpoint, node, tmp_path / "kubelet", port,
        "--tls-cert-file", str(pki / f"kubelet-{node}-serving.crt"),
        "--tls-private-key-file", str(pki / f"kubelet-{node}-serving.key"), "--client-ca-file", str(pki / "ca.crt"),
        "--anonymous-auth=false", "--authentication-token-webhook", "--authorization-mode=Webhook"))
    ca = pki / "ca.crt"
    url = f"https://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    # Registered with its own node identity (under the Node authorizer), then serving.
    while not (_ready(cluster, node) and _serving(f"{url}/healthz", ca)):
        assert time.monotonic() < deadline, processes.log("kubelet")[-3000:]
        time.sleep(0.3)
    # `monitor` may read kubelets' APIs once bound to system:kubelet-api-admin (asked before any call, so no
    # earlier answer sits in the kubelet's cache).
    cluster.kubectl("create", "clusterrolebinding", f"{prefix}-kubelet-api", "--clusterrole=system:kubelet-api-admin",
                    "--user=monitor")
    assert https_status(f"{url}/healthz", ca)[0] == 401
    assert https_status(f"{url}/healthz", ca, token="forged-token")[0] == 401
    code, body = https_status(f"{url}/containerLogs/default/p/c", ca, token=TOKENS["alice"])
    assert code == 403, body
    assert "user=alice" in body and "resource=nodes/proxy" in body and f"name={node}" in body
    assert https_status(f"{url}/stats/summary", ca, token=TOKENS["alice"])[0] == 403
    assert https_status(f"{url}/healthz", ca, token=TOKENS["monitor"]) == (200, "ok")
    # The apiserver's kubelet-client certificate (kubectl logs/exec come this way) and an admin get in.
    assert https_status(f"{url}/healthz", ca, cert=pki / "apiserver-kubelet-client") == (200, "ok")
    assert https_status(f"{url}/healthz", ca, cert=pki / "admin") == (200, "ok")
    # A certificate from another CA is refused at the handshake.
    with pytest.raises(OSError):
        https_status(f"{url}/healthz", ca, cert=pki / "etcd" / "healthcheck-client")


def _ready(cluster: ApiserverCluster, node: str) -> bool:
    out = cluster.kubectl("get", "node", node, "-o", "json", check=False)
    if out.returncode != 0:
        return False
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in json.loads(out.stdout)["status"].get("conditions") or [])


def _serving(url: str, ca: Path) -> bool:
    try:
        https_status(url, ca)
    except OSError:
        return False
    return True
