"""Random schedules of message loss, duplication, reordering, partitions, crashes and proposals.

After every action the harness checks Raft's safety properties (election safety, log matching, leader
completeness, state machine safety); after healing everything the cluster must converge again.
"""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from store.raft import (
    ConfChange,
    ConfChangeType,
    NotLeaderError,
    ProposalDroppedError,
    RaftError,
)
from tests.unit.raft_network import Network

# Weighted by repetition: time and delivery must dominate for elections and replication to happen, and
# faults must be rare enough that a quorum is usually up between them.
_WEIGHTS = {
    "tick_all": 30, "deliver_all": 16, "ready_all": 16, "deliver": 8, "propose": 8,
    "ready": 3, "begin": 2, "finish": 2, "drop": 3, "dup": 2, "tick": 2, "read": 2, "compact": 2,
    "campaign": 1, "transfer": 1, "isolate": 1, "heal": 2, "crash": 1, "restart": 2,
}  # fmt: skip
_ACTIONS = [kind for kind, weight in _WEIGHTS.items() for _ in range(weight)]

# No shrinking: schedules are hundreds of actions long and shrinking one takes minutes; the falsifying
# schedule is printed whole and replays deterministically.
_SETTINGS = settings(
    max_examples=100,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    derandomize=True,  # the same schedules on every run: a failure in CI replays locally
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# One integer per action (its kind and its argument), which keeps generating long schedules cheap.
_schedule = st.lists(st.integers(0, 1 << 30), min_size=200, max_size=600)


def _decode(action: int) -> tuple[str, int]:
    return _ACTIONS[action % len(_ACTIONS)], action // len(_ACTIONS)


def _run(net: Network, kind: str, arg: int, counter: list[int]) -> None:
    ids = sorted(net.members)
    node_id = ids[arg % len(ids)]
    member = net.members[node_id]
    if kind == "tick_all":
        for m in net.up_members():
            m.node.tick()
    elif kind == "tick" and member.up:
        member.node.tick()
    elif kind == "deliver" and net.queue:
        net.deliver(arg % len(net.queue))
    elif kind == "deliver_all":
        for _ in range(len(net.queue)):
            net.deliver()
    elif kind == "drop" and net.queue:
        net.drop(arg % len(net.queue))
    elif kind == "dup" and net.queue:
        net.duplicate(arg % len(net.queue))
    elif kind == "ready":
        net.process_ready(node_id)
    elif kind == "ready_all":
        for i in ids:
            net.process_ready(i)
    elif kind == "begin":
        net.begin_ready(node_id)
    elif kind == "finish":
        net.finish_ready(node_id)
    elif kind in ("propose", "read") and member.up:
        if arg % 4 and net.leader():
            member = net.members[net.leader()]  # mostly propose where it can succeed
        counter[0] += 1
        with contextlib.suppress(NotLeaderError, ProposalDroppedError):
            if kind == "propose":
                member.node.propose(b"v%d" % counter[0])
            else:
                member.node.read_index(b"r%d" % counter[0])
    elif kind == "campaign" and member.up:
        member.node.campaign()
    elif kind == "transfer":
        leader = net.leader()
        if leader and node_id in net[leader].tracker.voters:
            with contextlib.suppress(ProposalDroppedError):  # a removed leader is already handing over
                net[leader].transfer_leadership(node_id)
    elif kind == "compact" and member.up and not member.pending:
        index = member.applied_index
        if index > member.storage.snapshot().meta.index and index <= member.storage.last_index():
            member.storage.create_snapshot(index, member.conf_state, member.sm_snapshot())
            member.storage.compact(index)
    elif kind == "isolate":
        net.isolate(node_id)
    elif kind == "heal":
        net.recover()
    elif kind == "crash" and member.up:
        if len(net.up_members()) > 1:
            net.crash(node_id)
    elif kind == "restart":
        down = [i for i in ids if not net.members[i].up]
        if down:
            net.restart(down[arg % len(down)])
    elif kind == "conf":
        _change_membership(net, node_id)


def _change_membership(net: Network, node_id: int) -> None:
    leader = net.leader()
    if not leader:
        return
    r = net[leader]
    if node_id in r.tracker.voters:
        cc = ConfChange(ConfChangeType.REMOVE_NODE, node_id)
    elif node_id in r.tracker.learners:
        cc = ConfChange(ConfChangeType.ADD_VOTER, node_id)
    else:
        cc = ConfChange(ConfChangeType.ADD_LEARNER, node_id)
    with contextlib.suppress(RaftError):
        r.propose_conf_change(cc)


def _converge(net: Network) -> None:
    """Heal everything, restart everyone, and require one leader whose log every member applies."""
    net.recover()
    for m in list(net.members.values()):
        if not m.up:
            net.restart(m.id)
    for m in net.up_members():
        while net.finish_ready(m.id):
            pass
    while net.queue:
        net.drop()
    for _ in range(200):
        net.tick()
        leader = net.leader()
        if not leader:
            continue
        r = net[leader]
        if not r.raft_log.committed or r.raft_log.maybe_term(r.raft_log.committed) != r.term:
            continue
        members = r.tracker.voters | r.tracker.learners
        if all(net.members[i].applied_index == r.raft_log.committed for i in members):
            for i in members:
                assert net.members[i].sm_hash == net.members[leader].sm_hash
            return
    raise AssertionError("the healed cluster did not converge within 200 ticks")


@_SETTINGS
@given(
    size=st.sampled_from([3, 5]),
    seed=st.integers(0, 1 << 16),
    actions=_schedule,
    pre_vote=st.booleans(),
    max_size=st.sampled_from([1, 64, 1 << 20]),
    inflight=st.sampled_from([1, 2, 256]),
    pipeline=st.booleans(),
    defer_commit=st.booleans(),
)
def test_random_faults_never_break_safety_and_the_healed_cluster_converges(
    size: int, seed: int, actions: list[int], pre_vote: bool, max_size: int, inflight: int, pipeline: bool,
    defer_commit: bool,
) -> None:
    net = Network(
        range(1, size + 1),
        seed=seed,
        pre_vote=pre_vote,
        check_quorum=pre_vote,
        max_size_per_msg=max_size,
        max_inflight_msgs=inflight,
        pipeline=pipeline,
        defer_commit=defer_commit,
    )
    counter = [0]
    for action in actions:
        _run(net, *_decode(action), counter)
        net.check()
    _converge(net)


@_SETTINGS
@given(seed=st.integers(0, 1 << 16), actions=_schedule, pipeline=st.booleans())
def test_random_membership_changes_never_break_safety_and_the_healed_cluster_converges(
    seed: int, actions: list[int], pipeline: bool
) -> None:
    net = Network([1, 2, 3], learners=[4], seed=seed, pipeline=pipeline)
    net.add_member(5)  # not in the configuration yet: joins only by a conf change
    counter = [0]
    for action in actions:
        kind, arg = _decode(action)
        _run(net, "conf" if kind == "compact" and arg % 2 else kind, arg, counter)
        net.check()
    _converge(net)
