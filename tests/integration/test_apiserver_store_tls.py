"""An apiserver over a store that serves clients only over TLS with client certificates, as ``tinykube up`` runs it."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.apiserver_cluster import ApiserverCluster, cluster_fixture
from tests.support.names import unique_prefix

pytestmark = pytest.mark.slow

cluster = cluster_fixture("store-tls", store_tls=True)


def _kubectl(cluster: ApiserverCluster, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return cluster.kubectl("--cache-dir", str(cluster.root / "kubectl-cache"), *args, check=check)


def test_objects_round_trip_through_a_tls_store(cluster: ApiserverCluster) -> None:
    assert all(m.client_url.startswith("https://") for m in cluster.store.members)
    ns = unique_prefix()
    _kubectl(cluster, "create", "namespace", ns)
    _kubectl(cluster, "-n", ns, "create", "configmap", "settings", "--from-literal=mode=tls")
    _kubectl(cluster, "-n", ns, "patch", "configmap", "settings", "-p", '{"data":{"mode":"patched"}}')
    got = cluster.kubectl_json("--cache-dir", str(cluster.root / "kubectl-cache"), "-n", ns, "get", "configmap",
                               "settings")
    assert got["data"] == {"mode": "patched"}
    # The object is in the store, under the key Kubernetes uses, for any client with a certificate.
    assert cluster.store.ok("get", f"/registry/configmaps/{ns}/settings", "--keys-only").strip() == (
        f"/registry/configmaps/{ns}/settings")
    _kubectl(cluster, "-n", ns, "delete", "configmap", "settings")
    assert _kubectl(cluster, "-n", ns, "get", "configmap", "settings", check=False).returncode != 0
    _kubectl(cluster, "delete", "namespace", ns, "--wait=false")
