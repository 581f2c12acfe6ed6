"""``tinykube node add|remove|stop|start NAME``: change the nodes of a running local cluster.

The supervising `tinykube up` does the work (it owns the components), asked through its control socket.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tinykube import control
from tinykube.cluster_cli import add_cluster_args, load_cluster

ACTIONS = {
    "add": "join a new worker (bootstrap token, CSR) and wait until it is Ready",
    "remove": "drain a worker, delete its Node and remove everything of it",
    "stop": "kill every process of the node and pull its cable (its disk survives)",
    "start": "bring a stopped node back, as after a reboot",
}
# Adding waits for the new node to be Ready, removing for its pods to be evicted (tkctl drain's timeout).
SLOW_ACTION_TIMEOUT = 300.0


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="tinykube node", description="Manage the nodes of a running local cluster.")
    add_cluster_args(p)
    sub = p.add_subparsers(dest="action", required=True)
    for action, summary in ACTIONS.items():
        sub.add_parser(action, help=summary).add_argument("node")
    args = p.parse_args(argv)
    cluster = load_cluster(args)
    if cluster is None:
        return 1
    timeout = SLOW_ACTION_TIMEOUT if args.action in ("add", "remove") else 120.0
    try:
        print(control.request(control.socket_path(cluster.state_dir), {"op": f"node-{args.action}", "node": args.node},
                              timeout=timeout))
    except control.ControlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: talking to the cluster's supervisor: {exc}", file=sys.stderr)
        return 1
    return 0
