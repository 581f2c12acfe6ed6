"""``tinykube underlay create|destroy|link-down|link-up|add-node|remove-node``: the cluster network, as its own process.

pyroute2 forks helper processes to work inside other namespaces; in a process that runs an asyncio
loop with signal handlers (the supervisor), a forked helper that is terminated writes SIGTERM to the
loop's wakeup fd and stops the supervisor. So the supervisor does network work through this command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from process import log as process_log
from tinykube import underlay
from tinykube.cluster import Cluster
from tinykube.topology import TopologyError


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="tinykube underlay", description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("action", choices=["create", "destroy", "link-down", "link-up", "add-node", "remove-node"])
    p.add_argument("--state-dir", type=Path, required=True, help="the cluster's state directory")
    p.add_argument("--node", help="the node whose link goes down or up, or that is added or removed")
    args = p.parse_args(argv)
    process_log.configure("tinykube-underlay")
    try:
        cluster = Cluster.load(args.state_dir)
    except FileNotFoundError:
        print(f"error: no cluster in {args.state_dir}", file=sys.stderr)
        return 1
    try:
        if args.action == "create":
            underlay.create(cluster.topology)
        elif args.action == "destroy":
            underlay.destroy(cluster.topology)
        elif args.action == "add-node":
            underlay.add_node(cluster.topology, cluster.topology.node(args.node or ""))
        elif args.action == "remove-node":
            underlay.remove_node(cluster.topology, cluster.topology.node(args.node or ""))
        else:
            node = cluster.topology.node(args.node or "")
            underlay.set_node_link(cluster.topology, node, up=args.action == "link-up")
    except (underlay.UnderlayError, TopologyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
