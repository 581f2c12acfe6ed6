"""DNS over UDP and TCP on asyncio, answering from a ``Resolver``; questions outside the cluster's zones
are forwarded only to upstreams the operator configured, and refused otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.rcode

from clusterdns.resolver import Resolver
from process.log import get_logger

log = get_logger("dns")

UDP_DEFAULT_PAYLOAD = 512
FORWARD_TIMEOUT = 2.0


class DnsServer:
    """Serves ``resolver`` on ``host:port`` (UDP and TCP)."""

    def __init__(self, resolver: Resolver, upstreams: tuple[str, ...] = ()) -> None:
        self.resolver = resolver
        self.upstreams = upstreams
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None

    async def respond(self, wire: bytes, max_size: int) -> bytes | None:
        """The wire response to one query, or ``None`` when the query cannot even be parsed enough to answer."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return _formerr(wire)
        response = self.resolver.answer(query)
        if response is None:
            response = await self._forward(query)
        if query.edns >= 0:
            response.use_edns(0, payload=max(UDP_DEFAULT_PAYLOAD, query.payload))
            max_size = min(max_size, max(UDP_DEFAULT_PAYLOAD, query.payload))
        try:
            return response.to_wire(max_size=max_size)
        except dns.exception.TooBig:
            response.answer.clear()
            response.additional.clear()
            response.flags |= dns.flags.TC  # the client retries over TCP
            return response.to_wire()

    async def _forward(self, query: dns.message.Message) -> dns.message.Message:
        for upstream in self.upstreams:
            host, _, port = upstream.partition(":")
            try:
                return await dns.asyncquery.udp(query, host, timeout=FORWARD_TIMEOUT, port=int(port or 53))
            except (dns.exception.DNSException, OSError) as exc:
                log.warning("upstream failed", upstream=upstream, err=str(exc))
        response = dns.message.make_response(query)
        response.set_rcode(dns.rcode.SERVFAIL if self.upstreams else dns.rcode.REFUSED)
        return response

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(self), local_addr=(host, port))
        self._udp = transport
        self._tcp = await asyncio.start_server(self._serve_tcp, host, port)
        log.info("serving", address=f"{host}:{port}", upstreams=",".join(self.upstreams) or "none")

    async def start_on(self, udp: socket.socket, tcp: socket.socket) -> None:
        """Serve on sockets the caller bound (e.g. with IP_FREEBIND, before the address exists)."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(self), sock=udp)
        self._udp = transport
        self._tcp = await asyncio.start_server(self._serve_tcp, sock=tcp)
        log.info("serving", address="{}:{}".format(*udp.getsockname()),
                 upstreams=",".join(self.upstreams) or "none")

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                out = await self.respond(await reader.readexactly(length), 65535)
                if out is None:
                    break
                writer.write(struct.pack("!H", len(out)) + out)
                await writer.drain()
        writer.close()

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()


class _UdpProtocol(asyncio.DatagramProtocol):
    """One task per datagram, so a slow forwarded query never holds up the cluster's own answers."""

    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram endpoint's transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        task = asyncio.create_task(self._reply(data, addr))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def _reply(self, data: bytes, addr: tuple[str, int]) -> None:
        out = await self.server.respond(data, UDP_DEFAULT_PAYLOAD)
        if out is not None and self.transport is not None:
            self.transport.sendto(out, addr)


def _formerr(wire: bytes) -> bytes | None:
    """A FORMERR echoing the query id, when at least the 12-byte header arrived."""
    if len(wire) < 12:
        return None
    (qid,) = struct.unpack("!H", wire[:2])
    flags = 0x8000 | dns.rcode.FORMERR  # QR set, RCODE=FORMERR
    return struct.pack("!HHHHHH", qid, flags, 0, 0, 0, 0)
