"""``tinykube store``: one member of the store cluster, with etcd's flag names and defaults."""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from process import log as process_log
from process import shutdown
from process.flags import ComponentParser, parse_bool
from process.http_endpoints import EndpointServer
from process.log import get_logger
from protos.etcd import rpc_pb2
from store import grpc_h2
from store.apply import Applier
from store.compactor import Compactor
from store.health import Health
from store.mvcc.kvstore import KVStore
from store.node import NodeConfig, StoreNode
from store.server import (
    ClusterService,
    Core,
    KVService,
    LeaseService,
    MaintenanceService,
    client_server,
)
from store.watch_service import WatchService

log = get_logger("store.main")

GC_YOUNG_THRESHOLD = 20_000
"""Allocations between two young-generation collections (CPython's default is 700). Every request keeps
dozens of objects alive until it is answered, so with 64 in flight a default collection walks thousands
of live objects and finds little garbage: 13 of the leader's ~160 µs of CPU per write went there, 5 with
this threshold (64 concurrent 1 KiB writes). A collection's pause grows with the threshold, so it is only
rare pauses as long as requests leave no reference cycles (store.grpc_h2, store.grpc_channel): when each
left one, the leader stopped for 12-116 ms every second or two under 1,000 reads/s."""


def parser() -> ComponentParser:
    p = ComponentParser("store", description="Run one member of tinykube's store (an etcd v3 compatible cluster).")
    p.add_argument("--name", default="default", help="human-readable name of this member")
    p.add_argument("--data-dir", default=None, help="directory for the WAL and snapshots (default: NAME.etcd)")
    p.add_argument("--listen-client-urls", default="http://localhost:2379",
                   help="comma-separated URLs to serve clients (gRPC) on")
    p.add_argument("--advertise-client-urls", default="http://localhost:2379",
                   help="comma-separated client URLs of this member, as told to the cluster")
    p.add_argument("--listen-peer-urls", default="http://localhost:2380",
                   help="comma-separated URLs to serve Raft peers on")
    p.add_argument("--initial-advertise-peer-urls", default="http://localhost:2380",
                   help="comma-separated peer URLs of this member, as told to the cluster")
    p.add_argument("--initial-cluster", default=None,
                   help="name=peerURL,... of every initial member (default: NAME=initial-advertise-peer-urls)")
    p.add_argument("--initial-cluster-state", choices=["new", "existing"], default="new",
                   help="'new' to bootstrap a cluster, 'existing' to join one (after 'member add')")
    p.add_argument("--initial-cluster-token", default="etcd-cluster",
                   help="distinguishes clusters bootstrapped from the same member list")
    p.add_argument("--heartbeat-interval", type=int, default=100, help="Raft heartbeat interval in ms")
    p.add_argument("--election-timeout", type=int, default=1000, help="Raft election timeout in ms")
    p.add_argument("--snapshot-count", type=int, default=100000,
                   help="applied entries between two snapshots (which let the log be truncated)")
    p.add_argument("--quota-backend-bytes", type=int, default=0,
                   help="raise the NOSPACE alarm and refuse writes beyond this size (0: 2 GiB)")
    p.add_argument("--auto-compaction-mode", choices=["periodic", "revision"], default="periodic",
                   help="how --auto-compaction-retention is read")
    p.add_argument("--auto-compaction-retention", default="0",
                   help="periodic: history to keep ('1h', '30m', or hours); revision: revisions to keep; 0 off")
    p.add_argument("--listen-metrics-urls", default="", help="comma-separated URLs serving /health and /metrics")
    p.add_argument("--experimental-watch-progress-notify-interval", type=parse_duration, default=600.0,
                   help="how often watchers that asked for progress notifications get one (e.g. 10m, 5s)")
    p.add_argument("--cert-file", default="", help="server certificate for client traffic")
    p.add_argument("--key-file", default="", help="key of --cert-file")
    p.add_argument("--trusted-ca-file", default="", help="CA that signs client certificates")
    p.add_argument("--client-cert-auth", type=parse_bool, nargs="?", const=True, default=False,
                   help="require client certificates signed by --trusted-ca-file")
    p.add_argument("--peer-cert-file", default="", help="certificate for peer traffic")
    p.add_argument("--peer-key-file", default="", help="key of --peer-cert-file")
    p.add_argument("--peer-trusted-ca-file", default="", help="CA that signs peer certificates")
    p.add_argument("--peer-client-cert-auth", type=parse_bool, nargs="?", const=True, default=False,
                   help="require peer certificates signed by --peer-trusted-ca-file")
    return p


def split_urls(value: str) -> list[str]:
    return [u.strip() for u in value.split(",") if u.strip()]


def parse_initial_cluster(value: str) -> dict[str, list[str]]:
    """``a=http://h:1,a=http://h:2,b=...`` → {name: [peer URLs]} in etcd's format."""
    members: dict[str, list[str]] = {}
    for item in split_urls(value):
        name, sep, url = item.partition("=")
        if not sep or not name or not url:
            raise ValueError(f"--initial-cluster: {item!r} is not NAME=URL")
        members.setdefault(name, []).append(url)
    return members


def parse_duration(value: str) -> float:
    """Go-style durations as etcd's flags take them: ``1h30m``, ``10m``, ``5s`` (seconds as a float)."""
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", value)
    if not value or match is None:
        raise ValueError(f"{value!r} is not a duration like 1h30m, 10m or 5s")
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600.0 + int(minutes or 0) * 60.0 + float(seconds or 0)


def parse_retention(mode: str, value: str) -> float:
    """Seconds of history (periodic) or revisions (revision) to keep; 0 disables auto-compaction."""
    if mode == "revision":
        return float(int(value))
    if value.isdigit():
        return int(value) * 3600.0  # a bare number is hours, as in etcd
    try:
        return parse_duration(value)
    except ValueError:
        raise ValueError(f"--auto-compaction-retention: {value!r} is not hours or a duration like 1h30m") from None


@dataclass
class Listen:
    """A socket to listen on from one of the *-urls flags."""

    host: str
    port: int
    tls: bool

    @classmethod
    def parse(cls, url: str) -> Listen:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.hostname is None or parts.port is None:
            raise ValueError(f"{url!r} is not a http(s)://HOST:PORT URL")
        return cls(parts.hostname, parts.port, parts.scheme == "https")


# What a gRPC server (grpcio's C core, grpc-go in etcd) accepts over TLS 1.2: ECDHE with AES-GCM only.
# TLS 1.3 suites are OpenSSL's defaults, as there.
_GRPC_TLS12_CIPHERS = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                       "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384")


def client_ssl(args: argparse.Namespace) -> ssl.SSLContext | None:
    """The TLS context of https:// client URLs: h2 by ALPN, and with --client-cert-auth a certificate
    that --trusted-ca-file signed is required of every client (None without --cert-file)."""
    if not args.cert_file:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(_GRPC_TLS12_CIPHERS)
    context.load_cert_chain(args.cert_file, args.key_file)
    context.set_alpn_protocols(["h2"])
    if args.trusted_ca_file:
        context.load_verify_locations(args.trusted_ca_file)
    if args.client_cert_auth:
        context.verify_mode = ssl.CERT_REQUIRED
    return context


async def serve_metrics(urls: Sequence[str], health: Health) -> EndpointServer | None:
    """Serve ``/health`` and ``/metrics`` on ``urls``; None without any."""
    if not urls:
        return None
    server = EndpointServer(health.routes())
    for url in urls:
        listen = Listen.parse(url)
        await server.start(listen.host, listen.port)
    return server


def _peer_ssl(args: argparse.Namespace) -> tuple[ssl.SSLContext | None, ssl.SSLContext | None]:
    """Server and client TLS contexts for peer traffic (both None without --peer-cert-file)."""
    if not args.peer_cert_file:
        return None, None
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(args.peer_cert_file, args.peer_key_file)
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=args.peer_trusted_ca_file or None)
    client.load_cert_chain(args.peer_cert_file, args.peer_key_file)
    if args.peer_trusted_ca_file:
        server.load_verify_locations(args.peer_trusted_ca_file)
        if args.peer_client_cert_auth:
            server.verify_mode = ssl.CERT_REQUIRED
    return server, client


def _forwarding_ssl(args: argparse.Namespace) -> ssl.SSLContext | None:
    """How a follower calls the leader's client port (lease renewals), with this member's own certificate."""
    if not args.trusted_ca_file:
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=args.trusted_ca_file)
    if args.cert_file:
        context.load_cert_chain(args.cert_file, args.key_file)
    context.set_alpn_protocols(["h2"])
    return context


class StoreMember:
    """One member assembled: data model, applier, Raft node, gRPC services, auto-compaction, health."""

    def __init__(self, args: argparse.Namespace) -> None:
        server_ssl, client_ssl = _peer_ssl(args)
        config = NodeConfig(
            name=args.name, data_dir=Path(args.data_dir), initial_cluster=parse_initial_cluster(args.initial_cluster),
            listen_peer_urls=split_urls(args.listen_peer_urls),
            advertise_client_urls=split_urls(args.advertise_client_urls),
            initial_advertise_peer_urls=split_urls(args.initial_advertise_peer_urls),
            initial_cluster_state=args.initial_cluster_state, initial_cluster_token=args.initial_cluster_token,
            heartbeat_interval_ms=args.heartbeat_interval, election_timeout_ms=args.election_timeout,
            snapshot_count=args.snapshot_count, peer_server_ssl=server_ssl, peer_client_ssl=client_ssl)
        # etcd's minimum lease TTL: a lease must outlive the election that may follow a leader's death.
        self.kv = KVStore(min_lease_ttl=math.ceil(1.5 * args.election_timeout / 1000))
        self.applier = Applier(self.kv)
        self.node = StoreNode(config, self.applier, self.kv.lessor)
        self.core = Core(self.node, self.applier, quota_bytes=args.quota_backend_bytes,
                         client_tls=_forwarding_ssl(args))
        self.watch = WatchService(self.core, self.kv.watch_hub, no_leader_grace=3 * args.election_timeout / 1000,
                                  progress_interval=args.experimental_watch_progress_notify_interval)
        self.health = Health(self.node, self.core, self.applier, self.kv)
        self.node.add_leader_listener(self.health.on_leader_change)
        retention = parse_retention(args.auto_compaction_mode, args.auto_compaction_retention)
        self.compactor = Compactor(args.auto_compaction_mode, retention, revision=lambda: self.applier.revision,
                                   is_leader=lambda: self.core.is_leader,
                                   compact=lambda rev: self.core.propose(
                                       "compact", rpc_pb2.CompactionRequest(revision=rev))) if retention else None
        self._tasks: list[asyncio.Task[None]] = []

    def register(self, server: grpc_h2.Server) -> None:
        services = rpc_pb2.DESCRIPTOR.services_by_name
        kv = KVService(self.core)
        server.add_service(services["KV"], kv)
        for method, (start, finish) in kv.started_calls().items():
            server.add_started(f"/{services['KV'].full_name}/{method}", start, finish)
        server.add_service(services["Watch"], self.watch)
        server.add_service(services["Lease"], LeaseService(self.core))
        server.add_service(services["Cluster"], ClusterService(self.core))
        server.add_service(services["Maintenance"], MaintenanceService(self.core))

    async def start(self) -> None:
        await self.node.start()
        if self.node.wal_fsync_seconds is not None:
            self.health.add(self.node.wal_fsync_seconds)
        self.watch.start()
        if self.compactor is not None:
            self._tasks.append(asyncio.create_task(self.compactor.run()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.watch.stop()
        await self.core.close()
        # The node hands leadership to the most up-to-date voter before it stops (etcd does the same).
        await self.node.stop(transfer_leadership=True)


async def run(args: argparse.Namespace, stop: asyncio.Event) -> int:
    member = StoreMember(args)
    tls = client_ssl(args)
    listens = [Listen.parse(url) for url in split_urls(args.listen_client_urls)]
    if any(listen.tls for listen in listens) and tls is None:
        log.error("--listen-client-urls has https URLs: --cert-file and --key-file are required")
        return 2
    await member.start()
    # One server for http:// and https:// URLs alike.
    server = client_server()
    member.register(server)
    for listen in listens:
        if listen.tls and tls is not None:
            server.add_secure_port(f"{listen.host}:{listen.port}", tls)
        else:
            server.add_insecure_port(f"{listen.host}:{listen.port}")
    await server.start()
    metrics = await serve_metrics(split_urls(args.listen_metrics_urls), member.health)
    log.info("serving clients", name=args.name, member=f"{member.node.member_id:x}", urls=args.listen_client_urls)
    # A member removed from the cluster, or whose Raft loop failed, must not keep serving stale state.
    stopped = asyncio.create_task(member.node.wait_stopped())
    signalled = asyncio.create_task(stop.wait())
    await asyncio.wait([stopped, signalled], return_when=asyncio.FIRST_COMPLETED)
    signalled.cancel()
    await server.stop(grace=1.0)
    if metrics is not None:
        await metrics.close()
    if stopped.done():
        failure = member.node.failure
        log.error("the member stopped: exiting", reason=str(failure) if failure else "removed from the cluster")
        await member.stop()
        return 1
    stopped.cancel()
    await member.stop()
    return 0


def main(argv: Sequence[str]) -> int:
    flags = parser()
    args = flags.parse_args(argv)
    process_log.configure("store", args.verbosity)
    if args.data_dir is None:
        args.data_dir = f"{args.name}.etcd"
    if args.initial_cluster is None:
        args.initial_cluster = ",".join(f"{args.name}={u}" for u in split_urls(args.initial_advertise_peer_urls))
    # Bad flag values are one-line usage errors here, not tracebacks from deep inside start-up.
    try:
        parse_initial_cluster(args.initial_cluster)
        parse_retention(args.auto_compaction_mode, args.auto_compaction_retention)
        if args.snapshot_count <= 0:
            raise ValueError(f"--snapshot-count must be positive, got {args.snapshot_count}")
        for urls in (args.listen_client_urls, args.listen_peer_urls, args.listen_metrics_urls):
            for url in split_urls(urls):
                Listen.parse(url)
    except ValueError as err:
        flags.error(str(err))
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    return shutdown.serve(lambda stop: run(args, stop))

