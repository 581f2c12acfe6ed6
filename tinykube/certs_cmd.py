"""``tinykube certs``: generate what kubeadm's certs phase does, plus the admin kubeconfig.

Files in ``--dir``: ``ca.crt/key`` (cluster CA), ``apiserver.crt/key`` (serving, with the given IP and DNS
SANs and the in-cluster names), ``admin.crt/key`` (``CN=kubernetes-admin, O=system:masters``),
``sa.key/pub`` (ServiceAccount token signing), ``admin.kubeconfig``. Existing files are kept, so a
re-run never invalidates credentials in use; ``--force`` makes everything anew.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from collections.abc import Sequence
from pathlib import Path

from client.kubeconfig import build_kubeconfig, write_kubeconfig
from tinykube.pki import CertAndKey, issue, new_ca, new_signing_key, private_pem, public_pem, write_private

# The names through which pods reach the apiserver (the `kubernetes` Service).
IN_CLUSTER_NAMES = ("kubernetes", "kubernetes.default", "kubernetes.default.svc",
                    "kubernetes.default.svc.cluster.local", "localhost")
DEFAULT_SERVICE_IP = "10.96.0.1"


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _ip_list(value: str) -> list[str]:
    ips = _csv(value)
    for ip in ips:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{ip!r} is not an IP address") from None
    return ips


def component_kubeconfig(directory: Path, stem: str, *, user: str, organizations: Sequence[str] = (),
                         server: str, cluster: str) -> Path:
    """A client identity for a component (``CN=user, O=groups``) and its kubeconfig, made once and kept."""
    path = directory / f"{stem}.kubeconfig"
    if path.exists():
        return path
    ca = CertAndKey.read(directory, "ca")
    ident = issue(ca, user, organizations=organizations, client=True)
    write_kubeconfig(path, build_kubeconfig(cluster=cluster, server=server, user=user, ca_data=ca.cert_pem(),
                                            cert_data=ident.cert_pem(), key_data=ident.key_pem(), context=cluster))
    return path


def generate(directory: Path, *, ips: Sequence[str], names: Sequence[str], server: str, cluster: str,
             force: bool = False) -> list[str]:
    """Create the missing files (all of them with ``force``); returns the names of those written."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[str] = []

    def missing(*files: str) -> bool:
        return force or not all((directory / f).exists() for f in files)

    if missing("ca.crt", "ca.key"):
        new_ca().write(directory, "ca")
        written += ["ca.crt", "ca.key"]
        force = True  # everything signed by an old CA is now useless
    ca = CertAndKey.read(directory, "ca")
    if missing("apiserver.crt", "apiserver.key"):
        all_ips = list(dict.fromkeys([*ips, DEFAULT_SERVICE_IP, "127.0.0.1"]))
        issue(ca, "kube-apiserver", server=True, ips=all_ips,
              dns_names=list(dict.fromkeys([*names, *IN_CLUSTER_NAMES]))).write(directory, "apiserver")
        written += ["apiserver.crt", "apiserver.key"]
    if missing("apiserver-kubelet-client.crt", "apiserver-kubelet-client.key"):
        # What the apiservers present to kubelets when they proxy logs, exec and port-forward (kubeadm's name).
        issue(ca, "kube-apiserver-kubelet-client", organizations=["system:masters"], client=True).write(
            directory, "apiserver-kubelet-client")
        written += ["apiserver-kubelet-client.crt", "apiserver-kubelet-client.key"]
    if missing("admin.crt", "admin.key"):
        issue(ca, "kubernetes-admin", organizations=["system:masters"], client=True).write(directory, "admin")
        written += ["admin.crt", "admin.key"]
    if missing("sa.key", "sa.pub"):
        key = new_signing_key()
        write_private(directory / "sa.key", private_pem(key))
        (directory / "sa.pub").write_bytes(public_pem(key))
        written += ["sa.key", "sa.pub"]
    if written or missing("admin.kubeconfig"):
        admin = CertAndKey.read(directory, "admin")
        write_kubeconfig(directory / "admin.kubeconfig", build_kubeconfig(
            cluster=cluster, server=server, user=f"{cluster}-admin", ca_data=ca.cert_pem(),
            cert_data=admin.cert_pem(), key_data=admin.key_pem(), context=cluster))
        written.append("admin.kubeconfig")
    return written


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="tinykube certs", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dir", required=True, type=Path, help="directory for the certificates and keys")
    parser.add_argument("--apiserver-ips", type=_ip_list, default=[], help="IP SANs of the apiserver, comma-separated")
    parser.add_argument("--apiserver-names", type=_csv, default=[], help="DNS SANs of the apiserver, comma-separated")
    parser.add_argument("--server", help="apiserver URL written into admin.kubeconfig "
                                         "(default: https://<first apiserver IP>:6443)")
    parser.add_argument("--cluster-name", default="tinykube", help="cluster and context name in the kubeconfig")
    parser.add_argument("--force", action="store_true", help="regenerate every file, the CA included")
    args = parser.parse_args(argv)
    server = args.server or f"https://{(args.apiserver_ips or ['127.0.0.1'])[0]}:6443"
    try:
        written = generate(args.dir, ips=args.apiserver_ips, names=args.apiserver_names, server=server,
                           cluster=args.cluster_name, force=args.force)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for name in written:
        print(args.dir / name)
    return 0
