"""The eviction loop: observe the node's signals, report pressure, and evict one pod per pass when a hard
threshold is crossed (ranking and wording come from ``kubelet.eviction``).

Signals are measured as the kubelet measures them on cgroup v1 nodes: memory.available from the kernel's
MemAvailable, nodefs.available from statvfs of the kubelet's root dir, pid.available from pid_max minus
the processes alive; per-pod usage comes from the runtime's container stats.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Final

import grpc

from kubelet.cri import CriClient
from kubelet.eviction import (
    MEMORY_AVAILABLE,
    NODEFS_AVAILABLE,
    PID_AVAILABLE,
    Evaluation,
    Observation,
    PodUsage,
    PressureState,
    Threshold,
    evaluate,
    evicted_status,
    eviction_message,
    rank,
)
from kubelet.nodestatus import parse_meminfo
from kubelet.status import rfc3339
from process.log import get_logger

log = get_logger("kubelet.eviction")

MONITORING_PERIOD: Final = 10.0


def observe(root_dir: Path) -> dict[str, Observation]:
    """The node's current signals."""
    mem = parse_meminfo(Path("/proc/meminfo").read_text())
    fs = os.statvfs(root_dir)
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    running = sum(1 for entry in os.listdir("/proc") if entry.isdigit())
    return {MEMORY_AVAILABLE: Observation(mem.get("MemAvailable", 0), mem.get("MemTotal", 0)),
            NODEFS_AVAILABLE: Observation(fs.f_bavail * fs.f_frsize, fs.f_blocks * fs.f_frsize),
            PID_AVAILABLE: Observation(pid_max - running, pid_max)}


class EvictionManager:
    """Runs the eviction loop for one node."""

    def __init__(self, thresholds: Sequence[Threshold], cri: CriClient, root_dir: Path,
                 pods: Callable[[], list[dict[str, Any]]],
                 evict: Callable[[dict[str, Any], dict[str, Any]], Awaitable[None]]) -> None:
        self.thresholds = list(thresholds)
        self.cri = cri
        self.root_dir = root_dir
        self.pods = pods
        self.evict = evict
        self.state = PressureState()
        self.last = Evaluation([], frozenset())
        self._evicted: set[str] = set()

    def pressures(self) -> frozenset[str]:
        """The pressure conditions the Node should report now."""
        return self.last.conditions

    async def synchronize(self) -> str:
        """One pass; returns the uid of the pod evicted, if any."""
        observations = await asyncio.to_thread(observe, self.root_dir)
        self.last = evaluate(self.thresholds, observations, self.state, time.time())
        if not self.last.crossed:
            return ""
        threshold = self.last.crossed[0]
        try:
            usage = await self.cri.container_usage()
        except grpc.aio.AioRpcError as err:
            log.warning("no container stats; cannot rank pods for eviction", error=err.details() or "")
            return ""
        candidates = []
        for pod in self.pods():
            uid = pod["metadata"]["uid"]
            phase = (pod.get("status") or {}).get("phase")
            if uid in self._evicted or phase in ("Succeeded", "Failed"):
                continue
            mine = [u for u in usage if u.pod_uid == uid]
            candidates.append(PodUsage(pod, memory={u.name: u.memory_working_set for u in mine},
                                       disk={u.name: u.disk_bytes for u in mine}))
        ranked = rank(threshold.signal, candidates)
        if not ranked:
            return ""
        victim = ranked[0]
        message = eviction_message(threshold, observations[threshold.signal], victim)
        uid = victim.pod["metadata"]["uid"]
        self._evicted.add(uid)
        log.info("evicting pod", pod=victim.pod["metadata"]["name"], signal=threshold.signal)
        await self.evict(dict(victim.pod), evicted_status(message, rfc3339(time.time())))
        return str(uid)

    async def run_forever(self, period: float = MONITORING_PERIOD) -> None:
        """Synchronize every ``period`` seconds (upstream's housekeeping interval)."""
        while True:
            try:
                await self.synchronize()
            except OSError as err:
                log.warning("eviction pass failed", error=str(err))
            await asyncio.sleep(period)
