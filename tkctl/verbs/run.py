"""``tkctl run``: one pod from an image, as kubectl's run generator builds it."""

from __future__ import annotations

import argparse
from typing import Any

from tkctl.errors import CliError
from tkctl.flags import Parser, add_dry_run, add_output_flag
from tkctl.mutate import dry_run_mode, report, with_namespace
from tkctl.session import Session

EXAMPLES = {"run": """examples:
  # Start a nginx pod
  tkctl run nginx --image=nginx

  # Start a busybox pod with a command, and keep it in the foreground
  tkctl run busybox --image=busybox --restart=Never -- sleep 3600
"""}


def build(p: Parser, verb: str) -> None:
    add_output_flag(p)
    add_dry_run(p)
    p.add_argument("--image", default="", help="the image for the container to run")
    p.add_argument("--port", default="", help="the port that this container exposes")
    p.add_argument("--restart", default="Always", help="the restart policy for this Pod: Always, OnFailure, Never")
    p.add_argument("-l", "--labels", default="", help="comma separated labels to apply to the pod(s)")
    p.add_argument("--env", action="append", default=[], help="environment variables to set in the container")
    p.add_argument("--image-pull-policy", default="", help="the image pull policy for the container")
    p.add_argument("--annotations", action="append", default=[], help="annotations to apply to the pod")
    p.flag("--command", help="use the extra arguments as the command instead of args")
    p.add_argument("--overrides", default="", help="an inline JSON override for the generated object")
    p.add_argument("--field-manager", default="kubectl-run", help="name of the manager used to track field "
                   "ownership")
    p.add_argument("args", nargs="*", help="NAME [-- COMMAND [args...]]")


def pod_for(o: argparse.Namespace, name: str, extra: list[str]) -> dict[str, Any]:
    """The pod ``kubectl run`` generates."""
    labels = dict(part.split("=", 1) for part in o.labels.split(",") if "=" in part) if o.labels else {"run": name}
    container: dict[str, Any] = {"image": o.image, "name": name, "resources": {}}
    if extra:
        container["command" if o.command else "args"] = extra
    if o.env:
        container["env"] = [{"name": e.split("=", 1)[0], "value": e.split("=", 1)[1] if "=" in e else ""}
                            for e in o.env]
    if o.port:
        container["ports"] = [{"containerPort": int(o.port)}]
    if o.image_pull_policy:
        container["imagePullPolicy"] = o.image_pull_policy
    meta: dict[str, Any] = {"creationTimestamp": None, "labels": labels, "name": name}
    if o.annotations:
        meta["annotations"] = dict(a.split("=", 1) for a in o.annotations if "=" in a)
    pod: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                           "spec": {"containers": [container], "dnsPolicy": "ClusterFirst",
                                    "restartPolicy": o.restart},
                           "status": {}}
    if o.overrides:
        import json  # noqa: PLC0415

        from api.patch import merge_patch  # noqa: PLC0415

        merged = merge_patch.apply(pod, json.loads(o.overrides))
        if not isinstance(merged, dict):
            raise CliError("--overrides must be a JSON object")
        pod = merged
    return pod


def run(s: Session, o: argparse.Namespace) -> int:
    if not o.args:
        raise CliError("NAME is required for run")
    if not o.image:
        raise CliError("--image is required")
    if o.restart not in ("Always", "OnFailure", "Never"):
        raise CliError(f"invalid restart policy: {o.restart}")
    name, extra = o.args[0], o.args[1:]
    pod = pod_for(o, name, extra)
    with_namespace(s, pod, True)
    mode = dry_run_mode(o)
    result = pod
    if mode != "client":
        result = s.client.create(s.resource("pods").ref, pod, s.namespace, field_manager=o.field_manager,
                                 dry_run=mode == "server")
    report(s, result, "created", o, built=result is pod)
    return 0
