"""Membership and quorum arithmetic: who votes, who only learns, and what a majority of voters has."""

from __future__ import annotations

import enum

from store.raft.messages import ConfChange, ConfChangeType, ConfState
from store.raft.progress import Progress


class VoteResult(enum.Enum):
    """Outcome of an election so far."""

    PENDING = 0
    WON = 1
    LOST = 2


class ProgressTracker:
    """Voters, learners, their replication progress and the votes of the current election."""

    __slots__ = ("learners", "max_inflight", "progress", "voters", "votes")

    def __init__(self, conf_state: ConfState, next_index: int, max_inflight: int) -> None:
        self.max_inflight = max_inflight
        self.voters: set[int] = set()
        self.learners: set[int] = set()
        self.progress: dict[int, Progress] = {}
        self.votes: dict[int, bool] = {}
        self.restore(conf_state, next_index)

    def restore(self, conf_state: ConfState, next_index: int) -> None:
        """Adopt a whole membership (at startup or from a snapshot), with fresh progress for everyone."""
        self.voters = set(conf_state.voters)
        self.learners = set(conf_state.learners) - self.voters
        self.progress = {
            node: Progress(next_index, self.max_inflight, node in self.learners) for node in self.voters | self.learners
        }

    def conf_state(self) -> ConfState:
        """The membership in the form persisted in snapshots."""
        return ConfState(tuple(sorted(self.voters)), tuple(sorted(self.learners)))

    def check(self, cc: ConfChange) -> str | None:
        """Why `cc` cannot apply to the current membership, or None if it can."""
        node = cc.node_id
        if node <= 0:
            return f"member id {node} is not a positive integer"
        if cc.type == ConfChangeType.ADD_VOTER and node in self.voters:
            return f"member {node:x} is already a voter"
        if cc.type == ConfChangeType.ADD_LEARNER and node in self.voters | self.learners:
            role = "voter" if node in self.voters else "learner"
            return f"member {node:x} is already a {role}; demotion is not supported"
        if cc.type == ConfChangeType.REMOVE_NODE:
            if node not in self.voters and node not in self.learners:
                return f"member {node:x} is not in the cluster"
            if self.voters == {node}:
                return f"member {node:x} is the last voter"
        return None

    def apply(self, cc: ConfChange, next_index: int) -> None:
        """Apply a committed change; changes that no longer fit are ignored so every member ends up identical."""
        if self.check(cc) is not None:
            return
        node = cc.node_id
        if cc.type == ConfChangeType.REMOVE_NODE:
            self.voters.discard(node)
            self.learners.discard(node)
            self.progress.pop(node, None)
            self.votes.pop(node, None)
            return
        pr = self.progress.get(node)
        if pr is None:
            pr = self.progress[node] = Progress(next_index, self.max_inflight)
            # A fresh member gets an election timeout of grace before check-quorum counts it as silent.
            pr.recent_active = True
        if cc.type == ConfChangeType.ADD_VOTER:
            self.learners.discard(node)
            self.voters.add(node)
            pr.is_learner = False
        else:
            self.learners.add(node)
            pr.is_learner = True

    def quorum(self) -> int:
        """Votes needed for a majority of voters."""
        return len(self.voters) // 2 + 1

    def committed(self) -> int:
        """The largest index a majority of voters has matched."""
        if not self.voters:
            return 0
        matches = sorted((self.progress[v].match for v in self.voters), reverse=True)
        return matches[len(matches) // 2]

    def quorum_active(self) -> bool:
        """Whether a majority of voters was heard from recently (the caller marks itself active)."""
        active = sum(1 for v in self.voters if self.progress[v].recent_active)
        return active >= self.quorum()

    def reset_votes(self) -> None:
        """Start a new election's tally."""
        self.votes = {}

    def record_vote(self, node: int, granted: bool) -> None:
        """Count a voter's answer once; later answers from the same voter are ignored."""
        self.votes.setdefault(node, granted)

    def vote_result(self) -> VoteResult:
        """Won once a majority granted; lost once a majority can no longer be reached."""
        granted = sum(1 for v in self.voters if self.votes.get(v) is True)
        rejected = sum(1 for v in self.voters if self.votes.get(v) is False)
        quorum = self.quorum()
        if granted >= quorum:
            return VoteResult.WON
        if rejected > len(self.voters) - quorum:
            return VoteResult.LOST
        return VoteResult.PENDING
