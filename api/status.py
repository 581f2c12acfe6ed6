"""`Status` bodies for API errors and successes, worded as kube-apiserver words them (kubectl prints them).

`resource` arguments are the plural resource name qualified by group (`deployments.apps`), which is
what kube-apiserver puts in messages and in details.kind for NotFound/AlreadyExists/Conflict.
"""

from __future__ import annotations

from typing import Final

from api.errors import Cause, invalid_status
from api.schema import JSON

REASON_CODES: Final = {
    "BadRequest": 400,
    "Unauthorized": 401,
    "Forbidden": 403,
    "NotFound": 404,
    "MethodNotAllowed": 405,
    "NotAcceptable": 406,
    "AlreadyExists": 409,
    "Conflict": 409,
    "Gone": 410,
    "Expired": 410,
    "RequestEntityTooLarge": 413,
    "UnsupportedMediaType": 415,
    "Invalid": 422,
    "TooManyRequests": 429,
    "InternalError": 500,
    "ServiceUnavailable": 503,
    "Timeout": 504,
}


def failure(
    reason: str, message: str, details: dict[str, JSON] | None = None, code: int | None = None
) -> dict[str, JSON]:
    """A Failure Status with the HTTP code of its reason."""
    body: dict[str, JSON] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code if code is not None else REASON_CODES[reason],
    }
    if details:
        body["details"] = details
    return body


def qualified_resource(plural: str, group: str) -> str:
    """`deployments.apps`, or `pods` for the core group."""
    return f"{plural}.{group}" if group else plural


def _details(name: str, group: str, plural: str) -> dict[str, JSON]:
    details: dict[str, JSON] = {"name": name, "kind": plural}
    if group:
        details["group"] = group
    return details


def not_found(plural: str, group: str, name: str) -> dict[str, JSON]:
    """404 for a missing object."""
    return failure("NotFound", f'{qualified_resource(plural, group)} "{name}" not found', _details(name, group, plural))


def already_exists(plural: str, group: str, name: str) -> dict[str, JSON]:
    """409 for a create of an existing name."""
    return failure(
        "AlreadyExists", f'{qualified_resource(plural, group)} "{name}" already exists', _details(name, group, plural)
    )


def conflict(plural: str, group: str, name: str, detail: str = "") -> dict[str, JSON]:
    """409 for a stale resourceVersion."""
    reason = detail or "the object has been modified; please apply your changes to the latest version and try again"
    target = f'{qualified_resource(plural, group)} "{name}"'
    return failure("Conflict", f"Operation cannot be fulfilled on {target}: {reason}", _details(name, group, plural))


def invalid(kind: str, group: str, name: str, causes: list[Cause]) -> dict[str, JSON]:
    """422: the causes from api.validation (or api.crd) for one object."""
    return invalid_status(kind, group, name, causes)


def bad_request(message: str) -> dict[str, JSON]:
    """400 with a message."""
    return failure("BadRequest", message)


def strict_decoding(unknown: list[Cause]) -> dict[str, JSON]:
    """400 for unknown fields under fieldValidation=Strict."""
    return bad_request("strict decoding error: " + ", ".join(c.message for c in unknown))


def unknown_field_warnings(unknown: list[Cause]) -> list[str]:
    """`Warning:` header values for fieldValidation=Warn (one per unknown field)."""
    return ['299 - "' + c.message.replace('"', '\\"') + '"' for c in unknown]


def forbidden(
    user: str, verb: str, plural: str, group: str, *, namespace: str | None, name: str = ""
) -> dict[str, JSON]:
    """403 worded like the RBAC authorizer's denials."""
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    what = qualified_resource(plural, group) + (f' "{name}"' if name else "")
    message = f'{what} is forbidden: User "{user}" cannot {verb} resource "{plural}" in API group "{group}" {scope}'
    return failure("Forbidden", message, _details(name, group, plural))


def method_not_allowed(plural: str, group: str) -> dict[str, JSON]:
    """405 for a verb the resource does not serve."""
    return failure(
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        {"kind": plural, **({"group": group} if group else {})},
    )


def unsupported_media_type(content_type: str) -> dict[str, JSON]:
    """415 for a body content type we cannot decode."""
    return failure(
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types "
        f"include: application/json, application/yaml, application/vnd.kubernetes.protobuf "
        f'(got "{content_type}")',
    )


def not_acceptable(accept: str) -> dict[str, JSON]:
    """406 for an Accept header we cannot satisfy."""
    return failure(
        "NotAcceptable",
        f"only the following media types are accepted: application/json, "
        f"application/yaml, application/vnd.kubernetes.protobuf (got {accept})",
    )


def expired(message: str) -> dict[str, JSON]:
    """410 for a watch or continue token older than the retained history (`too old resource version: …`)."""
    return failure("Expired", message)


def too_old_resource_version(requested: int, oldest: int) -> dict[str, JSON]:
    """410 for a watch below the retained history."""
    return expired(f"too old resource version: {requested} ({oldest})")


def too_large_resource_version(requested: int, current: int) -> dict[str, JSON]:
    """504 for a resourceVersion the store has not reached: the client retries after a second."""
    return failure(
        "Timeout",
        f"Too large resource version: {requested}, current: {current}",
        {
            "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
            "retryAfterSeconds": 1,
        },
    )


def too_large() -> dict[str, JSON]:
    """413 for a body over the size limit."""
    return failure("RequestEntityTooLarge", "Request entity too large: limit is 3145728")


def internal_error(message: str) -> dict[str, JSON]:
    """500; should only ever mean a bug."""
    return failure("InternalError", f"Internal error occurred: {message}")


def service_unavailable(message: str) -> dict[str, JSON]:
    """503, e.g. while the store is unreachable."""
    return failure("ServiceUnavailable", message)


def timeout(message: str) -> dict[str, JSON]:
    """504 when the store does not answer in time."""
    return failure("Timeout", message)


def success(plural: str, group: str, name: str, uid: str = "") -> dict[str, JSON]:
    """The body of a DELETE for kinds that answer with a Status instead of the object."""
    details = _details(name, group, plural)
    if uid:
        details["uid"] = uid
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}
