"""A minimal HTTP/1.1 client connection (keep-alive, Content-Length, chunked), for ``client.blocking``.

``http.client`` drags in the ``email`` package to parse headers; a CLI that makes three requests pays
more for that import than for the requests. The apiserver's answers need only this much HTTP.
Errors are ``OSError`` subclasses, as socket errors are, so callers handle one family.
"""

from __future__ import annotations

import io
import socket
import ssl
from collections.abc import Sequence

MAX_HEAD = 64 * 1024


class ProtocolError(OSError):
    """The peer's bytes are not an HTTP/1.1 response."""


class StaleConnection(OSError):
    """A reused keep-alive connection closed before answering: the request never reached the server's handler."""


class Response:
    """One response: status, lower-cased headers, and its body read whole or line by line."""

    def __init__(self, conn: Connection, status: int, headers: dict[str, str], head_only: bool) -> None:
        self._conn = conn
        self.status = status
        self.headers = headers
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length")
        self._remaining = -1 if length is None else int(length)  # -1: chunked or until close
        self._chunk_left = 0
        self._done = head_only or self._remaining == 0 or status in (204, 304) or 100 <= status < 200
        self._buffer = b""

    def getheader(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def _raw(self, size: int) -> bytes:
        """Up to ``size`` body bytes (b"" at the end), framing removed."""
        if self._done:
            return b""
        f = self._conn.reader
        assert f is not None
        if self._chunked:
            if self._chunk_left == 0:
                line = f.readline(1024)
                if not line:
                    raise ProtocolError("connection closed inside a chunked body")
                self._chunk_left = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if self._chunk_left == 0:
                    while f.readline(MAX_HEAD) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    self._finish()
                    return b""
            data = f.read(min(size, self._chunk_left))
            if not data:
                raise ProtocolError("connection closed inside a chunk")
            self._chunk_left -= len(data)
            if self._chunk_left == 0:
                f.readline(16)  # the CRLF after the chunk
            return data
        if self._remaining < 0:
            data = f.read1(size)
            if not data:
                self._conn.reusable = False
                self._finish()
            return data
        data = f.read(min(size, self._remaining))
        if not data:
            raise ProtocolError("connection closed before the end of the body")
        self._remaining -= len(data)
        if self._remaining == 0:
            self._finish()
        return data

    def _finish(self) -> None:
        self._done = True
        self._conn.response_done()

    def read(self) -> bytes:
        """The rest of the body."""
        parts = [self._buffer]
        self._buffer = b""
        while chunk := self._raw(65536):
            parts.append(chunk)
        return b"".join(parts)

    def readline(self) -> bytes:
        """The next line of the body, newline included (b"" at the end)."""
        while b"\n" not in self._buffer:
            chunk = self._raw(65536)
            if not chunk:
                line, self._buffer = self._buffer, b""
                return line
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line + b"\n"

    def close(self) -> None:
        if not self._done:
            self._conn.close()


def _ascii(name: str) -> str | bytes:
    return name.encode("ascii") if name.isascii() else name


class Connection:
    """One TCP (or TLS) connection to a server, reused across requests while the server keeps it open."""

    def __init__(self, host: str, port: int, *, tls: ssl.SSLContext | None, server_name: str | None,
                 connect_timeout: float) -> None:
        self.host, self.port = host, port
        self._tls = tls
        self._server_name = server_name
        self._connect_timeout = connect_timeout
        self._sock: socket.socket | None = None
        self.reader: io.BufferedReader | None = None
        self.reusable = False
        self._used = False
        self._busy = False

    def _connect(self) -> None:
        # ASCII names as bytes: a str makes socket and ssl load the idna codec, a visible cost at CLI start-up.
        host = _ascii(self.host)
        # typeshed has str hosts only; create_connection hands the host to getaddrinfo, which takes bytes.
        sock = socket.create_connection((host, self.port), self._connect_timeout)  # type: ignore[arg-type]
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._tls is not None:
            sock = self._tls.wrap_socket(sock, server_hostname=_ascii(self._server_name) if self._server_name else host)
        self._sock = sock
        self.reader = sock.makefile("rb")
        self._used = False

    def connect(self) -> None:
        """Open the connection now (so a refused connect is told apart from a failed request)."""
        if self._sock is None or not self.reusable or self._busy:
            self.close()
            self._connect()

    def request(self, method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes | None,
                timeout: float | None) -> Response:
        """Send one request and read the response head."""
        self.connect()
        assert self._sock is not None and self.reader is not None
        reused = self._used
        self._used = self._busy = True
        self.reusable = True
        self._sock.settimeout(timeout)
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            self._sock.sendall(head + (body or b""))
            status_line = self.reader.readline(MAX_HEAD)
        except (BrokenPipeError, ConnectionResetError) as exc:
            self.close()
            if reused:
                raise StaleConnection(str(exc)) from exc
            raise
        if not status_line:
            self.close()
            if reused:
                raise StaleConnection("the server closed the kept-alive connection")
            raise ProtocolError("the server closed the connection without answering")
        parts = status_line.decode("latin-1").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            self.close()
            raise ProtocolError(f"not an HTTP/1.1 status line: {status_line[:80]!r}")
        answer: dict[str, str] = {}
        while True:
            line = self.reader.readline(MAX_HEAD)
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                self.close()
                raise ProtocolError("connection closed inside the response head")
            name, _, value = line.decode("latin-1").partition(":")
            answer[name.strip().lower()] = value.strip()
        if answer.get("connection", "").lower() == "close" or parts[0] == "HTTP/1.0":
            self.reusable = False
        return Response(self, int(parts[1]), answer, head_only=method == "HEAD")

    def response_done(self) -> None:
        self._busy = False
        if not self.reusable:
            self.close()

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
                self.reader = None
                self.reusable = False
                self._busy = False
