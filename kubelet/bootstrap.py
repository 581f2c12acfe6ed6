"""TLS bootstrap (``--bootstrap-kubeconfig``): a kubelet without a usable ``--kubeconfig`` asks for its client
certificate with the bootstrap token, then writes its own kubeconfig, as the kubelet does.

The key and certificate go to ``<cert-dir>/kubelet-client-<timestamp>.pem`` (one file, certificate then key)
with ``kubelet-client-current.pem`` pointing at the newest; the kubeconfig names that link, so a later
renewal only moves the link.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import Final

from cryptography import x509

from client.csr import request_certificate
from client.kubeconfig import Kubeconfig, KubeconfigError, build_kubeconfig, write_kubeconfig
from client.rest import RestClient
from process.log import get_logger

log = get_logger("kubelet.bootstrap")

CLIENT_SIGNER: Final = "kubernetes.io/kube-apiserver-client-kubelet"
CLIENT_USAGES: Final = ("digital signature", "client auth")
CURRENT: Final = "kubelet-client-current.pem"


def usable_kubeconfig(path: Path, now: datetime.datetime) -> bool:
    """Whether ``path`` is a kubeconfig whose client certificate (if any) is still valid."""
    try:
        config = Kubeconfig.load(path).client_config()
    except (KubeconfigError, OSError):
        return False
    cert = config.tls.cert_data
    if cert is None:
        return config.token is not None
    try:
        return x509.load_pem_x509_certificate(cert).not_valid_after_utc > now
    except ValueError:
        return False


def _write_pem(cert_dir: Path, pem: bytes, now: datetime.datetime) -> Path:
    cert_dir.mkdir(parents=True, exist_ok=True)
    target = cert_dir / f"kubelet-client-{now.strftime('%Y-%m-%d-%H-%M-%S')}.pem"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    link = cert_dir / CURRENT
    tmp = cert_dir / f".{CURRENT}.tmp"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target.name)
    tmp.replace(link)
    return link


async def bootstrap(kubeconfig: Path, bootstrap_kubeconfig: Path, cert_dir: Path, node_name: str) -> None:
    """Make ``kubeconfig`` usable: keep it if it is, else get a certificate through a CSR and write it."""
    now = datetime.datetime.now(datetime.UTC)
    if usable_kubeconfig(kubeconfig, now):
        return
    boot = Kubeconfig.load(bootstrap_kubeconfig).client_config()
    log.info("requesting a client certificate", node=node_name, bootstrap=str(bootstrap_kubeconfig))
    async with RestClient(boot, user_agent="kubelet-bootstrap") as rest:
        issued = await request_certificate(rest, generate_name="node-csr-", signer=CLIENT_SIGNER,
                                           usages=CLIENT_USAGES, common_name=f"system:node:{node_name}",
                                           organizations=("system:nodes",))
    current = _write_pem(cert_dir, issued.cert_pem + issued.key_pem, now)
    doc = build_kubeconfig(cluster="default-cluster", server=boot.servers[0], user="default-auth",
                           ca_data=boot.tls.ca_data, context="default-context")
    doc["users"][0]["user"] = {"client-certificate": str(current), "client-key": str(current)}
    write_kubeconfig(kubeconfig, doc)
    log.info("client certificate issued", node=node_name, kubeconfig=str(kubeconfig))
