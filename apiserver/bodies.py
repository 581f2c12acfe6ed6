"""Request bodies: JSON (also when no Content-Type is sent), YAML and kubectl's protobuf, with a size limit.

A body that cannot be decoded is a 400; an unsupported content type a 415; more than 1.5 MiB a 413
(the store's limit for one value, so nothing larger could ever be written).
"""

from __future__ import annotations

import yaml
from aiohttp import web

from api import protobuf, status
from api.catalog import REGISTRY, type_name_for
from api.schema import JSON
from apiserver import json_codec
from apiserver.errors import APIError, bad_request

MAX_BODY_BYTES = 3 * 1024 * 1024 // 2
RAW_BODY = "raw_body"
REQUEST_OBJECT = "request_object"
"""Where a request keeps its body once read (raw) and decoded (an object), for the audit log."""
JSON_TYPES = frozenset({"application/json", "", "*/*", "text/plain"})
YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml"})
PROTOBUF_TYPE = "application/vnd.kubernetes.protobuf"
PATCH_TYPES = frozenset(
    {
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml",
        "application/apply-patch+cbor",
    }
)


def media_type(request: web.Request) -> str:
    """The Content-Type without parameters, lowercased ('' when absent)."""
    return request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


async def read(request: web.Request) -> bytes:
    """The raw body, refusing oversized ones before reading them whole."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise APIError(_too_large())
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(65536):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise APIError(_too_large())
        chunks.append(chunk)
    raw = request[RAW_BODY] = b"".join(chunks)
    return raw


def _too_large() -> dict[str, JSON]:
    return status.failure("RequestEntityTooLarge", f"Request entity too large: limit is {MAX_BODY_BYTES}")


def parse_json(raw: bytes, what: str = "object") -> JSON:
    """JSON text; 400 with the decoder's complaint otherwise."""
    try:
        return json_codec.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise bad_request(f"the {what} could not be decoded: {err}") from None


def parse_yaml(raw: bytes) -> JSON:
    """YAML (a superset of JSON) as server-side apply and YAML posts send it."""
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as err:
        raise bad_request(f"error converting YAML to JSON: {err}") from None


async def object_body(request: web.Request) -> dict[str, JSON]:
    """A whole object from a POST or PUT."""
    raw = await read(request)
    kind = media_type(request)
    if kind == PROTOBUF_TYPE:
        try:
            obj: JSON = protobuf.decode(REGISTRY, raw, type_name_for)
        except protobuf.ProtobufError as err:
            raise bad_request(f"the protobuf body could not be decoded: {err}") from None
    elif kind in JSON_TYPES:
        obj = parse_json(raw)
    elif kind in YAML_TYPES:
        obj = parse_yaml(raw)
    else:
        raise APIError(status.unsupported_media_type(kind))
    if not isinstance(obj, dict):
        raise bad_request("the body of the request must be a JSON object")
    request[REQUEST_OBJECT] = obj
    return obj
