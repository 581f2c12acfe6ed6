"""gRPC status codes without grpcio, so a store client (the apiserver) need not load grpcio's C core.

The members carry grpcio's ``StatusCode`` values, so a code converts either way by name.
"""

from __future__ import annotations

import enum


class StatusCode(enum.Enum):
    """The gRPC status codes (the same names and values as ``grpc.StatusCode``)."""

    OK = (0, "ok")
    CANCELLED = (1, "cancelled")
    UNKNOWN = (2, "unknown")
    INVALID_ARGUMENT = (3, "invalid argument")
    DEADLINE_EXCEEDED = (4, "deadline exceeded")
    NOT_FOUND = (5, "not found")
    ALREADY_EXISTS = (6, "already exists")
    PERMISSION_DENIED = (7, "permission denied")
    RESOURCE_EXHAUSTED = (8, "resource exhausted")
    FAILED_PRECONDITION = (9, "failed precondition")
    ABORTED = (10, "aborted")
    OUT_OF_RANGE = (11, "out of range")
    UNIMPLEMENTED = (12, "unimplemented")
    INTERNAL = (13, "internal")
    UNAVAILABLE = (14, "unavailable")
    DATA_LOSS = (15, "data loss")
    UNAUTHENTICATED = (16, "unauthenticated")

    @classmethod
    def from_number(cls, number: int) -> StatusCode:
        """The code a ``grpc-status`` trailer carries (UNKNOWN for a number gRPC does not define)."""
        return _BY_NUMBER.get(number, cls.UNKNOWN)

    @classmethod
    def from_http_status(cls, status: int) -> StatusCode:
        """The code of a response that is not gRPC's (gRPC's "HTTP to gRPC status code mapping")."""
        return _BY_HTTP_STATUS.get(status, cls.UNKNOWN)


_BY_NUMBER = {code.value[0]: code for code in StatusCode}
_BY_HTTP_STATUS = {400: StatusCode.INTERNAL, 401: StatusCode.UNAUTHENTICATED, 403: StatusCode.PERMISSION_DENIED,
                   404: StatusCode.UNIMPLEMENTED, 429: StatusCode.UNAVAILABLE, 502: StatusCode.UNAVAILABLE,
                   503: StatusCode.UNAVAILABLE, 504: StatusCode.UNAVAILABLE}
