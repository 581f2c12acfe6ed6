"""``tkctl label`` and ``tkctl annotate``: add, overwrite or remove keys, as JSON merge patches."""

from __future__ import annotations

import argparse
import json
from typing import Any

from client.errors import ApiError
from client.refs import PatchType
from client.resources import ResourceInfo
from tkctl.errors import CliError, api_error_text
from tkctl.flags import Parser, add_dry_run, add_filename_flags, add_output_flag
from tkctl.mutate import dry_run_mode, report
from tkctl.session import Session
from tkctl.targets import parse_targets

EXAMPLES = {
    "label": """examples:
  # Update pod 'foo' with the label 'unhealthy' and the value 'true'
  tkctl label pods foo unhealthy=true

  # Update pod 'foo' with the label 'status' and the value 'unhealthy', overwriting any existing value
  tkctl label --overwrite pods foo status=unhealthy

  # Update all pods in the namespace
  tkctl label pods --all status=unhealthy

  # Update pod 'foo' by removing a label named 'bar' if it exists
  tkctl label pods foo bar-
""",
    "annotate": """examples:
  # Update pod 'foo' with the annotation 'description' and the value 'my frontend'
  tkctl annotate pods foo description='my frontend'

  # Update pod 'foo' by removing an annotation named 'description' if it exists
  tkctl annotate pods foo description-
""",
}


def build(p: Parser, verb: str) -> None:
    add_filename_flags(p)
    add_output_flag(p)
    add_dry_run(p)
    p.flag("--overwrite", help="if true, allow labels/annotations to be overwritten")
    p.flag("--all", help="select all resources, in the namespace of the specified resource types")
    p.flag("-A", "--all-namespaces", help="if true, check the specified action in all namespaces")
    p.flag("--list", help="if true, display the labels/annotations for a given resource")
    p.add_argument("-l", "--selector", help="selector (label query) to filter on")
    p.add_argument("--field-selector", help="selector (field query) to filter on")
    p.add_argument("--resource-version", help="if non-empty, the update will only succeed if this is the current "
                   "resource-version for the object")
    p.add_argument("--field-manager", default=f"kubectl-{verb}", help="name of the manager used to track field "
                   "ownership")
    p.add_argument("args", nargs="*", help="TYPE NAME KEY_1=VAL_1 ... KEY_N=VAL_N")


def _split_changes(args: list[str]) -> tuple[list[str], dict[str, str], list[str]]:
    resources: list[str] = []
    add: dict[str, str] = {}
    remove: list[str] = []
    for a in args:
        if "=" in a:
            key, _, value = a.partition("=")
            add[key] = value
        elif a.endswith("-") and len(a) > 1 and resources:
            remove.append(a[:-1])
        else:
            resources.append(a)
    return resources, add, remove


def run(s: Session, o: argparse.Namespace) -> int:
    field = "labels" if s.verb == "label" else "annotations"
    resources, add, remove = _split_changes(o.args)
    if not add and not remove and not o.list:
        raise CliError(f"at least one {field[:-1]} update is required")
    for key in add:
        if key in remove:
            raise CliError(f"can not both modify and remove the following {field} in the same command: {key}")
    objects = _objects(s, o, resources)
    failures = 0
    for info, obj in objects:
        meta = obj.get("metadata") or {}
        current: dict[str, str] = dict(meta.get(field) or {})
        if o.list:
            for k, v in sorted(current.items()):
                s.print(f"{k}={v}")
            continue
        if not o.overwrite:
            for key, value in add.items():
                if key in current and current[key] != value:
                    raise CliError(f"'{key}' already has a value ({current[key]}), and --overwrite is false")
        updated = {**current, **add}
        for key in remove:
            if key not in updated:
                s.warn(f'{field[:-1]} "{key}" not found.')
            updated.pop(key, None)
        if updated == current:
            word = "not labeled" if field == "labels" else "annotated"
        elif field == "labels":
            shorter = len(json.dumps(updated)) < len(json.dumps(current))
            word = "unlabeled" if shorter and not o.overwrite else "labeled"
        else:
            word = "annotated"
        patch: dict[str, Any] = {"metadata": {field: {k: updated.get(k) for k in {*current, *updated}
                                                      if current.get(k) != updated.get(k)}}}
        if o.resource_version:
            patch["metadata"]["resourceVersion"] = o.resource_version
        mode = dry_run_mode(o)
        result = {**obj, "metadata": {**meta, field: updated}}
        if mode != "client" and (patch["metadata"][field] or o.resource_version):
            try:
                result = s.client.patch(info.ref, str(meta.get("name")), patch, meta.get("namespace") or None,
                                        patch_type=PatchType.MERGE, field_manager=o.field_manager,
                                        dry_run=mode == "server")
            except ApiError as exc:
                s.warn(api_error_text(exc))
                failures += 1
                continue
        result.setdefault("apiVersion", info.ref.api_version)
        result.setdefault("kind", info.ref.kind)
        report(s, result, word, o)
    return 1 if failures else 0


def _objects(s: Session, o: argparse.Namespace, resources: list[str]) -> list[tuple[ResourceInfo, dict[str, Any]]]:
    out: list[tuple[ResourceInfo, dict[str, Any]]] = []
    if o.filename:
        from tkctl.manifests import read_objects  # noqa: PLC0415
        from tkctl.mutate import namespace_for  # noqa: PLC0415

        for _, obj in read_objects(o.filename, o.recursive, s.verb):
            info = s.discovery.for_kind(str(obj.get("apiVersion")), str(obj.get("kind")))
            name = str((obj.get("metadata") or {}).get("name"))
            out.append((info, s.client.get(info.ref, name, namespace_for(s, info.ref.namespaced, obj))))
        return out
    if not resources:
        raise CliError("one or more resources must be specified as <resource> <name> or <resource>/<name>")
    for t in parse_targets(s, resources):
        ns = s.namespace if t.info.ref.namespaced and not o.all_namespaces else None
        if t.names:
            out += [(t.info, s.client.get(t.info.ref, n, ns if t.info.ref.namespaced else None)) for n in t.names]
        elif o.all or o.selector or o.field_selector:
            listing = s.client.list(t.info.ref, ns, label_selector=o.selector, field_selector=o.field_selector)
            out += [(t.info, item) for item in listing.get("items") or []]
        else:
            raise CliError("resource(s) were provided, but no name was specified")
    return out
