"""``tinykube clusterdns``: the cluster's DNS server on one node, fed by Services and EndpointSlices.

It listens on the node's pod gateway address (``10.244.<n>.1``), which exists only once the first pod
made the bridge, so its sockets are bound with IP_FREEBIND. Nothing is forwarded upstream unless
``--upstream`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
from collections.abc import Sequence

from client.changes import ChangeTrigger, sync_on_changes
from client.flags import add_client_flags, rest_client_from_args
from client.informer import SharedInformerFactory
from client.mapping import lookup
from clusterdns import records, sources
from clusterdns.resolver import Resolver, Zones
from clusterdns.server import DnsServer
from process import log as process_log
from process.flags import ComponentParser
from process.shutdown import serve

IP_FREEBIND = 15
REBUILD_DELAY = 0.1  # coalesce a burst of endpoint changes into one rebuild


def parser() -> argparse.ArgumentParser:
    p = ComponentParser("clusterdns", description="Serve the cluster's DNS names on this node.")
    add_client_flags(p)
    p.add_argument("--bind-address", required=True, help="address to serve on (the node's pod gateway)")
    p.add_argument("--port", type=int, default=53)
    p.add_argument("--cluster-domain", default="cluster.local")
    p.add_argument("--service-cidr", default="10.96.0.0/12")
    p.add_argument("--cluster-cidr", default="10.244.0.0/16")
    p.add_argument("--upstream", action="append", default=[],
                   help="HOST[:PORT] to forward names outside the cluster to (default: none; they are refused)")
    return p


def freebind_sockets(host: str, port: int) -> tuple[socket.socket, socket.socket]:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    for sock in (udp, tcp):
        sock.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    tcp.listen(128)
    return udp, tcp


async def run(args: argparse.Namespace, stop: asyncio.Event) -> int:
    client = rest_client_from_args(args, "tinykube-clusterdns")
    factory = SharedInformerFactory(client)
    svc_informer = factory.informer(lookup("services"))
    slice_informer = factory.informer(lookup("endpointslices.discovery.k8s.io"))
    zones = Zones(args.cluster_domain.rstrip(".") + ".", (args.service_cidr, args.cluster_cidr))
    resolver = Resolver(records.build([], zones.cluster), zones)
    server = DnsServer(resolver, tuple(args.upstream))
    trigger = ChangeTrigger([svc_informer, slice_informer])

    async def rebuild() -> None:
        resolver.records = records.build(sources.services(svc_informer.list(), slice_informer.list()),
                                         zones.cluster)

    udp, tcp = freebind_sockets(args.bind_address, args.port)
    await server.start_on(udp, tcp)
    factory.start()
    try:
        await factory.wait_for_cache_sync()
        await sync_on_changes(trigger, stop, rebuild, delay=REBUILD_DELAY)
    finally:
        await server.stop()
        await factory.shutdown()
        await client.close()
    return 0


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    process_log.configure("clusterdns", args.verbosity)
    return serve(lambda stop: run(args, stop))
