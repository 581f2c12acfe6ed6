"""PATCH bodies by content type: JSON Patch, merge patch, strategic merge patch and server-side apply.

Each returns the patched object; it is then written like any update (optimistic on the version
read, no write at all when nothing changed).
"""

from __future__ import annotations

from api import status
from api.patch import PatchError, json_patch, merge_patch
from api.schema import JSON
from apiserver.bodies import parse_json, parse_yaml
from apiserver.errors import APIError, bad_request
from apiserver.kinds import Kind

APPLY = "application/apply-patch+yaml"


def _unprocessable(err: Exception) -> APIError:
    return APIError(status.failure("Invalid", str(err)))


def parse(content_type: str, raw: bytes) -> JSON:
    """The patch document; 415 for types PATCH does not take, 400 when it does not parse."""
    if content_type == "application/json-patch+json":
        doc = parse_json(raw, "patch")
        if not isinstance(doc, list):
            raise bad_request("json patch must be a list of operations")
        return doc
    if content_type in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
        doc = parse_json(raw, "patch")
    elif content_type == APPLY:
        doc = parse_yaml(raw)
    else:
        raise APIError(status.unsupported_media_type(content_type or "<none>"))
    if not isinstance(doc, dict):
        raise bad_request("the patch must be a JSON object")
    return doc


def apply(kind: Kind, content_type: str, current: JSON, doc: JSON) -> dict[str, JSON]:
    """`current` with the patch applied."""
    try:
        if content_type == "application/json-patch+json":
            out = json_patch.apply(current, doc)
        elif content_type == "application/merge-patch+json":
            out = merge_patch.apply(current, doc)
        elif content_type == "application/strategic-merge-patch+json":
            out = kind.strategic_merge(current, doc)
        else:
            out = kind.server_side_apply(current, doc)
    except PatchError as err:
        raise _unprocessable(err) from None
    if not isinstance(out, dict):
        raise bad_request("the patched document is not an object")
    return out
