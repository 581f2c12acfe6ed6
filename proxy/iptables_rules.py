"""kube-proxy's iptables rules, computed: service ports in, the desired chains of the nat and filter tables out.

The layout is kube-proxy's (KUBE-SERVICES → KUBE-SVC-* → KUBE-SEP-* with random-probability balancing,
KUBE-NODEPORTS, KUBE-MARK-MASQ / KUBE-POSTROUTING on mark 0x4000, REJECT for services without
endpoints), so people who know kube-proxy can read our tables. Pure: no iptables is run here.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from proxy.model import Endpoint, ServicePort

MASQ_MARK = "0x4000/0x4000"
# Chains we own in each table; anything else in the tables belongs to someone else and is never touched.
NAT_BASE = ("KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ")
FILTER_BASE = ("KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD")
# Above this many endpoints, per-endpoint rules go without comments (as upstream's large-cluster mode): the
# legacy iptables-restore reads and rewrites the whole table on every change, and at 10,000 services their
# comments made it spend 0.53 s of CPU on one endpoint change instead of 0.39 s (measured here).
LARGE_CLUSTER_ENDPOINTS = 1000


def chain_name(prefix: str, *parts: str) -> str:
    """``KUBE-SVC-`` plus 16 base32 characters of a hash: stable, unique, and within iptables' 28."""
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return prefix + base64.b32encode(digest).decode()[:16]


@dataclass
class Tables:
    """Chain name → ordered rules (each rule without the ``-A CHAIN`` prefix), per table."""

    nat: dict[str, list[str]] = field(default_factory=dict)
    filter: dict[str, list[str]] = field(default_factory=dict)


def _comment(text: str) -> str:
    return f'-m comment --comment "{text}"'


def _svc_chain(sp: ServicePort) -> str:
    return chain_name("KUBE-SVC-", sp.key, sp.protocol)


def _sep_chain(sp: ServicePort, ep: Endpoint) -> str:
    return chain_name("KUBE-SEP-", sp.key, sp.protocol, f"{ep.ip}:{ep.port}")


def _balance(sp: ServicePort, endpoints: tuple[Endpoint, ...], comments: bool) -> list[str]:
    """Rules that pick one endpoint chain uniformly: 1/n, then 1/(n-1) of the rest, ..., then the last."""
    rules: list[str] = []
    notes = {ep: f"{_comment(f'{sp.key} -> {ep.ip}:{ep.port}')} " if comments else "" for ep in endpoints}
    if sp.session_affinity_seconds:
        for ep in endpoints:
            sep = _sep_chain(sp, ep)
            rules.append(f"{notes[ep]}-m recent --name {sep} --rcheck --seconds {sp.session_affinity_seconds} "
                         f"--reap -j {sep}")
    for i, ep in enumerate(endpoints):
        left = len(endpoints) - i
        pick = "" if left == 1 else f"-m statistic --mode random --probability {1 / left:.11f} "
        rules.append(f"{notes[ep]}{pick}-j {_sep_chain(sp, ep)}")
    return rules


@dataclass(frozen=True)
class _Fragment:
    """One service port's share of the tables; cached, so a sync recomputes only the services that changed."""

    nat_services: tuple[str, ...] = ()
    nat_nodeports: tuple[str, ...] = ()
    filter_services: tuple[str, ...] = ()
    filter_external: tuple[str, ...] = ()
    nat_chains: tuple[tuple[str, tuple[str, ...]], ...] = ()


@functools.lru_cache(maxsize=1 << 16)
def _fragment(sp: ServicePort, cluster_cidr: str, node_name: str, comments: bool) -> _Fragment:
    proto = sp.protocol.lower()
    endpoints = sp.ready_endpoints
    match = f"-p {proto} -m {proto} --dport {sp.port}"
    if not endpoints:
        reject = f"{_comment(f'{sp.key} has no endpoints')} {match} -j REJECT --reject-with icmp-port-unreachable"
        rejects = [f"-d {ip}/32 {reject}" for ip in sp.external_ips]
        if sp.node_port:
            rejects.append(f"{_comment(f'{sp.key} has no endpoints')} -m addrtype --dst-type LOCAL -p {proto} "
                           f"-m {proto} --dport {sp.node_port} -j REJECT --reject-with icmp-port-unreachable")
        return _Fragment(filter_services=(f"-d {sp.cluster_ip}/32 {reject}",), filter_external=tuple(rejects))
    svc = _svc_chain(sp)
    services = [f"{_comment(f'{sp.key} cluster IP')} -d {sp.cluster_ip}/32 {match} -j {svc}"]
    for ip in sp.external_ips:
        services.append(f"{_comment(f'{sp.key} external IP')} -d {ip}/32 {match} -j KUBE-MARK-MASQ")
        services.append(f"{_comment(f'{sp.key} external IP')} -d {ip}/32 {match} -j {svc}")
    # Traffic from outside the pod network must come back through this node: masquerade it.
    chains: dict[str, list[str]] = {svc: [f"{_comment(f'{sp.key} cluster IP')} ! -s {cluster_cidr} "
                                          f"-d {sp.cluster_ip}/32 {match} -j KUBE-MARK-MASQ",
                                          *_balance(sp, endpoints, comments)]}
    nodeports: list[str] = []
    external: list[str] = []
    if sp.node_port:
        node_match = f"-p {proto} -m {proto} --dport {sp.node_port}"
        if not sp.local_only:
            nodeports += [f"{_comment(sp.key)} {node_match} -j KUBE-MARK-MASQ",
                          f"{_comment(sp.key)} {node_match} -j {svc}"]
        elif local := tuple(e for e in endpoints if e.node == node_name):
            # Client source preserved: no masquerade, and only this node's endpoints.
            ext = chain_name("KUBE-XLB-", sp.key, sp.protocol)
            nodeports.append(f"{_comment(sp.key)} {node_match} -j {ext}")
            chains[ext] = _balance(sp, local, comments)
        else:
            external.append(f"{_comment(f'{sp.key} has no local endpoints')} -m addrtype --dst-type LOCAL "
                            f"{node_match} -j DROP")
    note = f"{_comment(sp.key)} " if comments else ""
    for ep in endpoints:
        sep = _sep_chain(sp, ep)
        recent = f"-m recent --name {sep} --set " if sp.session_affinity_seconds else ""
        chains[sep] = [
            f"{note}-s {ep.ip}/32 -j KUBE-MARK-MASQ",  # hairpin: a pod reaching itself
            f"{note}-p {proto} -m {proto} {recent}-j DNAT --to-destination {ep.ip}:{ep.port}",
        ]
    return _Fragment(tuple(services), tuple(nodeports), (), tuple(external),
                     tuple((c, tuple(r)) for c, r in chains.items()))


def build(service_ports: Iterable[ServicePort], cluster_cidr: str, node_name: str = "") -> Tables:
    """The desired tables for this node. ``cluster_cidr`` (the pod network) decides what gets masqueraded."""
    t = Tables()
    nat, flt = t.nat, t.filter
    for chain in NAT_BASE:
        nat[chain] = []
    for chain in FILTER_BASE:
        flt[chain] = []
    nat["KUBE-POSTROUTING"] = [
        f"-m mark ! --mark {MASQ_MARK} -j RETURN",
        "-j MARK --xor-mark 0x4000",
        f'{_comment("kubernetes service traffic requiring SNAT")} -j MASQUERADE --random-fully',
    ]
    nat["KUBE-MARK-MASQ"] = ["-j MARK --or-mark 0x4000"]
    flt["KUBE-FORWARD"] = [
        "-m conntrack --ctstate INVALID -j DROP",
        f'{_comment("kubernetes forwarding rules")} -m mark --mark {MASQ_MARK} -j ACCEPT',
        f'{_comment("kubernetes forwarding conntrack rule")} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    ]
    ports = sorted(service_ports, key=lambda s: s.key)
    comments = sum(len(sp.endpoints) for sp in ports) <= LARGE_CLUSTER_ENDPOINTS
    for sp in ports:
        frag = _fragment(sp, cluster_cidr, node_name, comments)
        nat["KUBE-SERVICES"] += frag.nat_services
        nat["KUBE-NODEPORTS"] += frag.nat_nodeports
        flt["KUBE-SERVICES"] += frag.filter_services
        flt["KUBE-EXTERNAL-SERVICES"] += frag.filter_external
        for chain, rules in frag.nat_chains:
            nat[chain] = list(rules)
    nat["KUBE-SERVICES"].append(f'{_comment("kubernetes service nodeports")} -m addrtype --dst-type LOCAL '
                                "-j KUBE-NODEPORTS")
    return t
