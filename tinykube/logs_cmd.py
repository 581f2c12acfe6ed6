"""``tinykube logs NODE COMPONENT [-f]``: a component's log, as the supervisor writes it."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections import deque
from collections.abc import Sequence
from typing import BinaryIO

from tinykube.cluster_cli import add_cluster_args, load_cluster

FOLLOW_POLL = 0.2


def tail_lines(f: BinaryIO, count: int) -> list[bytes]:
    """The last ``count`` lines of ``f`` (all when negative); leaves ``f`` at its end."""
    if count < 0:
        return f.readlines()
    lines = deque(f, maxlen=count) if count else deque()
    f.seek(0, os.SEEK_END)
    return list(lines)


def follow(f: BinaryIO, out: BinaryIO) -> None:
    """Copy what is appended to ``f`` until interrupted; starts over when the file was truncated."""
    while True:
        chunk = f.read(65536)
        if chunk:
            out.write(chunk)
            out.flush()
            continue
        if os.fstat(f.fileno()).st_size < f.tell():
            f.seek(0)
        time.sleep(FOLLOW_POLL)


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="tinykube logs", description="Print a component's log on a node.")
    p.add_argument("node", help="node name (node1, …) or 'infra' for the registry and load balancer")
    p.add_argument("component", help="store, apiserver, kubelet, runtime, proxy, scheduler, …")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing what is appended")
    p.add_argument("--tail", type=int, default=-1, help="only the last N lines (default: all)")
    add_cluster_args(p)
    args = p.parse_args(argv)
    cluster = load_cluster(args)
    if cluster is None:
        return 1
    node_dir = cluster.log_dir / args.node
    path = node_dir / f"{args.component}.log"
    if not path.exists():
        known = sorted(q.stem for q in node_dir.glob("*.log")) if node_dir.is_dir() else []
        hint = f" (logs on {args.node}: {', '.join(known)})" if known else f" (no node {args.node!r} has logs)"
        print(f"error: no log for {args.component} on {args.node}{hint}", file=sys.stderr)
        return 1
    out = sys.stdout.buffer
    with path.open("rb") as f, contextlib.suppress(KeyboardInterrupt, BrokenPipeError):
        out.writelines(tail_lines(f, args.tail))
        out.flush()
        if args.follow:
            follow(f, out)
    return 0
