"""kube-proxy's nftables mode, computed: one table whose verdict maps route a packet to its service in
O(1), so adding, removing or changing one service or endpoint is a handful of map elements and chains
whatever the number of services (KEP-3866's design). Pure: ``build`` gives the desired ruleset and
``transaction`` the ``nft -f`` input between two of them.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from proxy.model import Endpoint, ServicePort

TABLE = "tinykube-proxy"
MASQ_BIT = "0x00004000"

# Chains and maps that always exist; created once with the table.
_SKELETON = f"""table ip {TABLE} {{
  map service-ips {{ type ipv4_addr . inet_proto . inet_service : verdict ; }}
  map service-nodeports {{ type inet_proto . inet_service : verdict ; }}
  map no-endpoint-services {{ type ipv4_addr . inet_proto . inet_service : verdict ; }}
  map no-endpoint-nodeports {{ type inet_proto . inet_service : verdict ; }}
  chain mark-for-masquerade {{ meta mark set meta mark | {MASQ_BIT} ; }}
  chain masquerading {{
    meta mark & {MASQ_BIT} == 0 return
    meta mark set meta mark ^ {MASQ_BIT}
    masquerade fully-random
  }}
  chain services {{
    ip daddr . meta l4proto . th dport vmap @service-ips
    fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports
  }}
  chain reject-chain {{ reject ; }}
  chain drop-chain {{ drop ; }}
  chain nat-prerouting {{ type nat hook prerouting priority dstnat ; policy accept ; jump services ; }}
  chain nat-output {{ type nat hook output priority -100 ; policy accept ; jump services ; }}
  chain nat-postrouting {{ type nat hook postrouting priority srcnat ; policy accept ; jump masquerading ; }}
  chain filter-input {{
    type filter hook input priority -110 ; policy accept ;
    ct state new fib daddr type local meta l4proto . th dport vmap @no-endpoint-nodeports
  }}
  chain filter-forward {{
    type filter hook forward priority -110 ; policy accept ;
    ct state new ip daddr . meta l4proto . th dport vmap @no-endpoint-services
  }}
  chain filter-output {{
    type filter hook output priority -110 ; policy accept ;
    ct state new ip daddr . meta l4proto . th dport vmap @no-endpoint-services
  }}
}}
"""


def _hash(*parts: str) -> str:
    return base64.b32encode(hashlib.sha256("/".join(parts).encode()).digest()).decode()[:8]


def service_chain(sp: ServicePort) -> str:
    return f"service-{_hash(sp.key, sp.protocol)}-{sp.namespace}/{sp.name}/{sp.protocol}/{sp.port_name or sp.port}"


def endpoint_chain(sp: ServicePort, ep: Endpoint) -> str:
    # nft identifiers allow letters, digits and "/\\_.-" only: no ":" between address and port.
    return f"endpoint-{_hash(sp.key, sp.protocol, ep.ip, str(ep.port))}-{sp.namespace}/{sp.name}/{ep.ip}/{ep.port}"


def affinity_set(sp: ServicePort, ep: Endpoint) -> str:
    """Named with its timeout, so a new timeout is a new set and never an in-place change of a set in use."""
    return f"affinity-{_hash(sp.key, sp.protocol, ep.ip, str(ep.port))}-{sp.session_affinity_seconds}"


@dataclass
class Ruleset:
    """Per-service chains and sets, and the elements of the four verdict maps."""

    chains: dict[str, list[str]] = field(default_factory=dict)
    sets: dict[str, int] = field(default_factory=dict)  # affinity set -> timeout seconds
    maps: dict[str, dict[str, str]] = field(default_factory=lambda: {
        "service-ips": {}, "service-nodeports": {}, "no-endpoint-services": {}, "no-endpoint-nodeports": {}})


def _pick(sp: ServicePort, endpoints: tuple[Endpoint, ...]) -> list[str]:
    rules = []
    if sp.session_affinity_seconds:
        rules += [f"ip saddr @{affinity_set(sp, ep)} goto {_q(endpoint_chain(sp, ep))}" for ep in endpoints]
    if len(endpoints) == 1:
        rules.append(f"goto {_q(endpoint_chain(sp, endpoints[0]))}")
    else:
        choices = ", ".join(f"{i} : goto {_q(endpoint_chain(sp, ep))}" for i, ep in enumerate(endpoints))
        rules.append(f"numgen random mod {len(endpoints)} vmap {{ {choices} }}")
    return rules


def _q(name: str) -> str:
    """Chain names as nft 1.0.6 takes them: bare identifiers (it refuses quoted ones in commands)."""
    return name


@dataclass(frozen=True)
class _Fragment:
    """One service port's share of the ruleset; cached, so a sync recomputes only the services that changed."""

    chains: tuple[tuple[str, tuple[str, ...]], ...] = ()
    sets: tuple[tuple[str, int], ...] = ()
    elements: tuple[tuple[str, str, str], ...] = ()  # (map, key, verdict)


@functools.lru_cache(maxsize=1 << 16)
def _fragment(sp: ServicePort, cluster_cidr: str, node_name: str) -> _Fragment:
    proto = sp.protocol.lower()
    endpoints = sp.ready_endpoints
    ips = [sp.cluster_ip, *sp.external_ips]
    elements: list[tuple[str, str, str]] = []
    if not endpoints:
        elements += [("no-endpoint-services", f"{ip} . {proto} . {sp.port}", "goto reject-chain") for ip in ips]
        if sp.node_port:
            elements.append(("no-endpoint-nodeports", f"{proto} . {sp.node_port}", "goto reject-chain"))
        return _Fragment(elements=tuple(elements))
    chain = service_chain(sp)
    elements += [("service-ips", f"{ip} . {proto} . {sp.port}", f"goto {_q(chain)}") for ip in ips]
    chains: dict[str, list[str]] = {chain: [
        f"ip daddr {sp.cluster_ip} {proto} dport {sp.port} ip saddr != {cluster_cidr} jump mark-for-masquerade",
        *_pick(sp, endpoints),
    ]}
    if sp.node_port:
        local = tuple(e for e in endpoints if e.node == node_name) if sp.local_only else endpoints
        if not local:
            elements.append(("no-endpoint-nodeports", f"{proto} . {sp.node_port}", "goto drop-chain"))
        else:
            external = f"external-{_hash(sp.key, sp.protocol)}-{sp.namespace}/{sp.name}/{proto}/{sp.node_port}"
            elements.append(("service-nodeports", f"{proto} . {sp.node_port}", f"goto {_q(external)}"))
            masq = [] if sp.local_only else ["jump mark-for-masquerade"]
            chains[external] = [*masq, *_pick(sp, local)]
    sets: list[tuple[str, int]] = []
    for ep in endpoints:
        update = ""
        if sp.session_affinity_seconds:
            sets.append((affinity_set(sp, ep), sp.session_affinity_seconds))
            update = f"update @{affinity_set(sp, ep)} {{ ip saddr }} "
        chains[endpoint_chain(sp, ep)] = [
            f"ip saddr {ep.ip} jump mark-for-masquerade",  # hairpin
            f"{update}meta l4proto {proto} dnat to {ep.ip}:{ep.port}",
        ]
    return _Fragment(tuple((c, tuple(r)) for c, r in chains.items()), tuple(sets), tuple(elements))


def build(service_ports: Iterable[ServicePort], cluster_cidr: str, node_name: str = "") -> Ruleset:
    rs = Ruleset()
    for sp in sorted(service_ports, key=lambda s: s.key):
        frag = _fragment(sp, cluster_cidr, node_name)
        for chain, rules in frag.chains:
            rs.chains[chain] = list(rules)
        rs.sets.update(frag.sets)
        for name, key, verdict in frag.elements:
            rs.maps[name][key] = verdict
    return rs


def transaction(applied: Ruleset | None, desired: Ruleset) -> str:
    """The ``nft -f`` input from ``applied`` (None: nothing known, rebuild the table) to ``desired``."""
    t = f"ip {TABLE}"
    out: list[str] = []
    if applied is None:
        out += [f"add table {t}", f"delete table {t}", _SKELETON.rstrip()]
        applied = Ruleset()
    for name, elements in applied.maps.items():
        gone = [k for k, v in elements.items() if desired.maps[name].get(k) != v]
        if gone:
            out.append(f"delete element {t} {name} {{ {', '.join(gone)} }}")
    for name, ttl in desired.sets.items():
        if name not in applied.sets:
            out.append(f"add set {t} {name} {{ type ipv4_addr ; flags dynamic,timeout ; timeout {ttl}s ; }}")
    changed = [c for c, rules in desired.chains.items() if applied.chains.get(c) != rules]
    for chain in changed:  # create first, so rules and map elements may jump to any of them
        out += [f"add chain {t} {_q(chain)}", f"flush chain {t} {_q(chain)}"]
    for chain in changed:
        out += [f"add rule {t} {_q(chain)} {rule}" for rule in desired.chains[chain]]
    for name, elements in desired.maps.items():
        added = [f"{k} : {v}" for k, v in elements.items() if applied.maps[name].get(k) != v]
        if added:
            out.append(f"add element {t} {name} {{ {', '.join(added)} }}")
    stale = [c for c in applied.chains if c not in desired.chains]
    out += [f"flush chain {t} {_q(c)}" for c in stale]
    out += [f"delete chain {t} {_q(c)}" for c in stale]
    out += [f"delete set {t} {s}" for s in applied.sets if s not in desired.sets]
    return "\n".join(out) + "\n" if out else ""
