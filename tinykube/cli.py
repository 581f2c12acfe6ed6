"""The ``tinykube`` command: one sub-command per component, plus cluster bring-up tools.

Sub-commands are registered by name and imported only when run, so ``tinykube --help``
stays fast and one component's dependencies never load in another's process.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from process.version import KUBERNETES_GIT_VERSION, __version__

# name -> (module with a ``main(argv) -> int``, one-line summary). Issues add their components here.
COMMANDS: dict[str, tuple[str, str]] = {
    "version": ("tinykube.version_cmd", "print the tinykube and Kubernetes API versions"),
    "image": ("runtime.image_cli", "build, push, pull and list images"),
    "runtime": ("runtime.main", "run the container runtime (CRI server)"),
    "crictl": ("runtime.crictl", "talk to a CRI runtime, as crictl does"),
    "store": ("store.main", "run a store member (our etcd)"),
    "apiserver": ("apiserver.main", "run an apiserver (the Kubernetes REST API over the store)"),
    "controller-manager": ("controller_manager.main", "run the controller manager (leader-elected)"),
    "scheduler": ("scheduler.main", "run the scheduler (leader-elected)"),
    "kubelet": ("kubelet.main", "run a node agent (kubelet)"),
    "flanneld": ("cni.flanneld", "run the pod network overlay for a node (flannel's job)"),
    "clusterdns": ("clusterdns.main", "serve the cluster's DNS names on a node"),
    "netpol": ("proxy.netpol_agent", "enforce NetworkPolicies for a node's pods"),
    "proxy": ("proxy.main", "run kube-proxy: Services to netfilter rules"),
    "certs": ("tinykube.certs_cmd", "generate the cluster CA, component certificates and admin kubeconfig"),
    "token": ("tinykube.token_cmd", "create bootstrap tokens for joining nodes (kubeadm token create)"),
    "up": ("tinykube.up_cmd", "bring up a local cluster (nodes are network namespaces)"),
    "down": ("tinykube.down_cmd", "stop a local cluster and remove everything it made"),
    "status": ("tinykube.status_cmd", "show a local cluster's nodes, components and leaders"),
    "node": ("tinykube.node_cmd", "hard-stop or start a node of a local cluster"),
    "logs": ("tinykube.logs_cmd", "print (or follow) a component's log on a node of a local cluster"),
    "chaos": ("tinykube.chaos_cmd", "break a running cluster on purpose: kill leaders, partition nodes"),
    "init": ("tinykube.init_cmd", "initialise a cluster on its first machine (components as systemd units)"),
    "join": ("tinykube.join_cmd", "join this machine to a cluster of machines (components as systemd units)"),
    "underlay": ("tinykube.underlay_cmd", "create or destroy a cluster's network namespaces and links"),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinykube",
        description="tinykube: a Kubernetes-compatible cluster, each component its own process.",
        epilog="Run 'tinykube COMMAND --help' for a command's flags.",
    )
    parser.add_argument("--version", action="version",
                        version=f"tinykube {__version__} (Kubernetes API {KUBERNETES_GIT_VERSION})")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, summary) in sorted(COMMANDS.items()):
        sub.add_parser(name, help=summary, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    if not args or args[0].startswith("-"):
        parser.parse_args(args)
        parser.print_help()
        return 0 if not args else 2
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        parser.error(f"unknown command {name!r}")
    module = importlib.import_module(COMMANDS[name][0])
    code: int = module.main(rest)
    return code


if __name__ == "__main__":
    sys.exit(main())
