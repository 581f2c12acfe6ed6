"""scheduling.k8s.io/v1: PriorityClass.

Field names, protobuf numbers and list/patch markers match Kubernetes v1.32's generated.proto and types.go,
so JSON, protobuf and patch semantics agree with kube-apiserver.
"""

from api.schema import (
    BOOL,
    INT32,
    STRING,
    TYPE_META_FIELDS,
    Field,
    Ref,
    type_factory,
)

declare, ref = type_factory("io.k8s.api.scheduling.v1.")

PriorityClass = declare(
    "PriorityClass",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("value", INT32, 2, required=True),
    Field("globalDefault", BOOL, 3, omit_zero=True),
    Field("description", STRING, 4, omit_zero=True),
    Field("preemptionPolicy", STRING, 5, default="PreemptLowerPriority", enum=("Never", "PreemptLowerPriority")),
    description="Maps a priority class name to an integer priority used for scheduling and preemption.",
)

TYPES = (PriorityClass,)
