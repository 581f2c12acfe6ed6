"""Callers of the HTTPS endpoints that delegate authentication and authorization to the apiserver (kubelet,
scheduler, controller-manager), for tests: anonymous, with a bearer token, or with a client certificate;
and an apiserver cluster whose users are static tokens and whose authorization is Node,RBAC."""

from __future__ import annotations

import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from tests.support.apiserver_cluster import BIN, ApiserverCluster

# Static users: one with no rights, one in system:monitoring (allowed GET /metrics by the bootstrap policy).
TOKENS = {"alice": "alice-token-0123456789", "monitor": "monitor-token-0123456789"}
TOKEN_FILE = f'{TOKENS["alice"]},alice,1001\n{TOKENS["monitor"]},monitor,1002,"system:monitoring"\n'


def https_status(url: str, ca: Path, *, token: str | None = None, cert: Path | None = None) -> tuple[int, str]:
    """(status, body) of a GET verified against ``ca``, as anonymous, a bearer ``token`` or the client ``cert``
    (``<cert>.crt``/``<cert>.key``)."""
    context = ssl.create_default_context(cafile=str(ca))
    context.check_hostname = False  # serving certificates name the node's address, tests dial 127.0.0.1
    if cert is not None:
        context.load_cert_chain(f"{cert}.crt", f"{cert}.key")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, context=context, timeout=15) as response:
            return int(response.status), response.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


def start_rbac_cluster(cluster: ApiserverCluster, *nodes: str, extra: tuple[str, ...] = ()) -> None:
    """Certificates for ``nodes`` (``NAME=IP``) and the components, then one Node,RBAC apiserver with the
    static users of ``TOKENS``, the kubelet client certificate and ``extra`` flags."""
    cluster.start()
    subprocess.run([str(BIN / "tinykube"), "certs", "--dir", str(cluster.pki), "--apiserver-ips", "127.0.0.1",
                    *(f"--node={n}" for n in nodes)], check=True, capture_output=True)
    tokens = cluster.root / "tokens.csv"
    tokens.write_text(TOKEN_FILE)
    cluster.add_apiserver("apiserver1", "--authorization-mode=Node,RBAC", "--token-auth-file", str(tokens),
                          "--kubelet-client-certificate", str(cluster.pki / "apiserver-kubelet-client.crt"),
                          "--kubelet-client-key", str(cluster.pki / "apiserver-kubelet-client.key"), *extra)
    # The default policy is written just after the apiserver first answers: wait until it is in force.
    deadline = time.monotonic() + 30
    while https_status(f"{cluster.apiservers[0].url}/api", cluster.pki / "ca.crt", token=TOKENS["alice"])[0] != 200:
        assert time.monotonic() < deadline, "the default RBAC policy never let an authenticated user discover"
        time.sleep(0.2)


def component_kubeconfig(cluster: ApiserverCluster, stem: str) -> Path:
    """The component's kubeconfig from `tinykube certs`, pointed at the first apiserver."""
    doc = yaml.safe_load((cluster.pki / f"{stem}.kubeconfig").read_text())
    doc["clusters"][0]["cluster"]["server"] = cluster.apiservers[0].url
    path = cluster.root / f"{stem}-local.kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return path
