"""Services and EndpointSlices (API objects) → the plain values ``records.build`` takes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from client.changes import slices_by_service
from clusterdns.records import Endpoint, Port, Service

Obj = Mapping[str, Any]


def _slice_endpoints(slices: Iterable[Obj], publish_not_ready: bool) -> tuple[Endpoint, ...]:
    out: dict[str, Endpoint] = {}
    for eps in slices:
        if eps.get("addressType", "IPv4") not in ("IPv4", "IPv6"):
            continue
        ports = tuple(Port(p.get("name") or "", p.get("protocol", "TCP"), int(p["port"]))
                      for p in eps.get("ports") or [] if p.get("port") is not None)
        for ep in eps.get("endpoints") or []:
            if not (publish_not_ready or (ep.get("conditions") or {}).get("ready", True)):
                continue
            for address in ep.get("addresses") or []:
                out[address] = Endpoint(address, ep.get("hostname", ""), ports)
    return tuple(out[a] for a in sorted(out))


def services(service_objs: Iterable[Obj], slices: Iterable[Obj]) -> list[Service]:
    by_service = slices_by_service(slices)
    out = []
    for svc in service_objs:
        meta, spec = svc.get("metadata", {}), svc.get("spec", {})
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        ips = tuple(spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else []))
        ports = tuple(Port(p.get("name") or "", p.get("protocol", "TCP"), int(p["port"]))
                      for p in spec.get("ports") or [])
        external = spec.get("externalName", "") if spec.get("type") == "ExternalName" else ""
        endpoints = _slice_endpoints(by_service.get((ns, name), []), bool(spec.get("publishNotReadyAddresses")))
        out.append(Service(name, ns, cluster_ips=ips, external_name=external, ports=ports, endpoints=endpoints))
    return out
