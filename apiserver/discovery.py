"""Discovery endpoints: `/api`, `/apis` (aggregated v2 when asked for, legacy otherwise), `/api/v1`,
`/apis/<g>` and `/apis/<g>/<v>`, built-in resources first, then the custom resources of live CRDs.

The aggregated form must go out with its own content type: clients pick the decoder from it.
"""

from __future__ import annotations

from aiohttp import web

from api import discovery, metrics_v1beta1
from api.catalog import REGISTRY
from api.schema import JSON, Resource
from apiserver import json_codec
from apiserver.errors import not_found_path
from apiserver.handlers import respond
from apiserver.kinds import Kinds


def wants_aggregated(accept: str) -> bool:
    """Whether the client accepts apidiscovery.k8s.io/v2 (or v2beta1) APIGroupDiscoveryList."""
    return "as=APIGroupDiscoveryList" in accept and "g=apidiscovery.k8s.io" in accept


def _aggregated(body: dict[str, JSON]) -> web.Response:
    return web.Response(
        body=json_codec.dumps(body),
        headers={"Content-Type": discovery.AGGREGATED_CONTENT_TYPE},
    )


class Discovery:
    """Answers discovery requests from the registry plus the current CRDs."""

    def __init__(self, kinds: Kinds, server_address: str) -> None:
        self.kinds = kinds
        self.server_address = server_address

    def _extra(self) -> list[Resource]:
        """Resources beyond the catalog's: live CRDs' and metrics.k8s.io (served, not stored)."""
        return [*self.kinds.custom_resources(), *metrics_v1beta1.RESOURCES]

    async def api(self, request: web.Request) -> web.Response:
        """`GET /api`."""
        if wants_aggregated(request.headers.get("Accept", "")):
            return _aggregated(discovery.aggregated(REGISTRY, core=True))
        return respond(discovery.api_versions(self.server_address))

    async def apis(self, request: web.Request) -> web.Response:
        """`GET /apis`; reloads CRDs first so a new custom resource shows up at once."""
        await self.kinds.refresh()
        extra = self._extra()
        if wants_aggregated(request.headers.get("Accept", "")):
            return _aggregated(discovery.aggregated(REGISTRY, core=False, extra=extra))
        return respond(discovery.api_group_list(REGISTRY, extra))

    async def group(self, request: web.Request, group: str) -> web.Response:
        """`GET /apis/<group>`."""
        await self.kinds.refresh()
        body = discovery.api_group(REGISTRY, group, self._extra())
        if body is None:
            raise not_found_path(request.path)
        return respond(body)

    async def resources(self, request: web.Request, group: str, version: str) -> web.Response:
        """`GET /api/v1` or `GET /apis/<group>/<version>`."""
        if group:
            await self.kinds.refresh()
        body = discovery.api_resource_list(REGISTRY, group, version, self._extra())
        if body is None:
            raise not_found_path(request.path)
        return respond(body)
