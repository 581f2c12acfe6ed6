"""Reading a kubelet's ``/metrics/resource`` (Prometheus text) and turning two scrapes into usage, as
metrics-server does: CPU as the rate of the cumulative CPU seconds between the scrapes, memory as the
latest working set."""

from __future__ import annotations

from dataclasses import dataclass, field

NODE_CPU, NODE_MEMORY = "node_cpu_usage_seconds_total", "node_memory_working_set_bytes"
CONTAINER_CPU, CONTAINER_MEMORY = "container_cpu_usage_seconds_total", "container_memory_working_set_bytes"

ContainerKey = tuple[str, str, str]  # namespace, pod, container


class MetricsFormatError(ValueError):
    """A line of the metrics text that does not parse."""


@dataclass(frozen=True)
class Point:
    """One sample: the value and its timestamp in ms (0 when the line carried none)."""

    value: float
    at_ms: int


@dataclass
class Scrape:
    """The resource metrics of one node at one time."""

    node_cpu: Point | None = None
    node_memory: Point | None = None
    container_cpu: dict[ContainerKey, Point] = field(default_factory=dict)
    container_memory: dict[ContainerKey, Point] = field(default_factory=dict)


@dataclass(frozen=True)
class Usage:
    """CPU in nanocores and memory in bytes, over a window (ms) ending at ``at_ms``."""

    cpu_nanocores: int
    memory_bytes: int
    at_ms: int
    window_ms: int


def _labels(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    i = 0
    while i < len(text):
        eq = text.find("=", i)
        if eq < 0 or eq + 1 >= len(text) or text[eq + 1] != '"':
            raise MetricsFormatError(f"bad label set {{{text}}}")
        name, j, value = text[i:eq].strip(" ,"), eq + 2, []
        while j < len(text) and text[j] != '"':
            if text[j] == "\\" and j + 1 < len(text):
                j += 1
                value.append({"n": "\n"}.get(text[j], text[j]))
            else:
                value.append(text[j])
            j += 1
        if j >= len(text):
            raise MetricsFormatError(f"unterminated label value in {{{text}}}")
        out[name] = "".join(value)
        i = j + 1
    return out


def parse(text: str) -> Scrape:
    """The series of a /metrics/resource answer that usage is computed from (others are ignored)."""
    scrape = Scrape()
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "{" in line:
            name, _, rest = line.partition("{")
            label_text, _, rest = rest.rpartition("}")
            labels = _labels(label_text)
        else:
            name, _, rest = line.partition(" ")
            labels = {}
        fields = rest.split()
        if not fields:
            raise MetricsFormatError(f"no value in {line!r}")
        try:
            point = Point(float(fields[0]), int(fields[1]) if len(fields) > 1 else 0)
        except ValueError:
            raise MetricsFormatError(f"bad value in {line!r}") from None
        key = (labels.get("namespace", ""), labels.get("pod", ""), labels.get("container", ""))
        match name.strip():
            case "node_cpu_usage_seconds_total":
                scrape.node_cpu = point
            case "node_memory_working_set_bytes":
                scrape.node_memory = point
            case "container_cpu_usage_seconds_total":
                scrape.container_cpu[key] = point
            case "container_memory_working_set_bytes":
                scrape.container_memory[key] = point
    return scrape


def _rate(before: Point | None, after: Point | None) -> tuple[int, int] | None:
    if before is None or after is None or after.at_ms <= before.at_ms or after.value < before.value:
        return None
    window = after.at_ms - before.at_ms
    return int((after.value - before.value) * 1e9 * 1000 / window), window


def node_usage(before: Scrape, after: Scrape) -> Usage | None:
    """The node's usage between two scrapes (None without two CPU samples)."""
    rate = _rate(before.node_cpu, after.node_cpu)
    if rate is None or after.node_memory is None or after.node_cpu is None:
        return None
    return Usage(rate[0], int(after.node_memory.value), after.node_cpu.at_ms, rate[1])


def container_usage(before: Scrape, after: Scrape) -> dict[ContainerKey, Usage]:
    """Each container's usage between two scrapes (containers seen in both)."""
    out = {}
    for key, point in after.container_cpu.items():
        rate = _rate(before.container_cpu.get(key), point)
        memory = after.container_memory.get(key)
        if rate is not None and memory is not None:
            out[key] = Usage(rate[0], int(memory.value), point.at_ms, rate[1])
    return out
