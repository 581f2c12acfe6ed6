"""Which node subresource a request to the kubelet's server acts on, as the kubelet names them for its
``SubjectAccessReview`` (``nodes/stats``, ``nodes/metrics``, ``nodes/log``, ``nodes/spec``, else ``nodes/proxy``)."""

from __future__ import annotations

from typing import Final

from client.delegated_auth import VERBS, Action

_SUBRESOURCE_BY_PREFIX: Final = (("/stats", "stats"), ("/metrics", "metrics"), ("/logs", "log"), ("/spec", "spec"),
                                 ("/checkpoint", "checkpoint"))


def kubelet_action(method: str, path: str, node_name: str) -> Action:
    """The action a request on ``path`` performs on this node."""
    subresource = "proxy"
    for prefix, name in _SUBRESOURCE_BY_PREFIX:
        if path == prefix or path.startswith(prefix + "/"):
            subresource = name
            break
    return Action(VERBS.get(method.upper(), method.lower()), resource="nodes", subresource=subresource,
                  name=node_name)
