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
    return f"http://{node.ip}:{STORE_CLIENT_PORT}"


def store(cluster: Cluster, node: Node, state: str = "new") -> Component:
    """One member of the store's Raft group; the control-plane nodes are its members."""
    initial = ",".join(f"{n.name}=http://{n.ip}:{STORE_PEER_PORT}" for n in cluster.topology.control_plane)
    argv = (
        tinykube_bin(), "store",
        f"--name={node.name}",
        f"--data-dir={cluster.node_dir(node) / 'store'}",
        f"--listen-client-urls={store_client_url(node)},http://127.0.0.1:{STORE_CLIENT_PORT}",
        f"--advertise-client-urls={store_client_url(node)}",
        f"--listen-peer-urls=http://{node.ip}:{STORE_PEER_PORT}",
        f"--initial-advertise-peer-urls=http://{node.ip}:{STORE_PEER_PORT}",
        f"--initial-cluster={initial}",
        f"--initial-cluster-state={state}",
        f"--initial-cluster-token={cluster.name}",
        f"--listen-metrics-urls=http://{node.ip}:{STORE_METRICS_PORT}",
        "--auto-compaction-mode=periodic", "--auto-compaction-retention=5m",
    )
    return Component(node.name, "store", argv, netns=node.netns)


def apiserver(cluster: Cluster, node: Node) -> Component:
    """An apiserver on a control-plane node, talking to its own store member first."""
    pki = cluster.pki_dir
    members = [node, *(n for n in cluster.topology.control_plane if n is not node)]
    argv = (
        tinykube_bin(), "apiserver",
        f"--etcd-servers={','.join(store_client_url(n) for n in members)}",
        f"--bind-address={node.ip}", f"--advertise-address={node.ip}", f"--secure-port={APISERVER_PORT}",
        f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
        f"--client-ca-file={pki / 'ca.crt'}",
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
    """TCP load balancing over the apiservers, with TLS health checks of /readyz, as kubeadm's HA guide does."""
    path = cluster.infra_dir() / "haproxy.cfg"
    path.parent.mkdir(parents=True, exist_ok=True)
    servers = "\n".join(
        f"  server {n.name} {n.ip}:{APISERVER_PORT} check check-ssl verify none inter 2s fall 2 rise 1"
        for n in cluster.topology.control_plane)
    path.write_text(f"""global
  maxconn 8192
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
frontend apiserver
  bind {cluster.topology.gateway_ip}:{APISERVER_PORT}
  default_backend apiservers
backend apiservers
  option httpchk GET /readyz
  http-check expect status 200
  balance roundrobin
{servers}
""")
    return path


def haproxy(cluster: Cluster) -> Component:
    return Component("infra", "haproxy", ("haproxy", "-db", "-f", str(haproxy_config(cluster))),
                     netns=cluster.topology.infra_netns)
