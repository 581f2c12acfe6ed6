"""Keeps a cluster's component processes running: start in order, restart with backoff, stop in reverse.

Each component runs in its node's network namespace through ``nsenter --net`` (not ``ip netns exec``,
which would give it a private mount namespace; platform-notes §5), in a session of its own so that
stopping it stops everything it spawned. The supervisor's view is written to a JSON file after every
change, so `tinykube status` in another process reads the same truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from process.log import get_logger

log = get_logger("supervisor")

BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0
# A run this long counts as healthy: the next crash starts the backoff from the beginning again.
HEALTHY_RUN = 60.0
# Every component's environment, unless the caller's or the component's own says otherwise. glibc gives each
# thread that mallocs an arena of its own (up to 8 per core); gRPC's and libuv's idle worker threads each
# kept one, so two are enough for processes whose Python code runs on one thread.
COMPONENT_ENV = {"MALLOC_ARENA_MAX": "2"}


def restart_delay(consecutive_failures: int) -> float:
    """Exponential backoff as the kubelet's CrashLoopBackOff does it, capped."""
    return min(BACKOFF_MAX, BACKOFF_FIRST * 2.0 ** max(0, consecutive_failures - 1))


@dataclass(frozen=True)
class Component:
    """What to run: ``argv`` on ``node``, inside network namespace ``netns`` when given."""

    node: str
    name: str
    argv: tuple[str, ...]
    netns: str | None = None
    env: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        return f"{self.node}/{self.name}"

    def command(self) -> list[str]:
        """In a node's namespace the process also gets a UTS namespace named after the node, as a VM has its
        own hostname: leader-election identities (``<hostname>_<uuid>``) and event sources then say which node."""
        if self.netns is None:
            return list(self.argv)
        return ["nsenter", f"--net=/run/netns/{self.netns}", "--", "unshare", "--uts", "--",
                "sh", "-c", 'hostname "$0" && exec "$@"', self.node, *self.argv]


@dataclass
class ComponentStatus:
    node: str
    name: str
    pid: int | None = None
    state: str = "starting"  # starting | running | backoff | stopped
    restarts: int = 0
    started_at: float | None = None  # wall clock, for uptime in `tinykube status`
    last_exit: int | None = None


@dataclass
class _Supervised:
    spec: Component
    status: ComponentStatus
    task: asyncio.Task[None] | None = None
    proc: asyncio.subprocess.Process | None = None
    stopping: bool = False
    failures: int = 0
    stop_requested: asyncio.Event = field(default_factory=asyncio.Event)


class Supervisor:
    """Runs components until told to stop; crashed ones come back after ``restart_delay``."""

    def __init__(self, log_dir: Path, state_file: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.log_dir = log_dir
        self.state_file = state_file
        self._clock = clock
        self._items: dict[str, _Supervised] = {}

    def log_path(self, spec: Component) -> Path:
        return self.log_dir / spec.node / f"{spec.name}.log"

    def start(self, spec: Component) -> None:
        if spec.key in self._items and not self._items[spec.key].stopping:
            raise ValueError(f"{spec.key} is already supervised")
        item = _Supervised(spec, ComponentStatus(spec.node, spec.name))
        self._items[spec.key] = item
        item.task = asyncio.create_task(self._keep_running(item), name=f"supervise {spec.key}")

    def pid(self, node: str, name: str) -> int | None:
        item = self._items.get(f"{node}/{name}")
        return item.status.pid if item else None

    def specs(self, node: str, *, stopped: bool = False) -> list[Component]:
        """The components started on ``node``, in start order: those supervised now, or those stopped."""
        return [item.spec for item in self._items.values() if item.spec.node == node and item.stopping == stopped]

    def statuses(self) -> list[ComponentStatus]:
        return [item.status for item in self._items.values()]

    async def _spawn(self, item: _Supervised) -> asyncio.subprocess.Process:
        path = self.log_path(item.spec)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as out:
            out.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {' '.join(item.spec.command())}\n".encode())
            out.flush()
            return await asyncio.create_subprocess_exec(
                *item.spec.command(), stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
                start_new_session=True, env={**COMPONENT_ENV, **os.environ, **dict(item.spec.env)})

    async def _keep_running(self, item: _Supervised) -> None:
        status = item.status
        while not item.stopping:
            try:
                item.proc = await self._spawn(item)
            except OSError as exc:
                log.error("cannot start", component=item.spec.key, err=str(exc))
                status.last_exit = None
                code: int | None = None
            else:
                status.pid, status.state, status.started_at = item.proc.pid, "running", time.time()
                self._save()
                began = self._clock()
                code = await item.proc.wait()
                status.last_exit, status.pid = code, None
                item.failures = 0 if self._clock() - began >= HEALTHY_RUN else item.failures
            if item.stop_requested.is_set():
                break
            item.failures += 1
            status.restarts += 1
            status.state = "backoff"
            delay = restart_delay(item.failures)
            log.warning("component exited; restarting", component=item.spec.key, code=code, delay=delay,
                        log=str(self.log_path(item.spec)))
            self._save()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(item.stop_requested.wait(), delay)
        status.state, status.pid = "stopped", None
        self._save()

    async def stop(self, node: str, name: str, grace: float = 10.0) -> None:
        """SIGTERM the component's process group; SIGKILL it after ``grace`` seconds."""
        item = self._items.get(f"{node}/{name}")
        if item is None:
            return
        item.stopping = True
        item.stop_requested.set()
        proc = item.proc
        if proc is not None and proc.returncode is None:
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), grace)
            except TimeoutError:
                log.warning("did not stop in time; killing", component=item.spec.key, grace=grace)
                _signal_group(proc.pid, signal.SIGKILL)
                await proc.wait()
            # Children that outlived the leader of the group (it exited on SIGTERM) go too.
            _signal_group(proc.pid, signal.SIGKILL)
        if item.task is not None:
            await item.task

    def kill(self, node: str, name: str) -> int | None:
        """SIGKILL the running process (chaos); the supervisor restarts it as after any crash."""
        item = self._items.get(f"{node}/{name}")
        if item is None or item.proc is None or item.proc.returncode is not None:
            return None
        _signal_group(item.proc.pid, signal.SIGKILL)
        return item.proc.pid

    async def forget(self, node: str, grace: float = 10.0) -> None:
        """Stop every component of ``node`` and drop it from the supervisor's view (a node leaving the cluster)."""
        for spec in reversed(self.specs(node)):
            await self.stop(spec.node, spec.name, grace)
        for key in [k for k, item in self._items.items() if item.spec.node == node]:
            del self._items[key]
        self._save()

    async def shutdown(self, grace: float = 10.0) -> None:
        """Stop everything in the reverse of start order (dependents before what they depend on)."""
        for item in reversed(list(self._items.values())):
            await self.stop(item.spec.node, item.spec.name, grace)

    def _save(self) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"components": [asdict(s) for s in self.statuses()]}, indent=1))
        tmp.replace(self.state_file)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def read_state(state_file: Path) -> list[ComponentStatus]:
    """The statuses a supervisor (possibly in another process) last wrote; empty if none."""
    try:
        data = json.loads(state_file.read_text())
    except FileNotFoundError:
        return []
    return [ComponentStatus(**c) for c in data.get("components", [])]
