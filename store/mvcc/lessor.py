"""Leases: TTLs, the keys attached to each, and (on the leader only) when each expires.

Which leases exist and which keys they hold is replicated state, changed only by applied entries.
Expiry times are not: only the primary (the leader's lessor) tracks them, from the ``now`` its node
passes in, and its node proposes the revocation of what ``expired`` returns. A follower keeps every
lease alive until a revoke entry arrives; ``promote`` starts the clocks when it becomes leader.
"""

from __future__ import annotations

import math

from store.mvcc.errors import LeaseExistsError, LeaseNotFoundError, LeaseTTLTooLargeError, NotPrimaryError
from store.mvcc.types import LeaseStatus

MAX_LEASE_TTL = 9_000_000_000
# etcd revokes at most this many leases per second; promote spreads expiries so a new leader does
# not find thousands of leases expiring in the same second.
LEASE_REVOKE_RATE = 1000
# A lease handed out by ``expired`` is handed out again only this many seconds later if its revoke
# has not been applied by then (the proposal may have been lost with a leader change).
EXPIRED_LEASE_RETRY_INTERVAL = 3.0
# etcd's default minimum TTL: ceil(1.5 election timeouts) for a 1 s election timeout, so a lease
# cannot expire before a new leader could be elected to keep it alive.
DEFAULT_MIN_TTL = 2


class Lease:
    """One lease; ``expiry`` is monotonic seconds, infinite unless this lessor is primary."""

    __slots__ = ("expiry", "id", "keys", "remaining_ttl", "retry_at", "ttl")

    def __init__(self, lease_id: int, ttl: int, remaining_ttl: int = 0) -> None:
        self.id = lease_id
        self.ttl = ttl
        # Checkpointed remaining TTL (0: none); a new leader resumes from it instead of the full TTL.
        self.remaining_ttl = remaining_ttl
        self.expiry = math.inf
        self.retry_at = 0.0
        self.keys: set[bytes] = set()

    def refresh(self, now: float, extend: float) -> None:
        """Restart the clock from ``now``, ``extend`` seconds later than the TTL alone would."""
        self.expiry = now + extend + (self.remaining_ttl or self.ttl)
        self.retry_at = 0.0


class Lessor:
    """All leases of the store, keyed by id."""

    __slots__ = ("_leases", "_primary", "min_ttl")

    def __init__(self, min_ttl: int = DEFAULT_MIN_TTL) -> None:
        self._leases: dict[int, Lease] = {}
        self._primary = False
        self.min_ttl = min_ttl

    def __contains__(self, lease_id: int) -> bool:
        return lease_id in self._leases

    def __len__(self) -> int:
        return len(self._leases)

    @property
    def is_primary(self) -> bool:
        """Whether this lessor tracks expiry (its node is the leader)."""
        return self._primary

    def grant(self, lease_id: int, ttl: int, now: float) -> int:
        """Create a lease with the id the proposer chose; returns the granted TTL (raised to ``min_ttl``)."""
        if lease_id == 0:
            # The proposing server picks an id for a request that left it 0, before proposing.
            raise LeaseNotFoundError("lease id 0")
        if ttl > MAX_LEASE_TTL:
            raise LeaseTTLTooLargeError(f"ttl {ttl}")
        if lease_id in self._leases:
            raise LeaseExistsError(f"lease {lease_id:x}")
        lease = Lease(lease_id, max(ttl, self.min_ttl))
        if self._primary:
            lease.refresh(now, 0.0)
        self._leases[lease_id] = lease
        return lease.ttl

    def revoke(self, lease_id: int) -> list[bytes]:
        """Remove the lease; returns its keys in order, which the caller deletes in one revision."""
        lease = self._leases.pop(lease_id, None)
        if lease is None:
            raise LeaseNotFoundError(f"lease {lease_id:x}")
        return sorted(lease.keys)

    def attach(self, lease_id: int, key: bytes) -> None:
        """Record that ``key`` now lives under the (existing) lease."""
        self._leases[lease_id].keys.add(key)

    def detach(self, lease_id: int, key: bytes) -> None:
        """Forget ``key`` under the lease; a lease already gone is fine (its keys went with it)."""
        lease = self._leases.get(lease_id)
        if lease is not None:
            lease.keys.discard(key)

    def renew(self, lease_id: int, now: float) -> int:
        """A keep-alive: restart the lease's clock; returns its TTL. Only the primary answers."""
        if not self._primary:
            raise NotPrimaryError(f"lease {lease_id:x}")
        lease = self._leases.get(lease_id)
        # An expired lease is as good as revoked: its revocation is on its way through Raft.
        if lease is None or lease.expiry <= now:
            raise LeaseNotFoundError(f"lease {lease_id:x}")
        lease.remaining_ttl = 0
        lease.refresh(now, 0.0)
        return lease.ttl

    def checkpoint(self, lease_id: int, remaining_ttl: int) -> None:
        """Apply a replicated remaining-TTL checkpoint, so a new leader does not restart the full TTL."""
        lease = self._leases.get(lease_id)
        if lease is not None:
            lease.remaining_ttl = remaining_ttl

    def time_to_live(self, lease_id: int, now: float, *, keys: bool = False) -> LeaseStatus:
        """Remaining and granted TTL (and optionally the attached keys, in order) of a lease."""
        lease = self._leases.get(lease_id)
        if lease is None:
            raise LeaseNotFoundError(f"lease {lease_id:x}")
        remaining = int(lease.expiry - now) if lease.expiry != math.inf else lease.remaining_ttl or lease.ttl
        return LeaseStatus(lease_id, remaining, lease.ttl, sorted(lease.keys) if keys else [])

    def leases(self) -> list[int]:
        """Ids of all leases, ascending."""
        return sorted(self._leases)

    def expired(self, now: float, limit: int = LEASE_REVOKE_RATE // 2) -> list[int]:
        """Ids of at most ``limit`` leases whose expiry has passed, earliest first, for the leader's node
        to propose revoking. Only the primary has any; a lease returned once is returned again only
        after ``EXPIRED_LEASE_RETRY_INTERVAL`` if it still exists then."""
        due = [lease for lease in self._leases.values() if lease.expiry <= now and lease.retry_at <= now]
        due.sort(key=lambda lease: (lease.expiry, lease.id))
        del due[limit:]
        for lease in due:
            lease.retry_at = now + EXPIRED_LEASE_RETRY_INTERVAL
        return [lease.id for lease in due]

    def promote(self, now: float, extend: float = 0.0) -> None:
        """Become primary: every lease gets a fresh clock (``extend`` seconds of grace for the election)."""
        self._primary = True
        for lease in self._leases.values():
            lease.refresh(now, extend)
        if len(self._leases) < LEASE_REVOKE_RATE:
            return
        # Like etcd, push back leases that would expire faster than 3/4 of the revoke rate in one window.
        ordered = sorted(self._leases.values(), key=lambda lease: (lease.expiry, lease.id))
        target = 3 * LEASE_REVOKE_RATE // 4
        base = ordered[0].expiry - now
        next_window = base + 1.0
        expiring = 0
        for lease in ordered:
            remaining = lease.expiry - now
            if remaining > next_window:
                base = remaining
                next_window = base + 1.0
                expiring = 1
                continue
            expiring += 1
            if expiring > target:
                lease.refresh(now, base - remaining + expiring / target + extend)

    def demote(self) -> None:
        """Stop tracking expiry (leadership lost): leases live until a revoke entry arrives."""
        self._primary = False
        for lease in self._leases.values():
            lease.expiry = math.inf

    def export(self) -> list[tuple[int, int, int]]:
        """(id, ttl, remaining_ttl) of every lease, by id: the replicated part (keys come from the kvs)."""
        return [(lease.id, lease.ttl, lease.remaining_ttl) for lease in sorted(self._leases.values(), key=_lease_id)]

    def load(self, rows: list[tuple[int, int, int]]) -> None:
        """Replace all leases with exported ones, not primary; the caller re-attaches keys."""
        self._leases = {lease_id: Lease(lease_id, ttl, remaining) for lease_id, ttl, remaining in rows}
        self._primary = False


def _lease_id(lease: Lease) -> int:
    return lease.id
