"""The kubelet's Summary API (``/stats/summary``, stats/v1alpha1) and resource metrics (``/metrics/resource``)
built from one reading of the node and the runtime's pod sandbox stats.

Pure: readings in, documents out. The node's numbers come from /proc (CPU time from /proc/stat, memory from
/proc/meminfo with the cgroup v1 root's meaning: working set = used minus inactive file pages) and statvfs;
pods' and containers' from CRI ``ListPodSandboxStats`` (their cgroups). CPU rates (``usageNanoCores``)
need two readings: ``CpuRates`` keeps the previous one per pod, container and the node.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubelet.cri_config import POD_NAME, POD_NAMESPACE, POD_UID
from kubelet.status import rfc3339
from protos.cri import api_pb2 as cri

MIN_RATE_WINDOW_NS = 1_000_000_000  # readings closer than this reuse the last rate (a rate over 1 ms is noise)
NODE = "node"


@dataclass(frozen=True)
class NodeReading:
    """What the node measured at ``at_ns`` (wall clock)."""

    at_ns: int
    cpu_ns: int
    meminfo: dict[str, int]
    fs_capacity: int = 0
    fs_available: int = 0
    fs_inodes: int = 0
    fs_inodes_free: int = 0


def node_cpu_ns(proc_stat: str, ticks_per_second: int) -> int:
    """CPU time the node spent busy (user, nice, system, irq, softirq, steal), in ns, from /proc/stat."""
    for line in proc_stat.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            busy = [int(f) for f in fields[1:9]]
            user, nice, system, _idle, _iowait, irq, softirq, steal = busy + [0] * (8 - len(busy))
            return (user + nice + system + irq + softirq + steal) * 1_000_000_000 // ticks_per_second
    raise ValueError("/proc/stat has no aggregate cpu line")


@dataclass
class CpuRates:
    """Cumulative CPU time per key -> nanocores between successive readings."""

    _last: dict[str, tuple[int, int]] = field(default_factory=dict)
    _rates: dict[str, int] = field(default_factory=dict)

    def observe(self, key: str, usage_ns: int, at_ns: int) -> int | None:
        """The rate since the previous reading of ``key`` (None for the first)."""
        previous = self._last.get(key)
        if previous is None or usage_ns < previous[0]:
            self._last[key] = (usage_ns, at_ns)  # first reading, or the counter restarted (a new cgroup)
            self._rates.pop(key, None)
            return None
        if at_ns - previous[1] < MIN_RATE_WINDOW_NS:
            return self._rates.get(key)
        rate = (usage_ns - previous[0]) * 1_000_000_000 // (at_ns - previous[1])
        self._last[key] = (usage_ns, at_ns)
        self._rates[key] = rate
        return rate

    def primed(self, key: str) -> bool:
        """Whether ``key`` has a reading to measure the next one against."""
        return key in self._last

    def forget_except(self, keys: Iterable[str]) -> None:
        """Drop readings of pods and containers that are gone."""
        keep = set(keys)
        for key in [k for k in self._last if k not in keep]:
            del self._last[key]
            self._rates.pop(key, None)


def _cpu(rates: CpuRates, key: str, usage: cri.CpuUsage | None, at_ns: int) -> dict[str, Any]:
    out: dict[str, Any] = {"time": rfc3339(at_ns / 1e9)}
    if usage is None:
        return out
    total = usage.usage_core_nano_seconds.value
    out["usageCoreNanoSeconds"] = total
    rate = rates.observe(key, total, usage.timestamp or at_ns)
    if rate is not None:
        out["usageNanoCores"] = rate
    return out


def _memory(usage: cri.MemoryUsage, at_ns: int) -> dict[str, Any]:
    out = {"time": rfc3339(at_ns / 1e9), "usageBytes": usage.usage_bytes.value,
           "workingSetBytes": usage.working_set_bytes.value, "rssBytes": usage.rss_bytes.value}
    if usage.HasField("available_bytes") and usage.available_bytes.value:
        out["availableBytes"] = usage.available_bytes.value
    return out


def _interface(i: cri.NetworkInterfaceUsage) -> dict[str, Any]:
    return {"name": i.name, "rxBytes": i.rx_bytes.value, "rxErrors": i.rx_errors.value, "txBytes": i.tx_bytes.value,
            "txErrors": i.tx_errors.value}


def _network(usage: cri.NetworkUsage, at_ns: int) -> dict[str, Any]:
    return {"time": rfc3339(at_ns / 1e9), **_interface(usage.default_interface),
            "interfaces": [_interface(i) for i in usage.interfaces]}


def _node(name: str, reading: NodeReading, rates: CpuRates) -> dict[str, Any]:
    at = rfc3339(reading.at_ns / 1e9)
    mem = reading.meminfo
    total = mem.get("MemTotal", 0)
    used = max(0, total - mem.get("MemFree", 0))
    working_set = max(0, used - mem.get("Inactive(file)", 0))
    cpu: dict[str, Any] = {"time": at, "usageCoreNanoSeconds": reading.cpu_ns}
    rate = rates.observe(NODE, reading.cpu_ns, reading.at_ns)
    if rate is not None:
        cpu["usageNanoCores"] = rate
    return {
        "nodeName": name,
        "cpu": cpu,
        "memory": {"time": at, "availableBytes": max(0, total - working_set), "usageBytes": used,
                   "workingSetBytes": working_set, "rssBytes": mem.get("AnonPages", 0),
                   "pageFaults": 0, "majorPageFaults": 0},
        "fs": {"time": at, "availableBytes": reading.fs_available, "capacityBytes": reading.fs_capacity,
               "usedBytes": max(0, reading.fs_capacity - reading.fs_available), "inodesFree": reading.fs_inodes_free,
               "inodes": reading.fs_inodes, "inodesUsed": max(0, reading.fs_inodes - reading.fs_inodes_free)},
    }


def _pod(sandbox: cri.PodSandboxStats, rates: CpuRates, at_ns: int) -> dict[str, Any]:
    labels = sandbox.attributes.labels
    meta = sandbox.attributes.metadata
    uid = labels.get(POD_UID, meta.uid)
    linux = sandbox.linux
    containers = []
    for c in linux.containers:
        container: dict[str, Any] = {
            "name": c.attributes.metadata.name,
            "cpu": _cpu(rates, f"container/{c.attributes.id}", c.cpu if c.HasField("cpu") else None, at_ns),
            "memory": _memory(c.memory, at_ns),
        }
        if c.HasField("writable_layer"):
            container["rootfs"] = {"time": rfc3339(at_ns / 1e9), "usedBytes": c.writable_layer.used_bytes.value,
                                   "inodesUsed": c.writable_layer.inodes_used.value}
        containers.append(container)
    pod: dict[str, Any] = {
        "podRef": {"name": labels.get(POD_NAME, meta.name), "namespace": labels.get(POD_NAMESPACE, meta.namespace),
                   "uid": uid},
        "containers": containers,
        "cpu": _cpu(rates, f"pod/{uid}", linux.cpu if linux.HasField("cpu") else None, at_ns),
        "memory": _memory(linux.memory, at_ns),
        "process_stats": {"process_count": linux.process.process_count.value},
    }
    if linux.HasField("network"):  # absent for host-network pods
        pod["network"] = _network(linux.network, at_ns)
    return pod


def summary(node_name: str, reading: NodeReading, sandboxes: Sequence[cri.PodSandboxStats],
            rates: CpuRates) -> dict[str, Any]:
    """The Summary document (the shape of stats/v1alpha1 that kubectl-facing tools read)."""
    pods = [_pod(s, rates, reading.at_ns) for s in sandboxes]
    rates.forget_except([NODE, *(f"pod/{p['podRef']['uid']}" for p in pods),
                         *(f"container/{c.attributes.id}" for s in sandboxes for c in s.linux.containers)])
    return {"node": _node(node_name, reading, rates), "pods": pods}


# ---- /metrics/resource --------------------------------------------------------------------------

_HELP = {
    "container_cpu_usage_seconds_total": ("counter", "Cumulative cpu time consumed by the container in core-seconds"),
    "container_memory_working_set_bytes": ("gauge", "Current working set of the container in bytes"),
    "node_cpu_usage_seconds_total": ("counter", "Cumulative cpu time consumed by the node in core-seconds"),
    "node_memory_working_set_bytes": ("gauge", "Current working set of the node in bytes"),
    "pod_cpu_usage_seconds_total": ("counter", "Cumulative cpu time consumed by the pod in core-seconds"),
    "pod_memory_working_set_bytes": ("gauge", "Current working set of the pod in bytes"),
    "resource_scrape_error": ("gauge", "1 if there was an error while getting container metrics, 0 otherwise"),
}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}" if labels else ""


def resource_metrics(doc: dict[str, Any], at_ns: int, scrape_error: bool = False) -> str:
    """The Prometheus text of ``/metrics/resource`` for a Summary document, stamped ``at_ns`` (ms), as the
    kubelet's own: cumulative CPU seconds and working sets of the node, pods and containers."""
    stamp = at_ns // 1_000_000
    series: dict[str, list[str]] = {name: [] for name in _HELP}

    def add(name: str, value: float, **labels: str) -> None:
        series[name].append(f"{name}{_labels(**labels)} {value:.9g} {stamp}")

    node = doc["node"]
    add("node_cpu_usage_seconds_total", node["cpu"]["usageCoreNanoSeconds"] / 1e9)
    add("node_memory_working_set_bytes", node["memory"]["workingSetBytes"])
    for pod in doc["pods"]:
        ref = pod["podRef"]
        if "usageCoreNanoSeconds" in pod["cpu"]:
            add("pod_cpu_usage_seconds_total", pod["cpu"]["usageCoreNanoSeconds"] / 1e9,
                namespace=ref["namespace"], pod=ref["name"])
        add("pod_memory_working_set_bytes", pod["memory"]["workingSetBytes"], namespace=ref["namespace"],
            pod=ref["name"])
        for c in pod["containers"]:
            if "usageCoreNanoSeconds" in c["cpu"]:
                add("container_cpu_usage_seconds_total", c["cpu"]["usageCoreNanoSeconds"] / 1e9,
                    container=c["name"], namespace=ref["namespace"], pod=ref["name"])
            add("container_memory_working_set_bytes", c["memory"]["workingSetBytes"], container=c["name"],
                namespace=ref["namespace"], pod=ref["name"])
    series["resource_scrape_error"].append(f"resource_scrape_error {int(scrape_error)}")
    lines = []
    for name, (kind, text) in _HELP.items():
        lines += [f"# HELP {name} [STABLE] {text}", f"# TYPE {name} {kind}", *series[name]]
    return "\n".join(lines) + "\n"
