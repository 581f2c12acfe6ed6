"""SchedulingGates: a pod with `spec.schedulingGates` waits outside the active queue until they are removed."""

from __future__ import annotations

from scheduler.framework import Code, PreEnqueuePlugin, Status
from scheduler.podinfo import PodInfo


class SchedulingGates(PreEnqueuePlugin):
    """Keeps gated pods parked; the queue re-checks them when the pod is updated."""

    name = "SchedulingGates"

    def pre_enqueue(self, pod: PodInfo) -> Status | None:
        if not pod.scheduling_gates:
            return None
        gates = " ".join(pod.scheduling_gates)
        return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (f"waiting for scheduling gates: [{gates}]",))
