import dns.message
import dns.rcode
import dns.rdatatype

from clusterdns.records import Endpoint, Port, Service, build
from clusterdns.resolver import Resolver

WEB = Service("web", "default", cluster_ips=("10.96.0.20",), ports=(Port("http", "TCP", 80),))
DB = Service("db", "prod", cluster_ips=("None",), ports=(Port("pg", "TCP", 5432),),
             endpoints=(Endpoint("10.244.1.5", hostname="db-0"), Endpoint("10.244.2.7", hostname="db-1")))
EXT = Service("ext", "default", external_name="example.org")
EMPTY = Service("empty", "default", cluster_ips=("None",))


def ask(name: str, rdtype: str = "A") -> dns.message.Message:
    resolver = Resolver(build([WEB, DB, EXT, EMPTY]))
    response = resolver.answer(dns.message.make_query(name, rdtype))
    assert response is not None
    return response


def values(response: dns.message.Message) -> list[str]:
    return sorted(rd.to_text() for rrset in response.answer for rd in rrset)


def test_cluster_ip_service_a_record():
    r = ask("web.default.svc.cluster.local")
    assert r.rcode() == dns.rcode.NOERROR
    assert values(r) == ["10.96.0.20"]
    assert r.flags & dns.flags.AA


def test_names_are_case_insensitive():
    assert values(ask("WEB.Default.SVC.cluster.local")) == ["10.96.0.20"]


def test_headless_service_returns_ready_endpoints_and_pod_hostnames():
    assert values(ask("db.prod.svc.cluster.local")) == ["10.244.1.5", "10.244.2.7"]
    assert values(ask("db-0.db.prod.svc.cluster.local")) == ["10.244.1.5"]


def test_srv_records_for_named_ports():
    assert values(ask("_http._tcp.web.default.svc.cluster.local", "SRV")) == [
        "0 100 80 web.default.svc.cluster.local."]
    srv = ask("_pg._tcp.db.prod.svc.cluster.local", "SRV")
    assert values(srv) == ["0 50 5432 db-0.db.prod.svc.cluster.local.", "0 50 5432 db-1.db.prod.svc.cluster.local."]
    assert len(srv.additional) == 2


def test_ptr_for_cluster_ip_and_stateful_pods():
    assert values(ask("20.0.96.10.in-addr.arpa", "PTR")) == ["web.default.svc.cluster.local."]
    assert values(ask("5.1.244.10.in-addr.arpa", "PTR")) == ["db-0.db.prod.svc.cluster.local."]


def test_external_name_is_a_cname():
    assert values(ask("ext.default.svc.cluster.local")) == ["example.org."]


def test_missing_name_is_nxdomain_with_soa_and_empty_names_are_nodata():
    missing = ask("nope.default.svc.cluster.local")
    assert missing.rcode() == dns.rcode.NXDOMAIN
    assert missing.authority[0].rdtype == dns.rdatatype.SOA
    for name in ("empty.default.svc.cluster.local", "default.svc.cluster.local", "svc.cluster.local"):
        nodata = ask(name)
        assert nodata.rcode() == dns.rcode.NOERROR, name
        assert nodata.answer == []
    assert ask("web.default.svc.cluster.local", "AAAA").rcode() == dns.rcode.NOERROR


def test_pod_records_from_dashed_ips():
    assert values(ask("10-244-1-9.default.pod.cluster.local")) == ["10.244.1.9"]
    assert ask("10-244-1-999.default.pod.cluster.local").rcode() == dns.rcode.NXDOMAIN


def test_schema_version_txt():
    assert values(ask("dns-version.cluster.local", "TXT")) == ['"1.1.0"']


def test_outside_names_are_not_answered_here():
    resolver = Resolver(build([WEB]))
    assert resolver.answer(dns.message.make_query("example.org", "A")) is None
    assert resolver.answer(dns.message.make_query("8.8.8.8.in-addr.arpa", "PTR")) is None
