"""The small JSONPath subset CRDs use for printer columns and selectable fields (`.spec.replicas`,
`.status.conditions[0].type`, `.metadata.labels['app']`)."""

from __future__ import annotations

import re

from api.schema import JSON

_STEP = re.compile(r"\.([A-Za-z0-9_$-]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


class JSONPathError(ValueError):
    """Not a simple field path: CRD validation reports it against the column or field."""


def compile_path(path: str) -> list[str | int]:
    """Split `.a.b[0]['c.d']` into steps; rejects anything that is not a plain field/index path."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    steps: list[str | int] = []
    pos = 0
    while pos < len(text):
        m = _STEP.match(text, pos)
        if not m:
            raise JSONPathError(f"unsupported JSON path {path!r} at offset {pos}")
        name, index, quoted, dquoted = m.groups()
        if index is not None:
            steps.append(int(index))
        else:
            steps.append(name if name is not None else quoted if quoted is not None else dquoted)
        pos = m.end()
    if not steps:
        raise JSONPathError(f"empty JSON path {path!r}")
    return steps


def lookup(obj: JSON, steps: list[str | int]) -> JSON:
    """Follow the steps into the object; None when any step is missing."""
    cur = obj
    for step in steps:
        if isinstance(step, int):
            if not isinstance(cur, list) or step >= len(cur):
                return None
            cur = cur[step]
        else:
            if not isinstance(cur, dict):
                return None
            cur = cur.get(step)
    return cur


def field_name(path: str) -> str:
    """`.spec.color` → `spec.color`, the field selector label for a selectable field."""
    return ".".join(str(s) for s in compile_path(path))
