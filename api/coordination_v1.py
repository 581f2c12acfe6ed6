"""coordination.k8s.io/v1: Lease.

Field names, protobuf numbers and list/patch markers match Kubernetes v1.32's generated.proto and types.go,
so JSON, protobuf and patch semantics agree with kube-apiserver.
"""

from api.schema import (
    INT32,
    MICROTIME,
    STRING,
    TYPE_META_FIELDS,
    Field,
    Ref,
    type_factory,
)

declare, ref = type_factory("io.k8s.api.coordination.v1.")

Lease = declare(
    "Lease",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("LeaseSpec"), 2, description="The desired state."),
    description="A lightweight lock with a holder and a renew time (leader election, node heartbeats).",
)

LeaseSpec = declare(
    "LeaseSpec",
    Field("holderIdentity", STRING, 1),
    Field("leaseDurationSeconds", INT32, 2),
    Field("acquireTime", MICROTIME, 3),
    Field("renewTime", MICROTIME, 4),
    Field("leaseTransitions", INT32, 5),
    Field("strategy", STRING, 6),
    Field("preferredHolder", STRING, 7),
)

TYPES = (
    Lease,
    LeaseSpec,
)
