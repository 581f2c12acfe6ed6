"""``tinykube netpol``: the per-node NetworkPolicy agent. Watches NetworkPolicies, Pods and Namespaces and
keeps this node's TK-NETPOL chains equal to what the policies say about the pods running here."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from client.changes import ChangeTrigger, sync_on_changes
from client.flags import add_client_flags, rest_client_from_args
from client.informer import SharedInformerFactory
from client.mapping import lookup
from process import log as process_log
from process.flags import ComponentParser
from process.shutdown import serve
from proxy.iptables_sync import IptablesSyncer
from proxy.netpol_rules import HOOKS, Pod, build

SYNC_DELAY = 0.2  # coalesce bursts of pod updates into one sync


def parser() -> argparse.ArgumentParser:
    p = ComponentParser("netpol", description="Enforce NetworkPolicies for the pods of this node.")
    add_client_flags(p)
    p.add_argument("--hostname-override", required=True, help="this node's name")
    return p


def pods_from(objs: Iterable[Mapping[str, Any]]) -> list[Pod]:
    """Running pod-network pods (host-network pods share the node's address and are never isolated)."""
    out = []
    for obj in objs:
        spec, status, meta = obj.get("spec", {}), obj.get("status", {}), obj.get("metadata", {})
        if spec.get("hostNetwork") or not status.get("podIP") or status.get("phase") in ("Succeeded", "Failed"):
            continue
        named = {p["name"]: (int(p["containerPort"]), p.get("protocol", "TCP"))
                 for c in spec.get("containers") or [] for p in c.get("ports") or [] if p.get("name")}
        out.append(Pod(meta.get("namespace", ""), meta.get("name", ""), status["podIP"], spec.get("nodeName", ""),
                       meta.get("labels") or {}, named))
    return out


async def run(args: argparse.Namespace, stop: asyncio.Event) -> int:
    client = rest_client_from_args(args, "tinykube-netpol")
    factory = SharedInformerFactory(client)
    policies = factory.informer(lookup("networkpolicies.networking.k8s.io"))
    pods = factory.informer(lookup("pods"))
    namespaces = factory.informer(lookup("namespaces"))
    syncer = IptablesSyncer(hooks=HOOKS, owned_prefix="TK-N")
    trigger = ChangeTrigger([policies, pods, namespaces])

    async def sync() -> None:
        ns_labels = {n["metadata"]["name"]: n["metadata"].get("labels") or {} for n in namespaces.list()}
        tables = build(policies.list(), pods_from(pods.list()), ns_labels, args.hostname_override)
        await asyncio.to_thread(syncer.sync, tables)

    factory.start()
    try:
        await factory.wait_for_cache_sync()
        await sync_on_changes(trigger, stop, sync, delay=SYNC_DELAY)
    finally:
        await factory.shutdown()
        await client.close()
    return 0


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    process_log.configure("netpol", args.verbosity)
    return serve(lambda stop: run(args, stop))
