"""discovery.k8s.io/v1: EndpointSlice.

Field names, protobuf numbers and list/patch markers match Kubernetes v1.32's generated.proto and types.go,
so JSON, protobuf and patch semantics agree with kube-apiserver.
"""

from api.schema import (
    BOOL,
    INT32,
    STRING,
    TYPE_META_FIELDS,
    Field,
    ListOf,
    MapOf,
    Ref,
    type_factory,
)

declare, ref = type_factory("io.k8s.api.discovery.v1.")

EndpointSlice = declare(
    "EndpointSlice",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("addressType", STRING, 4, required=True, enum=("FQDN", "IPv4", "IPv6")),
    Field("endpoints", ListOf(ref("Endpoint")), 2, list_type="atomic"),
    Field("ports", ListOf(ref("EndpointPort")), 3, list_type="atomic"),
    description="A subset of the endpoints that back a Service.",
)

Endpoint = declare(
    "Endpoint",
    Field("addresses", ListOf(STRING), 1, required=True, list_type="set"),
    Field("conditions", ref("EndpointConditions"), 2),
    Field("hostname", STRING, 3),
    Field("targetRef", Ref("io.k8s.api.core.v1.ObjectReference"), 4),
    Field("deprecatedTopology", MapOf(STRING), 5),
    Field("nodeName", STRING, 6),
    Field("zone", STRING, 7),
    Field("hints", ref("EndpointHints"), 8),
)

EndpointConditions = declare(
    "EndpointConditions",
    Field("ready", BOOL, 1),
    Field("serving", BOOL, 2),
    Field("terminating", BOOL, 3),
)

EndpointHints = declare(
    "EndpointHints",
    Field("forZones", ListOf(ref("ForZone")), 1, list_type="atomic"),
)

ForZone = declare(
    "ForZone",
    Field("name", STRING, 1, required=True),
)

EndpointPort = declare(
    "EndpointPort",
    Field("name", STRING, 1),
    Field("protocol", STRING, 2, default="TCP", enum=("TCP", "UDP", "SCTP")),
    Field("port", INT32, 3),
    Field("appProtocol", STRING, 4),
    map_type="atomic",
)

TYPES = (
    EndpointSlice,
    Endpoint,
    EndpointConditions,
    EndpointHints,
    ForZone,
    EndpointPort,
)
