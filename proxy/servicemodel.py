"""Services and EndpointSlices (API objects) → the service ports the rule generators program.

kube-proxy's rules: headless and ExternalName Services get no rules; endpoints come from the
EndpointSlices labelled with the Service's name, matched to each service port by port name and
protocol; ready endpoints are used, and when none is ready, serving-but-terminating ones take over
(so connections drain during rollouts instead of being refused).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from client.changes import slices_by_service
from proxy.model import Endpoint, ServicePort

DEFAULT_AFFINITY_SECONDS = 10800

Obj = Mapping[str, Any]


def _endpoints_for(port_name: str, protocol: str, slices: Iterable[Obj]) -> tuple[Endpoint, ...]:
    ready: list[Endpoint] = []
    terminating: list[Endpoint] = []
    for eps in slices:
        if eps.get("addressType", "IPv4") != "IPv4":
            continue
        target = next((p for p in eps.get("ports") or [] if (p.get("name") or "") == port_name
                       and p.get("protocol", "TCP") == protocol), None)
        if target is None or target.get("port") is None:
            continue
        for ep in eps.get("endpoints") or []:
            cond = ep.get("conditions") or {}
            node = ep.get("nodeName", "")
            for address in ep.get("addresses") or []:
                if cond.get("ready", True):
                    ready.append(Endpoint(address, int(target["port"]), node))
                elif cond.get("serving") and cond.get("terminating"):
                    terminating.append(Endpoint(address, int(target["port"]), node))
    return tuple(sorted(set(ready or terminating)))


def service_ports(services: Iterable[Obj], slices: Iterable[Obj]) -> list[ServicePort]:
    """Every programmable service port, with its endpoints."""
    by_service = slices_by_service(slices)
    out: list[ServicePort] = []
    for svc in services:
        meta, spec = svc.get("metadata", {}), svc.get("spec", {})
        cluster_ip = spec.get("clusterIP", "")
        if spec.get("type") == "ExternalName" or not cluster_ip or cluster_ip == "None":
            continue
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        affinity = 0
        if spec.get("sessionAffinity") == "ClientIP":
            affinity = int(((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get(
                "timeoutSeconds", DEFAULT_AFFINITY_SECONDS))
        for port in spec.get("ports") or []:
            protocol = port.get("protocol", "TCP")
            out.append(ServicePort(
                namespace=ns, name=name, port_name=port.get("name") or "", protocol=protocol.lower(),
                cluster_ip=cluster_ip, port=int(port["port"]),
                node_port=int(port.get("nodePort") or 0) if spec.get("type") in ("NodePort", "LoadBalancer") else 0,
                session_affinity_seconds=affinity, external_ips=tuple(spec.get("externalIPs") or ()),
                local_only=spec.get("externalTrafficPolicy") == "Local",
                endpoints=_endpoints_for(port.get("name") or "", protocol, by_service.get((ns, name), [])),
            ))
    return out


def removed_udp_endpoints(before: Iterable[ServicePort], after: Iterable[ServicePort]) -> list[tuple[str, str]]:
    """(service IP, endpoint IP) pairs of UDP endpoints that went away: their conntrack entries must go, or
    clients keep sending to a dead pod (UDP has no connection to break)."""
    now = {(sp.key, sp.cluster_ip, e.ip) for sp in after if sp.protocol == "udp" for e in sp.ready_endpoints}
    return sorted({(ip, ep) for sp in before if sp.protocol == "udp" for e in sp.ready_endpoints
                   for key, ip, ep in [(sp.key, sp.cluster_ip, e.ip)] if (key, ip, ep) not in now})
