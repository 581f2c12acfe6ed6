"""kubectl's JSONPath templates (``-o jsonpath=``, ``custom-columns``, ``--sort-by``, ``wait --for=jsonpath``).

Template text with ``{...}`` actions: field paths (``.a.b``, ``['a.b']``), ``[*]``, indexes and slices,
unions (``[0,2]``), recursive descent (``..name``), filters (``[?(@.a=="x")]``, ``[?(@.a)]``),
``{range ...}{end}``, string literals (``{"\\n"}``), ``@`` / ``$``. Results of one action are joined by
spaces; maps and lists print as compact JSON, as client-go's ``jsonpath`` does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any


class JSONPathError(ValueError):
    """The template does not parse, or a path is missing where kubectl would complain."""


@dataclass
class _Node:
    kind: str  # "text" | "path" | "range"
    text: str = ""
    steps: list[tuple[str, Any]] = field(default_factory=list)
    body: list[_Node] = field(default_factory=list)


_IDENT = re.compile(r"[A-Za-z0-9_$\-/]+")


def parse(template: str) -> list[_Node]:
    """Parse a template into nodes (text, path actions, range blocks)."""
    root: list[_Node] = []
    stack: list[list[_Node]] = [root]
    pos = 0
    while pos < len(template):
        start = template.find("{", pos)
        if start < 0:
            stack[-1].append(_Node("text", template[pos:]))
            break
        if start > pos:
            stack[-1].append(_Node("text", template[pos:start]))
        end = _action_end(template, start)
        action = template[start + 1:end].strip()
        pos = end + 1
        if action == "end":
            if len(stack) == 1:
                raise JSONPathError("not in range, nothing to end")
            stack.pop()
        elif action.startswith("range "):
            node = _Node("range", steps=_steps(action[6:].strip()))
            stack[-1].append(node)
            stack.append(node.body)
        elif action.startswith('"') or action.startswith("'"):
            stack[-1].append(_Node("text", _literal(action)))
        else:
            stack[-1].append(_Node("path", steps=_steps(action)))
    if len(stack) != 1:
        raise JSONPathError("unclosed range")
    return root


def _action_end(template: str, start: int) -> int:
    depth, i, quote = 0, start, ""
    while i < len(template):
        c = template[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise JSONPathError("unclosed action")


def _literal(text: str) -> str:
    body = text[1:-1]
    return body.encode().decode("unicode_escape") if text[0] == '"' else body


def _steps(path: str) -> list[tuple[str, Any]]:
    steps: list[tuple[str, Any]] = []
    i = 0
    if path.startswith("$") or path.startswith("@"):
        i = 1
    while i < len(path):
        c = path[i]
        if path.startswith("..", i):
            i += 2
            m = _IDENT.match(path, i)
            if not m:
                raise JSONPathError(f"invalid recursive descent in {path!r}")
            steps.append(("recurse", m.group()))
            i = m.end()
        elif c == ".":
            i += 1
            m = _IDENT.match(path, i)
            if m is None:
                continue  # a bare "." (the current object)
            steps.append(("field", m.group()))
            i = m.end()
        elif c == "[":
            end = _bracket_end(path, i)
            steps.append(_bracket(path[i + 1:end]))
            i = end + 1
        elif c.isspace():
            i += 1
        else:
            m = _IDENT.match(path, i)
            if not m:
                raise JSONPathError(f"unrecognized character in action: {path[i:]!r}")
            steps.append(("field", m.group()))
            i = m.end()
    return steps


def _bracket_end(path: str, start: int) -> int:
    depth, quote = 0, ""
    for i in range(start, len(path)):
        c = path[i]
        if quote:
            if c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                return i
    raise JSONPathError(f"unterminated array in {path!r}")


def _bracket(inner: str) -> tuple[str, Any]:
    inner = inner.strip()
    if inner == "*":
        return ("all", None)
    if inner.startswith("?(") and inner.endswith(")"):
        return ("filter", _filter(inner[2:-1]))
    if inner[:1] in "\"'":
        return ("keys", [k.strip()[1:-1] for k in inner.split(",")])
    if ":" in inner:
        parts = [int(p) if p.strip() else None for p in inner.split(":")]
        return ("slice", [*parts, None, None][:3])
    if "," in inner:
        return ("indexes", [int(p) for p in inner.split(",")])
    try:
        return ("indexes", [int(inner)])
    except ValueError:
        return ("keys", [inner])


_FILTER = re.compile(r"^(@[^<>=!~]*?)\s*(==|!=|<=|>=|<|>|=~)\s*(.+)$")


def _filter(expr: str) -> tuple[list[tuple[str, Any]], str | None, Any]:
    m = _FILTER.match(expr.strip())
    if not m:
        return (_steps(expr.strip()), None, None)
    left, op, right = m.groups()
    right = right.strip()
    value: Any
    if right[:1] in "\"'":
        value = right[1:-1]
    else:
        try:
            value = json.loads(right)
        except ValueError:
            value = ("path", _steps(right))
    return (_steps(left), op, value)


def _walk(values: list[Any], steps: list[tuple[str, Any]], root: Any) -> list[Any]:
    for kind, arg in steps:
        out: list[Any] = []
        for v in values:
            if kind == "field":
                if isinstance(v, dict) and arg in v:
                    out.append(v[arg])
            elif kind == "keys":
                out += [v[k] for k in arg if isinstance(v, dict) and k in v]
            elif kind == "all":
                out += list(v.values()) if isinstance(v, dict) else list(v) if isinstance(v, list) else []
            elif kind == "indexes" and isinstance(v, list):
                for i in arg:
                    if -len(v) <= i < len(v):
                        out.append(v[i])
                    else:
                        raise JSONPathError(f"array index out of bounds: index {i}, length {len(v)}")
            elif kind == "slice" and isinstance(v, list):
                start, stop, step = arg
                out += v[slice(start, stop, step or 1)]
            elif kind == "recurse":
                out += _recurse(v, arg)
            elif kind == "filter" and isinstance(v, list):
                out += [item for item in v if _matches(item, arg, root)]
        values = out
    return values


def _recurse(v: Any, name: str) -> list[Any]:
    found: list[Any] = []
    if isinstance(v, dict):
        if name in v:
            found.append(v[name])
        for child in v.values():
            found += _recurse(child, name)
    elif isinstance(v, list):
        for child in v:
            found += _recurse(child, name)
    return found


def _matches(item: Any, flt: tuple[list[tuple[str, Any]], str | None, Any], root: Any) -> bool:
    steps, op, value = flt
    got = _walk([item], steps, root)
    if op is None:
        return bool(got) and got[0] not in (None, False, "")
    if isinstance(value, tuple):
        value = next(iter(_walk([item], value[1], root)), None)
    if not got:
        return False
    left = got[0]
    if op == "=~":
        return re.search(str(value), str(left)) is not None
    try:
        if op == "==":
            return bool(left == value or str(left) == str(value))
        if op == "!=":
            return bool(left != value and str(left) != str(value))
        lf, rf = float(left), float(value)
    except (TypeError, ValueError):
        return False
    return {"<": lf < rf, ">": lf > rf, "<=": lf <= rf, ">=": lf >= rf}[op]


def text_of(value: Any) -> str:
    """How one result prints: strings verbatim, scalars as Go prints them, maps/lists as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, dict | list):
        from tkctl.encode import to_compact_json  # noqa: PLC0415

        return to_compact_json(value)
    return str(value)


def find(template: str | list[_Node], obj: Any) -> list[list[Any]]:
    """The results of every path action (for custom columns and ``--sort-by``)."""
    nodes = parse(template) if isinstance(template, str) else template
    return [_walk([obj], n.steps, obj) for n in nodes if n.kind == "path"]


def execute(template: str | list[_Node], obj: Any, *, allow_missing: bool = True) -> str:
    """Render the template against ``obj``."""
    nodes = parse(template) if isinstance(template, str) else template
    return "".join(_render(nodes, obj, obj, allow_missing))


def _render(nodes: list[_Node], cur: Any, root: Any, allow_missing: bool) -> list[str]:
    out: list[str] = []
    for n in nodes:
        if n.kind == "text":
            out.append(n.text)
        elif n.kind == "path":
            values = _walk([cur], n.steps, root)
            if not values and not allow_missing:
                raise JSONPathError(f"{_missing(n.steps, cur)} is not found")
            out.append(" ".join(text_of(v) for v in values))
        else:
            for item in _walk([cur], n.steps, root):
                out += _render(n.body, item, root, allow_missing)
    return out


def _missing(steps: list[tuple[str, Any]], cur: Any) -> str:
    """The first field that is absent (what client-go names in its "is not found" error)."""
    values = [cur]
    for i, step in enumerate(steps):
        values = _walk(values, [step], cur)
        if not values:
            return str(step[1]) if step[0] == "field" else "".join(str(a) for _, a in steps[: i + 1])
    return ""
