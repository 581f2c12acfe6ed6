"""Three real store nodes on loopback in one event loop: election, replication, restart from disk, snapshots."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import msgpack  # type: ignore[import-untyped]
import pytest

from protos.etcd import rpc_pb2
from store.apply import Applier
from store.errors import EtcdError
from store.mvcc.kvstore import KVStore
from store.node import NodeConfig, NotLeaderError, ProposalTimeoutError, StoppedError, StoreNode, _snapshot_frames
from store.wal import SnapshotFiles

NAMES = ("n1", "n2", "n3")


class Cluster:
    def __init__(self, root: Path, port: Callable[[], int], **overrides: int) -> None:
        self.root = root
        self.urls = {name: f"http://127.0.0.1:{port()}" for name in NAMES}
        self.overrides = overrides
        self.nodes: dict[str, StoreNode] = {}
        self.appliers: dict[str, Applier] = {}

    def config(self, name: str) -> NodeConfig:
        settings = {"heartbeat_interval_ms": 50, "election_timeout_ms": 500, **self.overrides}
        return NodeConfig(name=name, data_dir=self.root / name,
                          initial_cluster={n: [u] for n, u in self.urls.items()},
                          listen_peer_urls=[self.urls[name]], advertise_client_urls=[f"http://{name}:2379"],
                          initial_cluster_token="test-token", **settings)  # type: ignore[arg-type]

    async def start(self, name: str) -> StoreNode:
        applier = Applier(KVStore())
        node = StoreNode(self.config(name), applier, applier.kv.lessor)
        await node.start()
        self.nodes[name], self.appliers[name] = node, applier
        return node

    async def stop(self, name: str, transfer: bool = False) -> None:
        await self.nodes.pop(name).stop(transfer_leadership=transfer)

    async def leader(self, timeout: float = 10.0) -> StoreNode:
        async def wait() -> StoreNode:
            while True:
                leaders = [n for n in self.nodes.values() if n.is_leader]
                if len(leaders) == 1 and all(n.leader_id == leaders[0].member_id for n in self.nodes.values()):
                    return leaders[0]
                await asyncio.sleep(0.02)
        return await asyncio.wait_for(wait(), timeout)

    def follower(self) -> StoreNode:
        return next(n for n in self.nodes.values() if not n.is_leader)

    def value(self, name: str, key: bytes) -> bytes | None:
        kvs = self.appliers[name].range(rpc_pb2.RangeRequest(key=key)).kvs
        return kvs[0].value if kvs else None

    async def converge(self, key: bytes, value: bytes, timeout: float = 10.0) -> None:
        async def wait() -> None:
            while any(self.value(n, key) != value for n in self.nodes):
                await asyncio.sleep(0.02)
        await asyncio.wait_for(wait(), timeout)


def put(key: bytes, value: bytes) -> tuple[str, bytes]:
    return "put", rpc_pb2.PutRequest(key=key, value=value).SerializeToString()


@pytest.fixture
async def cluster(tmp_path: Path, port: Callable[[], int]) -> AsyncIterator[Cluster]:
    c = Cluster(tmp_path, port)
    yield c
    for name in list(c.nodes):
        await c.stop(name)


def saved(snaps: SnapshotFiles) -> list[tuple[int, int]]:
    """(term, index) of every snapshot file, oldest first (the names are both in hex)."""
    names = (path.stem.split("-") for path in snaps.directory.glob("*.snap"))
    keys = [(int(term, 16), int(index, 16)) for term, index in names]
    return sorted(keys, key=lambda key: key[1])


async def start_all(c: Cluster) -> None:
    for name in NAMES:
        await c.start(name)


async def test_elects_one_leader_and_replicates_through_any_member(cluster):
    await start_all(cluster)
    leader = await cluster.leader()
    ids = {n.member_id for n in cluster.nodes.values()}
    assert len(ids) == 3 and len({n.cluster_id for n in cluster.nodes.values()}) == 1
    result = await leader.propose(*put(b"a", b"1"))
    assert isinstance(result, rpc_pb2.PutResponse) and result.header.revision == 2
    follower = cluster.follower()
    result = await follower.propose(*put(b"b", b"2"))  # forwarded to the leader, answered after local apply
    assert isinstance(result, rpc_pb2.PutResponse)
    assert cluster.value(next(k for k, n in cluster.nodes.items() if n is follower), b"b") == b"2"
    await cluster.converge(b"b", b"2")
    # the registry learned every member's name and client URL through the log
    async def published() -> None:
        while sorted(m.name for m in leader.members()) != list(NAMES):
            await asyncio.sleep(0.02)
    await asyncio.wait_for(published(), 10)
    assert {m.client_urls[0] for m in follower.members()} == {f"http://{n}:2379" for n in NAMES}


async def test_concurrent_proposals_all_apply_in_one_order(cluster):
    await start_all(cluster)
    await cluster.leader()
    nodes = list(cluster.nodes.values())
    results = await asyncio.gather(*(nodes[i % 3].propose(*put(b"k%d" % i, b"v")) for i in range(300)))
    revisions = sorted(r.header.revision for r in results)
    assert revisions == list(range(2, 302))
    await cluster.converge(b"k299", b"v")
    assert {a.revision for a in cluster.appliers.values()} == {301}


async def test_propose_now_settles_on_the_leader_as_propose_returns_and_a_follower_declines(cluster):
    await start_all(cluster)
    leader = await cluster.leader()
    assert cluster.follower().propose_now(*put(b"f", b"1")) is None  # the caller awaits propose instead
    futures = [leader.propose_now(*put(b"n%d" % i, b"v")) for i in range(50)]
    results = [await f for f in futures if f is not None]
    assert sorted(r.header.revision for r in results) == list(range(2, 52))
    await cluster.converge(b"n49", b"v")


async def test_started_proposals_a_handover_refuses_reach_the_new_leader_and_apply_once(cluster):
    await start_all(cluster)
    leader = await cluster.leader()
    target = cluster.follower()
    futures = [leader.propose_now(*put(b"h%d" % i, b"v")) for i in range(20)]
    # The transfer starts before the Raft loop's next turn, so the leader refuses the whole batch: with
    # nobody awaiting them, the node itself must send them to the new leader.
    await leader.move_leader(target.member_id)
    results = await asyncio.wait_for(asyncio.gather(*(f for f in futures if f is not None)), 20)
    assert len(results) == 20 and all(isinstance(r, rpc_pb2.PutResponse) for r in results)
    await cluster.converge(b"h19", b"v")
    for name in cluster.nodes:  # applied once each: a second copy would have made version 2
        assert [cluster.appliers[name].range(rpc_pb2.RangeRequest(key=b"h%d" % i)).kvs[0].version
                for i in range(20)] == [1] * 20


async def test_a_started_proposal_without_a_quorum_times_out_and_is_forgotten(cluster):
    cluster.overrides.update(request_timeout=1)
    await start_all(cluster)
    leader = await cluster.leader()
    for name in [k for k, n in cluster.nodes.items() if n is not leader]:
        await cluster.stop(name)
    future = leader.propose_now(*put(b"lost", b"v"))
    assert future is not None
    with pytest.raises(EtcdError) as err:
        await asyncio.wait_for(future, 10)
    assert err.value == ProposalTimeoutError()
    assert not leader._waiters  # nobody awaits it to take it off: the sweeper did


async def test_read_index_on_a_follower_sees_every_acknowledged_write(cluster):
    await start_all(cluster)
    leader = await cluster.leader()
    name = next(k for k, n in cluster.nodes.items() if not n.is_leader)
    for i in range(20):
        await leader.propose(*put(b"x", b"%d" % i))
        await cluster.nodes[name].read_index()
        assert cluster.value(name, b"x") == b"%d" % i


async def test_follower_restarted_from_disk_catches_up_from_the_log(cluster):
    await start_all(cluster)
    leader = await cluster.leader()
    await leader.propose(*put(b"before", b"1"))
    name = next(k for k, n in cluster.nodes.items() if not n.is_leader)
    await cluster.converge(b"before", b"1")
    await cluster.stop(name)
    for i in range(50):
        await leader.propose(*put(b"during", b"%d" % i))
    node = await cluster.start(name)
    assert cluster.value(name, b"before") == b"1"  # replayed from its own WAL before anything else
    await cluster.converge(b"during", b"49")
    assert node.applied_index == leader.applied_index or node.applied_index > 50


async def start_and_stop_a_follower(c: Cluster) -> tuple[StoreNode, str]:
    """Start a cluster that snapshots every 20 entries and stop a follower, for the leader's log to leave behind."""
    c.overrides.update(snapshot_count=20, catchup_entries=5)
    await start_all(c)
    leader = await c.leader()
    name = next(k for k, n in c.nodes.items() if not n.is_leader)
    await c.stop(name)
    return leader, name


async def test_lagging_follower_catches_up_from_a_snapshot_and_restarts_from_its_own(cluster):
    leader, name = await start_and_stop_a_follower(cluster)
    for i in range(120):
        await leader.propose(*put(b"k%d" % i, b"v%d" % i))
    assert leader.status()["first_index"] > 10  # the leader's log no longer reaches back to the follower
    await cluster.start(name)
    await cluster.converge(b"k119", b"v119")
    assert cluster.value(name, b"k0") == b"v0"
    assert list((cluster.root / name / "snap").glob("*.snap"))
    # now restart it again: it loads its snapshot and replays the WAL after it
    await cluster.stop(name)
    node = await cluster.start(name)
    assert node.status()["snapshot_index"] > 0
    assert cluster.value(name, b"k0") == b"v0" and cluster.value(name, b"k119") == b"v119"
    await leader.propose(*put(b"after", b"1"))
    await cluster.converge(b"after", b"1")


async def test_delta_snapshots_restore_and_install_the_same_state_as_the_members_applied(cluster):
    leader, lagging = await start_and_stop_a_follower(cluster)
    for i in range(160):
        await leader.propose(*put(b"k%d" % (i % 30), b"v%d" % i))
        if i == 60:  # compaction past the last snapshot: the next one is whole again
            await leader.propose("compact", rpc_pb2.CompactionRequest(revision=40).SerializeToString())
    await cluster.converge(b"k9", b"v159")
    restarted = next(k for k, n in cluster.nodes.items() if n is not leader)
    await cluster.stop(restarted)  # waits for a snapshot being written
    snaps = SnapshotFiles(cluster.root / restarted)
    assert any(snaps.read(term, index).data != snaps.read_own(term, index) for term, index in saved(snaps))
    await cluster.start(restarted)  # from its chain of snapshot files, then its WAL
    await cluster.start(lagging)  # too far behind the leader's log: installs the leader's snapshot
    await leader.propose(*put(b"last", b"1"))
    await cluster.converge(b"last", b"1")
    assert cluster.nodes[lagging].status()["snapshot_index"] > 0
    states = {name: applier.snapshot() for name, applier in cluster.appliers.items()}
    assert states[lagging] == states[restarted] == states[next(k for k, n in cluster.nodes.items() if n is leader)]


async def test_a_member_restarts_from_a_format_3_snapshot_and_takes_whole_ones_after_it(cluster):
    """Data dirs written before snapshot chains hold format-3 files: one head, then the whole state."""
    leader, name = await start_and_stop_a_follower(cluster)
    await cluster.start(name)
    for i in range(60):
        await leader.propose(*put(b"k%d" % i, b"v%d" % i))
    await cluster.converge(b"k59", b"v59")
    await cluster.stop(name)
    snaps = SnapshotFiles(cluster.root / name)
    term, index = saved(snaps)[-1]
    snap = snaps.read(term, index)
    members, recent, states, legacy = _snapshot_frames(snap)
    assert not legacy
    applier = Applier(KVStore())
    applier.restore(states[0], states[1:])
    head = msgpack.packb([3, members, recent], use_bin_type=True)
    snaps.save_parts(snap.meta, [struct.pack(">I", len(head)), head, applier.snapshot()])
    assert _snapshot_frames(snaps.read(term, index))[3]

    node = await cluster.start(name)
    assert node.status()["snapshot_index"] == index
    assert cluster.value(name, b"k0") == b"v0" and cluster.value(name, b"k59") == b"v59"
    for i in range(60):  # its next snapshot is whole: a delta cannot extend a file without frame lengths
        await leader.propose(*put(b"after%d" % i, b"1"))
    await cluster.converge(b"after59", b"1")
    await cluster.stop(name)
    first_after = next(key for key in saved(snaps) if key[1] > index)
    assert snaps.read(*first_after).data == snaps.read_own(*first_after)
    await cluster.start(name)
    assert cluster.value(name, b"k0") == b"v0" and cluster.value(name, b"after59") == b"1"


async def test_whole_cluster_restart_keeps_every_acknowledged_write(cluster):
    cluster.overrides.update(snapshot_count=30, catchup_entries=10)
    await start_all(cluster)
    leader = await cluster.leader()
    for i in range(80):
        await leader.propose(*put(b"k%d" % i, b"v%d" % i))
    for name in NAMES:
        await cluster.stop(name)
    await start_all(cluster)
    leader = await cluster.leader()
    # a member's own commit index may trail the leader's; the new leader's first commit brings it up
    await cluster.converge(b"k79", b"v79")
    for name in NAMES:
        assert all(cluster.value(name, b"k%d" % i) == b"v%d" % i for i in range(80))
    result = await leader.propose(*put(b"k80", b"v80"))
    assert result.header.revision == 82


async def test_graceful_stop_hands_leadership_over(cluster):
    await start_all(cluster)
    leader = await cluster.leader()
    old = next(k for k, n in cluster.nodes.items() if n is leader)
    await cluster.stop(old, transfer=True)
    new = await cluster.leader(timeout=2.0)
    assert new.member_id != leader.member_id
    await new.propose(*put(b"after", b"1"))
    with pytest.raises(StoppedError):
        await leader.propose(*put(b"x", b"1"))


async def test_move_leader_and_its_errors(cluster):
    await start_all(cluster)
    leader = await cluster.leader()
    follower = cluster.follower()
    with pytest.raises(NotLeaderError):
        await follower.move_leader(leader.member_id)
    await leader.move_leader(follower.member_id)
    assert (await cluster.leader()).member_id == follower.member_id


async def test_member_joins_as_learner_is_promoted_and_another_is_removed(cluster, port):
    cluster.overrides.update(snapshot_count=30, catchup_entries=5)
    await start_all(cluster)
    leader = await cluster.leader()
    for i in range(60):  # enough that the newcomer needs the snapshot, not just the log
        await leader.propose(*put(b"k%d" % i, b"v%d" % i))
    cluster.urls["n4"] = f"http://127.0.0.1:{port()}"
    follower = cluster.follower()
    added = await follower.add_member([cluster.urls["n4"]], is_learner=True)  # through a follower
    assert added.is_learner and added.peer_urls == [cluster.urls["n4"]]
    with pytest.raises(EtcdError, match="Peer URLs already exists"):
        await leader.add_member([cluster.urls["n4"]], is_learner=False)

    applier = Applier(KVStore())
    config = cluster.config("n4")
    config.initial_cluster_state = "existing"
    joiner = StoreNode(config, applier, applier.kv.lessor)
    await joiner.start()
    cluster.nodes["n4"], cluster.appliers["n4"] = joiner, applier
    await cluster.converge(b"k59", b"v59")
    assert joiner.member_id == added.id and joiner.cluster_id == leader.cluster_id

    async def published() -> None:  # the newcomer records its name and client URL once it has caught up
        while next(m for m in leader.members() if m.id == added.id).name != "n4":
            await asyncio.sleep(0.02)
    await asyncio.wait_for(published(), 5)

    await leader.promote_member(added.id)
    assert not next(m for m in leader.members() if m.id == added.id).is_learner
    victim = next(k for k, n in cluster.nodes.items() if n is not leader and k != "n4")
    victim_id = cluster.nodes[victim].member_id
    await leader.remove_member(victim_id)
    assert victim_id not in {m.id for m in leader.members()}

    async def stopped() -> None:
        while cluster.nodes[victim]._running:
            await asyncio.sleep(0.02)
    await asyncio.wait_for(stopped(), 5)  # a removed member stops itself
    del cluster.nodes[victim]
    await leader.propose(*put(b"after", b"1"))
    await cluster.converge(b"after", b"1")

