"""A pod's ServiceAccount token, used from inside the pod over HTTPS to `kubernetes.default.svc`: RBAC decides
what it may do, and the apiserver refuses it once the token has expired or its pod is gone."""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from apiserver.authn.serviceaccount_tokens import ServiceAccountKeys
from tests.support.tinykube_up import up

TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"

MANIFESTS = """
apiVersion: v1
kind: ServiceAccount
metadata: {{name: reader, namespace: {ns}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: configmap-reader, namespace: {ns}}}
rules: [{{apiGroups: [""], resources: [configmaps], verbs: [get, list]}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: reader, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: configmap-reader}}
subjects: [{{kind: ServiceAccount, name: reader, namespace: {ns}}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: caller, namespace: {ns}}}
spec:
  serviceAccountName: reader
  terminationGracePeriodSeconds: 1
  containers:
  - {{name: main, image: busybox, command: [sleep, "3600"]}}
"""


def _status_from_host(url: str, ca: Path, token: str) -> int:
    """The status of a GET with ``token`` as bearer, over TLS verified against the cluster CA."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=str(ca)), timeout=30) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return err.code


def _expired_copy(token: str, key: Path) -> str:
    """The same claims (same pod, same account) signed with the cluster's key, but with an expiry in the past."""
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    now = int(time.time())
    claims.update({"iat": now - 3600, "nbf": now - 3600, "exp": now - 120})
    return ServiceAccountKeys(key, []).sign(claims)


@pytest.mark.slow
def test_pod_token_is_authorized_by_rbac_and_dies_with_expiry_and_pod(prefix, tmp_path, cleanup):
    cluster = up(prefix, tmp_path / "state", cleanup)

    ns = f"{prefix}-sa"
    cluster.kubectl("create", "namespace", ns)
    cluster.kubectl("apply", "-f", str(_write(tmp_path / "manifests.yaml", MANIFESTS.format(ns=ns))))
    cluster.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/caller", "--timeout=120s")

    def from_pod(path: str) -> subprocess.CompletedProcess[str]:
        # busybox wget's own TLS client (no openssl in the image) cannot verify a chain; the host below checks
        # the apiserver against the CA the pod has mounted.
        script = f'wget -q -O- --header "Authorization: Bearer $(cat {TOKEN})" https://kubernetes.default.svc{path}'
        argv = cluster.kubectl_argv("-n", ns, "exec", "caller", "--", "sh", "-c", script)
        return subprocess.run(argv, capture_output=True, text=True, timeout=120)

    allowed = from_pod(f"/api/v1/namespaces/{ns}/configmaps")
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads(allowed.stdout)["kind"] == "ConfigMapList"
    forbidden = from_pod(f"/api/v1/namespaces/{ns}/secrets")
    assert forbidden.returncode != 0 and "403 Forbidden" in forbidden.stderr, forbidden.stderr

    token = cluster.kubectl("-n", ns, "exec", "caller", "--", "cat", TOKEN).strip()
    ca = tmp_path / "mounted-ca.crt"
    ca.write_text(cluster.kubectl("-n", ns, "exec", "caller", "--", "cat", str(Path(TOKEN).parent / "ca.crt")))
    server = cluster.kubectl("config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}").strip()
    configmaps = f"{server}/api/v1/namespaces/{ns}/configmaps"
    assert _status_from_host(configmaps, ca, token) == 200
    assert _status_from_host(configmaps, ca, _expired_copy(token, cluster.state / "pki" / "sa.key")) == 401

    cluster.kubectl("-n", ns, "delete", "pod", "caller", "--wait=true", "--timeout=120s")
    assert _status_from_host(configmaps, ca, token) == 401


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
