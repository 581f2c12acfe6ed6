"""What the server serves, read from its (legacy) discovery documents: built-ins and custom resources.

``tkctl`` and controllers that handle arbitrary kinds (garbage collector, namespace deletion)
need resources that exist only at runtime. The legacy documents (``/api``, ``/api/v1``,
``/apis``, ``/apis/<g>/<v>``) are what every apiserver serves; the result is cached until
``invalidate`` (or a name that does not resolve, which may be a CRD created since).
"""

from __future__ import annotations

import asyncio
from typing import Any

from client.errors import NotFound
from client.mapping import ResourceInfo, UnknownResource, resolve
from client.rest import ResourceRef, RestClient


class Discovery:
    """A cached view of the server's resources."""

    def __init__(self, rest: RestClient) -> None:
        self.rest = rest
        self._resources: list[ResourceInfo] | None = None

    def invalidate(self) -> None:
        """Forget the cached documents: the next question reads discovery again."""
        self._resources = None

    async def resources(self) -> list[ResourceInfo]:
        """Every served resource: core group first, then groups in the server's order, preferred version first."""
        if self._resources is None:
            self._resources = await self._fetch()
        return self._resources

    async def lookup(self, name: str) -> ResourceRef:
        """Resolve a kubectl-style name; on a miss, re-read discovery once (a CRD may be new)."""
        try:
            return resolve(name, await self.resources())
        except UnknownResource:
            self.invalidate()
            return resolve(name, await self.resources())

    async def ref_for_kind(self, api_version: str, kind: str) -> ResourceRef:
        """The resource serving ``apiVersion``/``kind`` (custom kinds included)."""
        group, _, version = api_version.rpartition("/")
        for attempt in range(2):
            for info in await self.resources():
                ref = info.ref
                if (ref.group, ref.version, ref.kind) == (group, version, kind):
                    return ref
            if attempt == 0:
                self.invalidate()
        raise UnknownResource(f"no resource serves kind {kind!r} in {api_version}")

    async def _fetch(self) -> list[ResourceInfo]:
        group_versions: list[tuple[str, str]] = []
        try:
            core = await self.rest.request("GET", "/api")
            group_versions += [("", v) for v in (core or {}).get("versions") or []]
        except NotFound:
            pass  # an apiserver without the core group (kubectl tolerates this too)
        groups = await self.rest.request("GET", "/apis") or {}
        for group in groups.get("groups") or []:
            preferred = str((group.get("preferredVersion") or {}).get("version") or "")
            versions = [str(v["version"]) for v in group.get("versions") or []]
            ordered = ([preferred] if preferred in versions else []) + [v for v in versions if v != preferred]
            group_versions += [(group["name"], v) for v in ordered]
        lists = await asyncio.gather(*(self._resource_list(g, v) for g, v in group_versions))
        return [info for infos in lists for info in infos]

    async def _resource_list(self, group: str, version: str) -> list[ResourceInfo]:
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        try:
            doc: dict[str, Any] = await self.rest.request("GET", path) or {}
        except NotFound:
            return []
        entries = doc.get("resources") or []
        subresources: dict[str, list[str]] = {}
        for entry in entries:
            parent, sep, sub = str(entry.get("name", "")).partition("/")
            if sep:
                subresources.setdefault(parent, []).append(sub)
        return [
            ResourceInfo(
                ResourceRef(group, version, entry["name"], bool(entry.get("namespaced")), entry.get("kind", "")),
                singular=entry.get("singularName") or "",
                short_names=tuple(entry.get("shortNames") or ()),
                categories=tuple(entry.get("categories") or ()),
                verbs=tuple(entry.get("verbs") or ()),
                subresources=tuple(subresources.get(entry["name"], ())),
            )
            for entry in entries if "/" not in str(entry.get("name", ""))
        ]
