"""Per-key exponential backoff with Kubernetes' flowcontrol semantics (no jitter), time passed in.

The kubelet keys one for container restarts (CrashLoopBackOff) and one for image pulls (ImagePullBackOff).
An entry resets when nothing happened for twice the maximum delay: a container that ran ten minutes
before crashing starts again from the initial delay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

INITIAL_SECONDS: Final = 10.0
MAX_SECONDS: Final = 300.0


@dataclass
class _Entry:
    delay: float
    last_update: float


@dataclass
class Backoff:
    """Delays per key, doubling from ``initial`` up to ``maximum``."""

    initial: float = INITIAL_SECONDS
    maximum: float = MAX_SECONDS
    _entries: dict[str, _Entry] = field(default_factory=dict)

    def _expired(self, event_time: float, entry: _Entry) -> bool:
        return event_time - entry.last_update > 2 * self.maximum

    def delay(self, key: str) -> float:
        """The current window for ``key`` (0 when it has none)."""
        entry = self._entries.get(key)
        return entry.delay if entry else 0.0

    def in_backoff_since(self, key: str, event_time: float, now: float) -> bool:
        """Whether ``now`` is still within the window that started at ``event_time`` (a container's finish)."""
        entry = self._entries.get(key)
        if entry is None or self._expired(event_time, entry):
            return False
        return now - event_time < entry.delay

    def in_backoff_since_update(self, key: str, now: float) -> bool:
        """Whether ``now`` is within the window that started at the last failure (image pulls)."""
        entry = self._entries.get(key)
        if entry is None or self._expired(now, entry):
            return False
        return now - entry.last_update < entry.delay

    def next(self, key: str, event_time: float, now: float) -> None:
        """Record an attempt: start at ``initial`` (or again after a long quiet spell), otherwise double."""
        entry = self._entries.get(key)
        if entry is None or self._expired(event_time, entry):
            self._entries[key] = _Entry(self.initial, now)
            return
        entry.delay = min(entry.delay * 2, self.maximum)
        entry.last_update = now

    def gc(self, now: float) -> None:
        """Drop entries idle for longer than the reset window, so deleted pods do not accumulate."""
        for key in [k for k, e in self._entries.items() if self._expired(now, e)]:
            del self._entries[key]


def go_duration(seconds: float) -> str:
    """Go's time.Duration text for whole seconds (``10s``, ``1m20s``, ``5m0s``), as in kubelet messages."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
