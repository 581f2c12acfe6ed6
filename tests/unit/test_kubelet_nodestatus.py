"""Node registration content: capacity, allocatable arithmetic, flags, conditions and images."""

from __future__ import annotations

import pytest

from api.quantity import Quantity
from kubelet.eviction import parse_thresholds
from kubelet.nodestatus import (
    FlagError,
    ImageInfo,
    Machine,
    Reservations,
    allocatable,
    capacity,
    conditions,
    images,
    new_node,
    parse_labels,
    parse_meminfo,
    parse_resource_list,
    parse_taints,
)

MEMINFO = """MemTotal:       24575996 kB
MemFree:        20000000 kB
MemAvailable:   22000000 kB
HugePages_Total:       0
"""

MACHINE = Machine(cpus=2, memory_bytes=24575996 * 1024, disk_bytes=100 * 1024**3, machine_id="m1",
                  boot_id="b1", kernel_version="6.18", os_image="Debian GNU/Linux 12 (bookworm)",
                  runtime_version="tinykube://0.1.0", kubelet_version="v1.31.0")


def test_parse_meminfo() -> None:
    info = parse_meminfo(MEMINFO)
    assert info["MemTotal"] == 24575996 * 1024 and info["HugePages_Total"] == 0


def test_capacity_and_allocatable() -> None:
    cap = capacity(MACHINE, max_pods=50)
    assert cap == {"cpu": "2", "memory": "24575996Ki", "ephemeral-storage": "104857600Ki", "hugepages-1Gi": "0",
                   "hugepages-2Mi": "0", "pods": "50"}
    reserved = Reservations(system=parse_resource_list("cpu=100m,memory=100Mi"),
                            kube=parse_resource_list("cpu=200m,memory=156Mi,ephemeral-storage=1Gi"),
                            eviction_hard=parse_thresholds("memory.available<100Mi,nodefs.available<10%"))
    alloc = allocatable(cap, reserved)
    assert alloc["cpu"] == "1700m"
    assert alloc["memory"] == f"{24575996 - 356 * 1024}Ki"
    assert alloc["ephemeral-storage"] == f"{104857600 - 1024**2 - 10485760}Ki"
    assert alloc["pods"] == "50"
    starved = allocatable({"cpu": "1"}, Reservations(system={"cpu": Quantity.parse("2")}))
    assert starved["cpu"] == "0"


def test_flag_parsers() -> None:
    assert parse_taints("dedicated=gpu:NoSchedule,maint:NoExecute") == [
        {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}, {"key": "maint", "effect": "NoExecute"}]
    assert parse_labels("zone=a, tier=web") == {"zone": "a", "tier": "web"}
    for bad in (lambda: parse_taints("a=b:Sometimes"), lambda: parse_labels("novalue"),
                lambda: parse_resource_list("gpu=1")):
        with pytest.raises(FlagError):
            bad()


def test_conditions_keep_transition_times() -> None:
    first = conditions(frozenset(), "", [], "2026-01-01T00:00:00Z")
    ready = next(c for c in first if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == ("True", "KubeletReady",
                                                                   "kubelet is posting ready status")
    mem = next(c for c in first if c["type"] == "MemoryPressure")
    assert (mem["status"], mem["reason"]) == ("False", "KubeletHasSufficientMemory")
    later = conditions(frozenset({"MemoryPressure"}), "", first, "2026-01-01T00:01:00Z")
    mem = next(c for c in later if c["type"] == "MemoryPressure")
    assert (mem["status"], mem["reason"], mem["lastTransitionTime"]) == (
        "True", "KubeletHasInsufficientMemory", "2026-01-01T00:01:00Z")
    ready = next(c for c in later if c["type"] == "Ready")
    assert ready["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert ready["lastHeartbeatTime"] == "2026-01-01T00:01:00Z"
    down = conditions(frozenset(), "container runtime is down", later, "t")
    assert next(c for c in down if c["type"] == "Ready")["reason"] == "KubeletNotReady"


def test_images_biggest_first_capped() -> None:
    infos = [ImageInfo((f"img{i}:latest",), i) for i in range(60)] + [ImageInfo((), 10**9)]
    listed = images(infos)
    assert len(listed) == 49 and listed[0] == {"names": ["img59:latest"], "sizeBytes": 59}


def test_new_node_object() -> None:
    node = new_node("node1", "172.28.0.11", MACHINE, Reservations(), labels={"zone": "a"},
                    taints=parse_taints("x:NoSchedule"), now_text="t")
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "node1"
    assert node["metadata"]["labels"]["zone"] == "a"
    assert node["spec"]["taints"] == [{"key": "x", "effect": "NoSchedule"}]
    assert node["status"]["addresses"][0] == {"type": "InternalIP", "address": "172.28.0.11"}
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"] == "tinykube://0.1.0"
    assert node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] == 10250
