"""Which resources the namespace controller and the garbage collector must cover: discovery's answer.

Both act on every listable, watchable, deletable resource, including custom resources, so they ask the
apiserver rather than a built-in list; the garbage collector asks again when CRDs change (and
periodically), as upstream's GC resyncs its monitors.
"""

from __future__ import annotations

from client.discovery import Discovery
from client.rest import ResourceRef, RestClient


async def deletable_resources(rest: RestClient) -> list[ResourceRef]:
    """Every resource (namespaced and cluster-scoped) that can be listed, watched and deleted; the
    preferred version of each, no subresources."""
    seen: dict[tuple[str, str], ResourceRef] = {}
    for info in await Discovery(rest).resources():
        ref = info.ref
        if "/" in ref.resource or (ref.group, ref.resource) in seen:
            continue
        if {"list", "watch", "delete"} <= set(info.verbs):
            seen[(ref.group, ref.resource)] = ref
    return list(seen.values())
