"""``/health`` and ``/metrics`` on ``--listen-metrics-urls``, answered the way etcd answers them.

``/health`` is healthy when the member knows a leader, no alarm is raised, and a linearizable read
barrier completes within a second: the same three things etcd checks.

aiohttp is imported only when the endpoints are served: importing it took half of the store's
import CPU (0.25 of 0.5 s here), and a restarted member should serve its clients as soon as it can.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

from process.metrics import Histogram, Sample, render
from protos.etcd import rpc_pb2
from store.apply import Applier
from store.errors import EtcdError
from store.mvcc.kvstore import KVStore
from store.server import Core, Node

if TYPE_CHECKING:
    from aiohttp import web


class Health:
    """Serves the HTTP endpoints of one member; counts leader changes as the node reports them."""

    def __init__(self, node: Node, core: Core, applier: Applier, kv: KVStore) -> None:
        self.node, self.core, self.applier, self.kv = node, core, applier, kv
        self.leader_changes = 0
        self._metrics: list[Histogram | Sample] = [
            Sample("etcd_server_has_leader", "gauge", "Whether a leader exists (1) or not (0).",
                   lambda: 1 if node.leader_id else 0),
            Sample("etcd_server_is_leader", "gauge", "Whether this member is the leader.",
                   lambda: 1 if core.is_leader else 0),
            Sample("etcd_server_leader_changes_seen_total", "counter", "Leader changes seen by this member.",
                   lambda: self.leader_changes),
            Sample("etcd_server_proposals_committed_total", "gauge", "Raft index committed.",
                   lambda: node.commit_index),
            Sample("etcd_server_proposals_applied_total", "gauge", "Raft index applied.",
                   lambda: node.applied_index),
            Sample("etcd_server_proposals_failed_total", "counter", "Proposals that failed (no leader, timeout).",
                   lambda: core.proposals_failed),
            Sample("etcd_server_term", "gauge", "Current Raft term.", lambda: node.term),
            Sample("etcd_mvcc_db_total_size_in_bytes", "gauge", "Estimated size of the stored history.",
                   lambda: kv.size_bytes),
            Sample("etcd_debugging_mvcc_keys_total", "gauge", "Keys at the current revision.",
                   lambda: kv.key_count),
            Sample("etcd_debugging_mvcc_current_revision", "gauge", "Current store revision.",
                   lambda: kv.revision),
            Sample("etcd_debugging_mvcc_watcher_total", "gauge", "Watchers of this member.",
                   lambda: kv.watch_hub.watcher_count),
            applier.apply_seconds,
        ]

    def add(self, metric: Histogram | Sample) -> None:
        """A metric that exists only once the member has started (the WAL's fsync histogram)."""
        self._metrics.append(metric)

    def on_leader_change(self, old: int, new: int) -> None:
        self.leader_changes += 1

    def app(self) -> web.Application:
        from aiohttp import web  # noqa: PLC0415  # see the module docstring

        app = web.Application()
        app.router.add_get("/health", self._health)
        app.router.add_get("/metrics", self._metrics_text)
        return app

    async def check(self) -> str:
        """Why the member is unhealthy, or "" when it is healthy."""
        if not self.node.leader_id:
            return "RAFT NO LEADER"
        alarms = self.applier.alarms(rpc_pb2.AlarmRequest())
        if alarms:
            return "ALARM " + ",".join(rpc_pb2.AlarmType.Name(a.alarm) for a in alarms)
        try:
            async with asyncio.timeout(1.0):
                await self.node.read_index()
        except (EtcdError, TimeoutError) as err:
            return f"RAFT READ FAILED: {err}"
        return ""

    async def _health(self, request: web.Request) -> web.Response:
        from aiohttp import web  # noqa: PLC0415  # imported by app() already

        reason = await self.check()
        body = json.dumps({"health": "false" if reason else "true", "reason": reason})
        return web.Response(text=body, status=503 if reason else 200, content_type="application/json")

    async def _metrics_text(self, request: web.Request) -> web.Response:
        from aiohttp import web  # noqa: PLC0415  # imported by app() already

        return web.Response(text=render(self._metrics), content_type="text/plain", charset="utf-8",
                            headers={"X-Content-Type-Options": "nosniff"})
