"""policy/v1: PodDisruptionBudget and Eviction.

Field names, protobuf numbers and list/patch markers match Kubernetes v1.32's generated.proto and types.go,
so JSON, protobuf and patch semantics agree with kube-apiserver.
"""

from api.schema import (
    INT32,
    INT64,
    INT_OR_STRING,
    STRING,
    TIME,
    TYPE_META_FIELDS,
    Field,
    ListOf,
    MapOf,
    Ref,
    type_factory,
)

declare, ref = type_factory("io.k8s.api.policy.v1.")

PodDisruptionBudget = declare(
    "PodDisruptionBudget",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("PodDisruptionBudgetSpec"), 2, description="The desired state."),
    Field(
        "status",
        ref("PodDisruptionBudgetStatus"),
        3,
        description="The most recently observed state, written by the system.",
    ),
    description="Limits how many pods of a set may be down at once through voluntary disruptions.",
)

PodDisruptionBudgetSpec = declare(
    "PodDisruptionBudgetSpec",
    Field("minAvailable", INT_OR_STRING, 1),
    Field("selector", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"), 2, strategy="replace"),
    Field("maxUnavailable", INT_OR_STRING, 3),
    Field("unhealthyPodEvictionPolicy", STRING, 4, enum=("AlwaysAllow", "IfHealthyBudget")),
)

PodDisruptionBudgetStatus = declare(
    "PodDisruptionBudgetStatus",
    Field("observedGeneration", INT64, 1, omit_zero=True),
    Field("disruptedPods", MapOf(TIME), 2),
    Field("disruptionsAllowed", INT32, 3, required=True),
    Field("currentHealthy", INT32, 4, required=True),
    Field("desiredHealthy", INT32, 5, required=True),
    Field("expectedPods", INT32, 6, required=True),
    Field(
        "conditions",
        ListOf(Ref("io.k8s.apimachinery.pkg.apis.meta.v1.Condition")),
        7,
        list_type="map",
        map_keys=("type",),
        merge_key="type",
        strategy="merge",
    ),
)

Eviction = declare(
    "Eviction",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("deleteOptions", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"), 2),
    description="Asks for a pod to be evicted, subject to its disruption budgets.",
)

TYPES = (
    PodDisruptionBudget,
    PodDisruptionBudgetSpec,
    PodDisruptionBudgetStatus,
    Eviction,
)
