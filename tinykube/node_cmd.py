"""``tinykube node stop|start NAME``: hard-stop a node of a running local cluster, and start it again."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tinykube import control
from tinykube.cluster import DEFAULT_NAME, default_state_dir


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="tinykube node", description="Manage the nodes of a running local cluster.")
    p.add_argument("--name", default=DEFAULT_NAME, help="cluster name (default: %(default)s)")
    p.add_argument("--state-dir", type=Path, help="the cluster's state directory (default: /var/lib/tinykube/NAME)")
    sub = p.add_subparsers(dest="action", required=True)
    for action, summary in (("stop", "kill every process of the node and pull its cable (its disk survives)"),
                            ("start", "bring a stopped node back, as after a reboot")):
        sub.add_parser(action, help=summary).add_argument("node")
    args = p.parse_args(argv)
    state_dir = args.state_dir or default_state_dir(args.name)
    if not (state_dir / "cluster.json").exists():
        print(f"error: no cluster {args.name!r} (nothing in {state_dir})", file=sys.stderr)
        return 1
    try:
        print(control.request(control.socket_path(state_dir), {"op": f"node-{args.action}", "node": args.node}))
    except control.ControlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: talking to the cluster's supervisor: {exc}", file=sys.stderr)
        return 1
    return 0
