"""Leader election: the pure decision rules on a fake clock, a randomized safety check, and the loop."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from client.clock import FakeClock
from client.kubeconfig import ClientConfig
from client.leaderelection import (
    Action,
    ElectionState,
    LeaderElectionConfig,
    LeaderElectionRecord,
    LeaderElector,
    after_write,
    decide,
    next_try_in,
    release_record,
    still_leading,
)
from client.rest import RestClient
from tests.support.fake_apiserver import FakeApiserver, status

WALL = datetime(2026, 1, 1, tzinfo=UTC)
LEASE, RENEW, RETRY = 15.0, 10.0, 2.0


def held_by(holder: str, renew_offset: float = 0.0, transitions: int = 0) -> LeaderElectionRecord:
    t = WALL + timedelta(seconds=renew_offset)
    return LeaderElectionRecord(holder, 15, t, t, transitions)


def test_absent_lease_is_created_with_us_as_holder():
    d = decide(ElectionState("a"), None, 100.0, WALL, LEASE)
    assert d.action is Action.CREATE
    assert d.record == LeaderElectionRecord("a", 15, WALL, WALL, 0)


def test_takeover_only_after_a_full_lease_duration_without_change():
    state = ElectionState("b")
    other = held_by("a")
    d = decide(state, other, 100.0, WALL, LEASE)
    assert d.action is Action.NONE
    assert d.state.observed_time == 100.0
    d = decide(d.state, other, 114.9, WALL, LEASE)        # unchanged, but not yet for 15 s
    assert d.action is Action.NONE
    assert d.state.observed_time == 100.0
    d = decide(d.state, other, 115.0, WALL + timedelta(seconds=15), LEASE)
    assert d.action is Action.UPDATE
    assert d.record is not None
    assert d.record.holder_identity == "b"
    assert d.record.leader_transitions == 1
    assert d.record.acquire_time == WALL + timedelta(seconds=15)


def test_a_candidate_retries_no_later_than_the_observed_lease_expires():
    watching = decide(ElectionState("b"), held_by("a"), 100.0, WALL, LEASE).state
    assert next_try_in(watching, 101.0, RETRY) == RETRY          # expiry (115) is far: the usual retry
    assert next_try_in(watching, 114.5, RETRY) == 0.5            # wake exactly when the lease runs out
    assert next_try_in(watching, 120.0, RETRY) == 0.0
    leading = after_write(ElectionState("a"), held_by("a"), 100.0)
    assert next_try_in(leading, 114.5, RETRY) == RETRY
    assert next_try_in(ElectionState("b"), 100.0, RETRY) == RETRY


def test_every_renewal_restarts_the_observers_wait():
    state = ElectionState("b")
    d = decide(state, held_by("a", 0), 100.0, WALL, LEASE)
    for i in range(1, 20):                                 # the holder renews every 2 s for 38 s
        d = decide(d.state, held_by("a", 2 * i), 100.0 + 2 * i, WALL, LEASE)
        assert d.action is Action.NONE
    assert d.state.observed_time == 138.0


def test_remote_timestamps_are_never_compared_with_the_local_clock():
    # The holder's clock is a year behind (or ahead): only local observation time matters.
    ancient = LeaderElectionRecord("a", 15, WALL - timedelta(days=365), WALL - timedelta(days=365), 3)
    future = LeaderElectionRecord("a", 15, WALL + timedelta(days=365), WALL + timedelta(days=365), 3)
    for record in (ancient, future):
        d = decide(ElectionState("b"), record, 500.0, WALL, LEASE)
        assert d.action is Action.NONE
        assert decide(d.state, record, 515.0, WALL, LEASE).action is Action.UPDATE


def test_expiry_uses_the_lease_duration_written_in_the_lease():
    record = LeaderElectionRecord("a", 60, WALL, WALL, 0)
    d = decide(ElectionState("b"), record, 0.0, WALL, LEASE)
    assert decide(d.state, record, 59.0, WALL, LEASE).action is Action.NONE
    assert decide(d.state, record, 60.0, WALL, LEASE).action is Action.UPDATE


def test_renewal_keeps_acquire_time_and_transitions():
    mine = held_by("a", 0, transitions=4)
    state = after_write(ElectionState("a"), mine, 100.0)
    later = WALL + timedelta(seconds=2)
    d = decide(state, mine, 102.0, later, LEASE)
    assert d.action is Action.UPDATE
    assert d.record == LeaderElectionRecord("a", 15, WALL, later, 4)
    assert still_leading(state, 100.0, 109.9, RENEW)
    assert not still_leading(state, 100.0, 110.0, RENEW)
    assert not still_leading(ElectionState("b"), 100.0, 101.0, RENEW)


def test_release_lets_the_next_candidate_take_over_at_once():
    mine = held_by("a", 0, transitions=2)
    state = after_write(ElectionState("a"), mine, 100.0)
    released = release_record(state, WALL + timedelta(seconds=5))
    assert released == LeaderElectionRecord("", 1, WALL + timedelta(seconds=5), WALL + timedelta(seconds=5), 2)
    assert release_record(ElectionState("b"), WALL) is None
    assert released is not None
    d = decide(ElectionState("b"), released, 105.0, WALL, LEASE)     # seen for the first time, just now
    assert d.action is Action.UPDATE
    assert d.record is not None
    assert (d.record.holder_identity, d.record.leader_transitions) == ("b", 3)


def test_config_validation():
    with pytest.raises(ValueError, match="greater than the renew deadline"):
        LeaderElectionConfig("l", "ns", "me", lease_duration=10, renew_deadline=10)
    with pytest.raises(ValueError, match="retry period"):
        LeaderElectionConfig("l", "ns", "me", renew_deadline=2, retry_period=2)
    with pytest.raises(ValueError, match="identity"):
        LeaderElectionConfig("l", "ns", "")


def test_record_round_trips_through_a_lease_object():
    record = LeaderElectionRecord("a", 15, WALL, WALL + timedelta(microseconds=123456), 7)
    spec = record.to_spec()
    assert spec["renewTime"] == "2026-01-01T00:00:00.123456Z"
    assert LeaderElectionRecord.from_lease({"spec": spec}) == record
    assert LeaderElectionRecord.from_lease({}) == LeaderElectionRecord()


# ---------------------------------------------------------------------------------------------
# Randomized safety: many candidates, lossy links, never two leaders


@dataclass
class Candidate:
    state: ElectionState
    next_try: float
    last_renew: float | None = None
    cut_until: float = 0.0


def test_two_or_three_candidates_never_lead_at_once():
    for seed in range(30):
        rng = random.Random(seed)
        server: dict[str, object] = {"record": None, "rv": 0}
        cands = [Candidate(ElectionState(n), rng.uniform(0, 2)) for n in ("a", "b", "c")[: 2 + seed % 2]]
        holders: list[str] = []
        t = 0.0
        while t < 600:
            t = round(t + 0.25, 2)
            reads = []
            for c in cands:
                if rng.random() < 0.01:
                    c.cut_until = t + rng.uniform(1, 30)          # a partition of up to 30 s
                if c.next_try <= t:
                    c.next_try = t + (RETRY if still_leading(c.state, c.last_renew, t, RENEW)
                                      else RETRY * (1 + 1.2 * rng.random()))
                    if c.cut_until <= t:
                        reads.append((c, server["record"], server["rv"]))
            rng.shuffle(reads)                                        # writes race in any order
            for c, record, rv in reads:
                assert record is None or isinstance(record, LeaderElectionRecord)
                d = decide(c.state, record, t, WALL + timedelta(seconds=t), LEASE)
                c.state = d.state
                if d.action is Action.NONE or d.record is None:
                    continue
                if server["rv"] != rv or rng.random() < 0.05:          # conflict, or the write is lost
                    continue
                server["record"], server["rv"] = d.record, rv + 1      # type: ignore[operator]
                c.state = after_write(c.state, d.record, t)
                c.last_renew = t
                if not holders or holders[-1] != d.record.holder_identity:
                    holders.append(d.record.holder_identity)
            leading = [c.state.identity for c in cands if still_leading(c.state, c.last_renew, t, RENEW)]
            assert len(leading) <= 1, f"seed {seed}: {leading} lead together at t={t}"
        final = server["record"]
        assert isinstance(final, LeaderElectionRecord)
        assert final.leader_transitions == len(holders) - 1       # every change of holder counted once


# ---------------------------------------------------------------------------------------------
# The async loop against the fake apiserver, on a fake clock


@pytest.fixture
async def api() -> AsyncIterator[FakeApiserver]:
    server = FakeApiserver()
    await server.start()
    yield server
    await server.close()


async def until(pred: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not pred():
            await asyncio.sleep(0.002)


class Run:
    """One candidate's elector, its task, and what its callbacks saw."""

    def __init__(self, client: RestClient, identity: str, clock: FakeClock) -> None:
        self.events: list[str] = []
        self.leading = asyncio.Event()
        self.elector = LeaderElector(
            client, LeaderElectionConfig("kube-scheduler", "kube-system", identity),
            on_started_leading=self._lead, on_stopped_leading=lambda: self.events.append("stopped"),
            on_new_leader=lambda who: self.events.append(f"leader={who}"), clock=clock)
        self.task = asyncio.create_task(self.elector.run())

    async def _lead(self) -> None:
        self.events.append("started")
        self.leading.set()
        await asyncio.Event().wait()       # lead until cancelled


async def step(clock: FakeClock, sleepers: int) -> None:
    """Fire the next timer and wait until every live candidate is asleep on the clock again."""
    wait = clock.next_timer_in()
    assert wait is not None
    clock.advance(wait)
    await until(lambda: clock.pending() == sleepers)


async def test_elector_loop_acquire_renew_release_and_lose(api: FakeApiserver):
    clock = FakeClock()
    async with RestClient(ClientConfig(servers=[api.url])) as client:
        a = Run(client, "node-a", clock)
        await until(lambda: clock.pending() == 1 and a.leading.is_set())
        b = Run(client, "node-b", clock)
        await until(lambda: clock.pending() == 2)
        assert a.events == ["leader=node-a", "started"]
        assert b.events == ["leader=node-a"]
        start = clock.now()
        while clock.now() - start < 60:                              # a minute of renewals
            await step(clock, 2)
        lease = api.objects[("leases", "kube-system", "kube-scheduler")]
        assert lease["spec"]["holderIdentity"] == "node-a"
        assert lease["spec"]["leaseTransitions"] == 0
        assert len(api.seen("PUT", "/leases/")) >= 60 // 2 - 1
        assert a.elector.is_leader() and not b.elector.is_leader()

        a.task.cancel()                                              # graceful shutdown: release
        await asyncio.gather(a.task, return_exceptions=True)
        assert a.events[-1] == "stopped"
        assert api.objects[("leases", "kube-system", "kube-scheduler")]["spec"]["holderIdentity"] == ""
        released_at = clock.now()
        await until(lambda: clock.pending() == 1)
        await step(clock, 1)                                         # b's very next attempt wins
        await until(b.leading.is_set)
        assert clock.now() - released_at <= RETRY * 2.2
        spec = api.objects[("leases", "kube-system", "kube-scheduler")]["spec"]
        assert (spec["holderIdentity"], spec["leaseTransitions"]) == ("node-b", 1)
        assert b.events == ["leader=node-a", "leader=node-b", "started"]

        # The apiserver stops accepting b's renewals: b steps down within the renew deadline.
        api.fail_next("PUT", "/leases/", 500, status(500, "InternalError", "etcd down"), times=1000)
        last_ok = clock.now()
        while not b.task.done():
            wait = clock.next_timer_in()
            assert wait is not None
            clock.advance(wait)
            await until(lambda: clock.pending() == 1 or b.task.done())
        assert b.events[-1] == "stopped"
        assert RENEW <= clock.now() - last_ok <= RENEW + RETRY
        assert not b.elector.is_leader()
