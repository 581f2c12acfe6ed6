"""``tkctl autoscale``: a HorizontalPodAutoscaler (autoscaling/v2) for a scalable workload."""

from __future__ import annotations

import argparse
from typing import Any

from tkctl.errors import CliError
from tkctl.flags import Parser, add_dry_run, add_output_flag
from tkctl.mutate import dry_run_mode, report
from tkctl.session import Session
from tkctl.targets import parse_targets

EXAMPLES = {"autoscale": """examples:
  # Auto scale a deployment "foo", with the number of pods between 2 and 10, no target CPU utilization specified
  tkctl autoscale deployment foo --min=2 --max=10
"""}


def build(p: Parser, verb: str) -> None:
    add_output_flag(p)
    add_dry_run(p)
    p.add_argument("--min", type=int, default=-1, help="the lower limit for the number of pods")
    p.add_argument("--max", type=int, default=-1, help="the upper limit for the number of pods (required)")
    p.add_argument("--cpu-percent", type=int, default=-1, help="the target average CPU utilization")
    p.add_argument("--name", default="", help="the name for the newly created object")
    p.add_argument("--field-manager", default="kubectl-autoscale", help="name of the manager used to track field "
                   "ownership")
    p.add_argument("args", nargs="*", help="(TYPE NAME | TYPE/NAME)")


def run(s: Session, o: argparse.Namespace) -> int:
    if o.max < 1:
        raise CliError("--max=MAXPODS is required and must be at least 1, max: " + str(o.max))
    if o.min > o.max:
        raise CliError(f"--max=MAXPODS must be larger or equal to --min=MINPODS, max: {o.max}, min: {o.min}")
    for t in parse_targets(s, o.args, allow_empty_names=False):
        for name in t.names:
            target = s.client.get(t.info.ref, name, s.namespace)
            spec: dict[str, Any] = {"maxReplicas": o.max,
                                    "scaleTargetRef": {"apiVersion": t.info.ref.api_version,
                                                       "kind": t.info.ref.kind, "name": name}}
            if o.min >= 0:
                spec["minReplicas"] = o.min
            if o.cpu_percent >= 0:
                spec["metrics"] = [{"type": "Resource", "resource": {"name": "cpu", "target": {
                    "type": "Utilization", "averageUtilization": o.cpu_percent}}}]
            hpa: dict[str, Any] = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                                   "metadata": {"creationTimestamp": None, "name": o.name or name},
                                   "spec": spec, "status": {"currentMetrics": None, "desiredReplicas": 0}}
            labels = (target.get("metadata") or {}).get("labels")
            if labels:
                hpa["metadata"]["labels"] = labels
            result = hpa
            if dry_run_mode(o) != "client":
                ref = s.discovery.for_kind("autoscaling/v2", "HorizontalPodAutoscaler").ref
                result = s.client.create(ref, hpa, s.namespace, field_manager=o.field_manager,
                                         dry_run=dry_run_mode(o) == "server")
            result.setdefault("apiVersion", "autoscaling/v2")
            report(s, {**result, "apiVersion": "autoscaling/v2"}, "autoscaled", o)
    return 0
