"""apps/v1 workloads: Deployment, ReplicaSet, StatefulSet, DaemonSet, ControllerRevision.

Field names, protobuf numbers and list/patch markers match Kubernetes v1.32's generated.proto and types.go,
so JSON, protobuf and patch semantics agree with kube-apiserver.
"""

from api.schema import (
    BOOL,
    FREE_OBJECT,
    INT32,
    INT64,
    INT_OR_STRING,
    STRING,
    TIME,
    TYPE_META_FIELDS,
    Field,
    ListOf,
    Ref,
    type_factory,
)

declare, ref = type_factory("io.k8s.api.apps.v1.")

Deployment = declare(
    "Deployment",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("DeploymentSpec"), 2, description="The desired state."),
    Field("status", ref("DeploymentStatus"), 3, description="The most recently observed state, written by the system."),
    description="Declarative updates for pods via ReplicaSets: rolling updates, rollbacks, scaling.",
)

DeploymentSpec = declare(
    "DeploymentSpec",
    Field("replicas", INT32, 1, default=1, description="The number of desired pods."),
    Field(
        "selector",
        Ref("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"),
        2,
        required=True,
        description="Labels of the pods this Deployment manages; must match the template.",
    ),
    Field(
        "template",
        Ref("io.k8s.api.core.v1.PodTemplateSpec"),
        3,
        required=True,
        description="The pods the Deployment creates.",
    ),
    Field(
        "strategy",
        ref("DeploymentStrategy"),
        4,
        default={},
        strategy="retainKeys",
        description="How old pods are replaced by new ones.",
    ),
    Field("minReadySeconds", INT32, 5, omit_zero=True),
    Field("revisionHistoryLimit", INT32, 6, default=10, description="How many old ReplicaSets to keep for rollback."),
    Field("paused", BOOL, 7, omit_zero=True, description="Stops the controller from rolling out template changes."),
    Field("progressDeadlineSeconds", INT32, 9, default=600),
    description="The desired state of a Deployment.",
)

DeploymentStrategy = declare(
    "DeploymentStrategy",
    Field("type", STRING, 1, default="RollingUpdate", enum=("Recreate", "RollingUpdate"), omit_zero=True),
    Field("rollingUpdate", ref("RollingUpdateDeployment"), 2),
    description="How a Deployment replaces old pods with new ones.",
)

RollingUpdateDeployment = declare(
    "RollingUpdateDeployment",
    Field("maxUnavailable", INT_OR_STRING, 1, default="25%"),
    Field("maxSurge", INT_OR_STRING, 2, default="25%"),
)

DeploymentStatus = declare(
    "DeploymentStatus",
    Field("observedGeneration", INT64, 1, omit_zero=True),
    Field("replicas", INT32, 2, omit_zero=True),
    Field("updatedReplicas", INT32, 3, omit_zero=True),
    Field("readyReplicas", INT32, 7, omit_zero=True),
    Field("availableReplicas", INT32, 4, omit_zero=True),
    Field("unavailableReplicas", INT32, 5, omit_zero=True),
    Field(
        "conditions",
        ListOf(ref("DeploymentCondition")),
        6,
        list_type="map",
        map_keys=("type",),
        merge_key="type",
        strategy="merge",
    ),
    Field("collisionCount", INT32, 8),
)

DeploymentCondition = declare(
    "DeploymentCondition",
    Field("type", STRING, 1, required=True),
    Field("status", STRING, 2, required=True),
    Field("lastUpdateTime", TIME, 6),
    Field("lastTransitionTime", TIME, 7),
    Field("reason", STRING, 4, omit_zero=True),
    Field("message", STRING, 5, omit_zero=True),
)

ReplicaSet = declare(
    "ReplicaSet",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("ReplicaSetSpec"), 2, description="The desired state."),
    Field("status", ref("ReplicaSetStatus"), 3, description="The most recently observed state, written by the system."),
    description="Keeps a set number of pods matching its selector running.",
)

ReplicaSetSpec = declare(
    "ReplicaSetSpec",
    Field("replicas", INT32, 1, default=1),
    Field("minReadySeconds", INT32, 4, omit_zero=True),
    Field("selector", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"), 2, required=True),
    Field("template", Ref("io.k8s.api.core.v1.PodTemplateSpec"), 3),
)

ReplicaSetStatus = declare(
    "ReplicaSetStatus",
    Field("replicas", INT32, 1, required=True),
    Field("fullyLabeledReplicas", INT32, 2, omit_zero=True),
    Field("readyReplicas", INT32, 4, omit_zero=True),
    Field("availableReplicas", INT32, 5, omit_zero=True),
    Field("observedGeneration", INT64, 3, omit_zero=True),
    Field(
        "conditions",
        ListOf(ref("ReplicaSetCondition")),
        6,
        list_type="map",
        map_keys=("type",),
        merge_key="type",
        strategy="merge",
    ),
)

ReplicaSetCondition = declare(
    "ReplicaSetCondition",
    Field("type", STRING, 1, required=True),
    Field("status", STRING, 2, required=True),
    Field("lastTransitionTime", TIME, 3),
    Field("reason", STRING, 4, omit_zero=True),
    Field("message", STRING, 5, omit_zero=True),
)

StatefulSet = declare(
    "StatefulSet",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("StatefulSetSpec"), 2, description="The desired state."),
    Field(
        "status", ref("StatefulSetStatus"), 3, description="The most recently observed state, written by the system."
    ),
    description="Pods with stable names, ordered rollout and per-pod persistent storage.",
)

StatefulSetSpec = declare(
    "StatefulSetSpec",
    Field("replicas", INT32, 1, default=1),
    Field("selector", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"), 2, required=True),
    Field("template", Ref("io.k8s.api.core.v1.PodTemplateSpec"), 3, required=True),
    Field("volumeClaimTemplates", ListOf(Ref("io.k8s.api.core.v1.PersistentVolumeClaim")), 4, list_type="atomic"),
    Field("serviceName", STRING, 5, required=True),
    Field("podManagementPolicy", STRING, 6, default="OrderedReady", enum=("OrderedReady", "Parallel"), omit_zero=True),
    Field("updateStrategy", ref("StatefulSetUpdateStrategy"), 7, default={}),
    Field("revisionHistoryLimit", INT32, 8, default=10),
    Field("minReadySeconds", INT32, 9, omit_zero=True),
    Field(
        "persistentVolumeClaimRetentionPolicy", ref("StatefulSetPersistentVolumeClaimRetentionPolicy"), 10, default={}
    ),
    Field("ordinals", ref("StatefulSetOrdinals"), 11),
)

StatefulSetUpdateStrategy = declare(
    "StatefulSetUpdateStrategy",
    Field("type", STRING, 1, default="RollingUpdate", enum=("OnDelete", "RollingUpdate"), omit_zero=True),
    Field("rollingUpdate", ref("RollingUpdateStatefulSetStrategy"), 2),
)

RollingUpdateStatefulSetStrategy = declare(
    "RollingUpdateStatefulSetStrategy",
    Field("partition", INT32, 1, default=0),
    Field("maxUnavailable", INT_OR_STRING, 2),
)

StatefulSetPersistentVolumeClaimRetentionPolicy = declare(
    "StatefulSetPersistentVolumeClaimRetentionPolicy",
    Field("whenDeleted", STRING, 1, default="Retain", enum=("Delete", "Retain"), omit_zero=True),
    Field("whenScaled", STRING, 2, default="Retain", enum=("Delete", "Retain"), omit_zero=True),
)

StatefulSetOrdinals = declare(
    "StatefulSetOrdinals",
    Field("start", INT32, 1),
)

StatefulSetStatus = declare(
    "StatefulSetStatus",
    Field("observedGeneration", INT64, 1, omit_zero=True),
    Field("replicas", INT32, 2, required=True),
    Field("readyReplicas", INT32, 3, omit_zero=True),
    Field("currentReplicas", INT32, 4, omit_zero=True),
    Field("updatedReplicas", INT32, 5, omit_zero=True),
    Field("currentRevision", STRING, 6, omit_zero=True),
    Field("updateRevision", STRING, 7, omit_zero=True),
    Field("collisionCount", INT32, 9),
    Field(
        "conditions",
        ListOf(ref("StatefulSetCondition")),
        10,
        list_type="map",
        map_keys=("type",),
        merge_key="type",
        strategy="merge",
    ),
    Field("availableReplicas", INT32, 11),
)

StatefulSetCondition = declare(
    "StatefulSetCondition",
    Field("type", STRING, 1, required=True),
    Field("status", STRING, 2, required=True),
    Field("lastTransitionTime", TIME, 3),
    Field("reason", STRING, 4, omit_zero=True),
    Field("message", STRING, 5, omit_zero=True),
)

DaemonSet = declare(
    "DaemonSet",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("DaemonSetSpec"), 2, description="The desired state."),
    Field("status", ref("DaemonSetStatus"), 3, description="The most recently observed state, written by the system."),
    description="Runs one copy of a pod on every (selected) node.",
)

DaemonSetSpec = declare(
    "DaemonSetSpec",
    Field("selector", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"), 1, required=True),
    Field("template", Ref("io.k8s.api.core.v1.PodTemplateSpec"), 2, required=True),
    Field("updateStrategy", ref("DaemonSetUpdateStrategy"), 3, default={}),
    Field("minReadySeconds", INT32, 4, omit_zero=True),
    Field("revisionHistoryLimit", INT32, 6, default=10),
)

DaemonSetUpdateStrategy = declare(
    "DaemonSetUpdateStrategy",
    Field("type", STRING, 1, default="RollingUpdate", enum=("OnDelete", "RollingUpdate"), omit_zero=True),
    Field("rollingUpdate", ref("RollingUpdateDaemonSet"), 2),
)

RollingUpdateDaemonSet = declare(
    "RollingUpdateDaemonSet",
    Field("maxUnavailable", INT_OR_STRING, 1, default=1),
    Field("maxSurge", INT_OR_STRING, 2, default=0),
)

DaemonSetStatus = declare(
    "DaemonSetStatus",
    Field("currentNumberScheduled", INT32, 1, required=True),
    Field("numberMisscheduled", INT32, 2, required=True),
    Field("desiredNumberScheduled", INT32, 3, required=True),
    Field("numberReady", INT32, 4, required=True),
    Field("observedGeneration", INT64, 5, omit_zero=True),
    Field("updatedNumberScheduled", INT32, 6, omit_zero=True),
    Field("numberAvailable", INT32, 7, omit_zero=True),
    Field("numberUnavailable", INT32, 8, omit_zero=True),
    Field("collisionCount", INT32, 9),
    Field(
        "conditions",
        ListOf(ref("DaemonSetCondition")),
        10,
        list_type="map",
        map_keys=("type",),
        merge_key="type",
        strategy="merge",
    ),
)

DaemonSetCondition = declare(
    "DaemonSetCondition",
    Field("type", STRING, 1, required=True),
    Field("status", STRING, 2, required=True),
    Field("lastTransitionTime", TIME, 3),
    Field("reason", STRING, 4, omit_zero=True),
    Field("message", STRING, 5, omit_zero=True),
)

ControllerRevision = declare(
    "ControllerRevision",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("data", FREE_OBJECT, 2),
    Field("revision", INT64, 3, required=True),
    description="An immutable snapshot of a DaemonSet or StatefulSet template, used for rollbacks.",
)

TYPES = (
    Deployment,
    DeploymentSpec,
    DeploymentStrategy,
    RollingUpdateDeployment,
    DeploymentStatus,
    DeploymentCondition,
    ReplicaSet,
    ReplicaSetSpec,
    ReplicaSetStatus,
    ReplicaSetCondition,
    StatefulSet,
    StatefulSetSpec,
    StatefulSetUpdateStrategy,
    RollingUpdateStatefulSetStrategy,
    StatefulSetPersistentVolumeClaimRetentionPolicy,
    StatefulSetOrdinals,
    StatefulSetStatus,
    StatefulSetCondition,
    DaemonSet,
    DaemonSetSpec,
    DaemonSetUpdateStrategy,
    RollingUpdateDaemonSet,
    DaemonSetStatus,
    DaemonSetCondition,
    ControllerRevision,
)
