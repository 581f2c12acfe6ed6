"""Answers one DNS query from the cluster's records: authoritative inside the cluster zone and the
reverse zones of its addresses, REFUSED elsewhere unless an upstream is configured (then the server
forwards; nothing goes upstream by default).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.reversename
import dns.rrset

from clusterdns.records import Records, dashed

TTL = 5
SOA_MINIMUM = 5


@dataclass(frozen=True)
class Zones:
    """What this server is authoritative for: the cluster domain and the service/pod reverse zones."""

    cluster: str = "cluster.local."
    reverse_networks: tuple[str, ...] = ("10.96.0.0/12", "10.244.0.0/16")

    def covers(self, name: str) -> bool:
        if name == self.cluster or name.endswith("." + self.cluster):
            return True
        if name.endswith(".in-addr.arpa.") or name.endswith(".ip6.arpa."):
            ip = _from_reverse(name)
            return ip is not None and any(ip in ipaddress.ip_network(n) for n in self.reverse_networks)
        return False


def _from_reverse(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(dns.reversename.to_address(dns.name.from_text(name)))
    except (ValueError, dns.exception.SyntaxError):
        return None


class Resolver:
    """Builds responses; the records are swapped whole when the cluster changes (no locking needed)."""

    def __init__(self, records: Records, zones: Zones | None = None) -> None:
        self.records = records
        self.zones = zones or Zones()

    def _soa(self) -> dns.rrset.RRset:
        zone = self.zones.cluster
        return dns.rrset.from_text(zone, TTL, "IN", "SOA",
                                   f"ns.dns.{zone} hostmaster.{zone} 1 7200 1800 86400 {SOA_MINIMUM}")

    def _pod_address(self, name: str) -> str | None:
        """``1-2-3-4.<ns>.pod.<zone>`` answers with 1.2.3.4 (CoreDNS's "pods insecure")."""
        suffix = ".pod." + self.zones.cluster
        if not name.endswith(suffix):
            return None
        labels = name[: -len(suffix)].split(".")
        if len(labels) != 2:
            return None
        candidate = labels[0].replace("-", ".")
        try:
            ip = ipaddress.ip_address(candidate)
        except ValueError:
            return None
        return str(ip) if dashed(str(ip)) == labels[0] else None

    def answer(self, query: dns.message.Message) -> dns.message.Message | None:
        """The response, or ``None`` when the question lies outside the cluster's zones (the caller forwards
        it when configured to, and refuses it otherwise)."""
        response = dns.message.make_response(query)
        if len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        name = question.name.to_text().lower()
        if not self.zones.covers(name):
            return None
        response.flags |= dns.flags.AA
        qtype = question.rdtype
        rec = self.records
        rrsets: list[dns.rrset.RRset] = []
        target = rec.cname.get(name)
        if target is not None:
            rrsets.append(dns.rrset.from_text(name, TTL, "IN", "CNAME", target))
        elif qtype in (dns.rdatatype.A, dns.rdatatype.ANY) and (name in rec.a or self._pod_address(name)):
            ips = rec.a.get(name) or [self._pod_address(name) or ""]
            rrsets.append(dns.rrset.from_text_list(name, TTL, "IN", "A", sorted(set(ips))))
        if target is None:
            if qtype in (dns.rdatatype.AAAA, dns.rdatatype.ANY) and name in rec.aaaa:
                rrsets.append(dns.rrset.from_text_list(name, TTL, "IN", "AAAA", sorted(set(rec.aaaa[name]))))
            if qtype in (dns.rdatatype.SRV, dns.rdatatype.ANY) and name in rec.srv:
                rrsets.append(dns.rrset.from_text_list(
                    name, TTL, "IN", "SRV", [f"{p} {w} {port} {t}" for p, w, port, t in sorted(set(rec.srv[name]))]))
                for *_, host in sorted(set(rec.srv[name])):
                    if host in rec.a:
                        response.additional.append(dns.rrset.from_text_list(host, TTL, "IN", "A", rec.a[host]))
            if qtype in (dns.rdatatype.PTR, dns.rdatatype.ANY) and name in rec.ptr:
                rrsets.append(dns.rrset.from_text_list(name, TTL, "IN", "PTR", sorted(set(rec.ptr[name]))))
            if qtype in (dns.rdatatype.TXT, dns.rdatatype.ANY) and name in rec.txt:
                rrsets.append(dns.rrset.from_text_list(name, TTL, "IN", "TXT", [f'"{t}"' for t in rec.txt[name]]))
        response.answer.extend(rrsets)
        if not rrsets:
            if not (rec.exists(name) or self._pod_address(name)):
                response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(self._soa())
        return response
