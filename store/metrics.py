"""Prometheus text-format metrics with etcd's names, so dashboards built for etcd read ours."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence

# etcd's buckets for disk and apply latencies: 1 ms doubling to ~8 s.
LATENCY_BUCKETS = tuple(0.001 * 2 ** i for i in range(14))


class Histogram:
    """A cumulative histogram; observing is O(log buckets), cheap enough for every fsync and apply."""

    def __init__(self, name: str, help_: str, buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        self.name, self.help = name, help_
        self.buckets = tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value
        self.count += 1

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        running = 0
        for bound, count in zip(self.buckets, self.counts, strict=False):
            running += count
            lines.append(f'{self.name}_bucket{{le="{bound:g}"}} {running}')
        lines += [f'{self.name}_bucket{{le="+Inf"}} {self.count}', f"{self.name}_sum {self.sum:.9g}",
                  f"{self.name}_count {self.count}"]
        return lines


class Sample:
    """A counter or gauge read at scrape time from whoever owns the number."""

    def __init__(self, name: str, kind: str, help_: str, read: Callable[[], float]) -> None:
        self.name, self.kind, self.help, self.read = name, kind, help_, read

    def render(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}", f"{self.name} {self.read():g}"]


def render(metrics: Iterable[Histogram | Sample]) -> str:
    return "\n".join(line for metric in metrics for line in metric.render()) + "\n"
