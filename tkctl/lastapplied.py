"""The ``kubectl.kubernetes.io/last-applied-configuration`` annotation client-side apply keeps."""

from __future__ import annotations

import copy
import json
from typing import Any

ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"


def last_applied_text(obj: dict[str, Any]) -> str:
    """The annotation's value for ``obj``: itself without the annotation, compact sorted JSON, newline-ended."""
    clean = copy.deepcopy(obj)
    meta = clean.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    annotations.pop(ANNOTATION, None)
    meta["annotations"] = annotations
    return json.dumps(clean, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def with_last_applied(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` carrying its own last-applied annotation."""
    text = last_applied_text(obj)
    out = copy.deepcopy(obj)
    meta = out.setdefault("metadata", {})
    meta["annotations"] = {**(meta.get("annotations") or {}), ANNOTATION: text}
    return out


def stored(live: dict[str, Any]) -> dict[str, Any] | None:
    """The configuration last applied to a live object, if any."""
    text = ((live.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION)
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
