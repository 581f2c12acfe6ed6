"""The retry policy both REST clients follow (``client.rest`` over asyncio, ``client.blocking`` for CLIs), as
one request's walk over equivalent apiservers; free of I/O and of time, so each client sleeps and sends
in its own way.

- A failure to *connect* never reached a server: every verb moves on to the next apiserver.
- A failure after sending moves on only for reads; a write raises ``ApiConnectionError`` (it may have
  been applied).
- ``429`` (any verb) or a ``5xx`` (reads) with ``Retry-After``: wait and repeat on the same server, a
  bounded number of times. ``502``/``503`` on a read: move on. Any other answer is final.
- When every server has failed, the last API error (or a connection error naming them all) is raised.
"""

from __future__ import annotations

from collections.abc import Sequence

from client.errors import ApiConnectionError, ApiError

MAX_RETRY_AFTER = 30.0  # never sleep longer than this on one Retry-After, whatever the server says


class Attempts:
    """Bookkeeping for one request: which failures are final, when to wait, when every server is spent."""

    def __init__(self, servers: Sequence[str], *, method: str, path: str, idempotent: bool,
                 max_retry_after: int) -> None:
        self.servers = list(servers)
        self.method = method
        self.path = path
        self.idempotent = idempotent
        self.max_retry_after = max_retry_after
        self.failed = 0
        self.retry_afters = 0
        self.last: BaseException | None = None

    def wait_before_repeating(self, error: ApiError) -> float | None:
        """Seconds to wait before sending again to the same server; None when the server counts as failed
        (the caller moves on); raises ``error`` when it is the answer."""
        retryable = error.code == 429 or (self.idempotent and error.code >= 500)
        if error.retry_after is not None and retryable and self.retry_afters < self.max_retry_after:
            self.retry_afters += 1
            return min(error.retry_after, MAX_RETRY_AFTER)
        if not (self.idempotent and error.code in (502, 503)):
            raise error
        self.server_failed(error)
        return None

    def send_failed(self, exc: BaseException, url: str, describe: str) -> None:
        """The connection failed after the request may have reached ``url``: only reads move on."""
        if not self.idempotent:
            raise ApiConnectionError(f"{self.method} {url} failed after it may have reached the server "
                                     f"(not retried: not idempotent): {describe}") from exc
        self.server_failed(exc)

    def server_failed(self, exc: BaseException) -> None:
        """Count one more failed server; raise once all of them have failed."""
        self.last = exc
        self.failed += 1

    def give_up_if_spent(self, describe: str) -> None:
        """Raise the final error once every server has failed."""
        if self.failed < len(self.servers):
            return
        if isinstance(self.last, ApiError):
            raise self.last
        raise ApiConnectionError(f"{self.method} {self.path}: no apiserver reachable ({', '.join(self.servers)}): "
                                 f"{describe}") from self.last


def next_index(current: int, failed_index: int, count: int) -> int:
    """The preferred server after ``failed_index`` failed (unchanged if another request already moved on)."""
    return (failed_index + 1) % count if current == failed_index else current
