"""API errors as `Status` replies: every non-2xx answer leaves the apiserver through `APIError`.

Handlers raise; the middleware in `apiserver.server` turns the error into JSON with the Status's code.
Store failures become 503 (unreachable, no leader) or 504 (timed out), never a 500 or a traceback.
"""

from __future__ import annotations

import asyncio

from api import status
from api.schema import JSON
from store.client import AmbiguousWriteError
from store.errors import EtcdError
from store.grpc_status import StatusCode


class APIError(Exception):
    """A failed request; `body` is the Status kube-apiserver would send."""

    def __init__(self, body: dict[str, JSON]) -> None:
        super().__init__(body.get("message", ""))
        self.body = body

    @property
    def code(self) -> int:
        """The HTTP status code of the reply."""
        code = self.body.get("code", 500)
        return code if isinstance(code, int) else 500


def bad_request(message: str) -> APIError:
    """400: the request itself is malformed."""
    return APIError(status.bad_request(message))


def not_found_path(path: str) -> APIError:
    """404 for a URL that names no resource (kube-apiserver's wording)."""
    return APIError(
        status.failure(
            "NotFound",
            "the server could not find the requested resource",
            {"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]}
            if path.startswith(("/api", "/apis"))
            else None,
        )
    )


def from_store(err: BaseException) -> APIError:
    """A store failure as 503/504 with a message that says what the store did."""
    if isinstance(err, (asyncio.TimeoutError, TimeoutError)):
        return APIError(status.timeout("the store did not answer in time"))
    if isinstance(err, AmbiguousWriteError):
        return APIError(status.timeout(f"the store may or may not have applied the write: {err}"))
    if isinstance(err, EtcdError) and err.code == StatusCode.DEADLINE_EXCEEDED:
        return APIError(status.timeout(f"store request timed out: {err}"))
    return APIError(status.service_unavailable(f"the store is unavailable: {err}"))
