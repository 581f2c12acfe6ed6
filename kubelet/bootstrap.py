"""TLS bootstrap (``--bootstrap-kubeconfig``): a kubelet without a usable ``--kubeconfig`` asks for its client
certificate with the bootstrap token, then writes its own kubeconfig, as the kubelet does.

The key and certificate go to ``<cert-dir>/kubelet-client-<timestamp>.pem`` (one file, certificate then key)
with ``kubelet-client-current.pem`` pointing at the newest; the kubeconfig names that link, so a later
renewal only moves the link.

The kubelet runs it in a child process (``bootstrap_in_child``): checking the certificate and making the CSR
need cryptography, ~7 MiB that the kubelet would otherwise keep for its whole life after one use at start.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from client.errors import ClientError
from client.kubeconfig import Kubeconfig, KubeconfigError, build_kubeconfig, write_kubeconfig
from client.rest import RestClient
from process import log as process_log
from process.log import get_logger

log = get_logger("kubelet.bootstrap")

CLIENT_SIGNER: Final = "kubernetes.io/kube-apiserver-client-kubelet"
CLIENT_USAGES: Final = ("digital signature", "client auth")
CURRENT: Final = "kubelet-client-current.pem"


def usable_kubeconfig(path: Path, now: datetime.datetime) -> bool:
    """Whether ``path`` is a kubeconfig whose client certificate (if any) is still valid."""
    from cryptography import x509  # noqa: PLC0415  # only in the bootstrap's own process (module docstring)

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
    from client.csr import request_certificate  # noqa: PLC0415  # cryptography: see the module docstring

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


class BootstrapError(RuntimeError):
    """The bootstrap's process failed; the message is its error."""


async def bootstrap_in_child(kubeconfig: Path, bootstrap_kubeconfig: Path, cert_dir: Path, node_name: str,
                             verbosity: int = 0) -> None:
    """``bootstrap`` in a child process (its log lines go to ours); cancelling this kills the child."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kubelet.bootstrap", f"--v={verbosity}", str(kubeconfig), str(bootstrap_kubeconfig),
        str(cert_dir), node_name, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE)
    try:
        out, _ = await proc.communicate()
    except asyncio.CancelledError:
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        raise BootstrapError(out.decode(errors="replace").strip() or f"exited with {proc.returncode}")


def main(argv: Sequence[str]) -> int:
    """The child's side: bootstrap, or print the error (for the kubelet to log) and exit 1."""
    parser = argparse.ArgumentParser(prog="kubelet.bootstrap")
    parser.add_argument("--v", dest="verbosity", type=int, default=0)
    for name in ("kubeconfig", "bootstrap_kubeconfig", "cert_dir"):
        parser.add_argument(name, type=Path)
    parser.add_argument("node_name")
    args = parser.parse_args(argv)
    process_log.configure("kubelet", args.verbosity)
    try:
        asyncio.run(bootstrap(args.kubeconfig, args.bootstrap_kubeconfig, args.cert_dir, args.node_name))
    except (ClientError, KubeconfigError, OSError) as err:
        print(err)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
