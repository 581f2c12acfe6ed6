"""``tinykube down``: stop a local cluster and remove everything it made (its state too, unless kept)."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import time
from collections.abc import Sequence

from process import log as process_log
from tinykube import lifecycle, underlay
from tinykube.cluster_cli import add_cluster_args, load_cluster
from tinykube.supervisor import Supervisor

STOP_WAIT = 60.0


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="tinykube down", description="Stop a local cluster and remove what it made.")
    add_cluster_args(p)
    p.add_argument("--keep-state", action="store_true", help="keep the cluster's data so a later `up` brings it back")
    args = p.parse_args(argv)
    process_log.configure("tinykube-down")
    cluster = load_cluster(args, missing_ok=True)  # nothing to take down is no error (as `kind delete cluster`)
    if cluster is None:
        return 0
    state_dir = cluster.state_dir
    pid = lifecycle.running_supervisor(cluster)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)  # it stops its components and removes the network itself
        deadline = time.monotonic() + STOP_WAIT
        while lifecycle.running_supervisor(cluster) is not None and time.monotonic() < deadline:
            time.sleep(0.2)
    # Whatever a dead or stuck supervisor left behind goes too.
    ctx = lifecycle.UpContext(cluster, Supervisor(cluster.log_dir, cluster.supervisor_state))
    failures = asyncio.run(lifecycle.teardown(ctx, keep_state=True))
    if not args.keep_state:
        underlay.release(cluster.topology, state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)
    for failure in failures:
        print(f"error: {failure}")
    print(f"cluster {cluster.name!r} is down" + (f"; its state is kept in {state_dir}" if args.keep_state else ""))
    return 1 if failures else 0
