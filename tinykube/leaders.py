"""Who leads the leader-elected control-plane components, as their Leases in kube-system say.

Components identify themselves as ``<hostname>_<uuid>`` (client-go's form) and every node's processes
run with the node's name as hostname (see ``supervisor.Component.command``), so a holder names its node.
"""

from __future__ import annotations

import asyncio

from client.errors import ApiConnectionError, ApiError
from client.kubeconfig import load_client_config
from client.mapping import lookup
from client.rest import RestClient
from tinykube.cluster import Cluster

# component -> the Lease it elects through (kube-scheduler's and kube-controller-manager's names).
LEASES = {"scheduler": "kube-scheduler", "controller-manager": "kube-controller-manager"}


def node_of_holder(holder: str) -> str | None:
    """``node2_6f1c…`` → ``node2``; None for an empty (released) holder."""
    return holder.rsplit("_", 1)[0] if holder else None


async def _holders(cluster: Cluster, request_timeout: float) -> dict[str, str | None]:
    holders: dict[str, str | None] = dict.fromkeys(LEASES)
    config = load_client_config(cluster.admin_kubeconfig)
    async with RestClient(config, user_agent="tinykube-leaders", timeout=request_timeout) as rest:
        for component, lease in LEASES.items():
            try:
                obj = await rest.get(lookup("leases.coordination.k8s.io"), lease, "kube-system")
            except (ApiError, ApiConnectionError):
                continue
            holders[component] = node_of_holder((obj.get("spec") or {}).get("holderIdentity") or "")
    return holders


def lease_leaders(cluster: Cluster, timeout: float = 3.0) -> dict[str, str | None]:
    """Node of each Lease holder (None when unknown or unreachable); for short-lived commands only."""
    try:
        return asyncio.run(asyncio.wait_for(_holders(cluster, timeout), timeout * 2))
    except (TimeoutError, OSError):
        return dict.fromkeys(LEASES)
