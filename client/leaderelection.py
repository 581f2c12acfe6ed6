"""Lease-based leader election, as client-go's ``leaderelection`` package does it.

Candidates share one ``coordination.k8s.io/v1`` Lease. The holder renews it every retry period;
the others watch it and take over only after they have seen *no change* to it for a whole lease
duration, measured on their own monotonic clock (remote timestamps are never compared with the
local clock, so skewed clocks cannot cause two leaders). Writes carry the Lease's
resourceVersion, so of two simultaneous takeovers exactly one wins; the other gets a Conflict.
A leader that cannot renew within the renew deadline steps down before anyone else may take
over (renew deadline < lease duration); a leader shutting down clears ``holderIdentity`` so the
next one takes over at once.

The decision is a pure function (``decide``) of the candidate's state, the Lease it just read
and the time; ``LeaderElector`` wraps it with the REST calls and callbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import enum
import math
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from client.backoff import jittered
from client.clock import Clock
from client.errors import ApiConnectionError, ApiError, Conflict, NotFound
from client.rest import ResourceRef, RestClient
from process.log import get_logger

log = get_logger("client.leaderelection")

LEASES = ResourceRef("coordination.k8s.io", "v1", "leases", True, "Lease")
JITTER_FACTOR = 1.2  # client-go's: retries spread over [retry, 2.2 * retry]


@dataclass(frozen=True)
class LeaderElectionRecord:
    """The election fields of a Lease's spec."""

    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: datetime | None = None
    renew_time: datetime | None = None
    leader_transitions: int = 0

    @classmethod
    def from_lease(cls, lease: dict[str, Any]) -> LeaderElectionRecord:
        spec = lease.get("spec") or {}
        return cls(
            holder_identity=spec.get("holderIdentity") or "",
            lease_duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
            acquire_time=_parse_time(spec.get("acquireTime")),
            renew_time=_parse_time(spec.get("renewTime")),
            leader_transitions=int(spec.get("leaseTransitions") or 0),
        )

    def to_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"holderIdentity": self.holder_identity,
                                "leaseDurationSeconds": self.lease_duration_seconds,
                                "leaseTransitions": self.leader_transitions}
        if self.acquire_time is not None:
            spec["acquireTime"] = _micro_time(self.acquire_time)
        if self.renew_time is not None:
            spec["renewTime"] = _micro_time(self.renew_time)
        return spec


def _micro_time(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


@dataclass(frozen=True)
class ElectionState:
    """What one candidate knows: the Lease record it last saw and when (its own clock) that record changed."""

    identity: str
    observed: LeaderElectionRecord | None = None
    observed_time: float | None = None

    def is_leader(self) -> bool:
        return self.observed is not None and self.observed.holder_identity == self.identity

    @property
    def leader(self) -> str:
        return self.observed.holder_identity if self.observed is not None else ""


class Action(enum.Enum):
    """What the candidate should write to the Lease."""

    CREATE = "create"
    UPDATE = "update"
    NONE = "none"


@dataclass(frozen=True)
class Decision:
    """The outcome of one look at the Lease: the write to attempt (if any) and the updated observation."""

    action: Action
    record: LeaderElectionRecord | None
    state: ElectionState
    reason: str


def observe(state: ElectionState, current: LeaderElectionRecord, now: float) -> ElectionState:
    """Note the Lease as read at local time ``now``; its age restarts only if it changed."""
    if current != state.observed or state.observed_time is None:
        return replace(state, observed=current, observed_time=now)
    return state


def lease_expired(state: ElectionState, now: float) -> bool:
    """True once the observed record has been unchanged for its own lease duration (local clock)."""
    if state.observed is None or state.observed_time is None:
        return True
    return state.observed_time + state.observed.lease_duration_seconds <= now


def next_try_in(state: ElectionState, now: float, retry: float) -> float:
    """How long a candidate waits before trying again: ``retry``, but no longer than until the observed
    Lease expires, so a dead leader's Lease is taken when it runs out rather than up to a retry later."""
    if state.is_leader() or state.observed is None or state.observed_time is None:
        return retry
    expires_in = state.observed_time + state.observed.lease_duration_seconds - now
    return min(retry, max(expires_in, 0.0))


def decide(state: ElectionState, current: LeaderElectionRecord | None, now: float, wall: datetime,
           lease_duration: float) -> Decision:
    """client-go's ``tryAcquireOrRenew``: given the Lease just read (None if absent), what to write."""
    duration = math.ceil(lease_duration)
    if current is None:
        record = LeaderElectionRecord(state.identity, duration, wall, wall, 0)
        return Decision(Action.CREATE, record, state, "no lease yet")
    state = observe(state, current, now)
    if current.holder_identity and not state.is_leader() and not lease_expired(state, now):
        return Decision(Action.NONE, None, state, f"lease held by {current.holder_identity}")
    if state.is_leader():
        record = LeaderElectionRecord(state.identity, duration, current.acquire_time or wall, wall,
                                      current.leader_transitions)
        return Decision(Action.UPDATE, record, state, "renew")
    reason = "lease released" if not current.holder_identity else f"lease of {current.holder_identity} expired"
    record = LeaderElectionRecord(state.identity, duration, wall, wall, current.leader_transitions + 1)
    return Decision(Action.UPDATE, record, state, reason)


def after_write(state: ElectionState, record: LeaderElectionRecord, now: float) -> ElectionState:
    """The state once ``record`` has been written successfully at local time ``now``."""
    return replace(state, observed=record, observed_time=now)


def release_record(state: ElectionState, wall: datetime) -> LeaderElectionRecord | None:
    """The record that gives the Lease up (empty holder, 1 s duration), or None if we do not hold it."""
    if not state.is_leader() or state.observed is None:
        return None
    return LeaderElectionRecord("", 1, wall, wall, state.observed.leader_transitions)


def still_leading(state: ElectionState, last_renew: float | None, now: float, renew_deadline: float) -> bool:
    """A leader keeps leading only while its last successful renew is younger than the renew deadline."""
    return state.is_leader() and last_renew is not None and now - last_renew < renew_deadline


# ----------------------------------------------------------------------------------------------
# The loop


@dataclass
class LeaderElectionConfig:
    """Which Lease, who we are, and the timings (Kubernetes defaults: 15 s / 10 s / 2 s)."""

    name: str
    namespace: str
    identity: str
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    release_on_cancel: bool = True

    def __post_init__(self) -> None:
        if not self.identity:
            raise ValueError("leader election needs a non-empty identity")
        if self.lease_duration <= self.renew_deadline:
            raise ValueError("lease duration must be greater than the renew deadline")
        if self.renew_deadline <= JITTER_FACTOR * self.retry_period:
            raise ValueError("renew deadline must be greater than retry period * 1.2")


class LeaderElector:
    """Runs one candidate: acquire, then lead (``on_started_leading`` as a task) while renewing."""

    def __init__(self, client: RestClient, config: LeaderElectionConfig, *,
                 on_started_leading: Callable[[], Coroutine[Any, Any, None]],
                 on_stopped_leading: Callable[[], None] | None = None,
                 on_new_leader: Callable[[str], None] | None = None, clock: Clock | None = None) -> None:
        self.client = client
        self.config = config
        self.clock = clock or client.clock
        self.state = ElectionState(config.identity)
        self._on_started = on_started_leading
        self._on_stopped = on_stopped_leading
        self._on_new_leader = on_new_leader
        self._lease: dict[str, Any] | None = None
        self._reported_leader = ""
        self._last_renew: float | None = None

    def is_leader(self) -> bool:
        """Whether this candidate holds the Lease and renewed it within the renew deadline."""
        return still_leading(self.state, self._last_renew, self.clock.now(), self.config.renew_deadline)

    @property
    def leader(self) -> str:
        """The holder this candidate last saw ("" if none)."""
        return self.state.leader

    async def run(self) -> None:
        """Acquire, lead until leadership is lost or the task is cancelled; releases on cancel if configured."""
        await self._acquire()
        lead = asyncio.get_running_loop().create_task(self._on_started(), name=f"leading {self.config.name}")
        try:
            await self._renew()
        except asyncio.CancelledError:
            if self.config.release_on_cancel:
                await self.release()
            raise
        finally:
            lead.cancel()
            try:
                await lead
            except asyncio.CancelledError:
                pass
            except Exception:
                log.error("leader work failed", exc_info=True, lease=f"{self.config.namespace}/{self.config.name}")
            self._last_renew = None
            if self._on_stopped is not None:
                self._on_stopped()

    async def _acquire(self) -> None:
        while not await self.try_acquire_or_renew():
            retry = jittered(self.config.retry_period, JITTER_FACTOR)
            await self.clock.sleep(next_try_in(self.state, self.clock.now(), retry))
        log.info("acquired lease", lease=f"{self.config.namespace}/{self.config.name}", identity=self.config.identity)

    async def _renew(self) -> None:
        while True:
            await self.clock.sleep(self.config.retry_period)
            # A renew that hangs past the deadline must not keep us "leading": bound the attempt by it.
            last = self._last_renew if self._last_renew is not None else self.clock.now()
            remaining = self.config.renew_deadline - (self.clock.now() - last)
            renewed = False
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(remaining, 0.0)):
                    renewed = await self.try_acquire_or_renew()
            if renewed:
                continue
            if not self.is_leader():
                log.info("lost lease", lease=f"{self.config.namespace}/{self.config.name}",
                         identity=self.config.identity, holder=self.state.leader)
                return

    async def try_acquire_or_renew(self) -> bool:
        """One round: read the Lease, decide, write it; True if we hold it afterwards."""
        now, wall = self.clock.now(), self.clock.wall()
        cfg = self.config
        try:
            lease: dict[str, Any] | None = await self.client.get(LEASES, cfg.name, cfg.namespace)
        except NotFound:
            lease = None
        except (ApiError, ApiConnectionError) as exc:
            log.v(2, "reading lease failed", lease=f"{cfg.namespace}/{cfg.name}", error=str(exc))
            return False
        current = LeaderElectionRecord.from_lease(lease) if lease is not None else None
        decision = decide(self.state, current, now, wall, cfg.lease_duration)
        self.state = decision.state
        self._report_leader()
        if decision.action is Action.NONE or decision.record is None:
            return False
        body = copy.deepcopy(lease) if lease is not None else {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": cfg.name, "namespace": cfg.namespace}}
        body["spec"] = decision.record.to_spec()
        try:
            if decision.action is Action.CREATE:
                written = await self.client.create(LEASES, body, cfg.namespace)
            else:
                written = await self.client.update(LEASES, body, cfg.namespace)
        except Conflict:
            log.v(4, "lease write lost a race", lease=f"{cfg.namespace}/{cfg.name}")
            return False
        except (ApiError, ApiConnectionError) as exc:
            log.v(2, "writing lease failed", lease=f"{cfg.namespace}/{cfg.name}", error=str(exc))
            return False
        self._lease = written
        self.state = after_write(self.state, decision.record, self.clock.now())
        self._last_renew = now
        self._report_leader()
        return True

    async def release(self) -> bool:
        """Give the Lease up (clear holderIdentity) so another candidate takes over without waiting."""
        record = release_record(self.state, self.clock.wall())
        if record is None or self._lease is None:
            return False
        body = copy.deepcopy(self._lease)
        body["spec"] = record.to_spec()
        try:
            self._lease = await self.client.update(LEASES, body, self.config.namespace)
        except (ApiError, ApiConnectionError) as exc:
            log.warning("releasing lease failed", lease=f"{self.config.namespace}/{self.config.name}",
                        error=str(exc))
            return False
        self.state = after_write(self.state, record, self.clock.now())
        self._last_renew = None
        log.info("released lease", lease=f"{self.config.namespace}/{self.config.name}")
        return True

    def _report_leader(self) -> None:
        leader = self.state.leader
        if leader and leader != self._reported_leader:
            self._reported_leader = leader
            if self._on_new_leader is not None:
                self._on_new_leader(leader)
