"""``-o`` for objects: name, json, yaml, jsonpath, custom-columns (tables live with ``get``)."""

from __future__ import annotations

from typing import Any

from tkctl.errors import CliError
from tkctl.session import qualified_kind

_ALLOWED = ("custom-columns,custom-columns-file,go-template,go-template-file,json,jsonpath,jsonpath-as-json,"
            "jsonpath-file,name,template,templatefile,wide,yaml")
OBJECT_FORMATS = ("json", "yaml", "name", "jsonpath", "jsonpath-as-json", "custom-columns")


def output_kind(output: str) -> str:
    """The format family of an ``-o`` value (``jsonpath={...}`` → ``jsonpath``), checked."""
    kind = output.split("=", 1)[0]
    if kind in ("", "wide", *OBJECT_FORMATS):
        return kind
    raise CliError(f'unable to match a printer suitable for the output format "{output}", '
                   f"allowed formats are: {_ALLOWED}")


def as_list(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """kubectl's ``List`` wrapper for several objects."""
    return {"apiVersion": "v1", "items": objects, "kind": "List", "metadata": {"resourceVersion": ""}}


def name_of(obj: dict[str, Any]) -> str:
    """``deployment.apps/web``."""
    return f"{qualified_kind(obj)}/{(obj.get('metadata') or {}).get('name', '')}"


def render(objects: list[dict[str, Any]], output: str, *, single: bool, allow_missing: bool = True,
           built: bool = False) -> str:
    """Objects in a non-table format; ``single`` prints one object bare rather than as a ``List``.

    ``built`` objects were made client-side: kubectl prints those from its Go types (tkctl.typed).
    """
    kind = output_kind(output)
    if built:
        from tkctl.typed import typed  # noqa: PLC0415

        objects = [typed(o) for o in objects]
    arg = output.split("=", 1)[1] if "=" in output else ""
    if kind == "name":
        return "".join(name_of(o) + "\n" for o in objects)
    if kind == "custom-columns":
        return custom_columns(objects, arg)
    doc: Any = objects[0] if single and len(objects) == 1 else as_list(objects)
    if kind == "json":
        from tkctl.encode import to_json  # noqa: PLC0415

        return to_json(doc, sort_keys=not built)
    if kind == "yaml":
        from tkctl.encode import to_yaml  # noqa: PLC0415

        return to_yaml(doc)
    from tkctl import jsonpath  # noqa: PLC0415

    template = arg.strip()
    if template[:1] in "'\"" and template[-1:] == template[:1]:
        template = template[1:-1]
    if kind == "jsonpath-as-json":
        from tkctl.encode import to_json  # noqa: PLC0415

        values = [v for r in jsonpath.find(template, doc) for v in r]
        return to_json(values)
    try:
        nodes = jsonpath.parse(template)
    except jsonpath.JSONPathError as exc:
        raise CliError(f"error parsing jsonpath {template}, {exc}") from exc
    try:
        return jsonpath.execute(nodes, doc, allow_missing=allow_missing)
    except jsonpath.JSONPathError as exc:
        raise CliError(f'error executing jsonpath "{template}": Error executing template: {exc}. Printing more '
                       f"information for debugging the template:") from exc


def custom_columns(objects: list[dict[str, Any]], spec: str, *, headers: bool = True) -> str:
    """``-o custom-columns=HEADER:.path,...``."""
    from tkctl import jsonpath  # noqa: PLC0415
    from tkctl.table import format_rows  # noqa: PLC0415

    columns: list[tuple[str, list[Any]]] = []
    for part in spec.split(","):
        header, sep, path = part.partition(":")
        if not sep or not path:
            raise CliError(f'unexpected custom-columns spec: {part}, expected <header>:<json-path-expr>')
        path = path if path.startswith("{") else "{" + (path if path.startswith(".") else "." + path) + "}"
        columns.append((header, jsonpath.parse(path)))
    rows: list[list[str]] = [[h for h, _ in columns]] if headers else []
    for obj in objects:
        row = []
        for _, nodes in columns:
            values = [v for r in jsonpath.find(nodes, obj) for v in r]
            row.append(",".join(jsonpath.text_of(v) for v in values) if values else "<none>")
        rows.append(row)
    return format_rows(rows)
