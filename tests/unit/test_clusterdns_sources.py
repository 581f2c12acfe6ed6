from clusterdns.main import freebind_sockets
from clusterdns.records import Endpoint, Port
from clusterdns.sources import services


def test_services_take_ready_endpoints_and_hostnames_from_their_slices():
    spec = {"clusterIP": "None", "ports": [{"name": "sql", "port": 5432, "protocol": "TCP"}]}
    svc = {"metadata": {"namespace": "db", "name": "pg"}, "spec": spec}
    eps = {"metadata": {"namespace": "db", "labels": {"kubernetes.io/service-name": "pg"}}, "addressType": "IPv4",
           "ports": [{"name": "sql", "port": 5432, "protocol": "TCP"}],
           "endpoints": [{"addresses": ["10.244.1.5"], "hostname": "pg-0", "conditions": {"ready": True}},
                         {"addresses": ["10.244.2.5"], "hostname": "pg-1", "conditions": {"ready": False}}]}
    [pg] = services([svc], [eps])
    assert pg.headless
    assert pg.endpoints == (Endpoint("10.244.1.5", "pg-0", (Port("sql", "TCP", 5432),)),)
    [published] = services([{**svc, "spec": {**spec, "publishNotReadyAddresses": True}}], [eps])
    assert [e.hostname for e in published.endpoints] == ["pg-0", "pg-1"]


def test_external_name_and_cluster_ips():
    ext = {"metadata": {"namespace": "a", "name": "x"}, "spec": {"type": "ExternalName", "externalName": "e.org"}}
    web = {"metadata": {"namespace": "a", "name": "web"},
           "spec": {"clusterIP": "10.96.0.9", "clusterIPs": ["10.96.0.9"]}}
    [x, w] = services([ext, web], [])
    assert x.external_name == "e.org"
    assert w.cluster_ips == ("10.96.0.9",) and not w.headless


def test_freebind_binds_an_address_this_host_does_not_have():
    udp, tcp = freebind_sockets("10.123.45.6", 0)
    try:
        assert udp.getsockname()[0] == "10.123.45.6"
    finally:
        udp.close()
        tcp.close()
