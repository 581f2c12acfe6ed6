"""Endpoints and EndpointSlices for Services with selectors.

Both controllers derive the same facts from the selected pods (address, readiness, node, hostname,
each service port resolved against the pod's named container ports); they differ in shape. The
Endpoints object packs addresses into subsets by identical port sets and lists not-ready ones apart;
EndpointSlices carry per-endpoint ready/serving/terminating conditions, include terminating pods,
and hold at most 100 endpoints each. Services without a selector are left alone (their Endpoints
belong to the user), as are slices another manager owns.
"""

from __future__ import annotations

import copy
import ipaddress
from dataclasses import dataclass
from typing import Final

from api import labels
from client.cache import split_key
from controller_manager import pods as podstate
from controller_manager.actions import Action, Create, Delete, Update
from controller_manager.ownership import controller_ref
from controller_manager.view import ENDPOINT_SLICES, ENDPOINTS, NODES, PODS, SERVICES, Obj, View, meta

MANAGED_BY: Final = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME: Final = "endpointslice-controller.k8s.io"
SERVICE_NAME: Final = "kubernetes.io/service-name"
HEADLESS: Final = "service.kubernetes.io/headless"
TOLERATE_UNREADY: Final = "service.alpha.kubernetes.io/tolerate-unready-endpoints"
OVER_CAPACITY: Final = "endpoints.kubernetes.io/over-capacity"
MAX_ENDPOINTS_PER_SLICE: Final = 100
MAX_ENDPOINTS_ADDRESSES: Final = 1000
ZONE_LABEL: Final = "topology.kubernetes.io/zone"


def find_port(pod: Obj, service_port: Obj) -> int | None:
    """The pod port a service port targets: a number as is, a name looked up among the containers'
    ports with the same protocol (None when the pod has no such port)."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol", "TCP")
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == target and p.get("protocol", "TCP") == protocol:
                return int(p["containerPort"])
    return None


def _should_include(pod: Obj, include_terminating: bool) -> bool:
    status = pod.get("status") or {}
    if not status.get("podIP") and not status.get("podIPs"):
        return False
    if not include_terminating and podstate.is_terminating(pod):
        return False
    restart = (pod.get("spec") or {}).get("restartPolicy", "Always")
    phase = podstate.phase(pod)
    if restart == "Never":
        return phase not in (podstate.FAILED, podstate.SUCCEEDED)
    if restart == "OnFailure":
        return phase != podstate.SUCCEEDED
    return True


def _pod_ips(pod: Obj) -> list[str]:
    status = pod.get("status") or {}
    ips = [p["ip"] for p in status.get("podIPs") or [] if p.get("ip")]
    return ips or ([status["podIP"]] if status.get("podIP") else [])


def _hostname(pod: Obj, svc: Obj) -> str | None:
    spec = pod.get("spec") or {}
    if spec.get("hostname") and spec.get("subdomain") == meta(svc)["name"] \
            and meta(pod).get("namespace") == meta(svc).get("namespace"):
        return str(spec["hostname"])
    return None


def _target_ref(pod: Obj) -> Obj:
    return {"kind": "Pod", "namespace": meta(pod).get("namespace"), "name": meta(pod)["name"],
            "uid": meta(pod).get("uid")}


def _ports_for(pod: Obj, svc: Obj) -> list[Obj]:
    out = []
    for sp in (svc.get("spec") or {}).get("ports") or []:
        num = find_port(pod, sp)
        if num is None:
            continue
        port: Obj = {"name": sp.get("name") or "", "port": num, "protocol": sp.get("protocol", "TCP")}
        if sp.get("appProtocol"):
            port["appProtocol"] = sp["appProtocol"]
        out.append(port)
    return out


def _tolerates_unready(svc: Obj) -> bool:
    return bool((svc.get("spec") or {}).get("publishNotReadyAddresses")) or \
        (meta(svc).get("annotations") or {}).get(TOLERATE_UNREADY) == "true"


def _selected_pods(view: View, svc: Obj) -> list[Obj]:
    selector = labels.from_label_selector({"matchLabels": (svc.get("spec") or {}).get("selector") or {}})
    return view.list(PODS, meta(svc).get("namespace"), selector)


def _managed_service(view: View, key: str) -> tuple[Obj | None, str | None, str]:
    namespace, name = split_key(key)
    return view.get(SERVICES, namespace, name), namespace, name


def _service_labels(svc: Obj) -> dict[str, str]:
    out = dict(meta(svc).get("labels") or {})
    if (svc.get("spec") or {}).get("clusterIP") == "None":
        out[HEADLESS] = ""
    return out


# --- Endpoints ---------------------------------------------------------------------------------------

def reconcile_endpoints(view: View, key: str) -> list[Action]:
    """The Endpoints object of Service ``key``: created, updated when its subsets differ, deleted with
    the Service."""
    svc, namespace, name = _managed_service(view, key)
    current = view.get(ENDPOINTS, namespace, name)
    if svc is None:
        if current is None:
            return []
        return [Delete(ENDPOINTS, namespace, name, meta(current).get("uid"))]
    if (svc.get("spec") or {}).get("selector") is None:
        return []
    tolerate = _tolerates_unready(svc)
    groups: dict[str, tuple[list[Obj], list[Obj], list[Obj]]] = {}
    total = 0
    truncated = False
    for pod in _selected_pods(view, svc):
        if not _should_include(pod, include_terminating=False):
            continue
        # core/v1 EndpointPort omits an empty name; discovery/v1 always carries it
        ports = [{k: v for k, v in p.items() if k != "name" or v} for p in _ports_for(pod, svc)]
        if (svc.get("spec") or {}).get("ports") and not ports:
            continue
        address: Obj = {"ip": _pod_ips(pod)[0], "targetRef": _target_ref(pod)}
        if (pod.get("spec") or {}).get("nodeName"):
            address["nodeName"] = pod["spec"]["nodeName"]
        host = _hostname(pod, svc)
        if host:
            address["hostname"] = host
        ports_key = repr(sorted((p.get("name", ""), p["port"], p["protocol"]) for p in ports))
        group = groups.setdefault(ports_key, ([], [], ports))
        if total >= MAX_ENDPOINTS_ADDRESSES:
            truncated = True
            continue
        total += 1
        (group[0] if tolerate or podstate.is_ready(pod) else group[1]).append(address)
    subsets = []
    for ready, not_ready, ports in groups.values():
        subset: Obj = {}
        if ready:
            subset["addresses"] = sorted(ready, key=_addr_key)
        if not_ready:
            subset["notReadyAddresses"] = sorted(not_ready, key=_addr_key)
        if not subset:
            continue
        if ports:
            subset["ports"] = sorted(ports, key=lambda p: (p.get("name", ""), p["port"]))
        subsets.append(subset)
    subsets.sort(key=lambda s: repr(s.get("ports")))
    wanted_labels = _service_labels(svc)
    annotations: dict[str, str] = {}
    if truncated:
        annotations[OVER_CAPACITY] = "truncated"
    if current is None:
        body: Obj = {"apiVersion": "v1", "kind": "Endpoints",
                     "metadata": {"name": name, "namespace": namespace, "labels": wanted_labels}, "subsets": subsets}
        if annotations:
            body["metadata"]["annotations"] = annotations
        return [Create(ENDPOINTS, body)]
    cur_ann = dict(meta(current).get("annotations") or {})
    new_ann = {k: v for k, v in cur_ann.items() if k != OVER_CAPACITY} | annotations
    if (current.get("subsets") or []) == subsets and (meta(current).get("labels") or {}) == wanted_labels \
            and cur_ann == new_ann:
        return []
    updated = copy.deepcopy(current)
    updated["subsets"] = subsets
    updated["metadata"]["labels"] = wanted_labels
    if new_ann:
        updated["metadata"]["annotations"] = new_ann
    else:
        updated["metadata"].pop("annotations", None)
    return [Update(ENDPOINTS, updated)]


def _addr_key(addr: Obj) -> tuple[int, ...] | tuple[str]:
    try:
        return tuple(ipaddress.ip_address(addr["ip"]).packed)
    except ValueError:
        return (str(addr["ip"]),)


# --- EndpointSlices --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Group:
    """Endpoints that share an address type and a port list, as one slice must."""

    address_type: str
    ports_key: str


def _endpoint(pod: Obj, svc: Obj, ip: str, zone: str | None) -> Obj:
    tolerate = _tolerates_unready(svc)
    terminating = podstate.is_terminating(pod)
    serving = tolerate or podstate.is_ready(pod)
    ep: Obj = {"addresses": [ip],
               "conditions": {"ready": serving and not terminating, "serving": serving, "terminating": terminating},
               "targetRef": _target_ref(pod)}
    host = _hostname(pod, svc)
    if host:
        ep["hostname"] = host
    if (pod.get("spec") or {}).get("nodeName"):
        ep["nodeName"] = pod["spec"]["nodeName"]
    if zone:
        ep["zone"] = zone
    return ep


def _slice_ports_key(ports: list[Obj]) -> str:
    return repr(sorted((p.get("name", ""), p.get("port"), p.get("protocol", "TCP")) for p in ports))


def reconcile_slices(view: View, key: str) -> list[Action]:
    """The EndpointSlices of Service ``key``: existing slices keep their still-valid endpoints, new
    endpoints fill free room before new slices are made, and an empty placeholder slice stands in
    when the Service selects nothing."""
    svc, namespace, name = _managed_service(view, key)
    if svc is None or (svc.get("spec") or {}).get("selector") is None:
        return []  # slices of a deleted Service go with it through their ownerReference
    desired: dict[_Group, dict[str, Obj]] = {}
    group_ports: dict[_Group, list[Obj]] = {}
    for pod in _selected_pods(view, svc):
        if not _should_include(pod, include_terminating=True):
            continue
        ports = _ports_for(pod, svc)
        if (svc.get("spec") or {}).get("ports") and not ports:
            continue
        node = view.get(NODES, None, (pod.get("spec") or {}).get("nodeName", "") or "-")
        zone = ((meta(node).get("labels") or {}).get(ZONE_LABEL)) if node else None
        for ip in _pod_ips(pod):
            family = "IPv6" if ":" in ip else "IPv4"
            group = _Group(family, _slice_ports_key(ports))
            group_ports[group] = sorted(ports, key=lambda p: (p.get("name", ""), p["port"]))
            desired.setdefault(group, {})[ip] = _endpoint(pod, svc, ip, zone)
    existing = view.list(ENDPOINT_SLICES, namespace,
                         labels.from_label_selector({"matchLabels": {SERVICE_NAME: name, MANAGED_BY: CONTROLLER_NAME}}))
    wanted_labels = {**_service_labels(svc), SERVICE_NAME: name, MANAGED_BY: CONTROLLER_NAME}
    actions: list[Action] = []
    if not any(desired.values()):
        return _placeholder(svc, existing, wanted_labels)
    families = {g.address_type for g in desired}
    for group, endpoints in desired.items():
        slices = [s for s in existing if s.get("addressType") == group.address_type
                  and _slice_ports_key(s.get("ports") or []) == group.ports_key]
        actions += _reconcile_group(svc, slices, endpoints, (group, group_ports[group]), wanted_labels)
    grouped = {(g.address_type, g.ports_key) for g in desired}
    for s in existing:
        if (s.get("addressType"), _slice_ports_key(s.get("ports") or [])) not in grouped \
                or s.get("addressType") not in families:
            actions.append(Delete(ENDPOINT_SLICES, namespace, meta(s)["name"], meta(s).get("uid")))
    return actions


def _reconcile_group(svc: Obj, slices: list[Obj], desired: dict[str, Obj], shape: tuple[_Group, list[Obj]],
                     wanted_labels: dict[str, str]) -> list[Action]:
    group, ports = shape
    pending = dict(desired)
    updates: list[Obj] = []
    keep: list[Obj] = []
    for s in sorted(slices, key=lambda s: meta(s)["name"]):
        eps = []
        changed = False
        for ep in s.get("endpoints") or []:
            ip = (ep.get("addresses") or [""])[0]
            want = pending.pop(ip, None)
            if want is None:
                changed = True
                continue
            if want != ep:
                changed = True
            eps.append(want)
        labels_changed = (meta(s).get("labels") or {}) != wanted_labels
        new = copy.deepcopy(s)
        new["endpoints"] = eps
        new["metadata"]["labels"] = wanted_labels
        if changed or labels_changed:
            updates.append(new)
        else:
            keep.append(new)
    actions: list[Action] = []
    # fill room in slices being updated anyway, then in untouched ones, then make new slices
    for s in [*updates, *keep]:
        room = MAX_ENDPOINTS_PER_SLICE - len(s["endpoints"])
        if room <= 0 or not pending:
            continue
        take = sorted(pending)[:room]
        s["endpoints"] += [pending.pop(ip) for ip in take]
        if s in keep:
            keep.remove(s)
            updates.append(s)
    for s in updates:
        if s["endpoints"]:
            actions.append(Update(ENDPOINT_SLICES, s))
        else:
            actions.append(Delete(ENDPOINT_SLICES, meta(s).get("namespace"), meta(s)["name"], meta(s).get("uid")))
    rest = [pending[ip] for ip in sorted(pending)]
    for i in range(0, len(rest), MAX_ENDPOINTS_PER_SLICE):
        actions.append(Create(ENDPOINT_SLICES, _new_slice(svc, group.address_type, ports, wanted_labels,
                                                          rest[i:i + MAX_ENDPOINTS_PER_SLICE])))
    return actions


def _new_slice(svc: Obj, address_type: str, ports: list[Obj], wanted_labels: dict[str, str],
               endpoints: list[Obj]) -> Obj:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"generateName": f"{meta(svc)['name']}-", "namespace": meta(svc).get("namespace"),
                         "labels": dict(wanted_labels), "ownerReferences": [controller_ref(svc)]},
            "addressType": address_type, "endpoints": endpoints, "ports": ports}


def _placeholder(svc: Obj, existing: list[Obj], wanted_labels: dict[str, str]) -> list[Action]:
    """A Service that selects nothing keeps one empty slice, so consumers can tell "no endpoints" from
    "not processed yet"."""
    ns = meta(svc).get("namespace")
    for s in existing:
        if not s.get("endpoints") and not s.get("ports") and (meta(s).get("labels") or {}) == wanted_labels:
            return [Delete(ENDPOINT_SLICES, ns, meta(o)["name"], meta(o).get("uid")) for o in existing if o is not s]
    actions: list[Action] = [Delete(ENDPOINT_SLICES, ns, meta(o)["name"], meta(o).get("uid")) for o in existing]
    actions.append(Create(ENDPOINT_SLICES, _new_slice(svc, "IPv4", [], wanted_labels, [])))
    return actions
