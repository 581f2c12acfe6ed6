"""Field errors (Kubernetes' field.Error) and the 422 `Invalid` Status the apiserver builds from them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

REQUIRED: Final = "FieldValueRequired"
INVALID: Final = "FieldValueInvalid"
NOT_SUPPORTED: Final = "FieldValueNotSupported"
DUPLICATE: Final = "FieldValueDuplicate"
FORBIDDEN: Final = "FieldValueForbidden"
TOO_LONG: Final = "FieldValueTooLong"
TOO_MANY: Final = "FieldValueTooMany"
NOT_FOUND: Final = "FieldValueNotFound"
TYPE_INVALID: Final = "FieldValueTypeInvalid"
UNKNOWN_FIELD: Final = "FieldValueUnknown"
"""Not a Kubernetes cause reason: marks a strict-decoding error, which the apiserver reports as 400 BadRequest."""


def render_value(value: Any) -> str:
    """Values as Go's field errors print them: strings quoted, numbers and booleans bare."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, int | float):
        return str(value)
    if value is None:
        return "null"
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True, slots=True)
class Cause:
    """One problem at one field path (`spec.containers[0].image`)."""

    field: str
    reason: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message

    def to_json(self) -> dict[str, str]:
        """The Status `details.causes` entry."""
        return {"reason": self.reason, "message": self.message, "field": self.field}


def required(path: str, detail: str = "") -> Cause:
    """`Required value` (a missing field)."""
    return Cause(path, REQUIRED, "Required value" + (f": {detail}" if detail else ""))


def invalid(path: str, value: Any, detail: str = "") -> Cause:
    """`Invalid value: <v>` with an explanation."""
    return Cause(path, INVALID, f"Invalid value: {render_value(value)}" + (f": {detail}" if detail else ""))


def not_supported(path: str, value: Any, supported: tuple[str, ...] | list[str]) -> Cause:
    """`Unsupported value` with the accepted values listed."""
    listed = ", ".join(json.dumps(s) for s in supported)
    return Cause(path, NOT_SUPPORTED, f"Unsupported value: {render_value(value)}: supported values: {listed}")


def duplicate(path: str, value: Any) -> Cause:
    """`Duplicate value` in a list or set."""
    return Cause(path, DUPLICATE, f"Duplicate value: {render_value(value)}")


def forbidden(path: str, detail: str) -> Cause:
    """`Forbidden`: the field may not be set or changed here."""
    return Cause(path, FORBIDDEN, f"Forbidden: {detail}")


def not_found(path: str, value: Any) -> Cause:
    """`Not found`: a reference to something that does not exist."""
    return Cause(path, NOT_FOUND, f"Not found: {render_value(value)}")


def too_long(path: str, limit: int) -> Cause:
    """`Too long` for a size limit in bytes."""
    return Cause(path, TOO_LONG, f"Too long: may not be more than {limit} bytes")


def too_many(path: str, count: int, limit: int) -> Cause:
    """`Too many` items in a list."""
    return Cause(path, TOO_MANY, f"Too many: {count}: must have at most {limit} items")


def type_invalid(path: str, value: Any, detail: str) -> Cause:
    """A value of the wrong JSON type."""
    return Cause(path, TYPE_INVALID, f"Invalid value: {render_value(value)}: {detail}")


def unknown_field(path: str) -> Cause:
    """A member the schema does not declare (strict decoding)."""
    return Cause(path, UNKNOWN_FIELD, f'unknown field "{path}"')


def qualified_kind(kind: str, group: str) -> str:
    """`Deployment.apps`, or `Pod` for the core group, as messages name kinds."""
    return f"{kind}.{group}" if group else kind


def invalid_status(kind: str, group: str, name: str, causes: list[Cause]) -> dict[str, Any]:
    """The 422 Status body for a failed validation, worded as kube-apiserver words it."""
    errs = [str(c) for c in causes]
    aggregate = errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]"
    details: dict[str, Any] = {"name": name, "kind": kind, "causes": [c.to_json() for c in causes]}
    if group:
        details["group"] = group
    if not name:
        del details["name"]
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f"{qualified_kind(kind, group)} {json.dumps(name)} is invalid: {aggregate}",
        "reason": "Invalid",
        "details": details,
        "code": 422,
    }


def strict_decoding_message(unknown: list[Cause]) -> str:
    """The BadRequest message for unknown fields under fieldValidation=Strict."""
    return "strict decoding error: " + ", ".join(c.message for c in unknown)
