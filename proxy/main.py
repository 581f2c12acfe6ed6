"""``tinykube proxy``: kube-proxy. Watches Services and EndpointSlices and keeps the node's netfilter in step,
syncing no more often than ``--min-sync-period`` and at least every ``--sync-period``, so a burst of
endpoint updates costs one sync.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import time
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from client.changes import ChangeTrigger, sync_on_changes
from client.flags import add_client_flags, parse_duration, rest_client_from_args
from client.informer import SharedInformerFactory
from client.mapping import lookup
from process import log as process_log
from process.flags import ComponentParser
from process.log import get_logger
from process.metrics import Histogram, render
from process.shutdown import serve
from proxy import iptables_rules, nftables_rules, service_route
from proxy.iptables_sync import IptablesSyncer
from proxy.model import ServicePort
from proxy.nftables_sync import NftablesSyncer
from proxy.servicemodel import removed_udp_endpoints, service_ports

log = get_logger("proxy")


def parser() -> argparse.ArgumentParser:
    p = ComponentParser("proxy", description="Program this node's netfilter for Services (kube-proxy).")
    add_client_flags(p)
    p.add_argument("--proxy-mode", choices=["iptables", "nftables"], default="iptables")
    p.add_argument("--cluster-cidr", default="10.244.0.0/16", help="the pod network; traffic from outside it is "
                   "masqueraded")
    p.add_argument("--service-cidr", default="10.96.0.0/12", help="routed on the node so node-local clients and "
                   "REJECTs work without a default route")
    p.add_argument("--route-device", default="eth0", help="device for the Service CIDR route")
    p.add_argument("--hostname-override", required=True, help="this node's name")
    p.add_argument("--min-sync-period", type=parse_duration, default=1.0)
    p.add_argument("--sync-period", type=parse_duration, default=30.0)
    p.add_argument("--healthz-bind-address", default="0.0.0.0:10256")
    p.add_argument("--metrics-bind-address", default="127.0.0.1:10249")
    return p


class Proxier:
    """Holds the syncer of the chosen mode and the last programmed service ports."""

    def __init__(self, mode: str, cluster_cidr: str, node: str) -> None:
        self.mode = mode
        self.cluster_cidr = cluster_cidr
        self.node = node
        self.syncer: IptablesSyncer | NftablesSyncer = IptablesSyncer() if mode == "iptables" else NftablesSyncer()
        self.applied: list[ServicePort] = []
        self.last_sync = 0.0
        self.sync_seconds = Histogram("kubeproxy_sync_proxy_rules_duration_seconds",
                                      "SyncProxyRules latency in seconds")

    def sync(self, services: list[dict[str, Any]], slices: list[dict[str, Any]]) -> None:
        began = time.monotonic()
        ports = service_ports(services, slices)
        if isinstance(self.syncer, IptablesSyncer):
            self.syncer.sync(iptables_rules.build(ports, self.cluster_cidr, self.node))
        else:
            self.syncer.sync(nftables_rules.build(ports, self.cluster_cidr, self.node))
        for service_ip, endpoint_ip in removed_udp_endpoints(self.applied, ports):
            subprocess.run(["conntrack", "-D", "-p", "udp", "--orig-dst", service_ip, "--reply-src", endpoint_ip],
                           capture_output=True)
        self.applied = ports
        self.last_sync = time.time()
        self.sync_seconds.observe(time.monotonic() - began)


async def _serve_http(address: str, routes: web.RouteTableDef) -> web.AppRunner:
    host, _, port = address.rpartition(":")
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host or "0.0.0.0", int(port)).start()
    return runner


async def run(args: argparse.Namespace, stop: asyncio.Event) -> int:
    await asyncio.to_thread(service_route.ensure, args.service_cidr, args.route_device)
    client = rest_client_from_args(args, "tinykube-proxy")
    factory = SharedInformerFactory(client)
    services = factory.informer(lookup("services"))
    slices = factory.informer(lookup("endpointslices.discovery.k8s.io"))
    proxier = Proxier(args.proxy_mode, args.cluster_cidr, args.hostname_override)
    trigger = ChangeTrigger([services, slices])

    routes = web.RouteTableDef()

    @routes.get("/healthz")
    async def healthz(_request: web.Request) -> web.Response:
        stale = proxier.last_sync == 0 or time.time() - proxier.last_sync > 2 * args.sync_period + 10
        return web.json_response({"lastUpdated": proxier.last_sync, "currentTime": time.time()},
                                 status=503 if stale else 200)

    @routes.get("/metrics")
    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(text=render([proxier.sync_seconds]), content_type="text/plain")

    runners = [await _serve_http(args.healthz_bind_address, routes)]
    if args.metrics_bind_address != args.healthz_bind_address:
        runners.append(await _serve_http(args.metrics_bind_address, routes))
    factory.start()
    try:
        await factory.wait_for_cache_sync()

        async def sync() -> None:
            await asyncio.to_thread(proxier.sync, services.list(), slices.list())

        await sync_on_changes(trigger, stop, sync, min_period=args.min_sync_period, period=args.sync_period)
    finally:
        await factory.shutdown()
        for runner in runners:
            await runner.cleanup()
        await client.close()
    return 0


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    process_log.configure("proxy", args.verbosity)
    return serve(lambda stop: run(args, stop))
