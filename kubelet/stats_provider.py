"""Reads the node (/proc, statvfs) and the runtime (CRI ListPodSandboxStats) for ``kubelet.stats``.

The first request after start has nothing to measure CPU rates against, so it reads twice, a second apart
(cAdvisor would have been sampling all along); later requests measure against the previous one.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from kubelet.cri import CALL_TIMEOUT, CriClient
from kubelet.nodestatus import parse_meminfo
from kubelet.stats import NODE, CpuRates, NodeReading, node_cpu_ns, resource_metrics, summary
from protos.cri import api_pb2 as cri

FIRST_WINDOW = 1.0


def read_node(root_dir: Path) -> NodeReading:
    """The node's CPU time, memory and the filesystem holding the kubelet's root directory."""
    fs = os.statvfs(root_dir)
    return NodeReading(at_ns=time.time_ns(),
                       cpu_ns=node_cpu_ns(Path("/proc/stat").read_text(), os.sysconf("SC_CLK_TCK")),
                       meminfo=parse_meminfo(Path("/proc/meminfo").read_text()),
                       fs_capacity=fs.f_blocks * fs.f_frsize, fs_available=fs.f_bavail * fs.f_frsize,
                       fs_inodes=fs.f_files, fs_inodes_free=fs.f_ffree)


class StatsProvider:
    """Summary documents and resource metrics for one node."""

    def __init__(self, node_name: str, cri_client: CriClient, root_dir: Path) -> None:
        self.node_name = node_name
        self.cri = cri_client
        self.root_dir = root_dir
        self.rates = CpuRates()
        self._lock = asyncio.Lock()

    async def _read(self) -> tuple[NodeReading, list[cri.PodSandboxStats]]:
        reply = await self.cri.runtime.ListPodSandboxStats(cri.ListPodSandboxStatsRequest(), timeout=CALL_TIMEOUT)
        return await asyncio.to_thread(read_node, self.root_dir), list(reply.stats)

    async def summary(self) -> dict[str, Any]:
        """The Summary document; CPU rates cover the time since the previous call (or one second)."""
        async with self._lock:
            if not self.rates.primed(NODE):
                node, sandboxes = await self._read()
                summary(self.node_name, node, sandboxes, self.rates)
                await asyncio.sleep(FIRST_WINDOW)
            node, sandboxes = await self._read()
            return summary(self.node_name, node, sandboxes, self.rates)

    async def resource_metrics(self) -> str:
        """The Prometheus text of /metrics/resource."""
        async with self._lock:
            node, sandboxes = await self._read()
            return resource_metrics(summary(self.node_name, node, sandboxes, self.rates), node.at_ns)
