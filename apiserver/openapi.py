"""OpenAPI endpoints: the /openapi/v3 index, hashed per-group-version documents and /openapi/v2.

kubectl validates with `fieldValidation=Strict` once the v3 document of a group-version declares that
parameter, and caches documents by their `?hash=` URL; hence immutable caching headers on them.
kubectl asks /openapi/v2 only as gnostic protobuf (apiserver.openapi_proto), to validate `kind: List` files.
"""

from __future__ import annotations

from aiohttp import web

from api import openapi
from api.catalog import REGISTRY
from apiserver import openapi_proto
from apiserver.errors import not_found_path
from apiserver.handlers import respond
from apiserver.kinds import Kinds


class OpenAPI:
    """Serves the generated documents; custom resources' documents come from the live CRDs."""

    def __init__(self, kinds: Kinds) -> None:
        self.kinds = kinds
        self._v2_proto: bytes | None = None

    async def index(self, request: web.Request) -> web.Response:
        """`GET /openapi/v3`."""
        await self.kinds.refresh()
        return respond(openapi.v3_index(REGISTRY, self.kinds.openapi_documents()))

    async def document(self, request: web.Request, path: str) -> web.Response:
        """`GET /openapi/v3/<api/v1 | apis/g/v>`."""
        doc = openapi.v3(REGISTRY, path)
        if doc is None:
            await self.kinds.refresh()
            doc = self.kinds.openapi_documents().get(path)
        if doc is None:
            raise not_found_path(request.path)
        headers = {"ETag": f'"{doc.hash}"'}
        if request.query.get("hash") == doc.hash:
            headers["Cache-Control"] = "public, immutable"
            headers["Expires"] = "Fri, 01 Jan 2100 00:00:00 GMT"
        return web.Response(body=doc.raw, content_type="application/json", headers=headers)

    async def v2(self, request: web.Request) -> web.Response:
        """`GET /openapi/v2`: gnostic protobuf when asked for it (kubectl), JSON otherwise."""
        doc = openapi.v2(REGISTRY)
        headers = {"ETag": f'"{doc.hash}"'}
        if openapi_proto.CONTENT_TYPE in request.headers.get("Accept", ""):
            if self._v2_proto is None:
                self._v2_proto = openapi_proto.document(doc.body)
            return web.Response(body=self._v2_proto, headers={**headers, "Content-Type": "application/octet-stream"})
        return web.Response(body=doc.raw, content_type="application/json", headers=headers)
