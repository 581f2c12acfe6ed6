"""JSON in and out of the apiserver's hot path, via orjson (several times faster than the stdlib here).

Output is compact UTF-8 JSON, as kube-apiserver writes it. orjson refuses integers beyond 64 bits (which
a YAML body can carry); those objects fall back to the stdlib encoder, so no input becomes a 500.
Decoding follows orjson: NaN/Infinity literals and lone surrogates are refused (Kubernetes refuses them
too), integers beyond 64 bits read as floats.
"""

from __future__ import annotations

import json

import orjson

from api.schema import JSON

DecodeError = orjson.JSONDecodeError
"""What `loads` raises on malformed input (a ValueError)."""


def dumps(obj: JSON) -> bytes:
    """Compact JSON bytes."""
    try:
        return orjson.dumps(obj)
    except TypeError:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def loads(raw: bytes | str) -> JSON:
    """A JSON document; DecodeError when it is not one."""
    value: JSON = orjson.loads(raw)
    return value
