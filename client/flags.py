"""The client flags every component shares, with the upstream names (kube-scheduler's, kubelet's).

``--kubeconfig`` and ``--master`` choose the apiserver; ``--leader-elect`` and its
``--leader-elect-lease-duration=15s``-style durations configure leader election, so a
component's ``main`` is: add these flags, parse, ``rest_client_from_args``, ``leader_election_from_args``.
"""

from __future__ import annotations

import argparse
import re
import socket
import uuid

from client.kubeconfig import ClientConfig, load_client_config
from client.leaderelection import LeaderElectionConfig
from client.rest import RestClient
from process.flags import parse_bool

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """A Go duration (``15s``, ``1m30s``, ``500ms``) in seconds; a bare number is taken as seconds."""
    raw = text.strip()
    if re.fullmatch(r"\d+(\.\d*)?", raw):
        return float(raw)
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(raw):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(raw) or not raw:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (expected e.g. 15s, 1m30s, 500ms)")
    return total


def add_client_flags(parser: argparse.ArgumentParser) -> None:
    """``--kubeconfig``, ``--master`` (overrides the kubeconfig's server; comma-separated for several)."""
    parser.add_argument("--kubeconfig", default=None,
                        help="path to a kubeconfig (default: $KUBECONFIG, ~/.kube/config, then in-cluster)")
    parser.add_argument("--master", default=None,
                        help="apiserver address(es), comma-separated, overriding the kubeconfig's server")


def client_config_from_args(args: argparse.Namespace) -> ClientConfig:
    """The ClientConfig named by ``--kubeconfig``/``--master``; extra ``--master`` URLs become failover servers."""
    config = load_client_config(args.kubeconfig)
    if args.master:
        config.servers = [s.strip().rstrip("/") for s in args.master.split(",") if s.strip()]
    return config


def rest_client_from_args(args: argparse.Namespace, user_agent: str, *,
                          max_requests_in_flight: int | None = None) -> RestClient:
    """A RestClient for ``--kubeconfig``/``--master``, identifying itself as ``user_agent``."""
    return RestClient(client_config_from_args(args), user_agent=user_agent,
                      max_requests_in_flight=max_requests_in_flight)


def leader_election_client(work: RestClient) -> RestClient:
    """A client of its own for leader election, as kube-scheduler and kube-controller-manager have: Lease
    renewals never wait behind the work client's bounded burst of writes."""
    return RestClient(work.config, user_agent=f"{work.user_agent}/leader-election", timeout=work.timeout)


def add_leader_election_flags(parser: argparse.ArgumentParser, *, resource_name: str,
                              resource_namespace: str = "kube-system") -> None:
    """kube-scheduler's ``--leader-elect*`` flags, with its defaults (on; 15s / 10s / 2s)."""
    parser.add_argument("--leader-elect", type=parse_bool, nargs="?", const=True, default=True,
                        help="run leader election before doing any work (for replicated components)")
    parser.add_argument("--leader-elect-lease-duration", type=parse_duration, default=15.0,
                        help="how long non-leaders wait after the last observed renewal before taking over")
    parser.add_argument("--leader-elect-renew-deadline", type=parse_duration, default=10.0,
                        help="how long the leader keeps trying to renew before it gives up leading")
    parser.add_argument("--leader-elect-retry-period", type=parse_duration, default=2.0,
                        help="how long candidates wait between attempts to acquire or renew")
    parser.add_argument("--leader-elect-resource-name", default=resource_name, help="name of the Lease")
    parser.add_argument("--leader-elect-resource-namespace", default=resource_namespace,
                        help="namespace of the Lease")


def default_identity() -> str:
    """``<hostname>_<uuid>``, as client-go components identify themselves in a Lease."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


def leader_election_from_args(args: argparse.Namespace, identity: str | None = None) -> LeaderElectionConfig | None:
    """The election config, or None when ``--leader-elect=false`` (run unconditionally)."""
    if not args.leader_elect:
        return None
    return LeaderElectionConfig(
        name=args.leader_elect_resource_name,
        namespace=args.leader_elect_resource_namespace,
        identity=identity or default_identity(),
        lease_duration=args.leader_elect_lease_duration,
        renew_deadline=args.leader_elect_renew_deadline,
        retry_period=args.leader_elect_retry_period,
    )
