"""Hollow pods (kubemark's hollow kubelet): bound pods are reported Running with no containers behind them.

For scheduler and controller benchmarks at scale: each pod gets a ready sandbox with a fake IP and running
containers in a synthetic runtime view, and the real status core renders the status, so what the API sees
is what a real kubelet would report for a healthy pod. Deleted pods are confirmed at once.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Awaitable, Callable
from typing import Any

from kubelet.podsync import is_terminating
from kubelet.runtime_view import RUNNING, SANDBOX_READY, ContainerView, PodRuntime, SandboxView
from kubelet.status import StatusInputs, pod_status


class HollowPods:
    """Same inputs as PodWorkers (update/remove), no runtime."""

    def __init__(self, host_ips: tuple[str, ...], pod_cidr: str,
                 report: Callable[[dict[str, Any], dict[str, Any]], Awaitable[bool]],
                 on_terminated: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        self.host_ips = host_ips
        self.report = report
        self.on_terminated = on_terminated
        self._hosts = ipaddress.ip_network(pod_cidr).hosts()
        next(self._hosts)  # .1 is the bridge's, as on a real node
        self._ips: dict[str, str] = {}
        self._reported: dict[str, dict[str, Any]] = {}

    def _runtime(self, pod: dict[str, Any]) -> PodRuntime:
        uid = pod["metadata"]["uid"]
        ip = self._ips.setdefault(uid, str(next(self._hosts)))
        started = time.time()
        containers = [ContainerView(id=f"hollow-{uid[:8]}-{c['name']}", name=c["name"], state=RUNNING,
                                    created_at=started, started_at=started, image=c.get("image", ""))
                      for c in (pod.get("spec") or {}).get("containers") or []]
        return PodRuntime([SandboxView(f"hollow-{uid[:8]}", SANDBOX_READY, started, ip=ip)], containers)

    async def update(self, pod: dict[str, Any]) -> None:
        """Report a new pod Running once; confirm a deleted pod's deletion at once."""
        uid = pod["metadata"]["uid"]
        if is_terminating(pod):
            self._ips.pop(uid, None)
            self._reported.pop(uid, None)
            await self.on_terminated(pod)
            return
        if uid in self._reported:
            return  # already Running; hollow pods never change
        view = {**pod, "status": {**(pod.get("status") or {})}}
        view["spec"] = {**pod["spec"], "initContainers": []}  # init containers "ran" instantly
        status = pod_status(view, self._runtime(pod), StatusInputs(now=time.time(), host_ips=self.host_ips))
        if await self.report(pod, status):
            self._reported[uid] = status

    def remove(self, uid: str) -> None:
        """Forget a pod that is gone from the API."""
        self._ips.pop(uid, None)
        self._reported.pop(uid, None)
