"""/openapi/v2 as gnostic protobuf (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`).

kubectl asks for v2 only in this encoding, and only when the v3 documents cannot decide validation:
for `kind: List` files it validates every item client-side against the v2 definitions. The message
layout is gnostic's openapi.v2 Document (field numbers from its OpenAPIv2.proto); values that
protobuf cannot type (defaults, enums, vendor extensions) travel as YAML, as gnostic does.
"""

from __future__ import annotations

import struct

import yaml

from api.schema import JSON

CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"


def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _bytes(field: int, data: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _str(field: int, text: str) -> bytes:
    return _bytes(field, text.encode()) if text else b""


def _int(field: int, n: int) -> bytes:
    return _varint(field << 3) + _varint(n) if n else b""


def _double(field: int, x: float) -> bytes:
    return _varint(field << 3 | 1) + struct.pack("<d", x)


def _any(value: JSON) -> bytes:
    """gnostic Any: the YAML text of the value (field 2)."""
    return _str(2, yaml.safe_dump(value, default_flow_style=False))


def _named_any(name: str, value: JSON) -> bytes:
    return _str(1, name) + _bytes(2, _any(value))


def schema(s: JSON) -> bytes:
    """A gnostic Schema message from a JSON schema object."""
    out = bytearray()
    out += _str(1, str(s.get("$ref", "")))
    out += _str(2, str(s.get("format", "")))
    out += _str(3, str(s.get("title", "")))
    out += _str(4, str(s.get("description", "")))
    if "default" in s:
        out += _bytes(5, _any(s["default"]))
    for key, field in (("maximum", 7), ("minimum", 9)):
        if key in s:
            out += _double(field, float(s[key]))
    for key, field in (("maxLength", 11), ("minLength", 12), ("maxItems", 14), ("minItems", 15)):
        out += _int(field, int(s.get(key, 0)))
    out += _str(13, str(s.get("pattern", "")))
    for name in s.get("required") or []:
        out += _str(19, str(name))
    for value in s.get("enum") or []:
        out += _bytes(20, _any(value))
    extra = s.get("additionalProperties")
    if isinstance(extra, dict):
        out += _bytes(21, _bytes(1, schema(extra)))
    elif isinstance(extra, bool):
        out += _bytes(21, _varint(2 << 3) + _varint(int(extra)))
    kind = s.get("type")
    if kind:
        out += _bytes(22, b"".join(_str(1, str(t)) for t in (kind if isinstance(kind, list) else [kind])))
    items = s.get("items")
    if isinstance(items, dict):
        out += _bytes(23, _bytes(1, schema(items)))
    for sub in s.get("allOf") or []:
        out += _bytes(24, schema(sub))
    props = s.get("properties")
    if isinstance(props, dict):
        out += _bytes(25, b"".join(_bytes(1, _str(1, k) + _bytes(2, schema(v))) for k, v in props.items()))
    for key, value in s.items():
        if key.startswith("x-"):
            out += _bytes(31, _named_any(key, value))
    return bytes(out)


def document(doc: dict[str, JSON]) -> bytes:
    """The whole swagger 2.0 document (info and definitions; kubectl reads nothing else from v2)."""
    info = doc.get("info") or {}
    out = bytearray()
    out += _str(1, str(doc.get("swagger", "2.0")))
    out += _bytes(2, _str(1, str(info.get("title", ""))) + _str(2, str(info.get("version", ""))))
    out += _bytes(8, b"")
    definitions = doc.get("definitions") or {}
    out += _bytes(9, b"".join(_bytes(1, _str(1, name) + _bytes(2, schema(s))) for name, s in definitions.items()))
    return bytes(out)
