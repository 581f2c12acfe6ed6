"""``tkctl patch``: strategic merge (default), JSON merge or JSON patch, on an object or a subresource."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from client.refs import PatchType
from tkctl.errors import CliError
from tkctl.flags import Parser, add_dry_run, add_filename_flags, add_output_flag
from tkctl.mutate import dry_run_mode, report
from tkctl.session import Session
from tkctl.targets import parse_targets

EXAMPLES = {"patch": """examples:
  # Partially update a node using a strategic merge patch, specifying the patch as JSON
  tkctl patch node k8s-node-1 -p '{"spec":{"unschedulable":true}}'

  # Update a container's image using a JSON patch with positional arrays
  tkctl patch pod valid-pod --type='json' -p='[{"op": "replace", "path": "/spec/containers/0/image", "value":"new"}]'

  # Update a deployment's replicas through the scale subresource using a merge patch
  tkctl patch deployment nginx-deployment --subresource='scale' --type='merge' -p '{"spec":{"replicas":2}}'
"""}

_TYPES = {"strategic": PatchType.STRATEGIC, "merge": PatchType.MERGE, "json": PatchType.JSON}


def build(p: Parser, verb: str) -> None:
    add_filename_flags(p)
    add_output_flag(p)
    add_dry_run(p)
    p.add_argument("-p", "--patch", help="the patch to be applied to the resource JSON file")
    p.add_argument("--patch-file", help="a file containing a patch to be applied to the resource")
    p.add_argument("--type", default="strategic", help="the type of patch: json, merge or strategic")
    p.add_argument("--subresource", help="if specified, patch will operate on the subresource")
    p.add_argument("--field-manager", default="kubectl-patch", help="name of the manager used to track field "
                   "ownership")
    p.add_argument("args", nargs="*", help="TYPE NAME | TYPE/NAME")


def run(s: Session, o: argparse.Namespace) -> int:
    if o.type not in _TYPES:
        raise CliError(f"--type must be one of [json merge strategic], not \"{o.type}\"")
    if not o.patch and not o.patch_file:
        raise CliError("must specify -p to patch")
    if o.patch and o.patch_file:
        raise CliError("--patch and --patch-file are mutually exclusive")
    text = o.patch if o.patch else Path(o.patch_file).read_text()
    try:
        body = json.loads(text)
    except ValueError:
        import yaml  # noqa: PLC0415

        try:
            body = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise CliError(f"unable to parse \"{text}\": {exc}") from exc
    targets = []
    if o.filename:
        from tkctl.manifests import read_objects  # noqa: PLC0415

        for _, obj in read_objects(o.filename, o.recursive, "patch"):
            info = s.discovery.for_kind(str(obj.get("apiVersion")), str(obj.get("kind")))
            targets.append((info, str((obj.get("metadata") or {}).get("name"))))
    else:
        for t in parse_targets(s, o.args, allow_empty_names=False):
            targets += [(t.info, n) for n in t.names]
    mode = dry_run_mode(o)
    for info, name in targets:
        ns = s.namespace if info.ref.namespaced else None
        before = s.client.get(info.ref, name, ns, subresource=o.subresource)
        if mode == "client":
            report(s, before, "patched", o)
            continue
        result = s.client.patch(info.ref, name, body, ns, patch_type=_TYPES[o.type], subresource=o.subresource,
                                field_manager=o.field_manager, dry_run=mode == "server")
        same = (result.get("metadata") or {}).get("resourceVersion") == \
            (before.get("metadata") or {}).get("resourceVersion")
        report(s, result, "patched (no change)" if same and mode == "none" else "patched", o)
    return 0
