"""The HTTP application: routes, authentication, request timeouts and the Status-for-every-error rule.

One catch-all route parses the path itself, because Kubernetes paths (`/api/v1/namespaces/x/pods/y/status`)
are shaped by discovery, not by a static route table.
"""

from __future__ import annotations

import asyncio
import functools
from collections import Counter
from collections.abc import Awaitable, Callable

from aiohttp import web
from isal import igzip

from api import status
from api.openapi import VERSION
from apiserver.audit.middleware import Auditor
from apiserver.auth import User
from apiserver.authn.chain import Authenticator
from apiserver.authz.authorization import Authorization
from apiserver.authz.request_info import attributes_for
from apiserver.discovery import Discovery
from apiserver.errors import APIError, from_store, not_found_path
from apiserver.handlers import Handlers, respond
from apiserver.openapi import OpenAPI
from apiserver.registry import Registry
from process.log import get_logger
from store.errors import EtcdError

log = get_logger("apiserver")

VERSION_INFO = {
    "major": "1",
    "minor": VERSION.split(".")[1],
    "gitVersion": VERSION,
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2024-12-11T00:00:00Z",
    "goVersion": "go1.23.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}
"""What /version reports; minor "32" makes the kubectl dispatcher run kubectl 1.32."""

STREAMING = frozenset({"log", "exec", "attach", "portforward"})
"""Subresources that stay open as long as the client wants (no request timeout), like watches."""
GZIP_MIN_BYTES = 128 * 1024
"""Smaller bodies are sent as they are: compressing them costs more time than it saves on loopback."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _gzip(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Large bodies gzipped for clients that accept it (kubectl does), as kube-apiserver does: by ISA-L's igzip at
    level 1 (standard gzip that shrinks lists ~10x at a small fraction of zlib's CPU, which dominated the cost
    of a large list), in a thread."""
    resp = await handler(request)
    body = resp.body if isinstance(resp, web.Response) else None
    if (
        isinstance(body, bytes)
        and len(body) > GZIP_MIN_BYTES
        and "gzip" in request.headers.get("Accept-Encoding", "").lower()
        and "Content-Encoding" not in resp.headers
    ):
        assert isinstance(resp, web.Response)
        compress = functools.partial(igzip.compress, body, compresslevel=1, mtime=0)
        resp.body = await asyncio.get_running_loop().run_in_executor(None, compress)
        resp.headers["Content-Encoding"] = "gzip"
        resp.headers.add("Vary", "Accept-Encoding")
    return resp


class App:
    """The routes of one apiserver over its handlers."""

    def __init__(
        self,
        *,
        handlers: Handlers,
        authenticator: Authenticator,
        authorization: Authorization,
        discovery: Discovery,
        openapi: OpenAPI,
        registry: Registry,
        request_timeout: float,
        auditor: Auditor | None = None,
    ) -> None:
        self.handlers = handlers
        self.auditor = auditor
        self.authenticator = authenticator
        self.authorization = authorization
        self.discovery = discovery
        self.openapi = openapi
        self.registry = registry
        self.request_timeout = request_timeout
        self.requests: Counter[tuple[str, int]] = Counter()

    def build(self) -> web.Application:
        """The aiohttp application."""
        # The auditor goes outside authentication and authorization: it records every answer, refusals too;
        # compression outside it, so it records the plain body.
        audit = [self.auditor.middleware] if self.auditor else []
        middlewares = [_gzip, *audit, self._middleware]
        app = web.Application(middlewares=middlewares, client_max_size=2 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._route)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        code = 500
        try:
            request["user"] = await self.authenticator.authenticate(request)
            await self.authorization.check(attributes_for(request["user"], request.method, request.path, request.query))
            streaming = request.query.get("watch") in ("true", "1") or request.path.rsplit("/", 1)[-1] in STREAMING
            if streaming:
                resp = await handler(request)
            else:
                # A timeout scope, not wait_for: no extra task per request.
                async with asyncio.timeout(self.request_timeout):
                    resp = await handler(request)
            code = resp.status
            return resp
        except APIError as err:
            code = err.code
            return respond(err.body, err.code)
        except (EtcdError, TimeoutError) as err:
            api_err = from_store(err)
            code = api_err.code
            return respond(api_err.body, api_err.code)
        except web.HTTPException:
            raise
        except Exception as err:
            log.error("request failed", exc_info=True, method=request.method, path=request.path)
            return respond(
                status.internal_error(
                    f"an error on the server has prevented the request from succeeding: {type(err).__name__}"
                ),
                500,
            )
        finally:
            self.requests[(request.method, code)] += 1

    async def _route(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        parts = [p for p in path.split("/") if p]
        user: User = request["user"]
        if path in ("/healthz", "/livez"):
            return web.Response(text="ok")
        if path == "/readyz":
            return await self._ready()
        if path in ("/version", "/version/"):
            return respond(VERSION_INFO)
        if path == "/metrics":
            return web.Response(text=self._metrics())
        if parts[:1] == ["api"]:
            if len(parts) == 1:
                return await self.discovery.api(request)
            if parts[1] != "v1":
                raise not_found_path(path)
            if len(parts) == 2:
                return await self.discovery.resources(request, "", "v1")
            return await self.handlers.serve(request, user, "", "v1", parts[2:])
        if parts[:1] == ["apis"]:
            if len(parts) == 1:
                return await self.discovery.apis(request)
            if len(parts) == 2:
                return await self.discovery.group(request, parts[1])
            if len(parts) == 3:
                return await self.discovery.resources(request, parts[1], parts[2])
            return await self.handlers.serve(request, user, parts[1], parts[2], parts[3:])
        if parts[:2] == ["openapi", "v3"]:
            if len(parts) == 2:
                return await self.openapi.index(request)
            return await self.openapi.document(request, "/".join(parts[2:]))
        if parts == ["openapi", "v2"]:
            return await self.openapi.v2(request)
        raise not_found_path(path)

    async def _ready(self) -> web.Response:
        try:
            await asyncio.wait_for(self.registry.revision(), 2.0)
        except (APIError, TimeoutError) as err:
            return web.Response(status=500, text=f"[-]etcd failed: {err}\nreadyz check failed\n")
        waiting = sorted(c.prefix.decode() for c in self.handlers.caches.caches.values() if not c.ready.is_set())
        if waiting:
            return web.Response(
                status=500, text=f"[-]watch caches not ready: {', '.join(waiting)}\nreadyz check failed\n"
            )
        unready = self.authorization.unready()
        if unready:
            return web.Response(status=500, text=f"[-]{unready}\nreadyz check failed\n")
        return web.Response(text="ok")

    def _metrics(self) -> str:
        lines = [
            "# HELP apiserver_request_total Requests by verb and HTTP code.",
            "# TYPE apiserver_request_total counter",
        ]
        for (method, code), n in sorted(self.requests.items()):
            lines.append(f'apiserver_request_total{{verb="{method}",code="{code}"}} {n}')
        return "\n".join(lines) + "\n"
