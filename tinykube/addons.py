"""The add-ons a fresh cluster gets, as kubeadm creates its own: the default StorageClass, and a Service named
``kube-dns`` in kube-system so that tools (and pods) find the cluster DNS where Kubernetes puts it.

Cluster DNS runs on every node (not as pods), answering on the node's pod gateway; the Service has no
selector and an EndpointSlice naming those addresses, so 10.96.0.10 reaches them through kube-proxy.
"""

from __future__ import annotations

import contextlib
from typing import Any

from client.errors import AlreadyExists
from client.mapping import lookup
from client.rest import RestClient
from controller_manager.provisioner import default_storage_class
from tinykube.cluster import Cluster
from tinykube.components import dns_address

DNS_SERVICE_IP = "10.96.0.10"
DNS_PORTS = (("dns", "UDP", 53), ("dns-tcp", "TCP", 53))


def kube_dns_service() -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": "kube-system",
                     "labels": {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS",
                                "kubernetes.io/cluster-service": "true"}},
        "spec": {"clusterIP": DNS_SERVICE_IP,
                 "ports": [{"name": n, "protocol": p, "port": port, "targetPort": port} for n, p, port in DNS_PORTS]},
    }


def kube_dns_endpoints(cluster: Cluster) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "kube-dns-nodes", "namespace": "kube-system",
                     "labels": {"kubernetes.io/service-name": "kube-dns",
                                "endpointslice.kubernetes.io/managed-by": "tinykube-bring-up"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [dns_address(n)], "conditions": {"ready": True}, "nodeName": n.name}
                      for n in cluster.topology.nodes],
        "ports": [{"name": n, "protocol": p, "port": port} for n, p, port in DNS_PORTS],
    }


async def create_addons(cluster: Cluster, rest: RestClient) -> None:
    """Create what is missing; a later `up` of a kept cluster leaves what exists (and user changes) alone."""
    for resource, body, namespace in (
        ("storageclasses.storage.k8s.io", default_storage_class(), None),
        ("services", kube_dns_service(), "kube-system"),
        ("endpointslices.discovery.k8s.io", kube_dns_endpoints(cluster), "kube-system"),
    ):
        with contextlib.suppress(AlreadyExists):
            await rest.create(lookup(resource), body, namespace)
