"""What runs where in a local cluster: each component's command line, derived from the cluster.

Only argv is decided here (ports and flags per ARCHITECTURE.md §2); the supervisor runs them and the
steps decide when.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import yaml

from tinykube.cluster import Cluster
from tinykube.supervisor import Component
from tinykube.topology import REGISTRY_PORT, Node

STORE_CLIENT_PORT = 2379
STORE_PEER_PORT = 2380
STORE_METRICS_PORT = 2381
APISERVER_PORT = 6443


def tinykube_bin() -> str:
    """The `tinykube` next to the running interpreter (the project's venv), so nodes run this very code."""
    beside = Path(sys.executable).parent / "tinykube"
    return str(beside) if beside.exists() else (shutil.which("tinykube") or "tinykube")


def store_client_url(node: Node) -> str:
    return f"https://{node.ip}:{STORE_CLIENT_PORT}"


def etcdctl_tls(cluster: Cluster) -> tuple[str, ...]:
    """etcdctl's flags for the store: its CA, and the health-check client certificate (the store wants one)."""
    etcd = cluster.pki_dir / "etcd"
    return (f"--cacert={etcd / 'ca.crt'}", f"--cert={etcd / 'healthcheck-client.crt'}",
            f"--key={etcd / 'healthcheck-client.key'}")


def store(cluster: Cluster, node: Node, state: str = "new") -> Component:
    """One member of the store's Raft group; the control-plane nodes are its members."""
    initial = ",".join(f"{n.name}=https://{n.ip}:{STORE_PEER_PORT}" for n in cluster.topology.control_plane)
    etcd = cluster.pki_dir / "etcd"
    argv = (
        tinykube_bin(), "store",
        f"--name={node.name}",
        f"--data-dir={cluster.node_dir(node) / 'store'}",
        f"--listen-client-urls={store_client_url(node)},https://127.0.0.1:{STORE_CLIENT_PORT}",
        f"--advertise-client-urls={store_client_url(node)}",
        f"--listen-peer-urls=https://{node.ip}:{STORE_PEER_PORT}",
        f"--initial-advertise-peer-urls=https://{node.ip}:{STORE_PEER_PORT}",
        f"--initial-cluster={initial}",
        f"--initial-cluster-state={state}",
        f"--initial-cluster-token={cluster.name}",
        f"--listen-metrics-urls=http://{node.ip}:{STORE_METRICS_PORT}",
        "--auto-compaction-mode=periodic", "--auto-compaction-retention=5m",
        # kubeadm's etcd TLS: client and peer traffic both mutually authenticated against the store's own CA.
        f"--cert-file={etcd / f'server-{node.name}.crt'}", f"--key-file={etcd / f'server-{node.name}.key'}",
        f"--trusted-ca-file={etcd / 'ca.crt'}", "--client-cert-auth=true",
        f"--peer-cert-file={etcd / f'peer-{node.name}.crt'}", f"--peer-key-file={etcd / f'peer-{node.name}.key'}",
        f"--peer-trusted-ca-file={etcd / 'ca.crt'}", "--peer-client-cert-auth=true",
    )
    return Component(node.name, "store", argv, netns=node.netns)


def apiserver(cluster: Cluster, node: Node) -> Component:
    """An apiserver on a control-plane node, talking to its own store member first."""
    pki = cluster.pki_dir
    members = [node, *(n for n in cluster.topology.control_plane if n is not node)]
    argv = (
        tinykube_bin(), "apiserver",
        f"--etcd-servers={','.join(store_client_url(n) for n in members)}",
        f"--etcd-cafile={pki / 'etcd' / 'ca.crt'}", f"--etcd-certfile={pki / 'apiserver-etcd-client.crt'}",
        f"--etcd-keyfile={pki / 'apiserver-etcd-client.key'}", "--enable-bootstrap-token-auth",
        "--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
        f"--bind-address={node.ip}", f"--advertise-address={node.ip}", f"--secure-port={APISERVER_PORT}",
        f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
        f"--client-ca-file={pki / 'ca.crt'}",
        f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
        f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
        f"--service-account-key-file={pki / 'sa.pub'}", f"--service-account-signing-key-file={pki / 'sa.key'}",
        "--service-cluster-ip-range=10.96.0.0/12", "--service-node-port-range=30000-32767",
    )
    return Component(node.name, "apiserver", argv, netns=node.netns)


def registry_config(cluster: Cluster) -> Path:
    path = cluster.infra_dir() / "registry.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    config = {
        "version": 0.1,
        "log": {"level": "warn"},
        "storage": {"filesystem": {"rootdirectory": str(cluster.infra_dir() / "registry")},
                    "delete": {"enabled": True}},
        "http": {"addr": f"{cluster.topology.gateway_ip}:{REGISTRY_PORT}",
                 "secret": f"tinykube-{cluster.name}"},  # fixed secret: silences the random-secret warning
    }
    path.write_text(yaml.safe_dump(config))
    return path


def registry(cluster: Cluster) -> Component:
    return Component("infra", "registry", ("docker-registry", "serve", str(registry_config(cluster))),
                     netns=cluster.topology.infra_netns)


def haproxy_config(cluster: Cluster) -> Path:
    """TCP load balancing over the apiservers, with TLS health checks of /readyz, as kubeadm's HA guide does.

    A dead node answers nothing (its link is down): connects give up after 1 s and go to another apiserver
    (``redispatch``) rather than holding a client until its TLS handshake times out. When every check fails
    at once (machines too slow to answer /readyz within a second, as software-emulated VMs are), unchecked
    backup copies of the servers take the traffic instead of the balancer refusing every connection."""
    path = cluster.infra_dir() / "haproxy.cfg"
    path.parent.mkdir(parents=True, exist_ok=True)
    servers = "\n".join(
        f"  server {n.name} {n.ip}:{APISERVER_PORT} check check-ssl verify none inter 1s fall 2 rise 1\n"
        f"  server {n.name}-unchecked {n.ip}:{APISERVER_PORT} backup"
        for n in cluster.topology.control_plane)
    path.write_text(f"""global
  maxconn 8192
defaults
  mode tcp
  timeout connect 1s
  retries 2
  option redispatch 1
  timeout client 1h
  timeout server 1h
frontend apiserver
  bind {cluster.topology.gateway_ip}:{APISERVER_PORT}
  default_backend apiservers
backend apiservers
  option httpchk GET /readyz
  http-check expect status 200
  balance roundrobin
  option allbackups
{servers}
""")
    return path


def haproxy(cluster: Cluster) -> Component:
    return Component("infra", "haproxy", ("haproxy", "-db", "-f", str(haproxy_config(cluster))),
                     netns=cluster.topology.infra_netns)


# --- node agents -----------------------------------------------------------------------------------------

SERVICE_CIDR = "10.96.0.0/12"
CLUSTER_CIDR = "10.244.0.0/16"


def runtime_socket(cluster: Cluster, node: Node) -> Path:
    return cluster.node_dir(node) / "runtime.sock"


def cni_dirs(cluster: Cluster, node: Node) -> tuple[Path, Path]:
    """(bin dir, conf dir) of a node: the overlay daemon installs our plugin and conflist there."""
    return cluster.node_dir(node) / "cni" / "bin", cluster.node_dir(node) / "cni" / "net.d"


def runtime(cluster: Cluster, node: Node) -> Component:
    bin_dir, conf_dir = cni_dirs(cluster, node)
    registry = cluster.topology.registry
    argv = (
        tinykube_bin(), "runtime",
        f"--listen=unix://{runtime_socket(cluster, node)}",
        f"--root={cluster.node_dir(node) / 'runtime'}", f"--state={cluster.node_dir(node) / 'runtime-state'}",
        f"--cni-bin-dir={bin_dir}:/usr/lib/cni", f"--cni-conf-dir={conf_dir}",
        f"--registry-mirror=docker.io=http://{registry}", f"--insecure-registry={registry}",
        f"--cgroup-root={cluster.name}-{node.name}", f"--streaming-address={node.ip}:0",
    )
    return Component(node.name, "runtime", argv, netns=node.netns)


def kubelet(cluster: Cluster, node: Node, kubeconfig: Path, bootstrap_kubeconfig: Path | None = None) -> Component:
    """A node's kubelet; with ``bootstrap_kubeconfig`` it gets its client certificate through a CSR first."""
    pki = cluster.pki_dir
    argv = (
        tinykube_bin(), "kubelet",
        f"--kubeconfig={kubeconfig}", f"--container-runtime-endpoint=unix://{runtime_socket(cluster, node)}",
        *((f"--bootstrap-kubeconfig={bootstrap_kubeconfig}",) if bootstrap_kubeconfig is not None else ()),
        f"--tls-cert-file={pki / f'kubelet-{node.name}-serving.crt'}",
        f"--tls-private-key-file={pki / f'kubelet-{node.name}-serving.key'}",
        "--anonymous-auth=false", "--authentication-token-webhook=true", "--authorization-mode=Webhook",
        f"--node-ip={node.ip}", f"--hostname-override={node.name}",
        f"--root-dir={cluster.node_dir(node) / 'kubelet'}", f"--cgroup-root={cluster.name}-{node.name}",
        f"--cluster-dns={dns_address(node)}", "--cluster-domain=cluster.local",
        f"--address={node.ip}", f"--client-ca-file={pki / 'ca.crt'}",
        f"--pod-manifest-path={cluster.node_dir(node) / 'manifests'}",
        # The three nodes share the host's disk: a disk signal would make every node evict at once for space it
        # cannot free, so only memory is a signal, and image GC (triggered by the same disk) is off (100%), as
        # kind configures its nodes.
        "--eviction-hard=memory.available<100Mi", "--image-gc-high-threshold=100",
    )
    return Component(node.name, "kubelet", argv, netns=node.netns)


def dns_address(node: Node) -> str:
    """Cluster DNS answers on the node's pod-bridge gateway (ARCHITECTURE.md §2)."""
    return node.pod_cidr.rsplit(".", 1)[0] + ".1"


def flanneld(cluster: Cluster, node: Node, kubeconfig: Path) -> Component:
    bin_dir, conf_dir = cni_dirs(cluster, node)
    argv = (tinykube_bin(), "flanneld", f"--kubeconfig={kubeconfig}", "--kube-subnet-mgr",
            f"--iface={cluster.options.underlay_iface}", f"--public-ip={node.ip}",
            f"--backend={cluster.options.backend}", f"--node-name={node.name}",
            f"--cni-conf-dir={conf_dir}", f"--cni-bin-dir={bin_dir}",
            f"--ipam-dir={cluster.node_dir(node) / 'cni' / 'ipam'}",
            f"--cni-plugin-socket={cluster.node_dir(node) / 'cni' / 'plugin.sock'}")
    return Component(node.name, "flanneld", argv, netns=node.netns)


def proxy(cluster: Cluster, node: Node, kubeconfig: Path) -> Component:
    argv = (tinykube_bin(), "proxy", f"--kubeconfig={kubeconfig}", f"--proxy-mode={cluster.options.proxy_mode}",
            f"--cluster-cidr={CLUSTER_CIDR}", f"--service-cidr={SERVICE_CIDR}", f"--hostname-override={node.name}",
            f"--healthz-bind-address={node.ip}:10256", "--metrics-bind-address=127.0.0.1:10249")
    return Component(node.name, "proxy", argv, netns=node.netns)


def clusterdns(cluster: Cluster, node: Node, kubeconfig: Path) -> Component:
    argv = (tinykube_bin(), "clusterdns", f"--kubeconfig={kubeconfig}", f"--bind-address={dns_address(node)}",
            f"--service-cidr={SERVICE_CIDR}", f"--cluster-cidr={CLUSTER_CIDR}")
    return Component(node.name, "clusterdns", argv, netns=node.netns)


def _secure_serving(cluster: Cluster, node: Node, stem: str) -> tuple[str, ...]:
    """HTTPS health and metrics on the node's address; /metrics for callers the apiserver authorizes."""
    pki = cluster.pki_dir
    return (f"--bind-address={node.ip}", f"--tls-cert-file={pki / f'{stem}-serving.crt'}",
            f"--tls-private-key-file={pki / f'{stem}-serving.key'}", f"--client-ca-file={pki / 'ca.crt'}")


def scheduler(cluster: Cluster, node: Node, kubeconfig: Path) -> Component:
    argv = (tinykube_bin(), "scheduler", f"--kubeconfig={kubeconfig}", "--leader-elect=true",
            *cluster.options.leader_elect_flags(), *_secure_serving(cluster, node, "kube-scheduler"))
    return Component(node.name, "scheduler", argv, netns=node.netns)


def controller_manager(cluster: Cluster, node: Node, kubeconfig: Path) -> Component:
    argv = (tinykube_bin(), "controller-manager", f"--kubeconfig={kubeconfig}", "--leader-elect=true",
            *cluster.options.leader_elect_flags(),
            "--allocate-node-cidrs", f"--cluster-cidr={CLUSTER_CIDR}", "--node-cidr-mask-size=24",
            f"--cluster-signing-cert-file={cluster.pki_dir / 'ca.crt'}",
            f"--cluster-signing-key-file={cluster.pki_dir / 'ca.key'}",
            f"--service-account-private-key-file={cluster.pki_dir / 'sa.key'}",
            *_secure_serving(cluster, node, "kube-controller-manager"))
    return Component(node.name, "controller-manager", argv, netns=node.netns)
