"""The server's resources from discovery, cached on disk between invocations as kubectl caches them.

Aggregated discovery (``/api`` and ``/apis`` as ``APIGroupDiscoveryList``) takes two requests; servers
that answer with the legacy documents are read the legacy way. The result lives under
``<cache-dir>/discovery/<host>_<port>/`` for six hours (kubectl's default), and is re-read when a name
does not resolve (a CRD may be new).
"""

from __future__ import annotations

import json
import os
import time
import urllib.parse
from pathlib import Path
from typing import Any

from client.blocking import BlockingClient
from client.errors import NotFound
from client.refs import ResourceRef
from client.resources import ResourceInfo, UnknownResource, resolve

_AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
_ACCEPT = f"{_AGGREGATED},application/json"
CACHE_TTL = 6 * 3600.0
_CACHE_FILE = "tkctl-resources.json"


def cache_dir_for(cache_root: Path, server: str) -> Path:
    """``<cache-root>/discovery/<host>_<port>``: kubectl's directory for this server."""
    url = urllib.parse.urlsplit(server)
    port = url.port or (443 if url.scheme == "https" else 80)
    return cache_root / "discovery" / f"{url.hostname}_{port}"


class Discovery:
    """Served resources and group-versions, from the disk cache when fresh, else from the server."""

    def __init__(self, client: BlockingClient, cache_root: Path | None) -> None:
        self.client = client
        self.cache_file = cache_dir_for(cache_root, client.current_server) / _CACHE_FILE if cache_root else None
        self._resources: list[ResourceInfo] | None = None
        self._group_versions: list[str] = []
        self._fresh = False

    def resources(self) -> list[ResourceInfo]:
        """Every served resource: core first, then groups in the server's order, preferred versions first."""
        if self._resources is None and not self._load_cache():
            self.refresh()
        assert self._resources is not None
        return self._resources

    def group_versions(self) -> list[str]:
        """``v1``, ``apps/v1``, … in the server's order."""
        self.resources()
        return self._group_versions

    def lookup(self, name: str) -> ResourceInfo:
        """kubectl's resolution of a resource argument; a miss re-reads discovery once."""
        try:
            return self._info(resolve(name, self.resources()))
        except UnknownResource:
            if self._fresh:
                raise
            self.refresh()
            return self._info(resolve(name, self.resources()))

    def for_kind(self, api_version: str, kind: str) -> ResourceInfo:
        """The resource serving objects of ``apiVersion``/``kind``."""
        group, _, version = api_version.rpartition("/")
        for attempt in range(2):
            for info in self.resources():
                if (info.ref.group, info.ref.version, info.ref.kind) == (group, version, kind):
                    return info
            if attempt == 0 and not self._fresh:
                self.refresh()
        raise UnknownResource(f'resource mapping not found for name: "" namespace: "" from "": no matches for kind '
                              f'"{kind}" in version "{api_version}"\nensure CRDs are installed first')

    def _info(self, ref: ResourceRef) -> ResourceInfo:
        return next(i for i in self.resources() if i.ref == ref)

    def _load_cache(self) -> bool:
        if self.cache_file is None:
            return False
        try:
            if time.time() - self.cache_file.stat().st_mtime > CACHE_TTL:
                return False
            doc = json.loads(self.cache_file.read_text())
        except (OSError, ValueError):
            return False
        self._group_versions = list(doc["groupVersions"])
        self._resources = [_from_json(r) for r in doc["resources"]]
        return True

    def refresh(self) -> None:
        """Read discovery from the server and rewrite the cache."""
        gvs, infos = self._fetch()
        self._group_versions, self._resources, self._fresh = gvs, infos, True
        if self.cache_file is None:
            return
        doc = {"groupVersions": gvs, "resources": [_to_json(i) for i in infos]}
        try:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.cache_file.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(doc))
            tmp.replace(self.cache_file)
        except OSError:
            pass  # a read-only home only costs the next invocation a re-read

    def _fetch(self) -> tuple[list[str], list[ResourceInfo]]:
        gvs: list[str] = []
        infos: list[ResourceInfo] = []
        for path in ("/api", "/apis"):
            try:
                resp = self.client.open("GET", path, accept=_ACCEPT)
            except NotFound:
                continue
            aggregated = "apidiscovery.k8s.io" in (resp.getheader("Content-Type") or "")
            doc: dict[str, Any] = json.loads(resp.read() or b"{}")
            if aggregated:
                _read_aggregated(doc, gvs, infos)
            else:
                self._read_legacy(path, doc, gvs, infos)
        return gvs, infos

    def _read_legacy(self, path: str, doc: dict[str, Any], gvs: list[str], infos: list[ResourceInfo]) -> None:
        pairs: list[tuple[str, str]] = []
        if path == "/api":
            pairs = [("", str(v)) for v in doc.get("versions") or []]
        else:
            for group in doc.get("groups") or []:
                preferred = str((group.get("preferredVersion") or {}).get("version") or "")
                versions = [str(v["version"]) for v in group.get("versions") or []]
                ordered = ([preferred] if preferred in versions else []) + [v for v in versions if v != preferred]
                pairs += [(str(group["name"]), v) for v in ordered]
        for group, version in pairs:
            gvs.append(f"{group}/{version}" if group else version)
            try:
                listing = self.client.request("GET", f"/apis/{group}/{version}" if group else f"/api/{version}")
            except NotFound:
                continue
            entries = (listing or {}).get("resources") or []
            subs: dict[str, list[str]] = {}
            for e in entries:
                parent, sep, sub = str(e.get("name", "")).partition("/")
                if sep:
                    subs.setdefault(parent, []).append(sub)
            infos += [ResourceInfo(ResourceRef(group, version, e["name"], bool(e.get("namespaced")), e.get("kind", "")),
                                   e.get("singularName") or "", tuple(e.get("shortNames") or ()),
                                   tuple(e.get("categories") or ()), tuple(e.get("verbs") or ()),
                                   tuple(subs.get(e["name"], ())))
                      for e in entries if "/" not in str(e.get("name", ""))]


def _read_aggregated(doc: dict[str, Any], gvs: list[str], infos: list[ResourceInfo]) -> None:
    for item in doc.get("items") or []:
        group = str((item.get("metadata") or {}).get("name") or "")
        for ver in item.get("versions") or []:
            version = str(ver.get("version"))
            gvs.append(f"{group}/{version}" if group else version)
            for r in ver.get("resources") or []:
                kind = str((r.get("responseKind") or {}).get("kind") or "")
                infos.append(ResourceInfo(
                    ResourceRef(group, version, r["resource"], r.get("scope") == "Namespaced", kind),
                    r.get("singularResource") or "", tuple(r.get("shortNames") or ()),
                    tuple(r.get("categories") or ()), tuple(r.get("verbs") or ()),
                    tuple(s["subresource"] for s in r.get("subresources") or [])))


def _to_json(i: ResourceInfo) -> dict[str, Any]:
    return {"g": i.ref.group, "v": i.ref.version, "r": i.ref.resource, "ns": i.ref.namespaced, "k": i.ref.kind,
            "s": i.singular, "sn": list(i.short_names), "c": list(i.categories), "vb": list(i.verbs),
            "sub": list(i.subresources)}


def _from_json(d: dict[str, Any]) -> ResourceInfo:
    return ResourceInfo(ResourceRef(d["g"], d["v"], d["r"], d["ns"], d["k"]), d["s"], tuple(d["sn"]),
                        tuple(d["c"]), tuple(d["vb"]), tuple(d["sub"]))
