"""Auto-compaction: which revision the leader compacts to, and when, under etcd's two modes."""

from __future__ import annotations

from store import errors
from store.compactor import Compactor
from store.main import parse_retention


class _World:
    def __init__(self) -> None:
        self.now = 0.0
        self.revision = 1
        self.leader = True
        self.compacted: list[int] = []

    async def compact(self, revision: int) -> object:
        if self.compacted and revision <= self.compacted[-1]:
            raise errors.COMPACTED
        self.compacted.append(revision)
        return None

    def compactor(self, mode: str, retention: float) -> Compactor:
        return Compactor(mode, retention, revision=lambda: self.revision, is_leader=lambda: self.leader,
                         compact=self.compact, clock=lambda: self.now)


async def test_periodic_mode_compacts_the_revision_current_one_retention_ago():
    world = _World()
    compactor = world.compactor("periodic", 60.0)
    assert compactor.interval == 6.0
    for step in range(25):  # 150 s, revision +10 every 6 s
        world.now = step * 6.0
        world.revision = 1 + step * 10
        await compactor.step()
    # At 144 s the newest sample at least 60 s old is from 84 s (revision 141).
    assert world.compacted[-1] == 141
    assert world.compacted == sorted(set(world.compacted))


async def test_only_the_leader_compacts_and_revision_mode_keeps_the_last_n():
    world = _World()
    compactor = world.compactor("revision", 100)
    world.revision = 250
    world.leader = False
    await compactor.step()
    assert world.compacted == []
    world.leader = True
    await compactor.step()
    await compactor.step()  # nothing new: no second proposal
    assert world.compacted == [150]


def test_retention_flag_values_follow_etcd():
    assert parse_retention("periodic", "1") == 3600.0
    assert parse_retention("periodic", "1h30m") == 5400.0
    assert parse_retention("periodic", "90s") == 90.0
    assert parse_retention("periodic", "0") == 0.0
    assert parse_retention("revision", "1000") == 1000.0
