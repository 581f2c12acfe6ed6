"""autoscaling/v1: Scale (the scale subresource) and the CPU-only HorizontalPodAutoscaler.

Field names, protobuf numbers and list/patch markers match Kubernetes v1.32's generated.proto and types.go,
so JSON, protobuf and patch semantics agree with kube-apiserver.
"""

from api.schema import (
    INT32,
    INT64,
    STRING,
    TIME,
    TYPE_META_FIELDS,
    Field,
    Ref,
    type_factory,
)

declare, ref = type_factory("io.k8s.api.autoscaling.v1.")

Scale = declare(
    "Scale",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("ScaleSpec"), 2, description="The desired state."),
    Field("status", ref("ScaleStatus"), 3, description="The most recently observed state, written by the system."),
    description="The replica count view of a scalable resource (the scale subresource).",
)

ScaleSpec = declare(
    "ScaleSpec",
    Field("replicas", INT32, 1, omit_zero=True),
)

ScaleStatus = declare(
    "ScaleStatus",
    Field("replicas", INT32, 1, required=True),
    Field("selector", STRING, 2, omit_zero=True),
)

HorizontalPodAutoscaler = declare(
    "HorizontalPodAutoscaler",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("HorizontalPodAutoscalerSpec"), 2, description="The desired state."),
    Field(
        "status",
        ref("HorizontalPodAutoscalerStatus"),
        3,
        description="The most recently observed state, written by the system.",
    ),
    description="Scales a workload's replicas automatically from observed metrics.",
)

HorizontalPodAutoscalerSpec = declare(
    "HorizontalPodAutoscalerSpec",
    Field("scaleTargetRef", ref("CrossVersionObjectReference"), 1, required=True),
    Field("minReplicas", INT32, 2, default=1),
    Field("maxReplicas", INT32, 3, required=True),
    Field("targetCPUUtilizationPercentage", INT32, 4),
)

CrossVersionObjectReference = declare(
    "CrossVersionObjectReference",
    Field("kind", STRING, 1, required=True),
    Field("name", STRING, 2, required=True),
    Field("apiVersion", STRING, 3, omit_zero=True),
    map_type="atomic",
)

HorizontalPodAutoscalerStatus = declare(
    "HorizontalPodAutoscalerStatus",
    Field("observedGeneration", INT64, 1),
    Field("lastScaleTime", TIME, 2),
    Field("currentReplicas", INT32, 3, required=True),
    Field("desiredReplicas", INT32, 4, required=True),
    Field("currentCPUUtilizationPercentage", INT32, 5),
)

TYPES = (
    Scale,
    ScaleSpec,
    ScaleStatus,
    HorizontalPodAutoscaler,
    HorizontalPodAutoscalerSpec,
    CrossVersionObjectReference,
    HorizontalPodAutoscalerStatus,
)
