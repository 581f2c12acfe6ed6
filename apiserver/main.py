"""`tinykube apiserver`: the Kubernetes REST API over the store, with kube-apiserver's flag names.

Serves HTTPS only (kubectl sends credentials over TLS alone); client certificates are requested but
optional, so tokens work too. Start-up writes the bootstrap objects once the store answers; until then
/readyz reports the store as failing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import ssl
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from apiserver import encryption, heap, http_log
from apiserver.admission import DEFAULT_PLUGINS, Admission, enabled_plugins
from apiserver.allocators import Allocators
from apiserver.audit import policy as audit_policy
from apiserver.audit.log import AuditLog
from apiserver.audit.middleware import Auditor
from apiserver.authn import options as authn_options
from apiserver.authz.authorization import Authorization
from apiserver.authz.policy_reconcile import reconcile_policy
from apiserver.authz.union import MODES, parse_modes
from apiserver.bootstrap import bootstrap
from apiserver.discovery import Discovery
from apiserver.endpoints import EndpointReconciler
from apiserver.errors import APIError
from apiserver.handlers import Handlers
from apiserver.kinds import Kinds
from apiserver.kubelet_proxy import KubeletProxy
from apiserver.openapi import OpenAPI
from apiserver.registry import Registry
from apiserver.reviews import Reviews
from apiserver.server import App
from apiserver.watch_cache import WatchCaches
from process import log as plog
from process.flags import ComponentParser
from process.shutdown import serve
from store.client import StoreClient, TLSConfig
from store.errors import EtcdError

log = plog.get_logger("apiserver")

MAX_HEADER_BYTES = 64 * 1024
"""Header values up to this size reach the handlers (an oversized token then gets its 401, not a parser error)."""


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def parser() -> ComponentParser:
    """The flags, named as kube-apiserver names them."""
    p = ComponentParser("apiserver", description="Serve the Kubernetes API over the store.")
    p.add_argument("--etcd-servers", type=_csv, required=True, help="store endpoints, comma-separated URLs")
    p.add_argument("--etcd-cafile", type=Path, help="CA of the store members' certificates")
    p.add_argument("--etcd-certfile", type=Path, help="client certificate for the store")
    p.add_argument("--etcd-keyfile", type=Path, help="client key for the store")
    p.add_argument("--bind-address", default="0.0.0.0", help="address to listen on")
    p.add_argument("--secure-port", type=int, default=6443, help="HTTPS port")
    p.add_argument(
        "--advertise-address",
        help="address published in the kubernetes Endpoints (default: --bind-address, or 127.0.0.1 for 0.0.0.0)",
    )
    p.add_argument("--tls-cert-file", type=Path, required=True, help="serving certificate")
    p.add_argument("--tls-private-key-file", type=Path, required=True, help="serving key")
    p.add_argument("--client-ca-file", type=Path, help="CA whose client certificates authenticate users")
    authn_options.add_flags(p)
    p.add_argument("--service-cluster-ip-range", default="10.96.0.0/12", help="CIDR of Service ClusterIPs")
    p.add_argument("--service-node-port-range", default="30000-32767", help="range of Service NodePorts")
    p.add_argument(
        "--authorization-mode",
        default="AlwaysAllow",
        help=f"comma-separated authorizers asked in order ({', '.join(MODES)}), e.g. Node,RBAC",
    )
    p.add_argument(
        "--enable-admission-plugins",
        type=_csv,
        default=[],
        help=f"admission plugins on top of the defaults ({','.join(DEFAULT_PLUGINS)}), e.g. NodeRestriction",
    )
    p.add_argument(
        "--disable-admission-plugins", type=_csv, default=[], help="admission plugins to turn off, even defaults"
    )
    p.add_argument(
        "--encryption-provider-config",
        type=Path,
        help="EncryptionConfiguration (apiserver.config.k8s.io/v1): which resources are encrypted in the store, how",
    )
    p.add_argument("--audit-log-path", help="write audit events here as JSON lines ('-' for stdout)")
    p.add_argument("--audit-policy-file", type=Path, help="audit.k8s.io/v1 Policy; no auditing without it")
    p.add_argument("--audit-log-maxsize", type=int, default=0, help="megabytes before the audit log is rotated")
    p.add_argument("--audit-log-maxbackup", type=int, default=0, help="rotated audit logs to keep (0: all)")
    p.add_argument("--kubelet-client-certificate", type=Path, help="client certificate presented to kubelets")
    p.add_argument("--kubelet-client-key", type=Path, help="key of --kubelet-client-certificate")
    p.add_argument(
        "--kubelet-certificate-authority", type=Path, help="CA of kubelet serving certificates (unverified if unset)"
    )
    p.add_argument("--request-timeout", type=float, default=60.0, help="seconds before a non-watch request fails")
    p.add_argument("--store-timeout", type=float, default=5.0, help="seconds one store call may take")
    return p


# TLS 1.2 clients that send no signature_algorithms extension (busybox wget in pods, RFC 5246 §7.4.1.4.1) can
# only verify a SHA-1 ServerKeyExchange signature; OpenSSL 3 refuses SHA-1 signatures above security level 0,
# while Go's TLS (kube-apiserver) still serves them. Ciphers stay ECDHE with AEAD; clients that name their
# signature algorithms still get SHA-256 or better.
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:@SECLEVEL=0"


def tls_context(args: argparse.Namespace) -> ssl.SSLContext:
    """HTTPS (TLS 1.2+) with optional client certificates from --client-ca-file."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(TLS12_CIPHERS)
    ctx.load_cert_chain(args.tls_cert_file, args.tls_private_key_file)
    if args.client_ca_file:
        ctx.load_verify_locations(cafile=str(args.client_ca_file))
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


async def _bootstrap_then_reconcile(
    handlers: Handlers,
    reconciler: EndpointReconciler,
    ip: str,
    port: int,
    stop: asyncio.Event,
    *,
    authorization: Authorization,
) -> None:
    """Retry bootstrap until the store answers (an apiserver may start before its store has a leader),
    then keep the `kubernetes` endpoints current until `stop`."""
    while not stop.is_set():
        try:
            await bootstrap(handlers, ip, port)
            await reconcile_policy(handlers)
            authorization.policy_ready.set()
            break
        except (APIError, EtcdError, TimeoutError) as err:
            log.warning("bootstrap failed; retrying", error=str(err))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
    if not stop.is_set():  # the start-up heap and the caches' first lists, out of the collector's full passes
        await heap.settle(cache.ready for cache in handlers.caches.caches.values())
    await reconciler.run(stop)


async def run(args: argparse.Namespace, stop: asyncio.Event) -> int:
    """Serve until `stop` is set."""
    try:
        modes = parse_modes(args.authorization_mode)
    except ValueError as err:
        log.error("invalid --authorization-mode", error=str(err))
        return 2
    try:
        plugins = enabled_plugins(args.enable_admission_plugins, args.disable_admission_plugins)
    except ValueError as err:
        log.error("invalid admission plugin flags", error=str(err))
        return 2
    try:
        config = args.encryption_provider_config
        transformer = encryption.load(config) if config else encryption.PLAINTEXT
    except encryption.ConfigError as err:
        log.error("invalid --encryption-provider-config", error=str(err))
        return 2
    auditor: Auditor | None = None
    if args.audit_policy_file and args.audit_log_path:  # kube-apiserver audits only with both
        try:
            policy = audit_policy.load(args.audit_policy_file)
            audit_log = AuditLog(args.audit_log_path, args.audit_log_maxsize, args.audit_log_maxbackup)
        except (audit_policy.PolicyError, OSError) as err:
            log.error("invalid audit configuration", error=str(err))
            return 2
        auditor = Auditor(policy, audit_log)
    store_tls = TLSConfig(args.etcd_cafile, args.etcd_certfile, args.etcd_keyfile) if args.etcd_cafile else None
    client = StoreClient(args.etcd_servers, timeout=args.store_timeout, tls=store_tls)
    registry = Registry(client, transformer)
    caches = WatchCaches(client, transformer)
    kinds = Kinds(registry)
    admission = Admission(registry, caches, plugins)
    authorization = Authorization(
        modes, caches, {(group, plural): kind.storage_prefix for (group, _, plural), kind in kinds.builtin.items()}
    )
    allocators = Allocators(client, args.service_cluster_ip_range, args.service_node_port_range)
    try:
        authn = authn_options.build(args, caches, registry, authorization)
    except (OSError, ValueError) as err:
        log.error("cannot set up authentication", error=str(err))
        return 2
    reviews = Reviews(authn.authenticator, authn.token_requests, authorization.reviews)
    kubelet = KubeletProxy(
        registry,
        kinds.builtin[("", "v1", "nodes")].storage_prefix,
        args.kubelet_client_certificate,
        args.kubelet_client_key,
        args.kubelet_certificate_authority,
    )
    handlers = Handlers(
        registry=registry,
        caches=caches,
        kinds=kinds,
        admission=admission,
        allocators=allocators,
        reviews=reviews,
        kubelet=kubelet,
        request_timeout=args.request_timeout,
        escalation=authorization.escalation,
    )
    advertise = args.advertise_address or (
        args.bind_address if not ipaddress.ip_address(args.bind_address).is_unspecified else "127.0.0.1"
    )
    app = App(
        handlers=handlers,
        authenticator=authn.authenticator,
        authorization=authorization,
        discovery=Discovery(kinds, f"{advertise}:{args.secure_port}"),
        openapi=OpenAPI(kinds),
        registry=registry,
        request_timeout=args.request_timeout,
        auditor=auditor,
    )
    # Caches start before serving: every list this apiserver answers is then a valid watch start.
    for prefix in sorted({k.storage_prefix for k in kinds.builtin.values()}):
        caches.get(prefix + "/")
    authorization.start()
    runner = web.AppRunner(
        app.build(),
        access_log=None,
        handle_signals=False,
        shutdown_timeout=1.0,
        max_field_size=MAX_HEADER_BYTES,
        logger=http_log.request_logger(),
    )
    await runner.setup()
    site = web.TCPSite(
        runner, args.bind_address, args.secure_port, ssl_context=tls_context(args), reuse_address=True, backlog=1024
    )
    await site.start()
    log.info("serving", address=f"https://{args.bind_address}:{args.secure_port}", store=",".join(args.etcd_servers))
    reconciler = EndpointReconciler(handlers, client, advertise, args.secure_port)
    boot = asyncio.create_task(
        _bootstrap_then_reconcile(handlers, reconciler, advertise, args.secure_port, stop, authorization=authorization)
    )
    try:
        await stop.wait()
    finally:
        stop.set()
        try:
            await asyncio.wait_for(boot, 5.0)
        except (TimeoutError, asyncio.CancelledError):
            log.warning("the endpoint lease was not released in time; it expires by itself")
        await authorization.stop()
        await caches.stop()
        await kubelet.close()
        await runner.cleanup()
        if auditor is not None:
            auditor.log.close()
        await client.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `tinykube apiserver`."""
    args = parser().parse_args(argv)
    plog.configure("apiserver", args.verbosity)
    return serve(lambda stop: run(args, stop))
