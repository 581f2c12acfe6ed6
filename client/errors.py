"""Typed API errors built from the apiserver's ``Status`` answers.

Callers branch on the kind of failure (``except NotFound``, ``except Conflict``) as client-go
code branches on ``apierrors.IsNotFound``; the Status itself stays attached for messages.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any


class ClientError(Exception):
    """Anything the client library raises on purpose."""


class ApiConnectionError(ClientError):
    """No apiserver could be reached (or the connection broke) for a request that could not be retried."""


class ApiError(ClientError):
    """A non-2xx answer from an apiserver, carrying its ``Status`` (reason, code, details)."""

    default_code = 500
    default_reason = "InternalError"

    def __init__(self, status: dict[str, Any], retry_after: float | None = None) -> None:
        self.status = status
        self.code: int = int(status.get("code") or self.default_code)
        self.reason: str = str(status.get("reason") or self.default_reason)
        self.message: str = str(status.get("message") or self.reason)
        self.details: dict[str, Any] = dict(status.get("details") or {})
        self.retry_after = retry_after
        super().__init__(f"{self.reason} ({self.code}): {self.message}")

    @property
    def causes(self) -> list[dict[str, Any]]:
        """The per-field causes of an ``Invalid`` (field path, reason, message)."""
        return list(self.details.get("causes") or [])


class BadRequest(ApiError):
    """400: the request itself is malformed (bad selector, undecodable body)."""

    default_code, default_reason = 400, "BadRequest"


class Unauthorized(ApiError):
    """401: no valid credentials were presented."""

    default_code, default_reason = 401, "Unauthorized"


class Forbidden(ApiError):
    """403: authenticated, but not allowed (RBAC, admission, namespace terminating)."""

    default_code, default_reason = 403, "Forbidden"


class NotFound(ApiError):
    """404: no such object, resource or path."""

    default_code, default_reason = 404, "NotFound"


class MethodNotAllowed(ApiError):
    """405: the resource does not support that verb."""

    default_code, default_reason = 405, "MethodNotAllowed"


class NotAcceptable(ApiError):
    """406: the server cannot produce the requested media type."""

    default_code, default_reason = 406, "NotAcceptable"


class Conflict(ApiError):
    """409 from an optimistic-concurrency failure: re-read the object and try again."""

    default_code, default_reason = 409, "Conflict"


class AlreadyExists(Conflict):
    """409 on create: an object with that name exists (a subclass of ``Conflict`` as both are 409)."""

    default_reason = "AlreadyExists"


class Gone(ApiError):
    """410: the requested resourceVersion (or continue token) is older than the server keeps: relist."""

    default_code, default_reason = 410, "Expired"


class RequestEntityTooLarge(ApiError):
    """413: the object exceeds the server's size limit."""

    default_code, default_reason = 413, "RequestEntityTooLarge"


class UnsupportedMediaType(ApiError):
    """415: the body's Content-Type is not accepted for that verb."""

    default_code, default_reason = 415, "UnsupportedMediaType"


class Invalid(ApiError):
    """422: the object failed validation; ``causes`` lists each bad field."""

    default_code, default_reason = 422, "Invalid"


class TooManyRequests(ApiError):
    """429: back off; ``retry_after`` holds the server's Retry-After in seconds."""

    default_code, default_reason = 429, "TooManyRequests"


class InternalError(ApiError):
    """500: the server failed; the request may or may not have taken effect."""

    default_code, default_reason = 500, "InternalError"


class ServiceUnavailable(ApiError):
    """503: the server (or its store) cannot serve now; try again later."""

    default_code, default_reason = 503, "ServiceUnavailable"


class ServerTimeout(ApiError):
    """The server gave up on the request (reason ``ServerTimeout`` or ``Timeout``); it may still have happened."""

    default_code, default_reason = 504, "Timeout"


_BY_REASON: dict[str, type[ApiError]] = {
    "BadRequest": BadRequest,
    "Unauthorized": Unauthorized,
    "Forbidden": Forbidden,
    "NotFound": NotFound,
    "MethodNotAllowed": MethodNotAllowed,
    "NotAcceptable": NotAcceptable,
    "AlreadyExists": AlreadyExists,
    "Conflict": Conflict,
    "Gone": Gone,
    "Expired": Gone,
    "RequestEntityTooLarge": RequestEntityTooLarge,
    "UnsupportedMediaType": UnsupportedMediaType,
    "Invalid": Invalid,
    "TooManyRequests": TooManyRequests,
    "InternalError": InternalError,
    "ServiceUnavailable": ServiceUnavailable,
    "ServerTimeout": ServerTimeout,
    "Timeout": ServerTimeout,
}

_BY_CODE: dict[int, type[ApiError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 405: MethodNotAllowed,
    406: NotAcceptable, 409: Conflict, 410: Gone, 413: RequestEntityTooLarge, 415: UnsupportedMediaType,
    422: Invalid, 429: TooManyRequests, 500: InternalError, 503: ServiceUnavailable, 504: ServerTimeout,
}


def error_from_status(status: dict[str, Any], code: int | None = None, retry_after: float | None = None) -> ApiError:
    """The typed error for a ``Status`` (reason first, then HTTP code, as client-go's ``apierrors`` does)."""
    if code is not None and not status.get("code"):
        status = {**status, "code": code}
    effective = int(status.get("code") or code or 500)
    cls = _BY_REASON.get(str(status.get("reason") or "")) or _BY_CODE.get(effective)
    if cls is None:
        cls = InternalError if effective >= 500 else ApiError
    return cls(status, retry_after=retry_after)


def status_for_body(code: int, body: bytes) -> dict[str, Any]:
    """A Status for an answer that carried none (a proxy's HTML page, an empty body)."""
    text = body.decode("utf-8", "replace").strip()
    message = text[:512] if text else f"the server responded with HTTP {code}"
    reason = _BY_CODE[code].default_reason if code in _BY_CODE else "Unknown"
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def error_for_response(code: int, body: bytes, retry_after: str | None = None) -> ApiError:
    """The typed error for a non-2xx answer: its ``Status`` body if it has one, else one made up from the body."""
    status: dict[str, Any] | None = None
    with contextlib.suppress(ValueError):  # json (not orjson): importing orjson costs CLIs more than it saves
        decoded = json.loads(body) if body else None
        if isinstance(decoded, dict) and decoded.get("kind") == "Status":
            status = decoded
    return error_from_status(status or status_for_body(code, body), code=code, retry_after=_retry_after(retry_after))


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP-date: the apiserver never sends one; treat as absent
