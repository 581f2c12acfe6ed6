import re

from proxy.iptables_rules import build, chain_name
from proxy.iptables_sync import IptablesSyncer, restore_payload
from proxy.model import Endpoint, ServicePort

WEB = ServicePort("default", "web", "http", "tcp", "10.96.0.50", 80, node_port=30080,
                  endpoints=(Endpoint("10.244.2.5", 8080, "node2"), Endpoint("10.244.3.5", 8080, "node3"),
                             Endpoint("10.244.1.5", 8080, "node1"), Endpoint("10.244.1.6", 8080, ready=False)))
EMPTY = ServicePort("default", "empty", "", "tcp", "10.96.0.51", 80, node_port=30081)


def svc_chain(sp):
    return chain_name("KUBE-SVC-", sp.key, sp.protocol)


def test_chain_names_fit_iptables():
    name = svc_chain(WEB)
    assert len(name) <= 28 and re.fullmatch(r"KUBE-SVC-[A-Z2-7]{16}", name)


def test_ready_endpoints_are_balanced_uniformly():
    t = build([WEB], "10.244.0.0/16")
    rules = t.nat[svc_chain(WEB)]
    assert "! -s 10.244.0.0/16 -d 10.96.0.50/32" in rules[0] and rules[0].endswith("-j KUBE-MARK-MASQ")
    probs = [re.search(r"--probability (\S+)", r) for r in rules[1:]]
    assert [m.group(1) if m else None for m in probs] == ["0.33333333333", "0.50000000000", None]
    assert sum("KUBE-SEP-" in k for k in t.nat) == 3  # the not-ready endpoint gets no chain
    seps = [t.nat[k] for k in t.nat if k.startswith("KUBE-SEP-")]
    assert any("-j DNAT --to-destination 10.244.3.5:8080" in r[1] for r in seps)
    assert all("-j KUBE-MARK-MASQ" in r[0] and "-s 10.244." in r[0] for r in seps)


def test_service_without_endpoints_is_rejected_not_blackholed():
    t = build([EMPTY], "10.244.0.0/16")
    assert any("-d 10.96.0.51/32" in r and "REJECT" in r for r in t.filter["KUBE-SERVICES"])
    assert any("--dport 30081" in r and "REJECT" in r for r in t.filter["KUBE-EXTERNAL-SERVICES"])
    assert not any("10.96.0.51" in r for r in t.nat["KUBE-SERVICES"])


def test_node_ports_masquerade_and_jump_to_the_service():
    t = build([WEB], "10.244.0.0/16")
    assert [r.split("-j ")[-1] for r in t.nat["KUBE-NODEPORTS"]] == ["KUBE-MARK-MASQ", svc_chain(WEB)]
    assert t.nat["KUBE-SERVICES"][-1].endswith("-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS")


def test_session_affinity_checks_recent_before_balancing():
    sticky = ServicePort("default", "s", "", "tcp", "10.96.0.52", 80, session_affinity_seconds=10800,
                         endpoints=(Endpoint("10.244.1.5", 80),))
    t = build([sticky], "10.244.0.0/16")
    rules = t.nat[svc_chain(sticky)]
    assert "--rcheck --seconds 10800 --reap" in rules[1]
    sep = next(k for k in t.nat if k.startswith("KUBE-SEP-"))
    assert f"-m recent --name {sep} --set" in t.nat[sep][1]


def test_local_traffic_policy_uses_only_this_nodes_endpoints():
    local = ServicePort(**{**WEB.__dict__, "local_only": True})
    on_node1 = build([local], "10.244.0.0/16", node_name="node1")
    xlb = next(k for k in on_node1.nat if k.startswith("KUBE-XLB-"))
    assert len([r for r in on_node1.nat[xlb] if "KUBE-SEP-" in r]) == 1
    on_node9 = build([local], "10.244.0.0/16", node_name="node9")
    assert any("--dport 30080" in r and r.endswith("-j DROP") for r in on_node9.filter["KUBE-EXTERNAL-SERVICES"])


def test_payload_touches_only_changed_chains_and_removes_stale_ones():
    first = build([WEB, EMPTY], "10.244.0.0/16")
    applied = {"nat": dict(first.nat), "filter": dict(first.filter)}
    assert restore_payload(applied, first) == ""
    fewer = ServicePort(**{**WEB.__dict__, "endpoints": WEB.endpoints[:1]})
    second = build([fewer, EMPTY], "10.244.0.0/16")
    payload = restore_payload(applied, second)
    declared = [line[1:].split()[0] for line in payload.splitlines() if line.startswith(":")]
    assert svc_chain(WEB) in declared
    assert "KUBE-SERVICES" not in declared  # the service still exists: its entry rule is unchanged
    assert sum(line.startswith("-X KUBE-SEP-") for line in payload.splitlines()) == 2
    assert "*filter" not in payload


def test_sync_adopts_chains_left_by_a_previous_run_and_removes_them():
    calls: list[tuple[list[str], bytes | None]] = []

    class Done:
        def __init__(self, rc: int = 0, out: bytes = b"") -> None:
            self.returncode, self.stdout, self.stderr = rc, out, b""

    def runner(argv, stdin):
        calls.append((list(argv), stdin))
        if argv[0] == "iptables-legacy-save" and argv[2] == "nat":
            return Done(out=b"*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-STALESTALESTALE1 - [0:0]\nCOMMIT\n")
        if argv[0] == "iptables-legacy-save":
            return Done(out=b"*filter\nCOMMIT\n")
        return Done()

    syncer = IptablesSyncer(runner=runner)
    syncer.sync(build([WEB], "10.244.0.0/16"))
    restore = next(stdin for argv, stdin in calls if argv[0] == "iptables-legacy-restore")
    assert restore is not None and b"-X KUBE-SVC-STALESTALESTALE1" in restore
    n = len(calls)
    syncer.sync(build([WEB], "10.244.0.0/16"))
    assert len(calls) == n  # nothing changed: no iptables call at all


def test_large_clusters_get_no_comments_on_endpoint_rules():
    many = [ServicePort("default", f"s{i}", "", "tcp", f"10.96.1.{i}", 80,
                        endpoints=tuple(Endpoint(f"10.244.{i}.{j}", 80) for j in range(2, 7))) for i in range(201)]
    for n, commented in ((200, True), (201, False)):  # 1,000 endpoints, then 1,005
        t = build(many[:n], "10.244.0.0/16")
        per_endpoint = [r for c, rules in t.nat.items() for r in rules
                        if c.startswith("KUBE-SEP-") or "-j KUBE-SEP-" in r]
        assert len(per_endpoint) == n * 5 * 3  # a pick, a hairpin and a DNAT for each endpoint
        assert all(("--comment" in r) == commented for r in per_endpoint)
        assert all("--comment" in r for r in t.nat["KUBE-SERVICES"])
