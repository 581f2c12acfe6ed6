"""``tinykube underlay create|destroy|claim``: the cluster network, as its own process.

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


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="tinykube underlay", description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("action", choices=["create", "destroy"])
    p.add_argument("--state-dir", type=Path, required=True, help="the cluster's state directory")
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
        else:
            underlay.destroy(cluster.topology)
    except underlay.UnderlayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
