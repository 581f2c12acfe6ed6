"""``tinykube init`` and ``tinykube join``: bring up this machine as a node of a cluster of machines.

As kubeadm's init and join: run `init` on the first node and `join` on the others, all with the same
node list and join token; each returns once every node is Ready. Components run as systemd units.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from process import log as process_log
from tinykube import join_bundle, machine_node
from tinykube.cluster import DEFAULT_NAME, Options, default_state_dir
from tinykube.steps import StepError
from tinykube.topology import TopologyError

TOKEN_ENV = "TINYKUBE_JOIN_TOKEN"


def _ips(value: str) -> list[str]:
    ips = [v.strip() for v in value.split(",") if v.strip()]
    for ip in ips:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{ip!r} is not an IP address") from None
    if not ips:
        raise argparse.ArgumentTypeError("no node addresses given")
    return ips


def _extra_arg(value: str) -> tuple[str, str]:
    """``COMPONENT:--flag[=value]``, e.g. ``store:--heartbeat-interval=500``."""
    component, sep, flag = value.partition(":")
    if not sep or component not in machine_node.COMPONENTS or not flag.startswith("--"):
        names = ", ".join(sorted(machine_node.COMPONENTS))
        raise argparse.ArgumentTypeError(f"{value!r} is not COMPONENT:--FLAG[=VALUE] with COMPONENT one of {names}")
    return component, flag


def extra_args_by_component(pairs: Sequence[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for component, flag in pairs:
        out[component] = (*out.get(component, ()), flag)
    return out


def parser(command: str) -> argparse.ArgumentParser:
    what = "initialise a cluster on its first machine" if command == "init" else "join this machine to a cluster"
    p = argparse.ArgumentParser(prog=f"tinykube {command}", description=f"{what}: components run as systemd units.")
    p.add_argument("--name", default=DEFAULT_NAME, help="cluster name (default: %(default)s)")
    p.add_argument("--state-dir", type=Path, help="where the cluster keeps its state (default: /var/lib/tinykube/NAME)")
    p.add_argument("--node-ips", type=_ips, required=True,
                   help="every node's address, comma-separated, first node first (node1, node2, ...)")
    p.add_argument("--control-plane-nodes", type=int, default=3, help="how many of them run the control plane")
    p.add_argument("--node", help="this machine's node name (default: the node whose address is on this machine)")
    p.add_argument("--token", default=os.environ.get(TOKEN_ENV, ""),
                   help=f"the join token, the same on every node (default: ${TOKEN_ENV})")
    p.add_argument("--proxy-mode", choices=["iptables", "nftables"], default="iptables")
    p.add_argument("--backend", choices=["vxlan", "host-gw"], default="vxlan")
    p.add_argument("--extra-arg", dest="extra_args", type=_extra_arg, action="append", default=[],
                   metavar="COMPONENT:--FLAG[=VALUE]",
                   help="a flag appended to a component's command line (kubeadm's extraArgs), repeatable; "
                        "e.g. store:--election-timeout=5000 for slow machines")
    p.add_argument("--timeout", type=float, default=1800,
                   help="seconds to wait for the other nodes (default: %(default)s)")
    p.add_argument("-v", "--v", dest="verbosity", type=int, default=0, help="log verbosity")
    return p


def main_for(command: str, argv: Sequence[str]) -> int:
    args = parser(command).parse_args(argv)
    process_log.configure(f"tinykube-{command}", args.verbosity)
    if os.geteuid() != 0:
        print(f"error: tinykube {command} needs root (it installs systemd units)", file=sys.stderr)
        return 1
    if len(args.token) < join_bundle.MIN_TOKEN_LENGTH:
        print(f"error: a join token of at least {join_bundle.MIN_TOKEN_LENGTH} characters is needed "
              f"(--token or ${TOKEN_ENV})", file=sys.stderr)
        return 1
    try:
        cluster, node = machine_node.make_cluster(
            args.name, args.state_dir or default_state_dir(args.name), args.node_ips,
            control_plane_count=args.control_plane_nodes, node_name=args.node,
            options=Options(proxy_mode=args.proxy_mode, backend=args.backend))
        first = cluster.topology.nodes[0]
        if (command == "init") != (node == first):
            wanted = "init" if node == first else "join"
            print(f"error: {node.name} is {'the first' if node == first else 'not the first'} node: "
                  f"run `tinykube {wanted}` here", file=sys.stderr)
            return 1
        machine_node.run(cluster, machine_node.JoinPlan(node, first, args.token), args.timeout,
                         extra_args_by_component(args.extra_args))
    except (TopologyError, StepError) as exc:
        hint = f" ({exc.hint})" if isinstance(exc, StepError) and exc.hint else ""
        print(f"error: {exc}{hint}", file=sys.stderr)
        return 1
    return 0
