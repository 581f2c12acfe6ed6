"""``tkctl explain``: a kind's or field's documentation, from the OpenAPI v3 document the server serves,
laid out as kubectl's plaintext explain template lays it out."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from tkctl.errors import CliError
from tkctl.flags import Parser
from tkctl.session import Session

EXAMPLES = {"explain": """examples:
  # Get the documentation of the resource and its fields
  tkctl explain pods

  # Get the documentation of a specific field of a resource
  tkctl explain pods.spec.containers
"""}


def build(p: Parser, verb: str) -> None:
    p.flag("--recursive", help="when true, print the name of all the fields recursively")
    p.add_argument("--api-version", default="", help="use given api-version (group/version) of the resource")
    p.add_argument("-o", "--output", default="plaintext", help="format in which to render the schema")
    p.add_argument("args", nargs="*", help="TYPE.FIELD.FIELD")


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _resolve(schemas: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow ``$ref`` (directly or through a one-element ``allOf``)."""
    if "$ref" in node:
        return dict(schemas.get(_ref_name(node["$ref"])) or {})
    all_of = node.get("allOf") or []
    if len(all_of) == 1 and "$ref" in all_of[0]:
        return dict(schemas.get(_ref_name(all_of[0]["$ref"])) or {})
    return node


def type_text(node: dict[str, Any]) -> str:
    """``integer``, ``[]string``, ``map[string]string``, ``ObjectMeta``… as kubectl names field types."""
    ref = node.get("$ref") or next((a.get("$ref") for a in node.get("allOf") or [] if a.get("$ref")), None)
    if ref:
        return _ref_name(ref).rsplit(".", 1)[-1]
    kind = node.get("type")
    if kind == "array":
        return "[]" + type_text(node.get("items") or {})
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return "map[string]" + type_text(node["additionalProperties"])
    if kind == "object":
        return "Object"
    if kind == "string" and node.get("format") == "int-or-string":
        return "IntOrString"
    return str(kind or "Object")


def _wrap(text: str, indent: int) -> list[str]:
    lines: list[str] = []
    for para in text.split("\n"):
        wrapped = textwrap.wrap(para, width=80 - indent, break_long_words=False, break_on_hyphens=False)
        lines += wrapped or [""]
    return [" " * indent + line for line in lines]


def run(s: Session, o: argparse.Namespace) -> int:
    if not o.args:
        raise CliError("You must specify the type of resource to explain. Use \"tkctl api-resources\" for a complete "
                       "list of supported resources.")
    first, *path = o.args[0].split(".")
    info = s.resource(first)
    if o.api_version:
        group, _, version = o.api_version.rpartition("/")
        info = next((i for i in s.discovery.resources() if (i.ref.group, i.ref.version, i.ref.resource) ==
                     (group, version, info.ref.resource)), info)
    ref = info.ref
    gv = f"apis/{ref.group}/{ref.version}" if ref.group else f"api/{ref.version}"
    index = s.client.request("GET", "/openapi/v3")
    entry = ((index or {}).get("paths") or {}).get(gv)
    if not entry:
        raise CliError(f"couldn't find resource for \"{ref.group}/{ref.version}, Kind={ref.kind}\"")
    doc = s.client.request("GET", entry["serverRelativeURL"].split("?")[0],
                           params=dict([entry["serverRelativeURL"].split("?", 1)[1].split("=", 1)])
                           if "?" in entry["serverRelativeURL"] else None)
    schemas: dict[str, Any] = ((doc or {}).get("components") or {}).get("schemas") or {}
    root_name = next((n for n, sch in schemas.items()
                      if any(g.get("kind") == ref.kind and g.get("version") == ref.version and
                             g.get("group", "") == ref.group for g in sch.get("x-kubernetes-group-version-kind")
                             or [])), None)
    if root_name is None:
        raise CliError(f"couldn't find resource for \"{ref.api_version}, Kind={ref.kind}\"")
    node = schemas[root_name]
    field_node: dict[str, Any] | None = None
    lines: list[str] = []
    if ref.group:
        lines.append(f"GROUP:      {ref.group}")
    lines += [f"KIND:       {ref.kind}", f"VERSION:    {ref.version}", ""]
    for part in path:
        target = _resolve(schemas, node)
        if target.get("type") == "array" or "items" in target:
            target = _resolve(schemas, target.get("items") or {})
        props = target.get("properties") or {}
        if part not in props:
            s.out.write("\n".join(lines) + "\n")  # kubectl prints the header before failing
            raise CliError(f'field "{part}" does not exist')
        field_node = props[part]
        node = field_node
    descriptions: list[str] = []
    if field_node is not None:
        lines += [f"FIELD: {path[-1]} <{type_text(field_node)}>", "", ""]
        if field_node.get("description"):
            descriptions.append(field_node["description"])
    body = _resolve(schemas, node)
    if body.get("type") == "array" or "items" in body:
        body = _resolve(schemas, body.get("items") or {})
    if body is not node and body.get("description"):
        descriptions.append(body["description"])
    elif field_node is None and node.get("description"):
        descriptions.append(node["description"])
    lines.append("DESCRIPTION:")
    for d in descriptions:
        lines += _wrap(d, 4)
    lines.append("    ")
    props = body.get("properties") or {}
    if props:
        lines.append("FIELDS:")
        required = set(body.get("required") or [])
        for name in sorted(props):
            prop = props[name]
            lines.append(f"  {name}\t<{type_text(prop)}>" + (" -required-" if name in required else ""))
            if prop.get("enum"):
                lines.append("  enum: " + ", ".join(str(e) for e in prop["enum"]))
            lines += _wrap(prop.get("description") or "<no description>", 4)
            lines.append("")
        lines.append("")
    else:
        lines.append("")
    s.out.write("\n".join(lines) + "\n")
    return 0
