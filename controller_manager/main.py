"""``tinykube controller-manager``: the standard controllers in one leader-elected process.

Only the holder of Lease ``kube-system/kube-controller-manager`` starts informers and controllers;
a leader that loses the Lease exits non-zero (its caches and in-memory expectations must not outlive
leadership, so the supervisor restarts it as a fresh candidate). ``/healthz`` and ``/metrics`` are
served on ``--bind-address:--secure-port`` (0 disables them): over HTTPS with ``--tls-cert-file``, /metrics
then only for callers a SubjectAccessReview allows (see client.secure_serving); plain HTTP otherwise,
meant for loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import socket
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from client.events import EventRecorder
from client.flags import (
    add_client_flags,
    add_leader_election_flags,
    leader_election_client,
    leader_election_from_args,
    parse_duration,
    rest_client_from_args,
)
from client.informer import SharedInformer, SharedInformerFactory
from client.leaderelection import LeaderElector
from client.rest import ResourceRef, RestClient
from client.secure_serving import add_serving_flags, serving_middlewares, serving_tls
from client.workqueue import run_workers
from controller_manager.controllers import CONTROLLERS, Context, Controller, selected
from controller_manager.discovery import deletable_resources
from process import log as process_log
from process.flags import ComponentParser, parse_bool
from process.metrics import Sample, render
from process.shutdown import serve

log = process_log.get_logger("controller_manager")

COMPONENT = "kube-controller-manager"
REQUESTS_IN_FLIGHT = 8
"""API requests the controllers send at once (watches aside): a ReplicaSet's slow-start batch of 16 creates
and their events queue on 8 warm connections instead of opening a TLS connection per request."""
_CONCURRENCY = {"deployment": 5, "replicaset": 5, "endpoint": 5, "service-endpoint": 5, "namespace": 10,
                "gc": 20, "serviceaccount": 5, "job": 5, "cron-job": 5, "daemonset": 2, "statefulset": 5,
                "rc": 5, "resource-quota": 5, "horizontal-pod-autoscaler": 5}


def parser() -> argparse.ArgumentParser:
    """kube-controller-manager's flags that tinykube implements."""
    p = ComponentParser("controller-manager", description="Run the standard controllers (leader-elected).")
    add_client_flags(p)
    add_leader_election_flags(p, resource_name="kube-controller-manager")
    p.add_argument("--controllers", default="*", type=lambda s: s.split(","),
                   help="controllers to run: '*' for all, 'foo' to enable, '-foo' to disable "
                        f"(known: {', '.join(sorted(CONTROLLERS))})")
    for name, default in _CONCURRENCY.items():
        p.add_argument(f"--concurrent-{name}-syncs", type=int, default=default,
                       help=f"how many {name} keys are synced concurrently")
    p.add_argument("--allocate-node-cidrs", type=parse_bool, nargs="?", const=True, default=False,
                   help="give every Node a spec.podCIDR from --cluster-cidr")
    p.add_argument("--cluster-cidr", default="10.244.0.0/16", help="the pod network's CIDR")
    p.add_argument("--node-cidr-mask-size", type=int, default=24, help="prefix length of each Node's pod CIDR")
    p.add_argument("--node-monitor-grace-period", type=parse_duration, default=50.0,
                   help="how long a Node may go unreported before it is marked Unknown")
    p.add_argument("--node-monitor-period", type=parse_duration, default=5.0, help="how often Node health is checked")
    p.add_argument("--root-ca-file", default=None,
                   help="CA bundle published as the kube-root-ca.crt ConfigMap in every namespace")
    p.add_argument("--service-account-private-key-file", default=None,
                   help="RSA key that signs the tokens of kubernetes.io/service-account-token Secrets "
                        "(without it serviceaccount-token only deletes the Secrets of vanished accounts)")
    p.add_argument("--cluster-signing-cert-file", default=None,
                   help="CA certificate that signs kubelet CSRs (csrsigning; without it the signer is off)")
    p.add_argument("--cluster-signing-key-file", default=None, help="key of --cluster-signing-cert-file")
    p.add_argument("--cluster-signing-duration", type=parse_duration, default=365 * 24 * 3600.0,
                   help="the longest lifetime of a signed certificate")
    p.add_argument("--bind-address", default="127.0.0.1", help="address of the healthz/metrics endpoint")
    p.add_argument("--secure-port", type=int, default=10257,
                   help="port of the healthz/metrics endpoint (0 disables it)")
    add_serving_flags(p)
    return p


async def _root_ca(args: argparse.Namespace, rest: RestClient) -> str | None:
    """The CA bundle to publish: ``--root-ca-file``, else the CA the kubeconfig trusts (as upstream)."""
    if args.root_ca_file:
        return await asyncio.to_thread(Path(args.root_ca_file).read_text)
    ca = rest.config.tls.ca_data
    return ca.decode() if ca else None


def _depth(controller: Controller) -> float:
    return float(len(controller.queue))


class Manager:
    """The leader's work: informers for what the selected controllers read, their queues and workers."""

    def __init__(self, args: argparse.Namespace, rest: RestClient, names: list[str]) -> None:
        self.args = args
        self.rest = rest
        self.names = names
        self.controllers: list[Controller] = []

    async def run(self) -> None:
        """Build every controller, sync the caches, then run the workers until cancelled."""
        root_ca = await _root_ca(self.args, self.rest)
        if root_ca is None and "root-ca-cert-publisher" in self.names:
            log.warning("no CA to publish (no --root-ca-file, no CA in the kubeconfig): "
                        "not running root-ca-cert-publisher")
            self.names = [n for n in self.names if n != "root-ca-cert-publisher"]
        if "csrsigning" in self.names and not (self.args.cluster_signing_cert_file
                                               and self.args.cluster_signing_key_file):
            log.warning("no --cluster-signing-cert-file/--cluster-signing-key-file: not running csrsigning")
            self.names = [n for n in self.names if n != "csrsigning"]
        factory = SharedInformerFactory(self.rest)
        specs = [CONTROLLERS[n] for n in self.names]
        namespaced = [ref for ref in await deletable_resources(self.rest) if ref.namespaced] \
            if any(s.all_namespaced for s in specs) else []
        informers: dict[ResourceRef, SharedInformer] = {}
        for spec in specs:
            for ref in (*spec.reads, *(namespaced if spec.all_namespaced else ())):
                informers[ref] = factory.informer(ref)
        recorder = EventRecorder(self.rest, COMPONENT, socket.gethostname())
        ctx = Context(self.rest, informers, recorder, self.args, namespaced, root_ca, factory)
        self.controllers = [CONTROLLERS[n].build(ctx) for n in self.names]
        factory.start()
        try:
            await factory.wait_for_cache_sync()
            log.info("caches synced; starting controllers", controllers=",".join(self.names))
            async with asyncio.TaskGroup() as tg:
                for c in self.controllers:
                    tg.create_task(run_workers(c.queue, c.sync, workers=max(1, c.workers)), name=c.name)
        finally:
            for c in self.controllers:
                c.queue.shutdown()
            await factory.shutdown()
            await recorder.flush()

    def metrics(self) -> str:
        """Queue depths per controller, in Prometheus text format."""
        samples = [Sample("workqueue_depth_" + c.name.replace("-", "_"), "gauge", f"depth of the {c.name} queue",
                          functools.partial(_depth, c))
                   for c in self.controllers]
        return render(samples)


async def _serve_health(args: argparse.Namespace, manager: Manager, rest: RestClient) -> web.AppRunner | None:
    if not args.secure_port:
        return None

    async def healthz(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(text=manager.metrics(), content_type="text/plain")

    app = web.Application(middlewares=serving_middlewares(args, rest))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, args.bind_address, args.secure_port, ssl_context=serving_tls(args)).start()
    return runner


async def run(args: argparse.Namespace, stop: asyncio.Event) -> int:
    """Lead (or wait to), run the controllers while leading; 1 if the Lease was lost."""
    names = selected(args.controllers)
    rest = rest_client_from_args(args, COMPONENT, max_requests_in_flight=REQUESTS_IN_FLIGHT)
    manager = Manager(args, rest, names)
    runner = await _serve_health(args, manager, rest)
    election = leader_election_from_args(args)
    election_rest = leader_election_client(rest)
    failed = asyncio.Event()

    async def lead() -> None:
        # The elector only logs a failure of its leader work and keeps renewing: a manager that
        # crashed must not sit on the Lease, so the failure ends the process instead.
        try:
            await manager.run()
        except Exception:
            log.error("controller manager failed", exc_info=True)
            failed.set()
            raise

    lost = False
    try:
        if election is None:
            work: asyncio.Task[None] = asyncio.create_task(lead())
        else:
            elector = LeaderElector(election_rest, election, on_started_leading=lead,
                                    on_new_leader=lambda who: log.info("new leader", leader=who))
            work = asyncio.create_task(elector.run())
        waits = {asyncio.create_task(stop.wait()), asyncio.create_task(failed.wait())}
        await asyncio.wait({work, *waits}, return_when=asyncio.FIRST_COMPLETED)
        if not stop.is_set():
            lost = True
            exc = work.exception() if work.done() and not work.cancelled() else None
            log.error("leaderelection lost" if election is not None and not failed.is_set() else "controllers stopped",
                      error=str(exc) if exc else "")
        for t in waits:
            t.cancel()
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await work
    finally:
        if runner is not None:
            await runner.cleanup()
        await rest.close()
        await election_rest.close()
    return 1 if lost else 0


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    try:
        selected(args.controllers)
    except ValueError as exc:
        parser().error(str(exc))
    process_log.configure("controller-manager", args.verbosity)
    return serve(lambda stop: run(args, stop))
