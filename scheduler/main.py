"""``tinykube scheduler``: kube-scheduler. Leader-elected on Lease ``kube-system/kube-scheduler``; every
replica keeps its informers, cache and queue warm but only the leader schedules, and a leader that loses its
Lease exits non-zero (as kube-scheduler does) so a supervisor restarts it as a clean standby. SIGTERM
finishes in-flight writes and releases the Lease.

``/healthz`` and ``/metrics`` are served on ``--bind-address:--secure-port`` over HTTPS when
``--tls-cert-file``/``--tls-private-key-file`` are given (/metrics then only for callers the apiserver
authorizes, see client.secure_serving), else over plain HTTP (meant for loopback).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from client.events import EventRecorder
from client.flags import (
    add_client_flags,
    add_leader_election_flags,
    leader_election_client,
    leader_election_from_args,
    rest_client_from_args,
)
from client.informer import SharedInformerFactory
from client.leaderelection import LeaderElector
from client.rest import RestClient
from client.secure_serving import add_serving_flags, serving_middlewares, serving_tls
from process import log as process_log
from process.flags import ComponentParser
from process.log import get_logger
from process.shutdown import serve
from scheduler.driver import Scheduler
from scheduler.metrics import SchedulerMetrics
from scheduler.profile import Profile, ProfileError, profiles_from_configuration

log = get_logger("scheduler")

REQUESTS_IN_FLIGHT = 8
"""API requests sent at once (watches aside): a burst of bindings and events queues on 8 warm connections
instead of opening a TLS connection per request (kube-scheduler multiplexes them over one HTTP/2 connection)."""
# How long informers may take to list everything before the leader gives up (and exits non-zero).
CACHE_SYNC_TIMEOUT = 120.0


def parser() -> argparse.ArgumentParser:
    p = ComponentParser("scheduler", description="Place pending pods on nodes (kube-scheduler).")
    add_client_flags(p)
    add_leader_election_flags(p, resource_name="kube-scheduler")
    p.add_argument("--config", type=Path, default=None,
                   help="KubeSchedulerConfiguration YAML (profiles, plugins, percentageOfNodesToScore)")
    p.add_argument("--secure-port", type=int, default=10259,
                   help="port for /healthz and /metrics (0 disables serving)")
    p.add_argument("--bind-address", default="127.0.0.1", help="address for /healthz and /metrics")
    add_serving_flags(p)
    return p


def load_profiles(path: Path | None) -> list[Profile]:
    """The profiles of ``--config`` (the default profile without one); errors name the file."""
    if path is None:
        return profiles_from_configuration(None)
    try:
        raw: Any = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ProfileError(f"--config {path}: {exc}") from exc
    if raw is not None and not isinstance(raw, dict):
        raise ProfileError(f"--config {path}: expected a KubeSchedulerConfiguration mapping")
    kind = (raw or {}).get("kind", "KubeSchedulerConfiguration")
    if kind != "KubeSchedulerConfiguration":
        raise ProfileError(f"--config {path}: kind is {kind!r}, expected KubeSchedulerConfiguration")
    try:
        return profiles_from_configuration(raw)
    except ProfileError as exc:
        raise ProfileError(f"--config {path}: {exc}") from exc


class Process:
    """The scheduler process: the HTTP endpoints outlive leadership; the Scheduler exists only while leading."""

    def __init__(self, args: argparse.Namespace, client: RestClient, profiles: list[Profile]) -> None:
        self.args = args
        self.client = client
        self.election_client = leader_election_client(client)
        self.profiles = profiles
        self.metrics = SchedulerMetrics()
        # Informers, cache and queue run from the start, leading or not (as kube-scheduler's do): a standby
        # that takes over already holds a synced view and only has to start the scheduling loop.
        self.factory = SharedInformerFactory(client)
        recorder = EventRecorder(client, profiles[0].scheduler_name)
        self.scheduler = Scheduler(client, profiles, recorder=recorder, metrics=self.metrics)
        self.scheduler.watch(self.factory)
        self.leading = False
        self.elector: LeaderElector | None = None
        self.drained = asyncio.Event()
        self.failed = asyncio.Event()

    def is_leader(self) -> bool:
        return self.elector.is_leader() if self.elector is not None else self.leading

    async def lead(self, stop: asyncio.Event) -> None:
        """Schedule until ``stop`` (once the informers have synced); then let the writes in flight finish."""
        self.leading = True
        try:
            await self._schedule(self.factory, self.scheduler, stop)
        except Exception:
            self.failed.set()  # leading without scheduling would only keep a healthy standby out
            raise
        finally:
            self.drained.set()

    async def _schedule(self, factory: SharedInformerFactory, sched: Scheduler, stop: asyncio.Event) -> None:
        if not await factory.wait_for_cache_sync(CACHE_SYNC_TIMEOUT):
            raise RuntimeError(f"informer caches did not sync within {CACHE_SYNC_TIMEOUT:g}s")
        log.info("caches synced; scheduling", profiles=",".join(sched.profiles))
        loop = asyncio.get_running_loop().create_task(sched.run(), name="scheduling loop")
        stopping = asyncio.get_running_loop().create_task(stop.wait())
        try:
            await asyncio.wait({loop, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (loop, stopping):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await sched.drain()

    def routes(self) -> web.RouteTableDef:
        routes = web.RouteTableDef()

        @routes.get("/healthz")
        async def healthz(_request: web.Request) -> web.Response:
            return web.Response(text="ok")

        @routes.get("/metrics")
        async def metrics(_request: web.Request) -> web.Response:
            text = self.metrics.render(self.scheduler.queue_lengths, self.is_leader)
            return web.Response(text=text, content_type="text/plain")

        return routes

    async def serve_http(self) -> web.AppRunner | None:
        if self.args.secure_port == 0:
            return None
        app = web.Application(middlewares=serving_middlewares(self.args, self.client))
        app.add_routes(self.routes())
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, self.args.bind_address, self.args.secure_port,
                          ssl_context=serving_tls(self.args)).start()
        return runner

    async def run(self, stop: asyncio.Event) -> int:
        """0 after a graceful stop; 1 when leadership was lost or leading failed."""
        self.factory.start()
        try:
            return await self._run(stop)
        finally:
            await self.factory.shutdown()

    async def _run(self, stop: asyncio.Event) -> int:
        election = leader_election_from_args(self.args)
        lead_stop = asyncio.Event()
        if election is None:
            work = asyncio.get_running_loop().create_task(self.lead(lead_stop))
        else:
            self.elector = LeaderElector(self.election_client, election,
                                         on_started_leading=lambda: self.lead(lead_stop),
                                         on_new_leader=lambda who: log.info("new leader", identity=who))
            work = asyncio.get_running_loop().create_task(self.elector.run())
        stopping = asyncio.get_running_loop().create_task(stop.wait())
        failing = asyncio.get_running_loop().create_task(self.failed.wait())
        await asyncio.wait({work, stopping, failing}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        failing.cancel()
        if self.failed.is_set():
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
            return 1
        if work.done():
            exc = None if work.cancelled() else work.exception()
            log.error("stopped leading" if election is not None else "scheduling stopped",
                      error=str(exc) if exc else "lease lost")
            return 1
        lead_stop.set()
        if self.leading:  # finish writes before giving the Lease away
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    await self.drained.wait()
        work.cancel()  # the elector releases the Lease on cancel
        with contextlib.suppress(asyncio.CancelledError):
            await work
        return 0


async def run(args: argparse.Namespace, stop: asyncio.Event) -> int:
    try:
        profiles = load_profiles(args.config)
    except ProfileError as exc:
        log.error("invalid configuration", error=str(exc))
        return 2
    client = rest_client_from_args(args, "tinykube-scheduler", max_requests_in_flight=REQUESTS_IN_FLIGHT)
    proc = Process(args, client, profiles)
    runner = await proc.serve_http()
    try:
        return await proc.run(stop)
    finally:
        if runner is not None:
            await runner.cleanup()
        await client.close()
        await proc.election_client.close()


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    process_log.configure("scheduler", args.verbosity)
    return serve(lambda stop: run(args, stop))
