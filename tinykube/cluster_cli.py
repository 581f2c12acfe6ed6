"""The flags every cluster command shares (``--name``, ``--state-dir``; ARCHITECTURE.md §10) and finding the
cluster they name, with one wording when there is none."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tinykube.cluster import DEFAULT_NAME, Cluster, default_state_dir


def add_cluster_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", default=DEFAULT_NAME, help="cluster name (default: %(default)s)")
    parser.add_argument("--state-dir", type=Path,
                        help="the cluster's state directory (default: /var/lib/tinykube/NAME)")


def state_dir_of(args: argparse.Namespace) -> Path:
    return args.state_dir or default_state_dir(args.name)


def load_cluster(args: argparse.Namespace, *, missing_ok: bool = False) -> Cluster | None:
    """The cluster ``args`` name; None when there is none, after saying so in one line (on stderr as an
    error, or on stdout when that is no error, as for `down`)."""
    state_dir = state_dir_of(args)
    try:
        return Cluster.load(state_dir)
    except FileNotFoundError:
        message = f"no cluster {args.name!r} (nothing in {state_dir})"
        print(message if missing_ok else f"error: {message}", file=sys.stdout if missing_ok else sys.stderr)
        return None
