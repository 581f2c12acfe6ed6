"""``/health`` and ``/metrics`` on ``--listen-metrics-urls``, answered the way etcd answers them.

``/health`` is healthy when the member knows a leader, no alarm is raised, and a linearizable read
barrier completes within a second: the same three things etcd checks.

Served by ``process.http_endpoints`` rather than aiohttp, whose import took half of the store's import
CPU (0.25 of 0.5 s here) and whose server kept ~10 MiB in every member for these two answers.
"""

from __future__ import annotations

import asyncio
import json

from process.http_endpoints import Handler, Reply
from process.metrics import Histogram, Sample, render
from protos.etcd import rpc_pb2
from store.apply import Applier
from store.errors import EtcdError
from store.mvcc.kvstore import KVStore
from store.server import Core, Node


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

    def routes(self) -> dict[str, Handler]:
        return {"/health": self._health, "/metrics": self._metrics_text}

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

    async def _health(self) -> Reply:
        reason = await self.check()
        body = json.dumps({"health": "false" if reason else "true", "reason": reason})
        return Reply(503 if reason else 200, body.encode(), "application/json; charset=utf-8")

    async def _metrics_text(self) -> Reply:
        return Reply(200, render(self._metrics).encode(), "text/plain; charset=utf-8",
                     (("X-Content-Type-Options", "nosniff"),))
