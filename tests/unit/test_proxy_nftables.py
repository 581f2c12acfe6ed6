from proxy.model import Endpoint, ServicePort
from proxy.nftables_rules import build, service_chain, transaction


def services(n: int, changed: int | None = None) -> list[ServicePort]:
    out = []
    for i in range(n):
        eps: tuple[Endpoint, ...] = (Endpoint(f"10.244.{i // 250}.{i % 250 + 2}", 8080),
                                     Endpoint(f"10.245.{i // 250}.{i % 250 + 2}", 8080))
        if i == changed:
            eps = eps[:1]
        out.append(ServicePort("ns", f"svc{i}", "http", "tcp", f"10.96.{i // 250}.{i % 250 + 2}", 80, endpoints=eps))
    return out


def test_first_transaction_builds_the_table_from_scratch():
    text = transaction(None, build(services(2), "10.244.0.0/16"))
    assert text.startswith("add table ip tinykube-proxy\ndelete table ip tinykube-proxy\n")
    assert "add element ip tinykube-proxy service-ips { 10.96.0.2 . tcp . 80 : goto service-" in text


def test_endpoints_are_picked_uniformly_without_a_set_per_service():
    three = ServicePort("ns", "three", "", "tcp", "10.96.9.7", 80,
                        endpoints=tuple(Endpoint(f"10.244.1.{i}", 80) for i in (2, 3, 4)))
    prefix = f"add rule ip tinykube-proxy {service_chain(three)} "
    rules = [line.removeprefix(prefix) for line in transaction(None, build([three], "10.244.0.0/16")).splitlines()
             if line.startswith(prefix)]
    assert rules[1:] == [f"{pick}meta l4proto tcp dnat to 10.244.1.{i}:80"
                         for pick, i in (("numgen random mod 3 0 ", 2), ("numgen random mod 2 0 ", 3), ("", 4))]


def test_one_endpoint_change_among_a_thousand_services_is_a_few_statements():
    before = build(services(1000), "10.244.0.0/16")
    after = build(services(1000, changed=500), "10.244.0.0/16")
    lines = transaction(before, after).splitlines()
    assert len(lines) == 5, lines  # one hairpin pair out, the service chain rewritten with one endpoint
    assert lines[0] == "delete element ip tinykube-proxy hairpin { 10.245.2.2 . 10.245.2.2 }"
    assert any(service_chain(services(1000)[500]) in line for line in lines)
    assert transaction(after, after) == ""


def test_service_without_endpoints_goes_to_reject_maps_and_back():
    lonely = ServicePort("ns", "lonely", "", "tcp", "10.96.9.9", 80, node_port=30999)
    rs = build([lonely], "10.244.0.0/16")
    text = transaction(None, rs)
    assert "add element ip tinykube-proxy no-endpoint-services { 10.96.9.9 . tcp . 80 : goto reject-chain }" in text
    assert "add element ip tinykube-proxy no-endpoint-nodeports { tcp . 30999 : goto reject-chain }" in text
    healed = build([ServicePort(**{**lonely.__dict__, "endpoints": (Endpoint("10.244.1.2", 80),)})], "10.244.0.0/16")
    text = transaction(rs, healed)
    assert "delete element ip tinykube-proxy no-endpoint-services { 10.96.9.9 . tcp . 80 }" in text
    assert "add element ip tinykube-proxy service-nodeports" in text


def test_affinity_sets_carry_their_timeout():
    sticky = ServicePort("ns", "s", "", "tcp", "10.96.9.8", 80, session_affinity_seconds=30,
                         endpoints=(Endpoint("10.244.1.2", 80),))
    text = transaction(None, build([sticky], "10.244.0.0/16"))
    assert "flags dynamic,timeout ; timeout 30s" in text
    assert "update @affinity-" in text


def test_a_removed_service_takes_its_elements_chains_and_sets_along():
    sticky = ServicePort("ns", "s", "", "tcp", "10.96.9.8", 80, session_affinity_seconds=30,
                         endpoints=(Endpoint("10.244.1.2", 80),))
    rs = build([sticky, *services(3)], "10.244.0.0/16")
    lines = transaction(rs, build(services(3), "10.244.0.0/16")).splitlines()
    assert lines[0] == "delete element ip tinykube-proxy service-ips { 10.96.9.8 . tcp . 80 }"
    assert lines[1] == "delete element ip tinykube-proxy hairpin { 10.244.1.2 . 10.244.1.2 }"
    assert sum(line.startswith("delete chain ") for line in lines) == 1
    assert lines[-1].startswith("delete set ip tinykube-proxy affinity-")
    assert not any(line.startswith("add ") for line in lines)
