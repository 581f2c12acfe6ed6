"""Objects every cluster has, written at start-up by each apiserver (idempotently).

The four system namespaces, the `kubernetes` Service on the first address of the service range with
its Endpoints/EndpointSlice (created listing this apiserver; apiserver.endpoints keeps them current),
and the two system PriorityClasses.
"""

from __future__ import annotations

from api.schema import JSON
from apiserver.errors import APIError
from apiserver.handlers import Handlers, Target, meta
from process.log import get_logger

log = get_logger("apiserver.bootstrap")

NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
PRIORITY_CLASSES = (
    (
        "system-node-critical",
        2000001000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    (
        "system-cluster-critical",
        2000000000,
        "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
    ),
)
SERVICE_PORT_NAME = "https"


async def _ensure(handlers: Handlers, group: str, version: str, plural: str, obj: dict[str, JSON]) -> None:
    kind = await handlers.kinds.resolve(group, version, plural)
    assert kind is not None, plural
    namespace = str(meta(obj).get("namespace") or "") or None
    try:
        await handlers.create_object(Target(kind, namespace, None, None), obj)
    except APIError as err:
        if err.body.get("reason") != "AlreadyExists":
            raise


async def bootstrap(handlers: Handlers, advertise_ip: str, port: int) -> None:
    """Create whatever of the above is missing."""
    for ns in NAMESPACES:
        await _ensure(
            handlers, "", "v1", "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
        )
    for name, value, description in PRIORITY_CLASSES:
        await _ensure(
            handlers,
            "scheduling.k8s.io",
            "v1",
            "priorityclasses",
            {
                "apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass",
                "metadata": {"name": name},
                "value": value,
                "description": description,
            },
        )
    await _ensure(
        handlers,
        "",
        "v1",
        "services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {
                "type": "ClusterIP",
                "clusterIP": handlers.allocators.first_ip,
                "sessionAffinity": "None",
                "ports": [{"name": SERVICE_PORT_NAME, "port": 443, "protocol": "TCP", "targetPort": port}],
            },
        },
    )
    await _ensure(
        handlers,
        "",
        "v1",
        "endpoints",
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
            },
            "subsets": [
                {
                    "addresses": [{"ip": advertise_ip}],
                    "ports": [{"name": SERVICE_PORT_NAME, "port": port, "protocol": "TCP"}],
                }
            ],
        },
    )
    await _ensure(
        handlers,
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "labels": {"kubernetes.io/service-name": "kubernetes"},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [advertise_ip], "conditions": {"ready": True}}],
            "ports": [{"name": SERVICE_PORT_NAME, "port": port, "protocol": "TCP"}],
        },
    )
    log.info("bootstrap objects present", advertise=f"{advertise_ip}:{port}")
