"""Endpoints and EndpointSlices from Services and their pods."""

from __future__ import annotations

import copy
from typing import Any

from controller_manager import endpoints
from controller_manager.actions import Action, Create, Delete, Update
from controller_manager.view import ENDPOINT_SLICES, ENDPOINTS, NODES, PODS, SERVICES
from tests.unit.controller_fixtures import FakeCluster, ready_condition


def svc_obj(selector: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}
    if selector is not None:
        base["selector"] = selector
    base.update(spec)
    return {"metadata": {"name": "web", "namespace": "ns", "labels": {"team": "a"}}, "spec": base}


def add_pod(c: FakeCluster, name: str, ip: str, *, port: int = 8080, ready: bool = True, node: str = "n1",
            **spec: Any) -> dict[str, Any]:
    pod = {"metadata": {"name": name, "namespace": "ns", "labels": {"app": "web"}},
           "spec": {"nodeName": node, "containers": [{"name": "c", "ports": [
               {"name": "http", "containerPort": port, "protocol": "TCP"}]}], **spec},
           "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                      "conditions": [ready_condition("True" if ready else "False", c.clock.now)]}}
    return c.add(PODS, pod)


def sync_all(c: FakeCluster) -> list[Action]:
    actions = endpoints.reconcile_endpoints(c, "ns/web") + endpoints.reconcile_slices(c, "ns/web")
    c.apply(actions)
    return actions


def test_named_target_port_resolves_per_pod_into_separate_subsets_and_slices():
    c = FakeCluster()
    c.add(SERVICES, svc_obj({"app": "web"}))
    c.add(NODES, {"metadata": {"name": "n1", "labels": {endpoints.ZONE_LABEL: "z1"}}})
    add_pod(c, "a", "10.244.1.2", port=8080)
    add_pod(c, "b", "10.244.1.3", port=9090)
    sync_all(c)
    ep = c.get(ENDPOINTS, "ns", "web")
    assert [s["ports"][0]["port"] for s in ep["subsets"]] == [8080, 9090]
    assert ep["subsets"][0]["addresses"][0]["targetRef"]["name"] == "a"
    assert ep["metadata"]["labels"] == {"team": "a"}
    slices = c.all(ENDPOINT_SLICES, "ns")
    assert sorted(s["ports"][0]["port"] for s in slices) == [8080, 9090]
    s = slices[0]
    assert s["metadata"]["labels"][endpoints.MANAGED_BY] == endpoints.CONTROLLER_NAME
    assert s["metadata"]["labels"][endpoints.SERVICE_NAME] == "web"
    assert s["metadata"]["ownerReferences"][0]["kind"] == "Service"
    assert s["addressType"] == "IPv4"
    assert s["endpoints"][0]["zone"] == "z1"
    assert s["endpoints"][0]["conditions"] == {"ready": True, "serving": True, "terminating": False}
    assert not sync_all(c)  # steady state writes nothing


def test_readiness_publish_not_ready_and_terminating():
    c = FakeCluster()
    c.add(SERVICES, svc_obj({"app": "web"}))
    add_pod(c, "ready", "10.0.0.1")
    add_pod(c, "unready", "10.0.0.2", ready=False)
    gone = add_pod(c, "leaving", "10.0.0.3")
    gone = copy.deepcopy(gone)
    gone["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    c.put(PODS, gone)
    sync_all(c)
    (subset,) = c.get(ENDPOINTS, "ns", "web")["subsets"]
    assert [a["ip"] for a in subset["addresses"]] == ["10.0.0.1"]
    assert [a["ip"] for a in subset["notReadyAddresses"]] == ["10.0.0.2"]
    conds = {e["addresses"][0]: e["conditions"] for s in c.all(ENDPOINT_SLICES, "ns") for e in s["endpoints"]}
    assert conds["10.0.0.2"] == {"ready": False, "serving": False, "terminating": False}
    assert conds["10.0.0.3"] == {"ready": False, "serving": True, "terminating": True}
    svc = copy.deepcopy(c.get(SERVICES, "ns", "web"))
    svc["spec"]["publishNotReadyAddresses"] = True
    c.put(SERVICES, svc)
    sync_all(c)
    (subset,) = c.get(ENDPOINTS, "ns", "web")["subsets"]
    assert [a["ip"] for a in subset["addresses"]] == ["10.0.0.1", "10.0.0.2"]


def test_hostname_only_for_pods_in_the_service_subdomain():
    c = FakeCluster()
    c.add(SERVICES, svc_obj({"app": "web"}, clusterIP="None"))
    add_pod(c, "web-0", "10.0.0.1", hostname="web-0", subdomain="web")
    add_pod(c, "other", "10.0.0.2", hostname="other", subdomain="elsewhere")
    sync_all(c)
    addrs = c.get(ENDPOINTS, "ns", "web")["subsets"][0]["addresses"]
    assert [a.get("hostname") for a in addrs] == ["web-0", None]
    assert c.get(ENDPOINTS, "ns", "web")["metadata"]["labels"][endpoints.HEADLESS] == ""


def test_slices_hold_at_most_100_and_changes_touch_few_slices():
    c = FakeCluster()
    c.add(SERVICES, svc_obj({"app": "web"}))
    for i in range(250):
        add_pod(c, f"p{i:03d}", f"10.1.{i // 200}.{i % 200 + 1}")
    sync_all(c)
    assert sorted(len(s["endpoints"]) for s in c.all(ENDPOINT_SLICES, "ns")) == [50, 100, 100]
    c.remove(PODS, "ns", "p007")
    actions = endpoints.reconcile_slices(c, "ns/web")
    assert [type(a) for a in actions] == [Update]
    c.apply(actions)
    add_pod(c, "new", "10.9.9.9")
    actions = endpoints.reconcile_slices(c, "ns/web")
    assert [type(a) for a in actions] == [Update]
    c.apply(actions)
    assert sum(len(s["endpoints"]) for s in c.all(ENDPOINT_SLICES, "ns")) == 250


def test_service_without_selector_is_left_alone():
    c = FakeCluster()
    c.add(SERVICES, svc_obj(None))
    c.add(ENDPOINTS, {"metadata": {"name": "web", "namespace": "ns"}, "subsets": [{"addresses": [{"ip": "1.2.3.4"}]}]})
    assert not sync_all(c)


def test_empty_service_gets_one_placeholder_slice_and_deleted_service_loses_endpoints():
    c = FakeCluster()
    c.add(SERVICES, svc_obj({"app": "web"}))
    actions = sync_all(c)
    assert [type(a) for a in actions] == [Create, Create]
    (placeholder,) = c.all(ENDPOINT_SLICES, "ns")
    assert placeholder["endpoints"] == [] and placeholder["ports"] == []
    assert not sync_all(c)
    c.remove(SERVICES, "ns", "web")
    assert [type(a) for a in endpoints.reconcile_endpoints(c, "ns/web")] == [Delete]


def test_slices_of_other_managers_are_untouched():
    c = FakeCluster()
    c.add(SERVICES, svc_obj({"app": "web"}))
    c.add(ENDPOINT_SLICES, {"metadata": {"name": "custom", "namespace": "ns", "labels": {
        endpoints.SERVICE_NAME: "web", endpoints.MANAGED_BY: "someone-else"}}, "addressType": "IPv4",
        "endpoints": [], "ports": []})
    add_pod(c, "a", "10.0.0.1")
    actions = endpoints.reconcile_slices(c, "ns/web")
    assert all(getattr(a, "name", None) != "custom" for a in actions)
