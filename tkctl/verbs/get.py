"""``tkctl get``: server-side tables laid out as kubectl lays them out, or objects in any ``-o`` format."""

from __future__ import annotations

import argparse
import json
from typing import Any

from client.errors import ApiError, NotFound
from tkctl.errors import CliError
from tkctl.flags import Parser, add_filename_flags, add_output_flag
from tkctl.printing import OBJECT_FORMATS, output_kind, render
from tkctl.session import Session
from tkctl.targets import Target, parse_targets

TABLE_ACCEPT = ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
                "application/json")
CHUNK = 500

EXAMPLES = {"get": """examples:
  # List all pods in ps output format
  tkctl get pods

  # List all pods in ps output format with more information (such as node name)
  tkctl get pods -o wide

  # List deployments and services together, in every namespace
  tkctl get deployments,services -A

  # List a single pod in JSON output format
  tkctl get -o json pod web-pod-13je7

  # Print the names of running pods
  tkctl get pods --field-selector=status.phase=Running -o name

  # Return only the phase value of the specified pod
  tkctl get -o template pod/web-pod-13je7 --template={{.status.phase}}
"""}


def build(p: Parser, verb: str) -> None:
    add_output_flag(p)
    add_filename_flags(p)
    p.add_argument("-l", "--selector", help="label selector (e.g. -l key1=value1,key2=value2)")
    p.add_argument("--field-selector", help="field selector (e.g. --field-selector key1=value1)")
    p.flag("-A", "--all-namespaces", help="list the requested object(s) across all namespaces")
    p.flag("-w", "--watch", help="after listing/getting the requested object, watch for changes")
    p.flag("--watch-only", help="watch for changes to the requested object(s), without listing/getting first")
    p.flag("--show-labels", help="when printing, show all labels as the last column")
    p.flag("--show-kind", help="list the resource type for the requested object(s)")
    p.flag("--no-headers", help="when using the default or custom-column output format, don't print headers")
    p.flag("--ignore-not-found", help="if the requested object does not exist the command will return exit code 0")
    p.add_argument("-L", "--label-columns", action="append", default=[],
                   help="labels to present as columns (comma-separated, repeatable)")
    p.add_argument("--sort-by", default="", help="sort list types using this field specification (a JSONPath)")
    p.add_argument("--chunk-size", type=int, default=CHUNK, help="return large lists in chunks rather than all at once")
    p.add_argument("args", nargs="*", help="TYPE[.VERSION][.GROUP] [NAME...] | TYPE/NAME ...")


def run(s: Session, o: argparse.Namespace) -> int:
    kind = output_kind(o.output)
    if o.filename:
        targets = _targets_from_files(s, o)
    elif not o.args:
        s.warn('You must specify the type of resource to get. Use "tkctl api-resources" for a complete list of '
               'supported resources.\n')
        raise CliError("Required resource not specified.\nUse \"tkctl explain <resource>\" for a detailed "
                       "description of that resource (e.g. tkctl explain pods).\nSee 'tkctl get -h' for help and "
                       "examples")
    else:
        targets = parse_targets(s, o.args)
    if o.watch or o.watch_only:
        return _watch(s, o, _watch_target(targets), kind)
    failures: list[ApiError] = []
    if kind in OBJECT_FORMATS:
        objects, single = _objects(s, o, targets, failures)
        if objects or (kind in ("json", "yaml") and not single):
            s.out.write(render(objects, o.output, single=single))
        if not objects and not failures and kind == "custom-columns" and not o.ignore_not_found:
            _no_resources(s, o, targets)
    else:
        printed = _tables(s, o, targets, failures, wide=kind == "wide")
        if not printed and not failures and not o.ignore_not_found:
            _no_resources(s, o, targets)
    for failure in failures:
        from tkctl.errors import api_error_text  # noqa: PLC0415

        s.warn(api_error_text(failure))
    return 1 if failures else 0


def _targets_from_files(s: Session, o: argparse.Namespace) -> list[Target]:
    from tkctl.manifests import read_objects  # noqa: PLC0415

    targets: list[Target] = []
    for _, obj in read_objects(o.filename, o.recursive):
        info = s.discovery.for_kind(str(obj.get("apiVersion")), str(obj.get("kind")))
        targets.append(Target(info, [str((obj.get("metadata") or {}).get("name"))]))
    return targets


def _namespace(s: Session, o: argparse.Namespace, namespaced: bool) -> str | None:
    if not namespaced or o.all_namespaces:
        return None
    return s.namespace


def _no_resources(s: Session, o: argparse.Namespace, targets: list[Target]) -> None:
    if o.all_namespaces or not any(t.info.ref.namespaced for t in targets):
        s.warn("No resources found")
    else:
        s.warn(f"No resources found in {s.namespace} namespace.")


def _params(o: argparse.Namespace, *, chunk: bool) -> dict[str, str]:
    params: dict[str, str] = {}
    if o.selector:
        params["labelSelector"] = o.selector
    if o.field_selector:
        params["fieldSelector"] = o.field_selector
    if chunk and o.chunk_size > 0:
        params["limit"] = str(o.chunk_size)
    return params


def _fetch(s: Session, o: argparse.Namespace, t: Target, accept: str, *, failures: list[ApiError],
           extra: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The documents (lists, tables or objects) for one target, following ``continue`` tokens."""
    ref = t.info.ref
    ns = _namespace(s, o, ref.namespaced)
    docs: list[dict[str, Any]] = []
    if t.names:
        for name in t.names:
            try:
                docs.append(s.client.request("GET", ref.path(ns or (s.namespace if ref.namespaced else None), name),
                                             params=extra, accept=accept))
            except NotFound as exc:
                if not o.ignore_not_found:
                    failures.append(exc)
        return docs
    params = {**_params(o, chunk=True), **(extra or {})}
    while True:
        doc = s.client.request("GET", ref.path(ns), params=params, accept=accept)
        docs.append(doc)
        token = (doc.get("metadata") or {}).get("continue")
        if not token:
            return docs
        params["continue"] = token


def _objects(s: Session, o: argparse.Namespace, targets: list[Target],
             failures: list[ApiError]) -> tuple[list[dict[str, Any]], bool]:
    objects: list[dict[str, Any]] = []
    single = len(targets) == 1 and len(targets[0].names) == 1
    for t in targets:
        for doc in _fetch(s, o, t, "application/json", failures=failures):
            if doc.get("kind", "").endswith("List") and "items" in doc:
                for item in doc.get("items") or []:
                    item.setdefault("apiVersion", t.info.ref.api_version)
                    item.setdefault("kind", t.info.ref.kind)
                    objects.append(item)
            else:
                objects.append(doc)
    if o.sort_by:
        objects = _sorted(objects, o.sort_by, lambda obj: obj)
    return objects, single


def _sorted(items: list[Any], spec: str, obj_of: Any) -> list[Any]:
    from tkctl import jsonpath  # noqa: PLC0415

    path = spec if spec.startswith("{") else "{" + spec + "}"
    nodes = jsonpath.parse(path)

    def key(item: Any) -> tuple[int, Any]:
        found = [v for r in jsonpath.find(nodes, obj_of(item)) for v in r]
        value = found[0] if found else None
        if value is None:
            return (0, "")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return (1, value)
        from api.quantity import Quantity  # noqa: PLC0415

        try:
            return (1, float(Quantity.parse(str(value)).value))
        except ValueError:
            return (2, str(value))

    return sorted(items, key=key)


def _header(col: dict[str, Any]) -> str:
    return str(col.get("name", "")).upper()


def _cell(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<none>"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _label_header(key: str) -> str:
    return key.rsplit("/", 1)[-1].upper()


def table_rows(s: Session, o: argparse.Namespace, t: Target, table: dict[str, Any], *, wide: bool,
               with_kind: bool, headers: bool) -> list[list[str]]:
    """One server Table as kubectl's rows: namespace, kind prefix, wide columns, label columns."""
    columns = list(table.get("columnDefinitions") or [])
    keep = [i for i, c in enumerate(columns) if wide or not c.get("priority")]
    label_keys = [k for spec in o.label_columns for k in spec.split(",") if k]
    with_ns = bool(o.all_namespaces and t.info.ref.namespaced)
    rows: list[list[str]] = []
    if headers:
        head = [_header(columns[i]) for i in keep]
        head = (["NAMESPACE"] if with_ns else []) + head + [_label_header(k) for k in label_keys]
        rows.append([*head, "LABELS"] if o.show_labels else head)
    prefix = _kind_prefix(t) if with_kind else ""
    for r in table.get("rows") or []:
        cells = list(r.get("cells") or [])
        meta = (r.get("object") or {}).get("metadata") or {}
        line = [_cell(cells[i]) if i < len(cells) else "" for i in keep]
        name_col = next((n for n, i in enumerate(keep) if columns[i].get("format") == "name"), 0 if keep else None)
        if prefix and name_col is not None:
            line[name_col] = prefix + line[name_col]
        labels = meta.get("labels") or {}
        line = ([str(meta.get("namespace", ""))] if with_ns else []) + line + [labels.get(k, "") for k in label_keys]
        if o.show_labels:
            line.append(",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>")
        rows.append(line)
    return rows


def _kind_prefix(t: Target) -> str:
    ref = t.info.ref
    return f"{ref.kind.lower()}.{ref.group}/" if ref.group else f"{ref.kind.lower()}/"


def _tables(s: Session, o: argparse.Namespace, targets: list[Target], failures: list[ApiError], *,
            wide: bool) -> bool:
    from tkctl.table import format_rows  # noqa: PLC0415

    with_kind = o.show_kind or len({t.info.ref for t in targets}) > 1
    extra = {"includeObject": "Object"} if o.sort_by else None
    printed = False
    for t in targets:
        merged = _merged_table(_fetch(s, o, t, TABLE_ACCEPT, failures=failures, extra=extra))
        if merged is None or not merged.get("rows"):
            continue
        if o.sort_by:
            merged["rows"] = _sorted(merged["rows"], o.sort_by, lambda r: r.get("object") or {})
        if printed and not o.no_headers:
            s.out.write("\n")
        s.out.write(format_rows(table_rows(s, o, t, merged, wide=wide, with_kind=with_kind,
                                           headers=not o.no_headers)))
        printed = True
    return printed


def _merged_table(docs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One Table of the rows of every document fetched for a target (chunks, named objects)."""
    merged: dict[str, Any] | None = None
    for doc in docs:
        table = doc if doc.get("kind") == "Table" else _fallback_table(doc)
        if merged is None:
            merged = table
        else:
            merged["rows"] = (merged.get("rows") or []) + (table.get("rows") or [])
    return merged


def _fallback_table(doc: dict[str, Any]) -> dict[str, Any]:
    """A plain object or list (a server without Table support) as NAME/AGE rows."""
    items = doc.get("items") if "items" in doc else [doc]
    return {"kind": "Table", "columnDefinitions": [{"name": "Name", "format": "name"}],
            "rows": [{"cells": [(i.get("metadata") or {}).get("name", "")], "object": i} for i in items or []]}


def _watch_target(targets: list[Target]) -> Target:
    """The one resource type ``-w`` watches (kubectl refuses several, before printing anything)."""
    merged: dict[Any, Target] = {}
    for t in targets:
        merged.setdefault(t.info.ref, Target(t.info)).names.extend(t.names)
    if len(merged) != 1:
        raise CliError("you may only specify a single resource type")
    return next(iter(merged.values()))


def _watch(s: Session, o: argparse.Namespace, t: Target, kind: str) -> int:
    """kubectl's ``get -w``: the current objects (unless ``--watch-only``), then each change as it comes."""
    from tkctl.table import format_rows  # noqa: PLC0415

    objects = kind in OBJECT_FORMATS
    accept = "application/json" if objects else TABLE_ACCEPT
    failures: list[ApiError] = []
    # kubectl's watch path ignores --ignore-not-found: a missing name is an error.
    docs = _fetch(s, argparse.Namespace(**{**vars(o), "ignore_not_found": False}), t, accept, failures=failures)
    if failures:
        raise failures[0]
    headers = not o.no_headers
    if not o.watch_only:
        if objects:
            for doc in docs:
                items = doc.get("items") if doc.get("kind", "").endswith("List") else [doc]
                s.out.write("".join(render([i], o.output, single=True) for i in items or []))
        else:
            merged = _merged_table(docs)
            if merged is not None and merged.get("rows"):
                s.out.write(format_rows(table_rows(s, o, t, merged, wide=kind == "wide", with_kind=o.show_kind,
                                                   headers=headers)))
                headers = False
    if len(t.names) > 1:
        raise CliError("you may only watch a single resource or type of resource at a time")
    s.out.flush()
    ref = t.info.ref
    path = ref.path(_namespace(s, o, ref.namespaced))
    params = {**_params(o, chunk=False), "watch": "true", "allowWatchBookmarks": "false"}
    if t.names:
        params["fieldSelector"] = f"metadata.name={t.names[0]}"
    listing = s.client.request("GET", path, params={**_params(o, chunk=False), "limit": "1"})
    params["resourceVersion"] = str((listing.get("metadata") or {}).get("resourceVersion") or "")
    columns: list[dict[str, Any]] = []
    widths: list[int] = []
    for line in s.client.stream_lines(path, params=params, accept=accept):
        event = json.loads(line)
        obj = event.get("object") or {}
        if event.get("type") == "ERROR":
            s.out.write(format_rows([["STATUS", "REASON", "MESSAGE"],
                                     ["Failure", str(obj.get("reason", "")), str(obj.get("message", ""))]]))
            return 0
        if objects:
            s.out.write(render([obj], o.output, single=True))
        else:
            if obj.get("kind") != "Table":
                obj = _fallback_table(obj)
            # Only the first event's Table carries column definitions (as kube-apiserver sends them).
            columns = obj.get("columnDefinitions") or columns
            obj["columnDefinitions"] = columns
            s.out.write(format_rows(table_rows(s, o, t, obj, wide=kind == "wide", with_kind=o.show_kind,
                                               headers=headers), widths))
            headers = False
        s.out.flush()
    return 0
