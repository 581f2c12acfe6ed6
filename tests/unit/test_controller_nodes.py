"""Node lifecycle (Lease health, taints, eviction, pod GC) and node IPAM."""

from __future__ import annotations

import copy
from typing import Any

from controller_manager import nodeipam, nodelifecycle
from controller_manager.actions import Delete, Patch, RequeueAfter
from controller_manager.timestamps import format_time
from controller_manager.view import LEASES, NODES, PODS
from tests.unit.controller_fixtures import FakeCluster


def add_node(c: FakeCluster, name: str, zone: str = "z1", **spec: Any) -> dict[str, Any]:
    t = format_time(c.clock.now)
    node = c.add(NODES, {"metadata": {"name": name, "labels": {nodelifecycle.ZONE_LABEL: zone}}, "spec": spec,
                         "status": {"conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": t,
                                                    "lastTransitionTime": t}]}})
    c.add(LEASES, {"metadata": {"name": name, "namespace": "kube-node-lease"}, "spec": {"renewTime": t}})
    return node


def renew(c: FakeCluster, name: str) -> None:
    lease = copy.deepcopy(c.get(LEASES, "kube-node-lease", name))
    lease["spec"]["renewTime"] = format_time(c.clock.now)
    c.put(LEASES, lease)


def add_pod(c: FakeCluster, name: str, node: str, tolerations: list[dict[str, Any]] | None = None) -> None:
    c.add(PODS, {"metadata": {"name": name, "namespace": "ns"},
                 "spec": {"nodeName": node, "tolerations": tolerations or []},
                 "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})


def monitor(c: FakeCluster, limiter: nodelifecycle.ZoneLimiter) -> list[Any]:
    actions = nodelifecycle.reconcile_nodes(c, c.clock.now, limiter)
    c.apply(actions)
    return actions


def taints(c: FakeCluster, name: str) -> dict[str, dict[str, Any]]:
    return {f"{t['key']}:{t['effect']}": t for t in c.get(NODES, None, name)["spec"].get("taints") or []}


def test_node_without_lease_renewal_goes_unknown_and_gets_unreachable_taints():
    c = FakeCluster()
    limiter = nodelifecycle.ZoneLimiter()
    for n in ("n1", "n2", "n3"):
        add_node(c, n)
    add_pod(c, "p", "n1")
    c.clock.advance(40)
    renew(c, "n2")
    renew(c, "n3")
    assert monitor(c, limiter) == []  # within the 50 s grace period
    c.clock.advance(15)
    renew(c, "n2")
    renew(c, "n3")
    monitor(c, limiter)
    node = c.get(NODES, None, "n1")
    ready = next(cd for cd in node["status"]["conditions"] if cd["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("Unknown", "NodeStatusUnknown")
    assert {"node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/unreachable:NoSchedule"} <= set(
        taints(c, "n1"))
    assert taints(c, "n1")["node.kubernetes.io/unreachable:NoExecute"]["timeAdded"]
    pod = c.get(PODS, "ns", "p")
    assert next(cd for cd in pod["status"]["conditions"] if cd["type"] == "Ready")["status"] == "False"
    assert not taints(c, "n2")
    # the kubelet comes back: taints go at once
    renew(c, "n1")
    node = copy.deepcopy(c.get(NODES, None, "n1"))
    node["status"]["conditions"] = [{"type": "Ready", "status": "True",
                                     "lastHeartbeatTime": format_time(c.clock.now)}]
    c.put(NODES, node)
    monitor(c, limiter)
    assert not taints(c, "n1")


def test_no_execute_taints_are_rate_limited_per_zone_and_skipped_in_full_outage():
    c = FakeCluster()
    limiter = nodelifecycle.ZoneLimiter()
    for n in ("a1", "a2", "a3", "a4", "a5"):
        add_node(c, n, "za")
    add_node(c, "b1", "zb")
    c.clock.advance(60)
    renew(c, "a3")
    renew(c, "a4")
    renew(c, "a5")
    monitor(c, limiter)
    tainted = [n for n in ("a1", "a2") if "node.kubernetes.io/unreachable:NoExecute" in taints(c, n)]
    assert len(tainted) == 1  # 0.1 qps: one per 10 s
    assert "node.kubernetes.io/unreachable:NoExecute" not in taints(c, "b1")  # its whole zone is down
    assert "node.kubernetes.io/unreachable:NoSchedule" in taints(c, "b1")
    c.clock.advance(10)
    for n in ("a3", "a4", "a5"):
        renew(c, n)
    monitor(c, limiter)
    assert all("node.kubernetes.io/unreachable:NoExecute" in taints(c, n) for n in ("a1", "a2"))


def test_not_ready_kubelet_gets_not_ready_taint_and_unschedulable_is_mirrored():
    c = FakeCluster()
    limiter = nodelifecycle.ZoneLimiter()
    add_node(c, "n1", unschedulable=True)
    add_node(c, "n2")
    node = copy.deepcopy(c.get(NODES, None, "n1"))
    node["status"]["conditions"][0]["status"] = "False"
    c.put(NODES, node)
    monitor(c, limiter)
    assert set(taints(c, "n1")) == {"node.kubernetes.io/not-ready:NoExecute", "node.kubernetes.io/not-ready:NoSchedule",
                                    "node.kubernetes.io/unschedulable:NoSchedule"}


def test_taint_eviction_honours_toleration_seconds():
    c = FakeCluster()
    add_node(c, "n1")
    node = copy.deepcopy(c.get(NODES, None, "n1"))
    node["spec"]["taints"] = [{"key": nodelifecycle.UNREACHABLE, "effect": "NoExecute",
                               "timeAdded": format_time(c.clock.now)}]
    c.put(NODES, node)
    add_pod(c, "intolerant", "n1")
    add_pod(c, "patient", "n1", [{"key": nodelifecycle.UNREACHABLE, "operator": "Exists", "effect": "NoExecute",
                                  "tolerationSeconds": 300}])
    add_pod(c, "forever", "n1", [{"operator": "Exists"}])
    actions = nodelifecycle.reconcile_pods_on_node(c, "n1", c.clock.now)
    assert [a.name for a in actions if isinstance(a, Delete)] == ["intolerant"]
    disruption = next(a for a in actions if isinstance(a, Patch))
    assert disruption.patch["status"]["conditions"][0]["reason"] == "DeletionByTaintManager"
    assert RequeueAfter("n1", 300.0) in actions
    c.apply(actions)
    c.clock.advance(300)
    actions = nodelifecycle.reconcile_pods_on_node(c, "n1", c.clock.now)
    assert [a.name for a in actions if isinstance(a, Delete)] == ["patient"]


def test_pods_on_deleted_nodes_are_collected():
    c = FakeCluster()
    add_node(c, "n1")
    add_pod(c, "kept", "n1")
    add_pod(c, "orphan", "gone")
    actions = nodelifecycle.reconcile_orphan_pods(c, c.clock.now)
    assert [a.name for a in actions if isinstance(a, Delete)] == ["orphan"]


def test_tolerates_matches_kubernetes_rules():
    taint = {"key": "k", "value": "v", "effect": "NoExecute"}
    assert nodelifecycle.tolerates({"key": "k", "operator": "Equal", "value": "v"}, taint)
    assert not nodelifecycle.tolerates({"key": "k", "operator": "Equal", "value": "x"}, taint)
    assert nodelifecycle.tolerates({"operator": "Exists"}, taint)
    assert not nodelifecycle.tolerates({"key": "k", "operator": "Exists", "effect": "NoSchedule"}, taint)


# --- IPAM -----------------------------------------------------------------------------------------

def test_ipam_allocates_unique_cidrs_reuses_released_and_respects_in_flight():
    c = FakeCluster()
    for n in ("n1", "n2", "n3"):
        c.add(NODES, {"metadata": {"name": n}, "spec": {}})
    c.apply(nodeipam.reconcile(c))
    cidrs = [c.get(NODES, None, n)["spec"]["podCIDR"] for n in ("n1", "n2", "n3")]
    assert cidrs == ["10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"]
    assert c.get(NODES, None, "n1")["spec"]["podCIDRs"] == ["10.244.0.0/24"]
    assert nodeipam.reconcile(c) == []
    c.remove(NODES, None, "n2")
    c.add(NODES, {"metadata": {"name": "n4"}, "spec": {}})
    c.add(NODES, {"metadata": {"name": "n5"}, "spec": {}})
    actions = nodeipam.reconcile(c, in_flight={"n4": "10.244.1.0/24"})
    assert [(a.name, a.patch["spec"]["podCIDR"]) for a in actions if isinstance(a, Patch)] == [("n5", "10.244.3.0/24")]


def test_ipam_reports_exhaustion():
    c = FakeCluster()
    for n in ("n1", "n2", "n3"):
        c.add(NODES, {"metadata": {"name": n}, "spec": {}})
    actions = nodeipam.reconcile(c, "10.0.0.0/23", 24)
    assert sum(isinstance(a, Patch) for a in actions) == 2
    assert any(getattr(a, "reason", "") == "CIDRNotAvailable" for a in actions)


def test_node_that_never_reported_gets_the_startup_grace_period():
    c = FakeCluster()
    c.add(NODES, {"metadata": {"name": "fresh"}, "spec": {}})
    limiter = nodelifecycle.ZoneLimiter()
    c.clock.advance(55)
    assert monitor(c, limiter) == []
    c.clock.advance(10)
    monitor(c, limiter)
    ready = next(cd for cd in c.get(NODES, None, "fresh")["status"]["conditions"] if cd["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("Unknown", "NodeStatusNeverUpdated")
