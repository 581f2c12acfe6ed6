"""``tinykube certs``: generate what kubeadm's certs and kubeconfig phases do, one directory for a cluster.

Files in ``--dir``:

- ``ca.crt/key``: the cluster CA (apiserver clients, kubelets, component serving certificates);
  ``apiserver.crt/key`` (serving, with the given IP and DNS SANs and the in-cluster names);
  ``apiserver-kubelet-client.crt/key``; ``admin.crt/key`` + ``admin.kubeconfig``
  (``CN=kubernetes-admin, O=system:masters``); ``sa.key/pub`` (ServiceAccount token signing).
- ``etcd/ca.crt/key``: the store's own CA, so that no Kubernetes identity can reach the store;
  ``etcd/server-<node>``, ``etcd/peer-<node>`` per control-plane node; ``apiserver-etcd-client``;
  ``etcd/healthcheck-client`` (what the supervisor and etcdctl use).
- one client identity and kubeconfig per component (``<stem>.kubeconfig``, see ``COMPONENT_IDENTITIES``),
  ``kubelet-<node>.kubeconfig`` (``system:node:<node>``, ``O=system:nodes``) per node unless the node joins
  by TLS bootstrap, ``kubelet-<node>-serving.crt/key`` per node, ``kube-scheduler-serving`` and
  ``kube-controller-manager-serving`` for the control plane's health and metrics ports.

Existing files are kept, so a re-run never invalidates credentials in use; ``--force`` makes everything anew.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from client.kubeconfig import build_kubeconfig, write_kubeconfig
from tinykube.pki import CertAndKey, issue, new_ca, new_signing_key, private_pem, public_pem, write_private

# The names through which pods reach the apiserver (the `kubernetes` Service).
IN_CLUSTER_NAMES = ("kubernetes", "kubernetes.default", "kubernetes.default.svc",
                    "kubernetes.default.svc.cluster.local", "localhost")
DEFAULT_SERVICE_IP = "10.96.0.1"
LOOPBACK = ("127.0.0.1",)

# Each component's client identity: kubeconfig stem -> (user, groups), with the names Kubernetes' bootstrap
# policy and the addons' manifests use (flannel and CoreDNS run as ServiceAccounts upstream; here they are
# node daemons, so they present certificates for those same users).
COMPONENT_IDENTITIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "kube-proxy": ("system:kube-proxy", ()),
    "flanneld": ("system:serviceaccount:kube-system:flannel", ()),
    "clusterdns": ("system:serviceaccount:kube-system:coredns", ()),
    "scheduler": ("system:kube-scheduler", ()),
    "controller-manager": ("system:kube-controller-manager", ()),
}


@dataclass(frozen=True)
class NodeIdentity:
    """What the certificates of one node depend on."""

    name: str
    ip: str
    control_plane: bool = False
    bootstrap: bool = False
    """The kubelet gets its client certificate through a CSR (no ``kubelet-<node>.kubeconfig`` is made)."""

    @classmethod
    def parse(cls, text: str) -> NodeIdentity:
        """``NAME=IP[:control-plane][:bootstrap]`` as ``--node`` takes it."""
        name, sep, rest = text.partition("=")
        ip, *flags = rest.split(":")
        unknown = set(flags) - {"control-plane", "bootstrap"}
        if not sep or not name or unknown:
            raise argparse.ArgumentTypeError(f"{text!r} is not NAME=IP[:control-plane][:bootstrap]")
        _check_ip(ip)
        return cls(name, ip, "control-plane" in flags, "bootstrap" in flags)


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _check_ip(ip: str) -> None:
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{ip!r} is not an IP address") from None


def _ip_list(value: str) -> list[str]:
    ips = _csv(value)
    for ip in ips:
        _check_ip(ip)
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


class _Maker:
    """Writes each file set only when missing (or when forced), and remembers what it wrote."""

    def __init__(self, directory: Path, force: bool) -> None:
        self.directory = directory
        self.force = force
        self.written: list[str] = []

    def missing(self, *files: str) -> bool:
        return self.force or not all((self.directory / f).exists() for f in files)

    def pair(self, stem: str, make: Callable[[], CertAndKey]) -> None:
        if self.missing(f"{stem}.crt", f"{stem}.key"):
            (self.directory / stem).parent.mkdir(parents=True, exist_ok=True)
            make().write(self.directory, stem)
            self.written += [f"{stem}.crt", f"{stem}.key"]

    def kubeconfig(self, stem: str, user: str, groups: Sequence[str], server: str, cluster: str) -> None:
        if self.missing(f"{stem}.kubeconfig"):
            (self.directory / f"{stem}.kubeconfig").unlink(missing_ok=True)
            component_kubeconfig(self.directory, stem, user=user, organizations=groups, server=server,
                                 cluster=cluster)
            self.written.append(f"{stem}.kubeconfig")


def generate(directory: Path, *, ips: Sequence[str], names: Sequence[str], server: str, cluster: str,
             nodes: Sequence[NodeIdentity] = (), force: bool = False) -> list[str]:
    """Create the missing files (all of them with ``force``); returns the names of those written."""
    directory.mkdir(parents=True, exist_ok=True)
    make = _Maker(directory, force)
    if make.missing("ca.crt", "ca.key"):
        make.pair("ca", new_ca)
        make.force = True  # everything signed by an old CA is now useless
    ca = CertAndKey.read(directory, "ca")
    all_ips = list(dict.fromkeys([*ips, DEFAULT_SERVICE_IP, *LOOPBACK]))
    make.pair("apiserver", lambda: issue(ca, "kube-apiserver", server=True, ips=all_ips,
                                         dns_names=list(dict.fromkeys([*names, *IN_CLUSTER_NAMES]))))
    # What the apiservers present to kubelets when they proxy logs, exec and port-forward (kubeadm's name).
    make.pair("apiserver-kubelet-client", lambda: issue(ca, "kube-apiserver-kubelet-client",
                                                        organizations=["system:masters"], client=True))
    admin_written = make.missing("admin.crt", "admin.key")
    make.pair("admin", lambda: issue(ca, "kubernetes-admin", organizations=["system:masters"], client=True))
    if make.missing("sa.key", "sa.pub"):
        key = new_signing_key()
        write_private(directory / "sa.key", private_pem(key))
        (directory / "sa.pub").write_bytes(public_pem(key))
        make.written += ["sa.key", "sa.pub"]
    if admin_written or make.missing("admin.kubeconfig"):
        admin = CertAndKey.read(directory, "admin")
        write_kubeconfig(directory / "admin.kubeconfig", build_kubeconfig(
            cluster=cluster, server=server, user=f"{cluster}-admin", ca_data=ca.cert_pem(),
            cert_data=admin.cert_pem(), key_data=admin.key_pem(), context=cluster))
        make.written.append("admin.kubeconfig")
    if nodes:
        _node_identities(make, ca, nodes, server, cluster)
    return make.written


def _node_identities(make: _Maker, ca: CertAndKey, nodes: Sequence[NodeIdentity], server: str,
                     cluster: str) -> None:
    """The store's PKI, the components' identities and each node's kubelet certificates."""
    etcd_force = make.missing("etcd/ca.crt", "etcd/ca.key")
    make.pair("etcd/ca", lambda: new_ca("etcd-ca"))
    forced, make.force = make.force, make.force or etcd_force
    etcd = CertAndKey.read(make.directory, "etcd/ca")
    for node in (n for n in nodes if n.control_plane):
        sans = dict(ips=[node.ip, *LOOPBACK], dns_names=[node.name, "localhost"])
        make.pair(f"etcd/server-{node.name}", lambda n=node, s=sans: issue(  # type: ignore[misc]
            etcd, n.name, server=True, client=True, **s))
        make.pair(f"etcd/peer-{node.name}", lambda n=node, s=sans: issue(  # type: ignore[misc]
            etcd, n.name, server=True, client=True, **s))
    make.pair("apiserver-etcd-client", lambda: issue(etcd, "kube-apiserver-etcd-client", client=True))
    make.pair("etcd/healthcheck-client", lambda: issue(etcd, "kube-etcd-healthcheck-client", client=True))
    make.force = forced
    for stem, (user, groups) in COMPONENT_IDENTITIES.items():
        make.kubeconfig(stem, user, groups, server, cluster)
    control_ips = [n.ip for n in nodes if n.control_plane]
    for stem in ("kube-scheduler-serving", "kube-controller-manager-serving"):
        make.pair(stem, lambda s=stem: issue(ca, s.removesuffix("-serving"), server=True,  # type: ignore[misc]
                                             ips=[*control_ips, *LOOPBACK], dns_names=["localhost"]))
    for node in nodes:
        user = f"system:node:{node.name}"
        if not node.bootstrap:
            make.kubeconfig(f"kubelet-{node.name}", user, ("system:nodes",), server, cluster)
        make.pair(f"kubelet-{node.name}-serving", lambda n=node, u=user: issue(  # type: ignore[misc]
            ca, u, organizations=["system:nodes"], server=True, ips=[n.ip], dns_names=[n.name]))


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="tinykube certs", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dir", required=True, type=Path, help="directory for the certificates and keys")
    parser.add_argument("--apiserver-ips", type=_ip_list, default=[], help="IP SANs of the apiserver, comma-separated")
    parser.add_argument("--apiserver-names", type=_csv, default=[], help="DNS SANs of the apiserver, comma-separated")
    parser.add_argument("--server", help="apiserver URL written into the kubeconfigs "
                                         "(default: https://<first apiserver IP>:6443)")
    parser.add_argument("--cluster-name", default="tinykube", help="cluster and context name in the kubeconfig")
    parser.add_argument("--node", dest="nodes", type=NodeIdentity.parse, action="append", default=[],
                        metavar="NAME=IP[:control-plane][:bootstrap]",
                        help="a node: its store certificates (control plane), kubelet client (unless it "
                             "bootstraps) and serving certificates, and the components' kubeconfigs; repeatable")
    parser.add_argument("--force", action="store_true", help="regenerate every file, the CA included")
    args = parser.parse_args(argv)
    server = args.server or f"https://{(args.apiserver_ips or ['127.0.0.1'])[0]}:6443"
    try:
        written = generate(args.dir, ips=args.apiserver_ips, names=args.apiserver_names, server=server,
                           cluster=args.cluster_name, nodes=args.nodes, force=args.force)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for name in written:
        print(args.dir / name)
    return 0
