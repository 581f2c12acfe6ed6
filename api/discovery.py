"""Discovery documents (/api, /apis, /api/v1, /apis/<g>/<v>, aggregated v2) derived from the resources.

`extra` lets the apiserver add resources that exist only at runtime (CRDs); built-ins come first,
and within a group the first version listed is the preferred one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from api.schema import JSON, Registry, Resource

AGGREGATED_CONTENT_TYPE: Final = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def _all(reg: Registry, extra: Iterable[Resource]) -> list[Resource]:
    return [*reg.resources, *extra]


def _group_versions(resources: list[Resource]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for r in resources:
        versions = groups.setdefault(r.group, [])
        if r.version not in versions:
            versions.append(r.version)
    return groups


def api_versions(server_address: str) -> dict[str, JSON]:
    """`GET /api` (legacy form)."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group_entry(name: str, versions: list[str]) -> dict[str, JSON]:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(reg: Registry, extra: Iterable[Resource] = ()) -> dict[str, JSON]:
    """`GET /apis` (legacy form): every non-core group."""
    groups = _group_versions(_all(reg, extra))
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_entry(name, versions) for name, versions in groups.items() if name],
    }


def api_group(reg: Registry, group: str, extra: Iterable[Resource] = ()) -> dict[str, JSON] | None:
    """`GET /apis/<group>`; None for an unknown group."""
    versions = _group_versions(_all(reg, extra)).get(group)
    if not versions or not group:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(group, versions)}


def api_resource_list(
    reg: Registry, group: str, version: str, extra: Iterable[Resource] = ()
) -> dict[str, JSON] | None:
    """`GET /api/v1` or `GET /apis/<group>/<version>`, subresources listed as `parent/sub`."""
    resources = [r for r in _all(reg, extra) if (r.group, r.version) == (group, version)]
    if not resources:
        return None
    out: list[dict[str, JSON]] = []
    for r in resources:
        entry: dict[str, JSON] = {
            "name": r.plural,
            "singularName": r.singular_name,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": list(r.verbs),
        }
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        out.append(entry)
        for s in r.subresources:
            sub: dict[str, JSON] = {
                "name": f"{r.plural}/{s.name}",
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": s.kind,
                "verbs": list(s.verbs),
            }
            if s.group is not None:
                sub["group"] = s.group
                sub["version"] = s.version
            out.append(sub)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": out,
    }


def _aggregated_resource(r: Resource) -> dict[str, JSON]:
    entry: dict[str, JSON] = {
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular_name,
        "verbs": list(r.verbs),
    }
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)
    if r.subresources:
        entry["subresources"] = [
            {
                "subresource": s.name,
                "responseKind": {
                    "group": r.group if s.group is None else s.group,
                    "version": r.version if s.version is None else s.version,
                    "kind": s.kind,
                },
                "verbs": list(s.verbs),
            }
            for s in r.subresources
        ]
    return entry


def aggregated(reg: Registry, core: bool, extra: Iterable[Resource] = ()) -> dict[str, JSON]:
    """Aggregated discovery (apidiscovery.k8s.io/v2) for `/api` (core=True) or `/apis`; serve it with
    AGGREGATED_CONTENT_TYPE, or clients parse it as the legacy format."""
    resources = [r for r in _all(reg, extra) if (r.group == "") == core]
    items: list[dict[str, JSON]] = []
    for group, versions in _group_versions(resources).items():
        items.append(
            {
                "metadata": {"name": group},
                "versions": [
                    {
                        "version": v,
                        "freshness": "Current",
                        "resources": [_aggregated_resource(r) for r in resources if (r.group, r.version) == (group, v)],
                    }
                    for v in versions
                ],
            }
        )
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items}
