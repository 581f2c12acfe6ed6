"""A synchronous REST client for short-lived command lines (``tkctl``): the ``RestClient`` policy without asyncio.

A CLI makes a handful of requests and exits; starting an event loop and importing aiohttp (or even
orjson, which pulls in dataclasses, uuid and datetime) would cost more than the requests themselves.
The retry policy is ``client.rest``'s, from ``client.failover``.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

from client.errors import ApiConnectionError, error_for_response
from client.failover import Attempts, next_index
from client.http11 import Connection, Response, StaleConnection
from client.kubeconfig import ClientConfig
from client.refs import PatchType, ResourceRef, delete_options, query

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})


class BlockingClient:
    """Keep-alive connections to a set of equivalent apiservers; the first that answers stays preferred."""

    def __init__(self, config: ClientConfig, *, user_agent: str, timeout: float | None = None,
                 connect_timeout: float = 5.0, headers: Mapping[str, str | list[str]] | None = None,
                 max_retry_after: int = 10) -> None:
        self.config = config
        self.user_agent = user_agent
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.extra_headers = dict(headers or {})
        self.max_retry_after = max_retry_after
        self._current = 0
        self._ssl: ssl.SSLContext | None = None
        self._conns: dict[int, Connection] = {}

    @property
    def current_server(self) -> str:
        return self.config.servers[self._current]

    def close(self) -> None:
        """Close every open connection."""
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()

    def __enter__(self) -> BlockingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport ------------------------------------------------------------------------------

    def _connection(self, index: int) -> Connection:
        conn = self._conns.get(index)
        if conn is None:
            url = urllib.parse.urlsplit(self.config.servers[index])
            tls = None
            if url.scheme == "https":
                if self._ssl is None:
                    self._ssl = self.config.tls.ssl_context()
                tls = self._ssl
            conn = Connection(url.hostname or "localhost", url.port or (443 if tls else 80), tls=tls,
                              server_name=self.config.tls.server_name, connect_timeout=self.connect_timeout)
            self._conns[index] = conn
        conn.connect()
        return conn

    def _headers(self, content_type: str | None, accept: str) -> list[tuple[str, str]]:
        """Header lines in order; a list value repeats its header (``Impersonate-Group``)."""
        lines = [("User-Agent", self.user_agent), ("Accept", accept)]
        for name, value in self.extra_headers.items():
            lines += [(name, v) for v in value] if isinstance(value, list) else [(name, value)]
        auth = self.config.authorization()
        if auth is not None:
            lines.append(("Authorization", auth))
        if content_type is not None:
            lines.append(("Content-Type", content_type))
        return lines

    def open(self, method: str, path: str, *, params: Mapping[str, str] | None = None, data: bytes | None = None,
             content_type: str | None = None, accept: str = "application/json",
             timeout: float | None = None) -> Response:
        """A response with a 2xx status (the caller reads and closes it), following the module's retry policy."""
        method = method.upper()
        idempotent = method in _IDEMPOTENT
        target = path + ("?" + urllib.parse.urlencode(params) if params else "")
        servers = self.config.servers
        attempts = Attempts(servers, method=method, path=path, idempotent=idempotent,
                            max_retry_after=self.max_retry_after)
        timeout = timeout if timeout is not None else self.timeout
        while True:
            index = self._current
            try:
                conn = self._connection(index)
            except OSError as exc:
                self._drop(index)
                attempts.server_failed(exc)  # never reached the server: safe to move on for every verb
            else:
                try:
                    resp = conn.request(method, target, self._headers(content_type, accept), data, timeout)
                except StaleConnection:
                    continue  # a kept-alive connection the server had closed: the next try reconnects
                except OSError as exc:
                    self._drop(index)
                    attempts.send_failed(exc, servers[index] + path, _describe(exc))
                else:
                    if resp.status < 300:
                        return resp
                    error = error_for_response(resp.status, resp.read(), resp.getheader("Retry-After"))
                    wait = attempts.wait_before_repeating(error)
                    if wait is not None:
                        time.sleep(wait)
                        continue
            attempts.give_up_if_spent(_describe(attempts.last))
            self._current = next_index(self._current, index, len(servers))

    def _drop(self, index: int) -> None:
        conn = self._conns.pop(index, None)
        if conn is not None:
            conn.close()

    def request_raw(self, method: str, path: str, *, params: Mapping[str, str] | None = None, body: Any = None,
                    content_type: str | None = None, accept: str = "application/json",
                    timeout: float | None = None) -> bytes:
        """One request; the 2xx body as bytes."""
        data: bytes | None = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            content_type = content_type or "application/json"
        resp = self.open(method, path, params=params, data=data, content_type=content_type, accept=accept,
                         timeout=timeout)
        try:
            return resp.read()
        except OSError as exc:
            self._drop(self._current)
            raise ApiConnectionError(f"{method} {path}: answer cut short: {_describe(exc)}") from exc

    def request(self, method: str, path: str, *, params: Mapping[str, str] | None = None, body: Any = None,
                content_type: str | None = None, accept: str = "application/json") -> Any:
        """One request; its decoded JSON answer (None for an empty body)."""
        raw = self.request_raw(method, path, params=params, body=body, content_type=content_type, accept=accept)
        return json.loads(raw) if raw.strip() else None

    def stream_lines(self, path: str, *, params: Mapping[str, str] | None = None,
                     accept: str = "application/json") -> Iterator[bytes]:
        """A long-lived GET (watch, log follow), newline-delimited, until the server ends it."""
        resp = self.open("GET", path, params=params, accept=accept, timeout=None)
        index = self._current
        try:
            while line := resp.readline():
                yield line
        finally:
            resp.close()
            self._drop(index)  # a half-read stream cannot be reused

    # --- verbs ----------------------------------------------------------------------------------

    def _object(self, method: str, path: str, params: Mapping[str, str] | None = None, body: Any = None,
                content_type: str | None = None) -> dict[str, Any]:
        result = self.request(method, path, params=params, body=body, content_type=content_type)
        if not isinstance(result, dict):
            raise ApiConnectionError(f"{method} {path}: expected a JSON object, got {type(result).__name__}")
        return result

    def get(self, ref: ResourceRef, name: str, namespace: str | None = None, *,
            subresource: str | None = None) -> dict[str, Any]:
        """One object (or a subresource such as ``scale``)."""
        return self._object("GET", ref.path(namespace, name, subresource))

    def list(self, ref: ResourceRef, namespace: str | None = None, *, label_selector: str | None = None,
             field_selector: str | None = None, limit: int | None = None, continue_: str | None = None,
             resource_version: str | None = None) -> dict[str, Any]:
        """One page of a list."""
        params = query(labelSelector=label_selector, fieldSelector=field_selector, limit=limit,
                       resourceVersion=resource_version)
        if continue_:
            params["continue"] = continue_
        return self._object("GET", ref.path(namespace), params)

    def create(self, ref: ResourceRef, body: Mapping[str, Any], namespace: str | None = None, *,
               name: str | None = None, subresource: str | None = None, field_manager: str | None = None,
               field_validation: str | None = None, dry_run: bool = False) -> dict[str, Any]:
        """POST ``body``; for a subresource (eviction, token) ``name`` is the parent object."""
        params = query(fieldManager=field_manager, fieldValidation=field_validation, dryRun="All" if dry_run else None)
        return self._object("POST", ref.path(namespace if ref.namespaced else None, name, subresource), params, body)

    def update(self, ref: ResourceRef, body: Mapping[str, Any], namespace: str | None = None, *,
               subresource: str | None = None, field_manager: str | None = None,
               field_validation: str | None = None, dry_run: bool = False) -> dict[str, Any]:
        """PUT ``body``; its ``resourceVersion`` makes it conditional."""
        name = str((body.get("metadata") or {}).get("name") or "")
        params = query(fieldManager=field_manager, fieldValidation=field_validation, dryRun="All" if dry_run else None)
        return self._object("PUT", ref.path(namespace if ref.namespaced else None, name, subresource), params, body)

    def patch(self, ref: ResourceRef, name: str, patch: Any, namespace: str | None = None, *,
              patch_type: PatchType = PatchType.STRATEGIC, subresource: str | None = None,
              field_manager: str | None = None, force: bool | None = None, field_validation: str | None = None,
              dry_run: bool = False) -> dict[str, Any]:
        """PATCH with one of the four patch types."""
        params = query(fieldManager=field_manager, force=force, fieldValidation=field_validation,
                       dryRun="All" if dry_run else None)
        data = patch if isinstance(patch, bytes) else json.dumps(patch).encode()
        return self._object("PATCH", ref.path(namespace if ref.namespaced else None, name, subresource), params,
                            data, patch_type.value)

    def delete(self, ref: ResourceRef, name: str, namespace: str | None = None, *,
               propagation_policy: str | None = None, grace_period_seconds: int | None = None,
               dry_run: bool = False) -> dict[str, Any]:
        """DELETE one object; the answer is the object (graceful/finalized) or a success ``Status``."""
        body = delete_options(propagation_policy=propagation_policy, grace_period_seconds=grace_period_seconds,
                              dry_run=dry_run)
        return self._object("DELETE", ref.path(namespace if ref.namespaced else None, name), None, body)


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"
