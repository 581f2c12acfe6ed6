"""The CPU manager (``--cpu-manager-policy``): the static policy's state, kept on disk and applied to containers.

Admission asks the pure policy (``kubelet.cpu_policy``) for a pod's exclusive CPUs and checkpoints the result
to ``<root-dir>/cpu_manager_state`` before any container starts, so a restarted kubelet keeps every
assignment. Containers are created on their CPUs (``cpuset``); a reconcile loop then moves running containers
onto the current shared pool as it shrinks and grows, and hands back the CPUs of pods that are gone
(upstream's ``reconcileState`` and ``removeStaleState``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any, Final

import grpc

from kubelet.admission import Rejection
from kubelet.cpu_checkpoint import decode, encode
from kubelet.cpu_policy import (
    NONE,
    CpuAssignments,
    NotEnoughCpus,
    allocate,
    cpus_for,
    demands,
    release,
    validate,
)
from kubelet.cpuset import format_cpus
from kubelet.cri import CriClient
from process.log import get_logger

log = get_logger("kubelet.cpu_manager")

STATE_FILE: Final = "cpu_manager_state"
UNEXPECTED_ADMISSION_ERROR: Final = "UnexpectedAdmissionError"


class CpuManager:
    """One node's CPU manager; with the ``none`` policy it only keeps the checkpoint and leaves cpusets alone."""

    def __init__(self, policy: str, root_dir: Path, all_cpus: frozenset[int], reserved: frozenset[int]) -> None:
        self.policy = policy
        self.path = root_dir / STATE_FILE
        self.all_cpus = all_cpus
        self.reserved = reserved
        self.state = self._restore()
        self._applied: dict[str, frozenset[int]] = {}  # container id -> the cpuset last sent to the runtime

    def _restore(self) -> CpuAssignments:
        fresh = CpuAssignments(frozenset() if self.policy == NONE else self.all_cpus)
        if not self.path.exists():
            self._save(fresh)
            return fresh
        state = decode(self.path.read_bytes(), self.policy)
        if self.policy != NONE:
            if not state.default and not state.entries:
                state = fresh
            validate(state, self.all_cpus, self.reserved)
        log.info("cpu manager state restored", policy=self.policy, shared=format_cpus(state.default),
                 pods=len(state.entries))
        return state

    def _save(self, state: CpuAssignments) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{STATE_FILE}.tmp")
        tmp.write_bytes(encode(self.policy, state))
        os.replace(tmp, self.path)
        self.state = state

    def admit(self, pod: Mapping[str, Any]) -> Rejection | None:
        """Give the pod's containers their exclusive CPUs, or say why it cannot run (upstream's reason)."""
        if self.policy == NONE:
            return None
        uid = str((pod.get("metadata") or {}).get("uid", ""))
        try:
            state = allocate(self.state, uid, demands(pod), self.reserved)
        except NotEnoughCpus as err:
            return Rejection(UNEXPECTED_ADMISSION_ERROR,
                             f"Pod was rejected: Allocate failed due to {err}, which is unexpected")
        if state is not self.state:
            self._save(state)
            log.info("exclusive cpus", pod=uid, cpus={n: format_cpus(c) for n, c in state.entries[uid].items()})
        return None

    def cpuset(self, uid: str, name: str) -> str:
        """The cpuset.cpus to create container ``name`` of pod ``uid`` with ("" = inherit: the none policy)."""
        return "" if self.policy == NONE else format_cpus(cpus_for(self.state, uid, name))

    async def reconcile(self, cri: CriClient, active: Collection[str]) -> None:
        """Release the CPUs of pods not in ``active``, then put every running container on its current CPUs."""
        released = release(self.state, active)
        if released is not self.state:
            gone = set(self.state.entries) - set(released.entries)
            self._save(released)
            log.info("exclusive cpus released", pods=sorted(gone), shared=format_cpus(released.default))
        running = await cri.containers(running_only=True)
        for c in running:
            want = cpus_for(self.state, c.pod_uid, c.name)
            if self._applied.get(c.id) == want:
                continue
            try:
                await cri.update_cpuset(c.id, format_cpus(want))
            except grpc.aio.AioRpcError as err:
                log.warning("cpuset not updated", container=c.id[:12], error=err.details() or str(err.code()))
                continue
            self._applied[c.id] = want
        alive = {c.id for c in running}
        self._applied = {cid: cpus for cid, cpus in self._applied.items() if cid in alive}

    async def reconcile_forever(self, cri: CriClient, active: Callable[[], Collection[str]],
                                period: float) -> None:
        """Reconcile every ``period`` seconds (``--cpu-manager-reconcile-period``); static policy only."""
        while True:
            try:
                await self.reconcile(cri, active())
            except grpc.aio.AioRpcError as err:
                log.warning("cpu manager reconcile failed", error=err.details() or str(err.code()))
            await asyncio.sleep(period)
