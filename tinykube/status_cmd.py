"""``tinykube status``: nodes, components (pid, state, restarts), and who leads."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from tinykube import lifecycle
from tinykube.cluster import Cluster
from tinykube.cluster_cli import add_cluster_args, load_cluster
from tinykube.leaders import LEASES, lease_leaders
from tinykube.supervisor import read_state
from tinykube.underlay import netns_exists


def collect(cluster: Cluster) -> dict[str, Any]:
    """The status document (ARCHITECTURE.md §10): ``nodes``, ``components``, ``leaders``."""
    components = [
        {"node": s.node, "name": s.name, "pid": s.pid, "state": s.state, "restarts": s.restarts,
         "uptime": round(time.time() - s.started_at) if s.started_at and s.state == "running" else None}
        for s in read_state(cluster.supervisor_state)
    ]
    supervised = lifecycle.running_supervisor(cluster) is not None
    if not supervised:
        for c in components:
            c.update(state="stopped", pid=None, uptime=None)
    running = {c["node"] for c in components if c["state"] == "running"}
    down = {c["node"] for c in components if c["state"] != "running"}
    nodes = [{"name": n.name, "ip": n.ip, "ready": netns_exists(n.netns) and n.name in running - down,
              "control_plane": n.control_plane} for n in cluster.topology.nodes]
    leaders: dict[str, str | None] = {"store": lifecycle.store_leader(cluster) if supervised else None,
                                      **(lease_leaders(cluster) if supervised else dict.fromkeys(LEASES))}
    return {"name": cluster.name, "supervisor": supervised, "nodes": nodes, "components": components,
            "leaders": leaders}


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="tinykube status", description="Show a local cluster's nodes and components.")
    add_cluster_args(p)
    p.add_argument("-o", "--output", choices=["json"], help="output format")
    args = p.parse_args(argv)
    cluster = load_cluster(args)
    if cluster is None:
        return 1
    doc = collect(cluster)
    if args.output == "json":
        print(json.dumps(doc, indent=1))
        return 0
    console = Console(highlight=False)
    nodes = Table("NODE", "IP", "READY", "CONTROL PLANE", box=None)
    for n in doc["nodes"]:
        nodes.add_row(n["name"], n["ip"], "yes" if n["ready"] else "no", "yes" if n["control_plane"] else "")
    console.print(nodes)
    comps = Table("NODE", "COMPONENT", "STATE", "PID", "RESTARTS", "UPTIME", box=None)
    for c in doc["components"]:
        comps.add_row(c["node"], c["name"], c["state"], str(c["pid"] or ""), str(c["restarts"]),
                      f"{c['uptime']}s" if c["uptime"] is not None else "")
    console.print(comps)
    console.print("leaders: " + ", ".join(f"{k}={v or '-'}" for k, v in doc["leaders"].items()))
    return 0
