"""``tkctl scale``: set replicas through the ``scale`` subresource, with optional preconditions."""

from __future__ import annotations

import argparse

from client.errors import ApiError
from client.refs import PatchType
from tkctl.errors import CliError, api_error_text
from tkctl.flags import Parser, add_dry_run, add_filename_flags, add_output_flag
from tkctl.mutate import dry_run_mode, report
from tkctl.session import Session
from tkctl.targets import parse_targets

EXAMPLES = {"scale": """examples:
  # Scale a deployment named 'foo' to 3
  tkctl scale --replicas=3 deployment/foo

  # If the deployment named mysql's current size is 2, scale mysql to 3
  tkctl scale --current-replicas=2 --replicas=3 deployment/mysql
"""}


def build(p: Parser, verb: str) -> None:
    add_filename_flags(p)
    add_output_flag(p)
    add_dry_run(p)
    p.add_argument("--replicas", type=int, default=-1, help="the new desired number of replicas (required)")
    p.add_argument("--current-replicas", type=int, default=-1, help="precondition for current size")
    p.add_argument("--resource-version", default="", help="precondition for resource version")
    p.add_argument("-l", "--selector", help="selector (label query) to filter on")
    p.flag("--all", help="select all resources in the namespace of the specified resource types")
    p.add_argument("--timeout", default="0s", help="the length of time to wait before giving up on a scale")
    p.add_argument("args", nargs="*", help="TYPE NAME | TYPE/NAME")


def run(s: Session, o: argparse.Namespace) -> int:
    if o.replicas < 0:
        raise CliError("The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0")
    objects = []
    if o.filename:
        from tkctl.manifests import read_objects  # noqa: PLC0415

        for _, obj in read_objects(o.filename, o.recursive, "scale"):
            info = s.discovery.for_kind(str(obj.get("apiVersion")), str(obj.get("kind")))
            objects.append((info, str((obj.get("metadata") or {}).get("name"))))
    else:
        for t in parse_targets(s, o.args):
            if t.names:
                objects += [(t.info, n) for n in t.names]
            elif o.all or o.selector:
                listing = s.client.list(t.info.ref, s.namespace, label_selector=o.selector)
                objects += [(t.info, str(i["metadata"]["name"])) for i in listing.get("items") or []]
            else:
                raise CliError("resource(s) were provided, but no name was specified")
    mode = dry_run_mode(o)
    failed = False
    for info, name in objects:
        ns = s.namespace if info.ref.namespaced else None
        try:
            if o.current_replicas >= 0 or o.resource_version:
                current = s.client.get(info.ref, name, ns, subresource="scale")
                have = int((current.get("spec") or {}).get("replicas") or 0)
                if o.current_replicas >= 0 and have != o.current_replicas:
                    raise CliError(f"Expected replicas to be {o.current_replicas}, was {have}")
                if o.resource_version and current["metadata"].get("resourceVersion") != o.resource_version:
                    raise CliError(f"Expected resourceVersion to be {o.resource_version}, was "
                                   f"{current['metadata'].get('resourceVersion')}")
            obj = {"apiVersion": info.ref.api_version, "kind": info.ref.kind, "metadata": {"name": name}}
            if mode != "client":
                s.client.patch(info.ref, name, {"spec": {"replicas": o.replicas}}, ns, patch_type=PatchType.MERGE,
                               subresource="scale", dry_run=mode == "server")
            report(s, obj, "scaled", o)
        except ApiError as exc:
            s.warn(api_error_text(exc))
            failed = True
    return 1 if failed else 0
