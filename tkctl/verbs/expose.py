"""``tkctl expose``: a Service for a deployment, replica set, replication controller, pod or service."""

from __future__ import annotations

import argparse
from typing import Any

from tkctl.errors import CliError
from tkctl.flags import Parser, add_dry_run, add_filename_flags, add_output_flag
from tkctl.mutate import dry_run_mode, report, with_namespace
from tkctl.session import Session
from tkctl.targets import parse_targets

EXAMPLES = {"expose": """examples:
  # Create a service for an nginx deployment, which serves on port 80 and connects to the containers on port 8000
  tkctl expose deployment nginx --port=80 --target-port=8000

  # Create a service for a pod valid-pod, which serves on port 444 with the name "frontend"
  tkctl expose pod valid-pod --port=444 --name=frontend
"""}


def build(p: Parser, verb: str) -> None:
    add_filename_flags(p)
    add_output_flag(p)
    add_dry_run(p)
    p.add_argument("--port", default="", help="the port that the service should serve on")
    p.add_argument("--target-port", default="", help="name or number for the port on the container")
    p.add_argument("--protocol", default="", help="the network protocol for the service (default TCP)")
    p.add_argument("--name", default="", help="the name for the newly created object")
    p.add_argument("--type", default="", help="type for this service: ClusterIP, NodePort, LoadBalancer, or "
                   "ExternalName")
    p.add_argument("--selector", default="", help="a label selector to use for this service")
    p.add_argument("--cluster-ip", default="", help="ClusterIP to be assigned to the service")
    p.add_argument("--external-ip", default="", help="additional external IP address")
    p.add_argument("-l", "--labels", default="", help="labels to apply to the service created by this call")
    p.add_argument("--session-affinity", default="", help="if non-empty, set the session affinity to 'ClientIP'")
    p.add_argument("--field-manager", default="kubectl-expose", help="name of the manager used to track field "
                   "ownership")
    p.add_argument("args", nargs="*", help="(TYPE NAME | TYPE/NAME)")


def _pairs(text: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in text.split(",") if "=" in part)


def _selector_of(obj: dict[str, Any]) -> dict[str, str]:
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return dict((obj.get("metadata") or {}).get("labels") or {})
    if kind in ("Service", "ReplicationController"):
        return dict(spec.get("selector") or {})
    selector = spec.get("selector") or {}
    if selector.get("matchExpressions"):
        raise CliError("couldn't convert expressions - \"" + str(selector["matchExpressions"]) +
                       "\" to map-based selector format")
    return dict(selector.get("matchLabels") or {})


def _ports_of(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Service":
        return list(spec.get("ports") or [])
    pod_spec = spec if obj.get("kind") == "Pod" else (spec.get("template") or {}).get("spec") or {}
    return [{"port": p.get("containerPort"), "protocol": p.get("protocol", "TCP"), "name": p.get("name")}
            for c in pod_spec.get("containers") or [] for p in c.get("ports") or []]


def run(s: Session, o: argparse.Namespace) -> int:
    targets = parse_targets(s, o.args, allow_empty_names=False)
    for t in targets:
        for name in t.names:
            obj = s.client.get(t.info.ref, name, s.namespace)
            obj.setdefault("kind", t.info.ref.kind)
            _expose(s, o, obj)
    return 0


def _expose(s: Session, o: argparse.Namespace, obj: dict[str, Any]) -> None:
    meta = obj.get("metadata") or {}
    selector = _pairs(o.selector) if o.selector else _selector_of(obj)
    if not selector:
        raise CliError(f"couldn't retrieve selectors via --selector flag or introspection: the {obj.get('kind', '')}"
                       f" has no selector")
    protocol = o.protocol or "TCP"
    ports: list[dict[str, Any]] = []
    if o.port:
        for i, port in enumerate(o.port.split(",")):
            entry: dict[str, Any] = {"port": int(port), "protocol": protocol}
            target = o.target_port or port
            entry["targetPort"] = int(target) if target.isdigit() else target
            if len(o.port.split(",")) > 1:
                entry["name"] = f"port-{i + 1}"
            ports.append(entry)
    else:
        found = _ports_of(obj)
        if not found:
            raise CliError("couldn't find port via --port flag or introspection")
        for i, p in enumerate(found):
            entry = {"port": p["port"], "protocol": o.protocol or p.get("protocol") or "TCP"}
            target = o.target_port or p.get("targetPort") or p["port"]
            entry["targetPort"] = int(target) if isinstance(target, str) and target.isdigit() else target
            if len(found) > 1:
                entry["name"] = p.get("name") or f"port-{i + 1}"
            ports.append(entry)
    labels = _pairs(o.labels) if o.labels else dict(meta.get("labels") or {})
    service: dict[str, Any] = {"apiVersion": "v1", "kind": "Service",
                               "metadata": {"creationTimestamp": None, "name": o.name or meta.get("name")},
                               "spec": {"ports": ports, "selector": selector}, "status": {"loadBalancer": {}}}
    if labels:
        service["metadata"]["labels"] = labels
    if o.type:
        service["spec"]["type"] = o.type
    if o.cluster_ip:
        service["spec"]["clusterIP"] = o.cluster_ip
    if o.external_ip:
        service["spec"]["externalIPs"] = [o.external_ip]
    if o.session_affinity:
        service["spec"]["sessionAffinity"] = o.session_affinity
    with_namespace(s, service, True)
    mode = dry_run_mode(o)
    result = service
    if mode != "client":
        result = s.client.create(s.resource("services").ref, service, s.namespace, field_manager=o.field_manager,
                                 dry_run=mode == "server")
    report(s, result, "exposed", o, built=result is service)
