"""Kubernetes' port-forward protocol over SPDY (``portforward.k8s.io``), both ends' shared vocabulary.

Per forwarded connection the client opens two streams carrying ``streamtype: error|data``, ``port`` and
``requestid`` headers; the server answers each with SYN_REPLY, connects to the port once it has both, pipes
the data stream, and writes a failure as text on the error stream. ``StreamPairing`` is the server's
bookkeeping of half-arrived pairs; ``request_headers`` is what a client sends.
"""

from __future__ import annotations

from dataclasses import dataclass

from client.spdy.headers import Headers, header

PROTOCOL = "portforward.k8s.io"
WEBSOCKET_TUNNEL = "SPDY/3.1+portforward.k8s.io"  # kubectl 1.31+: the same SPDY bytes inside WebSocket messages
UPGRADE = "SPDY/3.1"
STREAM_TYPE, PORT, REQUEST_ID = "streamtype", "port", "requestid"
DATA, ERROR = "data", "error"


class PortForwardRequestError(ValueError):
    """A stream whose headers do not make a port-forward request."""


@dataclass
class ForwardRequest:
    """One forwarded connection: its port and its two streams (0 until that stream arrives)."""

    request_id: str
    port: int
    data_stream: int = 0
    error_stream: int = 0


def request_headers(kind: str, port: int, request_id: int) -> Headers:
    """The headers a client opens the data or error stream of a forwarded connection with."""
    return ((STREAM_TYPE, kind), (PORT, str(port)), (REQUEST_ID, str(request_id)))


def parse_port(value: str | None) -> int:
    """A port header's value, checked."""
    if value is None or not value.isdigit() or not 0 < int(value) < 65536:
        raise PortForwardRequestError(f"invalid port {value!r}: a port-forward stream needs a port in 1..65535")
    return int(value)


class StreamPairing:
    """Matches each request's data and error streams as they arrive, in either order."""

    def __init__(self) -> None:
        self._pending: dict[str, ForwardRequest] = {}

    def add(self, stream_id: int, headers: Headers) -> ForwardRequest | None:
        """Record a new stream; the request once both of its streams are here."""
        kind = header(headers, STREAM_TYPE)
        if kind not in (DATA, ERROR):
            raise PortForwardRequestError(f"invalid stream type {kind!r} (expected {DATA!r} or {ERROR!r})")
        port = parse_port(header(headers, PORT))
        request_id = header(headers, REQUEST_ID) or ""
        if not request_id:
            raise PortForwardRequestError("a port-forward stream needs a requestid header")
        request = self._pending.setdefault(request_id, ForwardRequest(request_id, port))
        if request.port != port:
            raise PortForwardRequestError(f"request {request_id} names two ports ({request.port} and {port})")
        if kind == DATA:
            if request.data_stream:
                raise PortForwardRequestError(f"request {request_id} has two data streams")
            request.data_stream = stream_id
        else:
            if request.error_stream:
                raise PortForwardRequestError(f"request {request_id} has two error streams")
            request.error_stream = stream_id
        if request.data_stream and request.error_stream:
            del self._pending[request_id]
            return request
        return None

    def discard(self, stream_id: int) -> None:
        """Forget a half-arrived request whose stream was reset."""
        for request_id, request in list(self._pending.items()):
            if stream_id in (request.data_stream, request.error_stream):
                del self._pending[request_id]
