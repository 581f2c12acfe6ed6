"""storage.k8s.io/v1: StorageClass, CSIDriver, CSINode, VolumeAttachment.

Field names, protobuf numbers and list/patch markers match Kubernetes v1.32's generated.proto and types.go,
so JSON, protobuf and patch semantics agree with kube-apiserver.
"""

from api.schema import (
    BOOL,
    INT32,
    INT64,
    STRING,
    TIME,
    TYPE_META_FIELDS,
    Field,
    ListOf,
    MapOf,
    Ref,
    type_factory,
)

declare, ref = type_factory("io.k8s.api.storage.v1.")

StorageClass = declare(
    "StorageClass",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("provisioner", STRING, 2, required=True),
    Field("parameters", MapOf(STRING), 3),
    Field("reclaimPolicy", STRING, 4, default="Delete", enum=("Delete", "Recycle", "Retain")),
    Field("mountOptions", ListOf(STRING), 5, list_type="atomic"),
    Field("allowVolumeExpansion", BOOL, 6),
    Field("volumeBindingMode", STRING, 7, default="Immediate", enum=("Immediate", "WaitForFirstConsumer")),
    Field("allowedTopologies", ListOf(Ref("io.k8s.api.core.v1.TopologySelectorTerm")), 8, list_type="atomic"),
    description="How dynamically provisioned volumes of a class are created.",
)

CSIDriver = declare(
    "CSIDriver",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("CSIDriverSpec"), 2, required=True, description="The desired state."),
    description="Describes a CSI volume driver installed in the cluster.",
)

CSIDriverSpec = declare(
    "CSIDriverSpec",
    Field("attachRequired", BOOL, 1),
    Field("podInfoOnMount", BOOL, 2),
    Field("volumeLifecycleModes", ListOf(STRING), 3, list_type="set"),
    Field("storageCapacity", BOOL, 4),
    Field("fsGroupPolicy", STRING, 5),
    Field("tokenRequests", ListOf(ref("TokenRequest")), 6, list_type="atomic"),
    Field("requiresRepublish", BOOL, 7),
    Field("seLinuxMount", BOOL, 8),
)

TokenRequest = declare(
    "TokenRequest",
    Field("audience", STRING, 1, required=True),
    Field("expirationSeconds", INT64, 2),
    description="Requests a token for a service account.",
)

CSINode = declare(
    "CSINode",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("CSINodeSpec"), 2, required=True, description="The desired state."),
    description="The CSI drivers installed on a node.",
)

CSINodeSpec = declare(
    "CSINodeSpec",
    Field(
        "drivers",
        ListOf(ref("CSINodeDriver")),
        1,
        list_type="map",
        map_keys=("name",),
        merge_key="name",
        strategy="merge",
    ),
)

CSINodeDriver = declare(
    "CSINodeDriver",
    Field("name", STRING, 1, required=True),
    Field("nodeID", STRING, 2, required=True),
    Field("topologyKeys", ListOf(STRING), 3, list_type="atomic"),
    Field("allocatable", ref("VolumeNodeResources"), 4),
)

VolumeNodeResources = declare(
    "VolumeNodeResources",
    Field("count", INT32, 1),
)

VolumeAttachment = declare(
    "VolumeAttachment",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("VolumeAttachmentSpec"), 2, required=True, description="The desired state."),
    Field(
        "status",
        ref("VolumeAttachmentStatus"),
        3,
        description="The most recently observed state, written by the system.",
    ),
    description="A request to attach a volume to a node.",
)

VolumeAttachmentSpec = declare(
    "VolumeAttachmentSpec",
    Field("attacher", STRING, 1, required=True),
    Field("source", ref("VolumeAttachmentSource"), 2, required=True),
    Field("nodeName", STRING, 3, required=True),
)

VolumeAttachmentSource = declare(
    "VolumeAttachmentSource",
    Field("persistentVolumeName", STRING, 1),
    Field("inlineVolumeSpec", Ref("io.k8s.api.core.v1.PersistentVolumeSpec"), 2),
)

VolumeAttachmentStatus = declare(
    "VolumeAttachmentStatus",
    Field("attached", BOOL, 1, required=True),
    Field("attachmentMetadata", MapOf(STRING), 2),
    Field("attachError", ref("VolumeError"), 3),
    Field("detachError", ref("VolumeError"), 4),
)

VolumeError = declare(
    "VolumeError",
    Field("time", TIME, 1),
    Field("message", STRING, 2, omit_zero=True),
)

TYPES = (
    StorageClass,
    CSIDriver,
    CSIDriverSpec,
    TokenRequest,
    CSINode,
    CSINodeSpec,
    CSINodeDriver,
    VolumeNodeResources,
    VolumeAttachment,
    VolumeAttachmentSpec,
    VolumeAttachmentSource,
    VolumeAttachmentStatus,
    VolumeError,
)
