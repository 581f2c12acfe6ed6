"""The REST client: Kubernetes verbs over aiohttp, JSON via orjson, failover across apiservers.

Retry policy (client-go's, made explicit):

- A failure to *connect* means the request never reached a server, so every verb moves on to
  the next apiserver.
- A failure after the request may have been sent (reset, timeout, truncated answer) moves on
  only for reads (GET/HEAD): repeating a POST/PATCH/DELETE could apply it twice, so those raise
  ``ApiConnectionError`` and the caller decides (e.g. a create may re-check with a GET, or treat
  ``AlreadyExists`` on its retry as success).
- ``429`` with ``Retry-After`` means the server did not take the request: wait and repeat, for
  any verb. A ``5xx`` with ``Retry-After``, and ``502``/``503`` from one apiserver, are retried
  only for reads.
- Other non-2xx answers become typed errors (``client.errors``) carrying the ``Status``.
"""

from __future__ import annotations

import asyncio
import contextlib
import platform
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any

import aiohttp
import orjson

from client.clock import Clock, RealClock
from client.errors import ApiConnectionError, ApiError, error_for_response
from client.failover import Attempts, next_index
from client.kubeconfig import ClientConfig
from client.refs import PatchType, ResourceRef, delete_options, query
from process.log import get_logger
from process.version import __version__

# The refs moved to client.refs (shared with client.blocking); callers still import them from here.
__all__ = ["DEFAULT_USER_AGENT", "PatchType", "ResourceRef", "RestClient", "delete_options", "iter_lines", "query"]

log = get_logger("client.rest")

DEFAULT_USER_AGENT = f"tinykube/v{__version__} ({platform.system().lower()}/{platform.machine()})"
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})


class RestClient:
    """One connection pool to a set of equivalent apiservers; all verbs, all resources.

    The first server that answers becomes the preferred one until it fails, so a healthy client
    keeps its connections warm on one apiserver and moves only when it has to.

    HTTP/1.1 carries one request per connection at a time, so a burst of N concurrent requests opens N
    connections, each a TLS handshake on both ends (several ms of CPU each) that idles out 15 s later;
    client-go multiplexes them over one HTTP/2 connection instead. ``max_requests_in_flight`` bounds the
    one-shot requests (not watches or other streams) a bursty component sends at once, so its bursts queue
    on a few warm connections instead of opening new ones.
    """

    def __init__(self, config: ClientConfig, *, user_agent: str = DEFAULT_USER_AGENT, timeout: float = 30.0,
                 connect_timeout: float = 5.0, max_retry_after: int = 10, clock: Clock | None = None,
                 max_requests_in_flight: int | None = None) -> None:
        self.config = config
        self.user_agent = user_agent
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_retry_after = max_retry_after
        self.clock = clock or RealClock()
        self._current = 0
        self._session: aiohttp.ClientSession | None = None
        self._ssl = config.ssl_context()
        self.max_requests_in_flight = max_requests_in_flight
        self._slots: asyncio.Semaphore | None = None  # made with the session: both belong to one event loop

    @property
    def servers(self) -> list[str]:
        return list(self.config.servers)

    @property
    def current_server(self) -> str:
        return self.config.servers[self._current]

    def _session_now(self) -> aiohttp.ClientSession:
        # Created lazily: an aiohttp session belongs to the loop it was created on.
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self._ssl if self._ssl is not None else True, limit=0,
                                             enable_cleanup_closed=True)
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=True)
            if self.max_requests_in_flight:
                self._slots = asyncio.Semaphore(self.max_requests_in_flight)
        return self._session

    def _slot(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """A turn among the one-shot requests in flight (none needed without a bound)."""
        self._session_now()
        return self._slots if self._slots is not None else contextlib.nullcontext()

    async def close(self) -> None:
        """Close the connection pool (open watches end with it)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> RestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- transport ------------------------------------------------------------------------------

    def _headers(self, content_type: str | None, accept: str) -> dict[str, str]:
        headers = {"User-Agent": self.user_agent, "Accept": accept}
        auth = self.config.authorization()
        if auth is not None:
            headers["Authorization"] = auth
        if content_type is not None:
            headers["Content-Type"] = content_type
        return headers

    @contextlib.asynccontextmanager
    async def _exchange(self, method: str, path: str, *, params: Mapping[str, str] | None, data: bytes | None,
                        content_type: str | None, accept: str, client_timeout: aiohttp.ClientTimeout,
                        idempotent: bool) -> AsyncIterator[aiohttp.ClientResponse]:
        """Open a response with a 2xx status, following the retry policy in the module docstring."""
        servers = self.config.servers
        attempts = Attempts(servers, method=method, path=path, idempotent=idempotent,
                            max_retry_after=self.max_retry_after)
        while True:
            index = self._current
            url = servers[index] + path
            try:
                resp = await self._session_now().request(
                    method, url, params=params, data=data, headers=self._headers(content_type, accept),
                    timeout=client_timeout, server_hostname=self.config.tls.server_name)
                if resp.status >= 300:
                    try:
                        body = await resp.read()
                    finally:
                        resp.release()
                    error = _error_for(resp.status, resp.headers, body)
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
                # Never reached the server: safe to move on for every verb.
                attempts.server_failed(exc)
            except (aiohttp.ClientError, TimeoutError) as exc:
                attempts.send_failed(exc, url, _describe(exc))
            else:
                if resp.status < 300:
                    # Outside the try above: errors raised by the caller's reading must not trigger a retry.
                    try:
                        yield resp
                    finally:
                        resp.release()
                    return
                wait = attempts.wait_before_repeating(error)
                if wait is not None:
                    log.v(4, "retrying after server asked to wait", url=url, code=error.code,
                          wait=error.retry_after)
                    await self.clock.sleep(wait)
                    continue
            log.v(2, "apiserver request failed, trying the next", url=url, error=_describe(attempts.last))
            attempts.give_up_if_spent(_describe(attempts.last))
            self._current = next_index(self._current, index, len(servers))

    def _timeout(self, request_timeout: float | None) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(total=request_timeout if request_timeout is not None else self.timeout,
                                     sock_connect=self.connect_timeout)

    async def request_raw(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                          body: Any = None, content_type: str | None = None, accept: str = "application/json",
                          request_timeout: float | None = None) -> bytes:
        """Send one request and return the 2xx body as bytes (for text answers such as pod logs)."""
        data: bytes | None = None
        if body is not None:
            data = body if isinstance(body, bytes) else orjson.dumps(body)
            content_type = content_type or "application/json"
        idempotent = method.upper() in _IDEMPOTENT
        # A read whose answer is cut short (the apiserver died mid-body) is repeated on the next server.
        attempts = len(self.config.servers) if idempotent else 1
        for attempt in range(1, attempts + 1):
            async with self._slot(), self._exchange(
                    method.upper(), path, params=params, data=data, content_type=content_type, accept=accept,
                    client_timeout=self._timeout(request_timeout), idempotent=idempotent) as resp:
                try:
                    return await resp.read()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    if attempt == attempts:
                        raise ApiConnectionError(f"{method} {path}: answer cut short: {_describe(exc)}") from exc
                    log.v(2, "apiserver answer cut short, trying the next", path=path, error=_describe(exc))
                    self._current = (self._current + 1) % len(self.config.servers)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def request(self, method: str, path: str, *, params: Mapping[str, str] | None = None, body: Any = None,
                      content_type: str | None = None, request_timeout: float | None = None) -> Any:
        """Send one request and return its decoded JSON answer (None for an empty body)."""
        raw = await self.request_raw(method, path, params=params, body=body, content_type=content_type,
                                     request_timeout=request_timeout)
        return orjson.loads(raw) if raw.strip() else None

    @contextlib.asynccontextmanager
    async def stream(self, path: str, *, params: Mapping[str, str] | None = None,
                     read_timeout: float | None = None) -> AsyncIterator[aiohttp.ClientResponse]:
        """A long-lived GET (watch, log follow): connect with failover, then hand over the open response."""
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.connect_timeout, sock_read=read_timeout)
        async with self._exchange("GET", path, params=params, data=None, content_type=None,
                                  accept="application/json", client_timeout=timeout, idempotent=True) as resp:
            yield resp

    # --- verbs ----------------------------------------------------------------------------------

    async def get(self, ref: ResourceRef, name: str, namespace: str | None = None, *,
                  subresource: str | None = None, resource_version: str | None = None) -> dict[str, Any]:
        """One object (or a subresource such as ``scale``); ``resource_version="0"`` allows a cached copy."""
        return await self._object("GET", ref.path(namespace, name, subresource),
                                  query(resourceVersion=resource_version))

    async def list(self, ref: ResourceRef, namespace: str | None = None, *, label_selector: str | None = None,
                   field_selector: str | None = None, limit: int | None = None, continue_: str | None = None,
                   resource_version: str | None = None, resource_version_match: str | None = None,
                   timeout_seconds: int | None = None) -> dict[str, Any]:
        """One page of a list; ``metadata.continue`` is set when more remain."""
        params = query(labelSelector=label_selector, fieldSelector=field_selector, limit=limit,
                       resourceVersion=resource_version, resourceVersionMatch=resource_version_match,
                       timeoutSeconds=timeout_seconds)
        if continue_:
            params["continue"] = continue_
        return await self._object("GET", ref.path(namespace), params)

    async def list_pages(self, ref: ResourceRef, namespace: str | None = None, *, page_size: int = 500,
                         label_selector: str | None = None, field_selector: str | None = None,
                         resource_version: str | None = None) -> AsyncGenerator[dict[str, Any], None]:
        """Every page of a list, following ``continue`` tokens (a stale token raises ``Gone``)."""
        token: str | None = None
        while True:
            page = await self.list(ref, namespace, label_selector=label_selector, field_selector=field_selector,
                                   limit=page_size, continue_=token,
                                   resource_version=None if token else resource_version)
            yield page
            token = (page.get("metadata") or {}).get("continue") or None
            if not token:
                return

    async def list_all(self, ref: ResourceRef, namespace: str | None = None, *, page_size: int = 500,
                       label_selector: str | None = None, field_selector: str | None = None,
                       resource_version: str | None = None) -> dict[str, Any]:
        """The whole list, paginated, as one list object whose resourceVersion is the snapshot's."""
        result: dict[str, Any] | None = None
        async for page in self.list_pages(ref, namespace, page_size=page_size, label_selector=label_selector,
                                          field_selector=field_selector, resource_version=resource_version):
            if result is None:
                result = page
                result["items"] = list(page.get("items") or [])
            else:
                result["items"].extend(page.get("items") or [])
        assert result is not None
        result.setdefault("metadata", {}).pop("continue", None)
        result["metadata"].pop("remainingItemCount", None)
        return result

    async def create(self, ref: ResourceRef, body: Mapping[str, Any], namespace: str | None = None, *,
                     name: str | None = None, subresource: str | None = None, field_manager: str | None = None,
                     field_validation: str | None = None, dry_run: bool = False) -> dict[str, Any]:
        """POST ``body``; for a subresource (binding, eviction, token) ``name`` is the parent object."""
        namespace = self._namespace_of(ref, body, namespace)
        params = query(fieldManager=field_manager, fieldValidation=field_validation, dryRun="All" if dry_run else None)
        return await self._object("POST", ref.path(namespace, name, subresource), params, body)

    async def update(self, ref: ResourceRef, body: Mapping[str, Any], namespace: str | None = None, *,
                     subresource: str | None = None, field_manager: str | None = None,
                     field_validation: str | None = None, dry_run: bool = False) -> dict[str, Any]:
        """PUT ``body`` (name from its metadata); its ``resourceVersion`` makes it conditional (409 on mismatch)."""
        name = (body.get("metadata") or {}).get("name")
        if not name:
            raise ValueError("update needs metadata.name in the body")
        namespace = self._namespace_of(ref, body, namespace)
        params = query(fieldManager=field_manager, fieldValidation=field_validation, dryRun="All" if dry_run else None)
        return await self._object("PUT", ref.path(namespace, name, subresource), params, body)

    async def patch(self, ref: ResourceRef, name: str, patch: Any, namespace: str | None = None, *,
                    patch_type: PatchType = PatchType.STRATEGIC, subresource: str | None = None,
                    field_manager: str | None = None, force: bool | None = None,
                    field_validation: str | None = None, dry_run: bool = False) -> dict[str, Any]:
        """PATCH with one of the four patch types; server-side apply needs ``field_manager``."""
        if patch_type is PatchType.APPLY and not field_manager:
            raise ValueError("server-side apply needs a field_manager")
        if force is not None and patch_type is not PatchType.APPLY:
            raise ValueError("force applies only to server-side apply")
        params = query(fieldManager=field_manager, force=force, fieldValidation=field_validation,
                       dryRun="All" if dry_run else None)
        return await self._object("PATCH", ref.path(namespace, name, subresource), params, patch, patch_type.value)

    async def apply(self, ref: ResourceRef, body: Mapping[str, Any], namespace: str | None = None, *,
                    field_manager: str, force: bool = False, subresource: str | None = None) -> dict[str, Any]:
        """Server-side apply of a full intent object (creates it when absent)."""
        name = (body.get("metadata") or {}).get("name")
        if not name:
            raise ValueError("apply needs metadata.name in the body")
        namespace = self._namespace_of(ref, body, namespace)
        return await self.patch(ref, name, body, namespace, patch_type=PatchType.APPLY, subresource=subresource,
                                field_manager=field_manager, force=force)

    async def delete(self, ref: ResourceRef, name: str, namespace: str | None = None, *,
                     propagation_policy: str | None = None, grace_period_seconds: int | None = None,
                     preconditions: Mapping[str, str] | None = None, dry_run: bool = False) -> dict[str, Any]:
        """DELETE one object; the answer is the object (graceful/finalized) or a success ``Status``."""
        body = delete_options(propagation_policy=propagation_policy, grace_period_seconds=grace_period_seconds,
                              preconditions=preconditions, dry_run=dry_run)
        return await self._object("DELETE", ref.path(namespace, name), {}, body)

    async def delete_collection(self, ref: ResourceRef, namespace: str | None = None, *,
                                label_selector: str | None = None, field_selector: str | None = None,
                                propagation_policy: str | None = None, grace_period_seconds: int | None = None,
                                dry_run: bool = False) -> dict[str, Any]:
        """DELETE every matching object of the collection."""
        body = delete_options(propagation_policy=propagation_policy, grace_period_seconds=grace_period_seconds,
                              dry_run=dry_run)
        return await self._object("DELETE", ref.path(namespace),
                                  query(labelSelector=label_selector, fieldSelector=field_selector), body)

    async def pod_log(self, name: str, namespace: str, *, container: str | None = None,
                      tail_lines: int | None = None, since_seconds: int | None = None, timestamps: bool = False,
                      previous: bool = False, limit_bytes: int | None = None) -> str:
        """A pod's log as text (``pods/log``)."""
        params = _log_params(container=container, tail_lines=tail_lines, since_seconds=since_seconds,
                             timestamps=timestamps, previous=previous, limit_bytes=limit_bytes, follow=False)
        raw = await self.request_raw("GET", _PODS.path(namespace, name, "log"), params=params, accept="*/*")
        return raw.decode("utf-8", "replace")

    async def follow_log(self, name: str, namespace: str, *, container: str | None = None,
                         tail_lines: int | None = None, since_seconds: int | None = None,
                         timestamps: bool = False) -> AsyncGenerator[bytes, None]:
        """A pod's log as it grows (``follow=true``), line by line, until the container or stream ends."""
        params = _log_params(container=container, tail_lines=tail_lines, since_seconds=since_seconds,
                             timestamps=timestamps, previous=False, limit_bytes=None, follow=True)
        async with self.stream(_PODS.path(namespace, name, "log"), params=params) as resp:
            async for line in iter_lines(resp):
                yield line

    async def _object(self, method: str, path: str, params: Mapping[str, str], body: Any = None,
                      content_type: str | None = None) -> dict[str, Any]:
        result = await self.request(method, path, params=params, body=body, content_type=content_type)
        if not isinstance(result, dict):
            raise ApiConnectionError(f"{method} {path}: expected a JSON object, got {type(result).__name__}")
        return result

    def _namespace_of(self, ref: ResourceRef, body: Mapping[str, Any], namespace: str | None) -> str | None:
        if not ref.namespaced:
            return None
        return namespace or (body.get("metadata") or {}).get("namespace") or self.config.namespace


_PODS = ResourceRef("", "v1", "pods", True, "Pod")


def _log_params(*, container: str | None, tail_lines: int | None, since_seconds: int | None, timestamps: bool,
                previous: bool, limit_bytes: int | None, follow: bool) -> dict[str, str]:
    return query(container=container, tailLines=tail_lines, sinceSeconds=since_seconds,
                 timestamps=timestamps or None, previous=previous or None, limitBytes=limit_bytes,
                 follow=follow or None)


async def iter_lines(resp: aiohttp.ClientResponse) -> AsyncGenerator[bytes, None]:
    """Newline-delimited records of a streamed body, however the chunks fall (no line-length limit)."""
    buffer = bytearray()
    scanned = 0  # bytes of ``buffer`` known to hold no newline, so a long record is scanned once
    async for chunk in resp.content.iter_any():
        buffer += chunk
        start = 0
        while (cut := buffer.find(b"\n", max(start, scanned))) >= 0:
            line = bytes(buffer[start:cut])
            start = scanned = cut + 1
            if line.strip():
                yield line
        del buffer[:start]
        scanned = len(buffer)
    if bytes(buffer).strip():
        yield bytes(buffer)


def _error_for(code: int, headers: Mapping[str, str], body: bytes) -> ApiError:
    return error_for_response(code, body, headers.get("Retry-After"))


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"
