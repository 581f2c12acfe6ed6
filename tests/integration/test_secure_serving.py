"""The scheduler's and controller-manager's HTTPS endpoints (10259, 10257) against a Node,RBAC apiserver:
health open to all, /metrics only for callers the apiserver authenticates and authorizes, each component
running with its own identity from `tinykube certs`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.apiserver_cluster import BIN, ApiserverCluster
from tests.support.ports import free_port
from tests.support.processes import Processes
from tests.support.secure_endpoints import TOKENS, component_kubeconfig, https_status, start_rbac_cluster

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[ApiserverCluster]:
    procs = Processes(tmp_path / "logs")
    try:
        c = ApiserverCluster(procs, free_port, tmp_path / "cluster", apiservers=0)
        start_rbac_cluster(c, "cp1=127.0.0.1:control-plane")
        yield c
    finally:
        procs.stop_all()


def serving_flags(cluster: ApiserverCluster, stem: str, port: int) -> list[str]:
    return ["--secure-port", str(port), "--bind-address", "127.0.0.1",
            "--tls-cert-file", str(cluster.pki / f"{stem}-serving.crt"),
            "--tls-private-key-file", str(cluster.pki / f"{stem}-serving.key"),
            "--client-ca-file", str(cluster.pki / "ca.crt")]


@pytest.mark.parametrize(("component", "identity", "stem", "extra"), [
    ("scheduler", "scheduler", "kube-scheduler", ["--leader-elect=false"]),
    ("controller-manager", "controller-manager", "kube-controller-manager",
     ["--leader-elect=false", "--controllers", "csrapproving"]),
])
def test_health_is_open_and_metrics_need_an_authorized_caller(cluster: ApiserverCluster, component: str,
                                                              identity: str, stem: str, extra: list[str]) -> None:
    port = free_port()
    cluster.processes.start(component, [
        str(BIN / "tinykube"), component, "--kubeconfig", str(component_kubeconfig(cluster, identity)),
        *serving_flags(cluster, stem, port), *extra])
    ca = cluster.pki / "ca.crt"
    base = f"https://127.0.0.1:{port}"
    _wait_serving(f"{base}/healthz", ca, cluster, component)
    assert https_status(f"{base}/healthz", ca) == (200, "ok")
    assert https_status(f"{base}/metrics", ca)[0] == 401
    assert https_status(f"{base}/metrics", ca, token="forged-token")[0] == 401
    code, body = https_status(f"{base}/metrics", ca, token=TOKENS["alice"])
    assert code == 403 and "user=alice" in body and "path=/metrics" in body
    assert https_status(f"{base}/metrics", ca, token=TOKENS["monitor"])[0] == 200
    assert https_status(f"{base}/metrics", ca, cert=cluster.pki / "admin")[0] == 200


def _wait_serving(url: str, ca: Path, cluster: ApiserverCluster, component: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if https_status(url, ca)[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{component} does not serve:\n{cluster.processes.log(component)[-3000:]}")
        time.sleep(0.2)
