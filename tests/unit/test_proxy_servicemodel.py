from proxy.model import Endpoint
from proxy.servicemodel import removed_udp_endpoints, service_ports


def svc(name, spec):
    return {"metadata": {"namespace": "default", "name": name}, "spec": spec}


def eps_slice(service, endpoints, ports):
    return {"metadata": {"namespace": "default", "name": f"{service}-abc",
                         "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4", "endpoints": endpoints, "ports": ports}


WEB = svc("web", {"type": "NodePort", "clusterIP": "10.96.0.10", "sessionAffinity": "ClientIP",
                  "ports": [{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080},
                            {"name": "dns", "port": 53, "protocol": "UDP"}]})
SLICE = eps_slice("web", [
    {"addresses": ["10.244.1.5"], "conditions": {"ready": True}, "nodeName": "node1"},
    {"addresses": ["10.244.2.5"], "conditions": {"ready": False, "serving": True, "terminating": True}},
    {"addresses": ["10.244.3.5"], "conditions": {"ready": False}},
], [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "dns", "port": 5353, "protocol": "UDP"}])


def test_ports_match_slices_by_name_and_protocol_and_use_ready_endpoints():
    http, dns = service_ports([WEB], [SLICE])
    assert (http.key, http.node_port, http.session_affinity_seconds) == ("default/web:http", 30080, 10800)
    assert http.endpoints == (Endpoint("10.244.1.5", 8080, "node1"),)
    assert (dns.protocol, dns.node_port, dns.endpoints) == ("udp", 0, (Endpoint("10.244.1.5", 5353, "node1"),))


def test_terminating_serving_endpoints_are_the_fallback_when_none_is_ready():
    only_terminating = eps_slice("web", [SLICE["endpoints"][1]], SLICE["ports"])
    http, _ = service_ports([WEB], [only_terminating])
    assert [e.ip for e in http.endpoints] == ["10.244.2.5"]


def test_headless_and_external_name_services_get_no_rules():
    headless = svc("h", {"clusterIP": "None", "ports": [{"port": 80}]})
    external = svc("e", {"type": "ExternalName", "externalName": "example.org"})
    assert service_ports([headless, external], []) == []


def test_slices_of_other_services_and_namespaces_are_ignored():
    other = eps_slice("other", SLICE["endpoints"], SLICE["ports"])
    elsewhere = {**SLICE, "metadata": {**SLICE["metadata"], "namespace": "prod"}}
    assert all(sp.endpoints == () for sp in service_ports([WEB], [other, elsewhere]))


def test_removed_udp_endpoints_are_reported_for_conntrack_cleanup():
    before = service_ports([WEB], [SLICE])
    after = service_ports([WEB], [])
    assert removed_udp_endpoints(before, after) == [("10.96.0.10", "10.244.1.5")]
    assert removed_udp_endpoints(before, before) == []

