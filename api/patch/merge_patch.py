"""RFC 7386 JSON Merge Patch: objects merge recursively, null deletes, everything else replaces."""

from __future__ import annotations

import copy

from api.schema import JSON


def apply(doc: JSON, patch: JSON) -> JSON:
    """Apply an RFC 7386 merge patch; neither argument is modified."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply(result.get(key), value)
    return result


def create(original: JSON, modified: JSON) -> JSON:
    """The merge patch turning `original` into `modified` (what kubectl sends for CRDs)."""
    if not isinstance(original, dict) or not isinstance(modified, dict):
        return copy.deepcopy(modified)
    patch: dict[str, JSON] = {}
    for key in original:
        if key not in modified:
            patch[key] = None
    for key, value in modified.items():
        if key not in original:
            patch[key] = copy.deepcopy(value)
        elif original[key] != value:
            if isinstance(value, dict) and isinstance(original[key], dict):
                patch[key] = create(original[key], value)
            else:
                patch[key] = copy.deepcopy(value)
    return patch
