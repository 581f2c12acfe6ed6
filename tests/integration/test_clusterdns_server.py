"""The DNS server on a loopback port, queried over UDP and TCP as a pod's resolver would."""

import asyncio
import socket

import dns.asyncquery
import dns.message
import dns.rcode

from clusterdns.records import Endpoint, Port, Service, build
from clusterdns.resolver import Resolver
from clusterdns.server import DnsServer

MANY = Service("many", "default", cluster_ips=("None",), ports=(Port("http", "TCP", 80),),
               endpoints=tuple(Endpoint(f"10.244.1.{i + 2}") for i in range(100)))


async def test_udp_tcp_truncation_refusal_and_garbage(port):
    p = port()
    server = DnsServer(Resolver(build([Service("web", "default", cluster_ips=("10.96.0.20",)), MANY])))
    await server.start("127.0.0.1", p)
    try:
        udp = await dns.asyncquery.udp(dns.message.make_query("web.default.svc.cluster.local", "A"), "127.0.0.1",
                                       port=p, timeout=2)
        assert [rd.to_text() for rd in udp.answer[0]] == ["10.96.0.20"]

        big = await dns.asyncquery.udp(dns.message.make_query("many.default.svc.cluster.local", "A"), "127.0.0.1",
                                       port=p, timeout=2)
        assert big.flags & dns.flags.TC
        full = await dns.asyncquery.tcp(dns.message.make_query("many.default.svc.cluster.local", "A"), "127.0.0.1",
                                        port=p, timeout=2)
        assert len(full.answer[0]) == 100

        outside = await dns.asyncquery.udp(dns.message.make_query("example.org", "A"), "127.0.0.1", port=p, timeout=2)
        assert outside.rcode() == dns.rcode.REFUSED  # nothing is forwarded upstream unless configured

        def send_garbage() -> bytes:  # in a thread: the server shares this test's event loop
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(2)
                s.sendto(b"\x12\x34" + b"\x01" * 20, ("127.0.0.1", p))
                return s.recv(512)

        reply = await asyncio.to_thread(send_garbage)
        assert reply[:2] == b"\x12\x34" and reply[3] & 0x0F == dns.rcode.FORMERR
    finally:
        await server.stop()
