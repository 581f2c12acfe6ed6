"""Stats for kubectl top: the kubelet's Summary and /metrics/resource from fixed readings, CPU rates from
cumulative counters, /proc parsing, and metrics.k8s.io usage from two scrapes of the kubelet's text."""

from __future__ import annotations

import pytest

from api import metrics_v1beta1
from client.resource_metrics import MetricsFormatError, container_usage, node_usage, parse
from kubelet.cri_config import POD_NAME, POD_NAMESPACE, POD_UID
from kubelet.stats import CpuRates, NodeReading, node_cpu_ns, resource_metrics, summary
from protos.cri import api_pb2 as cri
from runtime.linux.netdev import parse_net_dev

SECOND = 1_000_000_000
MEMINFO = {"MemTotal": 8 << 30, "MemFree": 2 << 30, "Inactive(file)": 1 << 30, "AnonPages": 3 << 30}

PROC_STAT = """cpu  100 20 30 4000 50 6 7 8 0 0
cpu0 50 10 15 2000 25 3 3 4 0 0
intr 12345
"""

NET_DEV = """Inter-|   Receive                                                |  Transmit
 face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed
    lo: 100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0
  eth0: 5000 40 2 0 0 0 0 0 7000 50 1 0 0 0 0 0
garbage line
"""


def sandbox(cpu_ns: int, at_ns: int, container_cpu_ns: int, network: bool = True) -> cri.PodSandboxStats:
    u64 = cri.UInt64Value
    container = cri.ContainerStats(
        attributes=cri.ContainerAttributes(id="c1", metadata=cri.ContainerMetadata(name="app")),
        cpu=cri.CpuUsage(timestamp=at_ns, usage_core_nano_seconds=u64(value=container_cpu_ns)),
        memory=cri.MemoryUsage(timestamp=at_ns, working_set_bytes=u64(value=3 << 20), usage_bytes=u64(value=4 << 20),
                               rss_bytes=u64(value=2 << 20)),
        writable_layer=cri.FilesystemUsage(used_bytes=u64(value=4096), inodes_used=u64(value=3)))
    eth0 = cri.NetworkInterfaceUsage(name="eth0", rx_bytes=u64(value=10), rx_errors=u64(value=0),
                                     tx_bytes=u64(value=20), tx_errors=u64(value=0))
    return cri.PodSandboxStats(
        attributes=cri.PodSandboxAttributes(id="s1", labels={POD_NAME: "web", POD_NAMESPACE: "default",
                                                             POD_UID: "u1"}),
        linux=cri.LinuxPodSandboxStats(
            cpu=cri.CpuUsage(timestamp=at_ns, usage_core_nano_seconds=u64(value=cpu_ns)),
            memory=cri.MemoryUsage(timestamp=at_ns, working_set_bytes=u64(value=5 << 20)),
            process=cri.ProcessUsage(process_count=u64(value=2)),
            network=cri.NetworkUsage(default_interface=eth0, interfaces=[eth0]) if network else None,
            containers=[container]))


def test_node_cpu_time_from_proc_stat() -> None:
    # user + nice + system + irq + softirq + steal = 171 ticks of 1/100 s
    assert node_cpu_ns(PROC_STAT, 100) == 1_710_000_000
    with pytest.raises(ValueError, match="no aggregate cpu line"):
        node_cpu_ns("intr 1\n", 100)


def test_pod_network_counters_skip_loopback_and_garbage() -> None:
    (eth0,) = parse_net_dev(NET_DEV)
    assert (eth0.name, eth0.rx_bytes, eth0.rx_errors, eth0.tx_bytes, eth0.tx_errors) == ("eth0", 5000, 2, 7000, 1)


def test_cpu_rates_need_two_readings_a_second_apart() -> None:
    rates = CpuRates()
    assert rates.observe("k", 0, 0) is None
    assert rates.observe("k", 10, SECOND // 2) is None  # too close: no rate yet, window kept
    assert rates.observe("k", SECOND // 2, SECOND) == SECOND // 2  # half a core
    assert rates.observe("k", SECOND // 2 + 1, SECOND + 5) == SECOND // 2  # too close: the last rate
    assert rates.observe("k", 0, 3 * SECOND) is None  # the counter went back: a new cgroup


def test_summary_of_the_node_and_its_pods() -> None:
    rates = CpuRates()
    first = NodeReading(at_ns=100 * SECOND, cpu_ns=10 * SECOND, meminfo=MEMINFO, fs_capacity=100, fs_available=40,
                        fs_inodes=10, fs_inodes_free=4)
    summary("n1", first, [sandbox(SECOND, 100 * SECOND, SECOND)], rates)
    second = NodeReading(at_ns=102 * SECOND, cpu_ns=13 * SECOND, meminfo=MEMINFO, fs_capacity=100, fs_available=40,
                         fs_inodes=10, fs_inodes_free=4)
    doc = summary("n1", second, [sandbox(2 * SECOND, 102 * SECOND, SECOND + SECOND // 2)], rates)
    node = doc["node"]
    assert node["nodeName"] == "n1"
    assert node["cpu"] == {"time": "1970-01-01T00:01:42Z", "usageCoreNanoSeconds": 13 * SECOND,
                           "usageNanoCores": 1_500_000_000}
    assert node["memory"]["usageBytes"] == 6 << 30 and node["memory"]["workingSetBytes"] == 5 << 30
    assert node["memory"]["availableBytes"] == 3 << 30 and node["memory"]["rssBytes"] == 3 << 30
    assert node["fs"]["usedBytes"] == 60 and node["fs"]["inodesUsed"] == 6
    (pod,) = doc["pods"]
    assert pod["podRef"] == {"name": "web", "namespace": "default", "uid": "u1"}
    assert pod["cpu"]["usageNanoCores"] == SECOND // 2
    assert pod["memory"]["workingSetBytes"] == 5 << 20 and pod["process_stats"] == {"process_count": 2}
    assert pod["network"]["rxBytes"] == 10 and pod["network"]["interfaces"][0]["name"] == "eth0"
    (container,) = pod["containers"]
    assert container["name"] == "app" and container["cpu"]["usageNanoCores"] == SECOND // 4
    assert container["memory"] == {"time": "1970-01-01T00:01:42Z", "usageBytes": 4 << 20,
                                   "workingSetBytes": 3 << 20, "rssBytes": 2 << 20}
    assert container["rootfs"]["usedBytes"] == 4096
    # Gone pods are forgotten: a pod coming back with a new cgroup starts over.
    summary("n1", second, [], rates)
    assert not rates.primed("pod/u1") and rates.primed("node")


def test_host_network_pods_have_no_network_stats() -> None:
    doc = summary("n1", NodeReading(at_ns=SECOND, cpu_ns=1, meminfo=MEMINFO),
                  [sandbox(1, SECOND, 1, network=False)], CpuRates())
    assert "network" not in doc["pods"][0] and "usageNanoCores" not in doc["pods"][0]["cpu"]


def test_resource_metrics_round_trip_into_metrics_api_usage() -> None:
    rates = CpuRates()
    before_doc = summary("n1", NodeReading(at_ns=100 * SECOND, cpu_ns=10 * SECOND, meminfo=MEMINFO),
                         [sandbox(SECOND, 100 * SECOND, SECOND)], rates)
    after_doc = summary("n1", NodeReading(at_ns=102 * SECOND, cpu_ns=13 * SECOND, meminfo=MEMINFO),
                        [sandbox(2 * SECOND, 102 * SECOND, 2 * SECOND)], rates)
    text = resource_metrics(after_doc, 102 * SECOND)
    assert "# TYPE node_cpu_usage_seconds_total counter" in text
    assert 'container_cpu_usage_seconds_total{container="app",namespace="default",pod="web"} 2 102000' in text
    assert text.endswith("resource_scrape_error 0\n")
    before, after = parse(resource_metrics(before_doc, 100 * SECOND)), parse(text)
    node = node_usage(before, after)
    assert node is not None and (node.cpu_nanocores, node.memory_bytes, node.window_ms) == (
        1_500_000_000, 5 << 30, 2000)
    usage = container_usage(before, after)[("default", "web", "app")]
    assert (usage.cpu_nanocores, usage.memory_bytes) == (SECOND // 2, 3 << 20)
    assert node_usage(after, after) is None  # no time between the scrapes, no rate
    assert metrics_v1beta1.usage(usage.cpu_nanocores, usage.memory_bytes) == {"cpu": "500000000n",
                                                                              "memory": "3072Ki"}
    assert metrics_v1beta1.window(2000) == "2s" and metrics_v1beta1.window(1500) == "1.5s"


def test_metrics_text_with_escapes_and_errors() -> None:
    scrape = parse('# HELP x\ncontainer_memory_working_set_bytes{container="a\\"b",namespace="n",pod="p"} 5 7\n'
                   "node_memory_working_set_bytes 9\nsomething_else 1\n")
    assert scrape.container_memory[("n", "p", 'a"b')].value == 5
    assert scrape.node_memory is not None and scrape.node_memory.at_ms == 0
    for bad in ("node_cpu_usage_seconds_total\n", 'x{a="b} 1\n', "node_cpu_usage_seconds_total x\n", "x{a} 1\n"):
        with pytest.raises(MetricsFormatError):
            parse(bad)
