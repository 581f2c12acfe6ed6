"""ReadIndex requests waiting for a heartbeat round to confirm the leader is still the leader."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class ReadRequest:
    """A read that may be served at `index` once a quorum acknowledged a heartbeat carrying `context`."""

    index: int
    from_: int
    context: bytes
    acks: set[int] = field(default_factory=set)


class ReadOnly:
    """Pending ReadIndex requests in arrival order, keyed by their unique context."""

    __slots__ = ("_pending", "_queue")

    def __init__(self) -> None:
        self._pending: dict[bytes, ReadRequest] = {}
        self._queue: deque[bytes] = deque()

    def add(self, index: int, from_: int, context: bytes) -> bool:
        """Queue a request; False if a request with this context is already waiting."""
        if context in self._pending:
            return False
        self._pending[context] = ReadRequest(index, from_, context)
        self._queue.append(context)
        return True

    def ack(self, node: int, context: bytes) -> set[int]:
        """Record that `node` answered the heartbeat for `context`; who has answered so far (empty: unknown)."""
        req = self._pending.get(context)
        if req is None:
            return set()
        req.acks.add(node)
        return req.acks

    def release(self, context: bytes) -> list[ReadRequest]:
        """Pop the request for `context` and every request queued before it.

        A heartbeat answered after a later request was queued also confirms leadership for the earlier ones.
        """
        if context not in self._pending:
            return []
        released: list[ReadRequest] = []
        while self._queue:
            ctx = self._queue.popleft()
            released.append(self._pending.pop(ctx))
            if ctx == context:
                break
        return released

    def last_context(self) -> bytes:
        """Context of the newest waiting request, to piggyback on heartbeats (empty if none)."""
        return self._queue[-1] if self._queue else b""

    def reset(self) -> None:
        """Drop everything, e.g. on losing leadership: the requesters time out and retry."""
        self._pending.clear()
        self._queue.clear()
