"""autoscaling/v2: HorizontalPodAutoscaler with metrics and scaling behaviour.

Field names, protobuf numbers and list/patch markers match Kubernetes v1.32's generated.proto and types.go,
so JSON, protobuf and patch semantics agree with kube-apiserver.
"""

from api.schema import (
    INT32,
    INT64,
    QUANTITY,
    STRING,
    TIME,
    TYPE_META_FIELDS,
    Field,
    ListOf,
    Ref,
    type_factory,
)

declare, ref = type_factory("io.k8s.api.autoscaling.v2.")

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
    Field("metrics", ListOf(ref("MetricSpec")), 4, list_type="atomic"),
    Field("behavior", ref("HorizontalPodAutoscalerBehavior"), 5),
)

CrossVersionObjectReference = declare(
    "CrossVersionObjectReference",
    Field("kind", STRING, 1, required=True),
    Field("name", STRING, 2, required=True),
    Field("apiVersion", STRING, 3, omit_zero=True),
)

MetricSpec = declare(
    "MetricSpec",
    Field("type", STRING, 1, required=True, enum=("ContainerResource", "External", "Object", "Pods", "Resource")),
    Field("object", ref("ObjectMetricSource"), 2),
    Field("pods", ref("PodsMetricSource"), 3),
    Field("resource", ref("ResourceMetricSource"), 4),
    Field("containerResource", ref("ContainerResourceMetricSource"), 7),
    Field("external", ref("ExternalMetricSource"), 5),
)

ObjectMetricSource = declare(
    "ObjectMetricSource",
    Field("describedObject", ref("CrossVersionObjectReference"), 1, required=True),
    Field("target", ref("MetricTarget"), 2, required=True),
    Field("metric", ref("MetricIdentifier"), 3, required=True),
)

MetricTarget = declare(
    "MetricTarget",
    Field("type", STRING, 1, required=True, enum=("AverageValue", "Utilization", "Value")),
    Field("value", QUANTITY, 2),
    Field("averageValue", QUANTITY, 3),
    Field("averageUtilization", INT32, 4),
)

MetricIdentifier = declare(
    "MetricIdentifier",
    Field("name", STRING, 1, required=True),
    Field("selector", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"), 2),
)

PodsMetricSource = declare(
    "PodsMetricSource",
    Field("metric", ref("MetricIdentifier"), 1, required=True),
    Field("target", ref("MetricTarget"), 2, required=True),
)

ResourceMetricSource = declare(
    "ResourceMetricSource",
    Field("name", STRING, 1, required=True),
    Field("target", ref("MetricTarget"), 2, required=True),
)

ContainerResourceMetricSource = declare(
    "ContainerResourceMetricSource",
    Field("name", STRING, 1, required=True),
    Field("target", ref("MetricTarget"), 2, required=True),
    Field("container", STRING, 3, required=True),
)

ExternalMetricSource = declare(
    "ExternalMetricSource",
    Field("metric", ref("MetricIdentifier"), 1, required=True),
    Field("target", ref("MetricTarget"), 2, required=True),
)

HorizontalPodAutoscalerBehavior = declare(
    "HorizontalPodAutoscalerBehavior",
    Field("scaleUp", ref("HPAScalingRules"), 1),
    Field("scaleDown", ref("HPAScalingRules"), 2),
)

HPAScalingRules = declare(
    "HPAScalingRules",
    Field("stabilizationWindowSeconds", INT32, 3),
    Field("selectPolicy", STRING, 1, enum=("Disabled", "Max", "Min")),
    Field("policies", ListOf(ref("HPAScalingPolicy")), 2, list_type="atomic"),
)

HPAScalingPolicy = declare(
    "HPAScalingPolicy",
    Field("type", STRING, 1, required=True, enum=("Percent", "Pods")),
    Field("value", INT32, 2, required=True),
    Field("periodSeconds", INT32, 3, required=True),
)

HorizontalPodAutoscalerStatus = declare(
    "HorizontalPodAutoscalerStatus",
    Field("observedGeneration", INT64, 1),
    Field("lastScaleTime", TIME, 2),
    Field("currentReplicas", INT32, 3, omit_zero=True),
    Field("desiredReplicas", INT32, 4, required=True),
    Field("currentMetrics", ListOf(ref("MetricStatus")), 5, list_type="atomic"),
    Field(
        "conditions",
        ListOf(ref("HorizontalPodAutoscalerCondition")),
        6,
        list_type="map",
        map_keys=("type",),
        merge_key="type",
        strategy="merge",
    ),
)

MetricStatus = declare(
    "MetricStatus",
    Field("type", STRING, 1, required=True),
    Field("object", ref("ObjectMetricStatus"), 2),
    Field("pods", ref("PodsMetricStatus"), 3),
    Field("resource", ref("ResourceMetricStatus"), 4),
    Field("containerResource", ref("ContainerResourceMetricStatus"), 7),
    Field("external", ref("ExternalMetricStatus"), 5),
)

ObjectMetricStatus = declare(
    "ObjectMetricStatus",
    Field("metric", ref("MetricIdentifier"), 1, required=True),
    Field("current", ref("MetricValueStatus"), 2, required=True),
    Field("describedObject", ref("CrossVersionObjectReference"), 3, required=True),
)

MetricValueStatus = declare(
    "MetricValueStatus",
    Field("value", QUANTITY, 1),
    Field("averageValue", QUANTITY, 2),
    Field("averageUtilization", INT32, 3),
)

PodsMetricStatus = declare(
    "PodsMetricStatus",
    Field("metric", ref("MetricIdentifier"), 1, required=True),
    Field("current", ref("MetricValueStatus"), 2, required=True),
)

ResourceMetricStatus = declare(
    "ResourceMetricStatus",
    Field("name", STRING, 1, required=True),
    Field("current", ref("MetricValueStatus"), 2, required=True),
)

ContainerResourceMetricStatus = declare(
    "ContainerResourceMetricStatus",
    Field("name", STRING, 1, required=True),
    Field("current", ref("MetricValueStatus"), 2, required=True),
    Field("container", STRING, 3, required=True),
)

ExternalMetricStatus = declare(
    "ExternalMetricStatus",
    Field("metric", ref("MetricIdentifier"), 1, required=True),
    Field("current", ref("MetricValueStatus"), 2, required=True),
)

HorizontalPodAutoscalerCondition = declare(
    "HorizontalPodAutoscalerCondition",
    Field("type", STRING, 1, required=True),
    Field("status", STRING, 2, required=True),
    Field("lastTransitionTime", TIME, 3),
    Field("reason", STRING, 4, omit_zero=True),
    Field("message", STRING, 5, omit_zero=True),
)

TYPES = (
    HorizontalPodAutoscaler,
    HorizontalPodAutoscalerSpec,
    CrossVersionObjectReference,
    MetricSpec,
    ObjectMetricSource,
    MetricTarget,
    MetricIdentifier,
    PodsMetricSource,
    ResourceMetricSource,
    ContainerResourceMetricSource,
    ExternalMetricSource,
    HorizontalPodAutoscalerBehavior,
    HPAScalingRules,
    HPAScalingPolicy,
    HorizontalPodAutoscalerStatus,
    MetricStatus,
    ObjectMetricStatus,
    MetricValueStatus,
    PodsMetricStatus,
    ResourceMetricStatus,
    ContainerResourceMetricStatus,
    ExternalMetricStatus,
    HorizontalPodAutoscalerCondition,
)
