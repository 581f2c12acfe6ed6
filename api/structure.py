"""Decoding checks driven by the schema: unknown fields, JSON types, nulls and quantity canonical form.

This is what Go's strict JSON decoding does for kube-apiserver before any validation runs: the
apiserver rejects unknown fields (Strict), reports them as warnings (Warn) or drops them (Ignore).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from api import errors
from api.errors import Cause
from api.quantity import PARSE_ERROR, QuantityError, canonicalize
from api.schema import JSON, ListOf, ObjectType, Ref, Registry, Scalar, TypeSpec


@dataclass
class DecodeReport:
    """What decoding found: unknown fields (dropped from the object) and values of the wrong JSON type."""

    unknown: list[Cause] = field(default_factory=list)
    type_errors: list[Cause] = field(default_factory=list)


def join(path: str, name: str) -> str:
    """Extend a field path (`spec` + `replicas` → `spec.replicas`)."""
    return f"{path}.{name}" if path else name


def is_zero(value: JSON) -> bool:
    """Go's zero value for a scalar: what omitempty drops."""
    return (
        value is False or value == "" or (isinstance(value, int | float) and not isinstance(value, bool) and value == 0)
    )


def _is_int(value: JSON) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())


def _scalar(spec: Scalar, value: JSON, path: str, report: DecodeReport) -> JSON:
    fmt = spec.format
    if fmt in ("string", "date-time", "micro-time", "duration"):
        if not isinstance(value, str):
            report.type_errors.append(errors.type_invalid(path, value, "must be of type string"))
        return value
    if fmt in ("int32", "int64"):
        if not _is_int(value):
            report.type_errors.append(errors.type_invalid(path, value, "must be of type integer"))
            return value
        return int(value)
    if fmt == "boolean":
        if not isinstance(value, bool):
            report.type_errors.append(errors.type_invalid(path, value, "must be of type boolean"))
        return value
    if fmt == "double":
        if isinstance(value, bool) or not isinstance(value, int | float):
            report.type_errors.append(errors.type_invalid(path, value, "must be of type number"))
        return value
    if fmt == "byte":
        if not isinstance(value, str):
            report.type_errors.append(errors.type_invalid(path, value, "must be of type string"))
            return value
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            report.type_errors.append(errors.invalid(path, value, "illegal base64 data"))
        return value
    if fmt == "quantity":
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            report.type_errors.append(errors.type_invalid(path, value, "must be of type string"))
            return value
        try:
            return canonicalize(str(value) if not isinstance(value, float) else repr(value))
        except QuantityError:
            report.type_errors.append(errors.invalid(path, value, PARSE_ERROR))
            return value
    if fmt == "int-or-string":
        if _is_int(value):
            return int(value)
        if not isinstance(value, str):
            report.type_errors.append(errors.type_invalid(path, value, "must be an integer or a string"))
        return value
    if fmt == "object":
        if not isinstance(value, dict):
            report.type_errors.append(errors.type_invalid(path, value, "must be of type object"))
        return value
    return value


def _value(reg: Registry, spec: TypeSpec, value: JSON, path: str, report: DecodeReport) -> JSON:
    if isinstance(spec, Scalar):
        return _scalar(spec, value, path, report)
    if isinstance(spec, Ref):
        return decode_object(reg, reg.resolve(spec), value, path, report)
    if isinstance(spec, ListOf):
        if not isinstance(value, list):
            report.type_errors.append(errors.type_invalid(path, value, "must be of type array"))
            return value
        return [_value(reg, spec.item, v, f"{path}[{i}]", report) for i, v in enumerate(value) if v is not None]
    if not isinstance(value, dict):
        report.type_errors.append(errors.type_invalid(path, value, "must be of type object"))
        return value
    return {k: _value(reg, spec.value, v, f"{path}[{k}]", report) for k, v in value.items() if v is not None}


def decode_object(reg: Registry, otype: ObjectType, obj: JSON, path: str, report: DecodeReport) -> JSON:
    """Normalize `obj` (a new dict) and record problems; unknown members are dropped, nulls removed."""
    if not isinstance(obj, dict):
        report.type_errors.append(errors.type_invalid(path, obj, "must be of type object"))
        return obj
    out: dict[str, JSON] = {}
    for key, value in obj.items():
        f = otype.by_name.get(key)
        sub = join(path, key)
        if f is None:
            report.unknown.append(errors.unknown_field(sub))
            continue
        if value is None or (f.omit_zero and is_zero(value)):
            continue
        out[key] = _value(reg, f.type, value, sub, report)
    return out


def decode(reg: Registry, type_name: str, obj: JSON) -> tuple[JSON, DecodeReport]:
    """Check and normalize a whole object of the named type; returns the cleaned copy and the report."""
    report = DecodeReport()
    return decode_object(reg, reg.type(type_name), obj, "", report), report
