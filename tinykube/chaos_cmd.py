"""``tinykube chaos``: break a running local cluster on purpose, and say what was done and when.

Each action returns at once; recovery is the cluster's business (the supervisor restarts killed
components, Raft and the leases elect new leaders). Partitions are netfilter rules in the node's own
namespace, in a chain of ours, so `heal` removes exactly them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import signal
import subprocess
import sys
from collections.abc import Sequence

from tinykube import lifecycle
from tinykube.cluster import Cluster
from tinykube.cluster_cli import add_cluster_args, load_cluster
from tinykube.leaders import lease_leaders
from tinykube.supervisor import read_state
from tinykube.topology import Node

CHAIN = "TK-CHAOS"


class ChaosError(RuntimeError):
    pass


def say(what: str) -> None:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    print(f"{stamp} {what}", flush=True)


def component_pid(cluster: Cluster, node: str, name: str) -> int:
    for status in read_state(cluster.supervisor_state):
        if status.node == node and status.name == name and status.pid and status.state == "running":
            return status.pid
    raise ChaosError(f"{name} is not running on {node}")


def kill(cluster: Cluster, node: str, name: str) -> None:
    pid = component_pid(cluster, node, name)
    os.killpg(pid, signal.SIGKILL)
    say(f"killed {name} on {node} (pid {pid}) with SIGKILL")


def leader_of(cluster: Cluster, component: str) -> str:
    leader = lifecycle.store_leader(cluster) if component == "store" else lease_leaders(cluster)[component]
    if leader is None:
        raise ChaosError(f"the {component} has no leader right now")
    return leader


def restart_all(cluster: Cluster) -> None:
    """SIGKILL every component on every node at once (a power cut); the supervisor brings them all back."""
    killed = []
    for status in read_state(cluster.supervisor_state):
        if status.pid and status.state == "running" and status.node != "infra":
            with contextlib.suppress(ProcessLookupError):
                os.killpg(status.pid, signal.SIGKILL)
                killed.append(f"{status.node}/{status.name}")
    say(f"killed {len(killed)} components with SIGKILL: {', '.join(killed)}")


def _iptables(node: Node, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["nsenter", f"--net=/run/netns/{node.netns}", "iptables", "-w", *args],
                            capture_output=True, text=True)
    if check and result.returncode != 0:
        raise ChaosError(f"iptables {' '.join(args)} in {node.name}: {result.stderr.strip()}")
    return result


def partition(cluster: Cluster, name: str) -> None:
    """Drop everything between ``name`` and the other nodes; the host still reaches it (clients see a minority)."""
    node = cluster.topology.node(name)
    heal_node(node)
    _iptables(node, "-N", CHAIN)
    for other in cluster.topology.nodes:
        if other is not node:
            _iptables(node, "-A", CHAIN, "-s", other.ip, "-j", "DROP")
            _iptables(node, "-A", CHAIN, "-d", other.ip, "-j", "DROP")
    _iptables(node, "-I", "INPUT", "1", "-j", CHAIN)
    _iptables(node, "-I", "OUTPUT", "1", "-j", CHAIN)
    say(f"partitioned {name} from {', '.join(n.name for n in cluster.topology.nodes if n is not node)}")


def heal_node(node: Node) -> bool:
    if _iptables(node, "-n", "-L", CHAIN, check=False).returncode != 0:
        return False
    for hook in ("INPUT", "OUTPUT"):
        while _iptables(node, "-D", hook, "-j", CHAIN, check=False).returncode == 0:
            pass
    _iptables(node, "-F", CHAIN)
    _iptables(node, "-X", CHAIN)
    return True


def heal(cluster: Cluster) -> None:
    healed = [n.name for n in cluster.topology.nodes if heal_node(n)]
    say(f"healed {', '.join(healed)}" if healed else "nothing to heal")


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="tinykube chaos", description="Break a running local cluster on purpose.")
    add_cluster_args(p)
    sub = p.add_subparsers(dest="action", required=True)
    kl = sub.add_parser("kill-leader", help="SIGKILL the leader of a replicated component")
    kl.add_argument("component", choices=["store", "scheduler", "controller-manager"])
    k = sub.add_parser("kill", help="SIGKILL one component on one node")
    k.add_argument("component")
    k.add_argument("--node", required=True)
    pt = sub.add_parser("partition", help="cut a node off from the other nodes")
    pt.add_argument("node")
    sub.add_parser("heal", help="remove every partition")
    sub.add_parser("restart-all", help="SIGKILL every component on every node at once; they come back")
    args = p.parse_args(argv)
    cluster = load_cluster(args)
    if cluster is None:
        return 1
    try:
        if lifecycle.running_supervisor(cluster) is None:
            raise ChaosError(f"cluster {cluster.name!r} is not running")
        if args.action == "kill-leader":
            kill(cluster, leader_of(cluster, args.component), args.component)
        elif args.action == "kill":
            kill(cluster, args.node, args.component)
        elif args.action == "partition":
            partition(cluster, args.node)
        elif args.action == "restart-all":
            restart_all(cluster)
        else:
            heal(cluster)
    except (ChaosError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
