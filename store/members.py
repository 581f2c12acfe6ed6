"""Cluster membership as the replicated state knows it: member ids, names, peer and client URLs.

Ids are derived the way etcd derives them, so every member computes the same ones from the same
flags: a member's id is the first 8 bytes (big endian) of ``sha1(sorted peer URLs + cluster token)``,
and the cluster id is the first 8 bytes of ``sha1`` of the sorted initial member ids. Unlike etcd,
a member added later gets its id the same way (no timestamp), so the joining process can compute
its own id from its flags; re-adding the same peer URLs therefore reuses the id, and, as with
etcd, the re-added member must start from an empty data dir.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


def member_id(peer_urls: Iterable[str], token: str) -> int:
    """The id of the member advertising ``peer_urls`` in the cluster bootstrapped with ``token``."""
    digest = hashlib.sha1(("".join(sorted(peer_urls)) + token).encode()).digest()
    return struct.unpack(">Q", digest[:8])[0] or 1


def cluster_id(member_ids: Iterable[int]) -> int:
    """The cluster id: a hash of the initial members' ids, so differently-formed clusters never talk."""
    digest = hashlib.sha1(b"".join(struct.pack(">Q", i) for i in sorted(member_ids))).digest()
    return struct.unpack(">Q", digest[:8])[0] or 1


@dataclass(slots=True)
class Member:
    """One member as the Cluster API reports it; ``name`` and ``client_urls`` are empty until it publishes them."""

    id: int
    name: str = ""
    peer_urls: list[str] = field(default_factory=list)
    client_urls: list[str] = field(default_factory=list)
    is_learner: bool = False

    def export(self) -> list[Any]:
        return [self.id, self.name, self.peer_urls, self.client_urls, self.is_learner]

    @classmethod
    def load(cls, row: Sequence[Any]) -> Member:
        mid, name, peer_urls, client_urls, is_learner = row
        return cls(int(mid), str(name), list(peer_urls), list(client_urls), bool(is_learner))


class Membership:
    """The replicated member registry: changed only by applying log entries, so every member agrees."""

    def __init__(self) -> None:
        self._members: dict[int, Member] = {}
        self.removed: set[int] = set()

    @classmethod
    def initial(cls, cluster: Mapping[str, Sequence[str]], token: str) -> Membership:
        """The bootstrap membership from ``--initial-cluster`` (name → peer URLs)."""
        members = cls()
        for name, urls in cluster.items():
            m = Member(member_id(urls, token), name, list(urls))
            members._members[m.id] = m
        return members

    def __iter__(self) -> Iterator[Member]:
        return iter(self.all())

    def __contains__(self, mid: int) -> bool:
        return mid in self._members

    def __len__(self) -> int:
        return len(self._members)

    def get(self, mid: int) -> Member | None:
        return self._members.get(mid)

    def all(self) -> list[Member]:
        return sorted(self._members.values(), key=lambda m: m.id)

    def add(self, member: Member) -> None:
        """Add or replace ``member`` (adding a learner, or promoting it, goes through here)."""
        self.removed.discard(member.id)
        self._members[member.id] = member

    def remove(self, mid: int) -> None:
        self._members.pop(mid, None)
        self.removed.add(mid)

    def set_attributes(self, mid: int, name: str, client_urls: Sequence[str]) -> None:
        m = self._members.get(mid)
        if m is not None:
            m.name = name
            m.client_urls = list(client_urls)

    def set_peer_urls(self, mid: int, peer_urls: Sequence[str]) -> None:
        m = self._members.get(mid)
        if m is not None:
            m.peer_urls = list(peer_urls)

    def export(self) -> list[Any]:
        return [[m.export() for m in self], sorted(self.removed)]

    @classmethod
    def load(cls, data: Sequence[Any]) -> Membership:
        rows, removed = data
        members = cls()
        for row in rows:
            m = Member.load(row)
            members._members[m.id] = m
        members.removed = set(removed)
        return members
