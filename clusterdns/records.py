"""The cluster's DNS names, per the Kubernetes DNS-Based Service Discovery specification.

Services and their ready endpoints go in (plain values, filled by the daemon from its informers);
an index of names to records comes out. Nothing here knows about sockets or the API.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import dataclass, field

SCHEMA_VERSION = "1.1.0"


@dataclass(frozen=True)
class Port:
    name: str
    protocol: str  # TCP, UDP, SCTP
    port: int


@dataclass(frozen=True)
class Endpoint:
    ip: str
    hostname: str = ""  # set for StatefulSet pods (endpoint hostname) and pods with spec.hostname + subdomain
    ports: tuple[Port, ...] = ()


@dataclass(frozen=True)
class Service:
    name: str
    namespace: str
    cluster_ips: tuple[str, ...] = ()  # empty or ("None",) for headless
    external_name: str = ""
    ports: tuple[Port, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()  # ready endpoints only

    @property
    def headless(self) -> bool:
        return not self.external_name and (not self.cluster_ips or self.cluster_ips[0] == "None")


@dataclass
class Records:
    """Names (lower case, fully qualified, trailing dot) to their records."""

    a: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    aaaa: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    srv: dict[str, list[tuple[int, int, int, str]]] = field(default_factory=lambda: defaultdict(list))
    cname: dict[str, str] = field(default_factory=dict)
    ptr: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    txt: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    # Names that exist without records of their own (e.g. "<ns>.svc.<zone>."): NODATA, not NXDOMAIN.
    empty_nonterminals: set[str] = field(default_factory=set)

    def exists(self, name: str) -> bool:
        return any(name in table for table in (self.a, self.aaaa, self.srv, self.cname, self.ptr, self.txt)) or (
            name in self.empty_nonterminals)


def dashed(ip: str) -> str:
    """The label that stands for an IP (``10-244-1-5``), as for endpoints without a hostname and pod records."""
    return ip.replace(".", "-").replace(":", "-")


def _add_address(records: Records, name: str, ip: str) -> None:
    addr = ipaddress.ip_address(ip)
    (records.a if addr.version == 4 else records.aaaa)[name].append(ip)


def _add_parents(records: Records, name: str, zone: str) -> None:
    labels = name[: -len(zone)].rstrip(".").split(".")
    for i in range(1, len(labels)):
        records.empty_nonterminals.add(".".join(labels[i:]) + "." + zone)
    records.empty_nonterminals.add(zone)


def build(services: list[Service], zone: str = "cluster.local.") -> Records:
    """Every name the cluster answers for, from its Services (and their ready endpoints)."""
    zone = zone.lower().rstrip(".") + "."
    records = Records()
    records.txt[f"dns-version.{zone}"].append(SCHEMA_VERSION)
    for svc in services:
        base = f"{svc.name}.{svc.namespace}.svc.{zone}".lower()
        _add_parents(records, base, zone)
        if svc.external_name:
            records.cname[base] = svc.external_name.rstrip(".").lower() + "."
            continue
        if not svc.headless:
            for ip in svc.cluster_ips:
                _add_address(records, base, ip)
                records.ptr[ipaddress.ip_address(ip).reverse_pointer + "."].append(base)
            for port in svc.ports:
                if port.name:
                    records.srv[f"_{port.name}._{port.protocol.lower()}.{base}"].append((0, 100, port.port, base))
            continue
        weight = 100 // max(1, len(svc.endpoints))
        for ep in svc.endpoints:
            _add_address(records, base, ep.ip)
            host = f"{ep.hostname or dashed(ep.ip)}.{base}".lower()
            _add_address(records, host, ep.ip)
            if ep.hostname:
                records.ptr[ipaddress.ip_address(ep.ip).reverse_pointer + "."].append(host)
            for port in ep.ports or svc.ports:
                if port.name:
                    records.srv[f"_{port.name}._{port.protocol.lower()}.{base}"].append((0, weight, port.port, host))
        if not svc.endpoints:
            records.empty_nonterminals.add(base)
    return records
