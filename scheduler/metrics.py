"""The scheduler's /metrics: attempts by result, latency histograms and queue lengths, with upstream names.

`process.metrics` renders unlabelled series; attempts and pending pods carry one label each (`result`,
`queue`), rendered here as one family so Prometheus sees a single metric per name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from process.metrics import Histogram, render

RESULTS = ("scheduled", "unschedulable", "error")


class SchedulerMetrics:
    """Counters and histograms the driver updates; `render` reads queue lengths at scrape time."""

    def __init__(self) -> None:
        self.attempts = dict.fromkeys(RESULTS, 0)
        self.attempt_seconds = Histogram("scheduler_scheduling_attempt_duration_seconds",
                                         "Scheduling attempt latency in seconds (algorithm + binding)")
        self.algorithm_seconds = Histogram("scheduler_scheduling_algorithm_duration_seconds",
                                           "Scheduling algorithm latency in seconds")
        self.e2e_seconds = Histogram("scheduler_pod_scheduling_sli_duration_seconds",
                                     "Seconds from a pod entering the queue until it is bound")

    def attempt(self, result: str, seconds: float) -> None:
        """Count one attempt's result and how long it took."""
        self.attempts[result] += 1
        self.attempt_seconds.observe(seconds)

    def render(self, queue_lengths: Callable[[], Mapping[str, int]], is_leader: Callable[[], bool]) -> str:
        """The Prometheus text exposition of everything above."""
        lines = ["# HELP scheduler_schedule_attempts_total Number of attempts to schedule pods, by result",
                 "# TYPE scheduler_schedule_attempts_total counter"]
        lines += [f'scheduler_schedule_attempts_total{{result="{r}"}} {n}' for r, n in self.attempts.items()]
        lines += ["# HELP scheduler_pending_pods Number of pending pods, by queue",
                  "# TYPE scheduler_pending_pods gauge"]
        lines += [f'scheduler_pending_pods{{queue="{q}"}} {n}' for q, n in sorted(queue_lengths().items())]
        lines += ["# HELP leader_election_master_status 1 if this replica leads",
                  "# TYPE leader_election_master_status gauge",
                  f'leader_election_master_status{{name="kube-scheduler"}} {int(is_leader())}']
        return "\n".join(lines) + "\n" + render([self.attempt_seconds, self.algorithm_seconds, self.e2e_seconds])
