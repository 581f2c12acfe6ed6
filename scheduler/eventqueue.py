"""Events about pods (``Scheduled``, ``FailedScheduling``, ``Preempted``) written off the scheduling hot path.

client-go's event broadcaster hands events to a bounded queue that a background writer drains, dropping
new events while the queue is full: events are best-effort and must never hold up bindings. This does the
same on the scheduler's event loop — a few writers of their own, so a burst of thousands of events neither
takes the binding slots nor grows without bound.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Final

from client.errors import ApiConnectionError, ApiError
from client.events import EventRecorder
from process.log import get_logger
from scheduler.podinfo import PodInfo

log = get_logger("scheduler")

# client-go's broadcaster queues 1,000 events (maxQueuedEvents) and drops beyond that.
MAX_QUEUED_EVENTS: Final = 1000
# Event writes in flight at once (client-go writes one at a time; a few hide our longer round trips).
EVENT_WRITERS: Final = 4


class EventQueue:
    """A bounded FIFO of pod events and the writers that record them through ``recorder``."""

    def __init__(self, recorder: EventRecorder, *, capacity: int = MAX_QUEUED_EVENTS,
                 writers: int = EVENT_WRITERS) -> None:
        self.recorder = recorder
        self.capacity = capacity
        self.writers = writers
        self.dropped = 0
        self._queue: deque[tuple[PodInfo, str, str, str]] = deque()
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._queue)

    def record(self, pod: PodInfo, type_: str, reason: str, message: str) -> None:
        """Queue an event (never waits); dropped, and counted, while the queue is full."""
        if len(self._queue) >= self.capacity:
            self.dropped += 1
            log.v(2, "event queue full; dropping event", reason=reason, pod=pod.key)
            return
        self._queue.append((pod, type_, reason, message))
        if len(self._tasks) < self.writers:
            task = asyncio.get_running_loop().create_task(self._write())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def flush(self) -> None:
        """Wait until every queued event has been written (or given up on)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _write(self) -> None:
        while self._queue:
            pod, type_, reason, message = self._queue.popleft()
            try:
                # List items may come without kind/apiVersion; the Event's involvedObject needs them.
                await self.recorder.emit({"apiVersion": "v1", "kind": "Pod", **pod.obj}, type_, reason, message)
            except (ApiError, ApiConnectionError) as exc:
                log.warning("could not record event", reason=reason, pod=pod.key, error=str(exc))
