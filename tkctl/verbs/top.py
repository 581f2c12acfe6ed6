"""``tkctl top pod|node``: resource usage from the metrics API (``metrics.k8s.io/v1beta1``)."""

from __future__ import annotations

import argparse
from typing import Any

from client.errors import NotFound
from tkctl.errors import CliError
from tkctl.flags import Parser
from tkctl.session import Session

SUBVERBS = {"pod": "Display resource (CPU/memory) usage of pods", "pods": "Display resource (CPU/memory) usage "
            "of pods", "po": "Display resource (CPU/memory) usage of pods",
            "node": "Display resource (CPU/memory) usage of nodes", "nodes": "Display resource (CPU/memory) usage "
            "of nodes", "no": "Display resource (CPU/memory) usage of nodes"}

_METRICS = "/apis/metrics.k8s.io/v1beta1"


def build(p: Parser, verb: str) -> None:
    p.add_argument("-l", "--selector", default="", help="selector (label query) to filter on")
    p.flag("--no-headers", help="if present, print output without headers")
    p.add_argument("--sort-by", default="", help="sort by 'cpu' or 'memory'")
    if verb.rsplit(maxsplit=1)[-1] in ("pod", "pods", "po"):
        p.flag("-A", "--all-namespaces", help="if present, list the requested object(s) across all namespaces")
        p.flag("--containers", help="if present, print usage of containers within a pod")
        p.add_argument("--field-selector", default="", help="selector (field query) to filter on")
    p.add_argument("args", nargs="*", help="[NAME]")


def _cpu(q: str) -> int:
    from api.quantity import Quantity  # noqa: PLC0415

    return int(Quantity.parse(q).value * 1000)


def _mem(q: str) -> int:
    from api.quantity import Quantity  # noqa: PLC0415

    return int(Quantity.parse(q).value)


def run(s: Session, o: argparse.Namespace) -> int:
    from tkctl.table import format_rows  # noqa: PLC0415

    sub = s.verb.split()[-1]
    if sub == "top":
        raise CliError("a top subcommand is required: pod, node")
    if "metrics.k8s.io/v1beta1" not in s.discovery.group_versions():
        raise CliError("Metrics API not available")
    params = {"labelSelector": o.selector} if o.selector else {}
    if sub in ("node", "nodes", "no"):
        path = f"{_METRICS}/nodes" + (f"/{o.args[0]}" if o.args else "")
        doc = s.client.request("GET", path, params=params)
        items = doc.get("items") if "items" in doc else [doc]
        nodes = {n["metadata"]["name"]: n for n in (s.client.request("GET", "/api/v1/nodes") or {}).get("items")
                 or []}
        rows: list[list[str]] = [] if o.no_headers else [["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)",
                                                          "MEMORY(%)"]]
        data = []
        for m in items or []:
            name = m["metadata"]["name"]
            usage = m.get("usage") or {}
            alloc = (nodes.get(name, {}).get("status") or {}).get("allocatable") or {}
            cpu, mem = _cpu(usage.get("cpu", "0")), _mem(usage.get("memory", "0"))
            cpu_pct = int(cpu * 100 / _cpu(alloc["cpu"])) if alloc.get("cpu") else 0
            mem_pct = int(mem * 100 / _mem(alloc["memory"])) if alloc.get("memory") else 0
            data.append((name, cpu, mem, [name, f"{cpu}m", f"{cpu_pct}%", f"{mem // (1024 * 1024)}Mi", f"{mem_pct}%"]))
        data = _sort(data, o.sort_by)
        s.out.write(format_rows(rows + [d[3] for d in data]))
        return 0
    ns_path = "" if o.all_namespaces else f"/namespaces/{s.namespace}"
    if o.field_selector:
        params["fieldSelector"] = o.field_selector
    try:
        doc = s.client.request("GET", f"{_METRICS}{ns_path}/pods" + (f"/{o.args[0]}" if o.args else ""),
                               params=params)
    except NotFound as exc:
        raise CliError(f"podmetrics.metrics.k8s.io \"{o.args[0] if o.args else ''}\" not found") from exc
    pods: list[dict[str, Any]] = doc.get("items") if "items" in doc else [doc]
    if not pods:
        s.warn(f"No resources found in {s.namespace} namespace." if not o.all_namespaces else "No resources found")
        return 0
    header = (["NAMESPACE"] if o.all_namespaces else []) + ["NAME"] + (["NAME"] if o.containers else []) + \
        ["CPU(cores)", "MEMORY(bytes)"]
    rows = [] if o.no_headers else [header]
    data = []
    for m in pods:
        meta = m["metadata"]
        lead = [meta.get("namespace", "")] if o.all_namespaces else []
        containers = m.get("containers") or []
        if o.containers:
            for c in containers:
                cpu, mem = _cpu(c["usage"].get("cpu", "0")), _mem(c["usage"].get("memory", "0"))
                data.append((meta["name"], cpu, mem, [*lead, meta["name"], c["name"], f"{cpu}m",
                                                      f"{mem // (1024 * 1024)}Mi"]))
        else:
            cpu = sum(_cpu(c["usage"].get("cpu", "0")) for c in containers)
            mem = sum(_mem(c["usage"].get("memory", "0")) for c in containers)
            data.append((meta["name"], cpu, mem, [*lead, meta["name"], f"{cpu}m", f"{mem // (1024 * 1024)}Mi"]))
    data = _sort(data, o.sort_by)
    s.out.write(format_rows(rows + [d[3] for d in data]))
    return 0


def _sort(data: list[Any], by: str) -> list[Any]:
    if by == "cpu":
        return sorted(data, key=lambda d: -d[1])
    if by == "memory":
        return sorted(data, key=lambda d: -d[2])
    return data
