"""core/v1 (the "" group): pods and their specs, services, nodes, volumes, config, quotas, events.

Field names, protobuf numbers and list/patch markers match Kubernetes v1.32's generated.proto and types.go,
so JSON, protobuf and patch semantics agree with kube-apiserver.
"""

from api.schema import (
    BOOL,
    BYTES,
    INT32,
    INT64,
    INT_OR_STRING,
    MICROTIME,
    QUANTITY,
    STRING,
    TIME,
    TYPE_META_FIELDS,
    Field,
    ListOf,
    MapOf,
    Ref,
    type_factory,
)

declare, ref = type_factory("io.k8s.api.core.v1.")

Namespace = declare(
    "Namespace",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("NamespaceSpec"), 2, description="The desired state."),
    Field("status", ref("NamespaceStatus"), 3, description="The most recently observed state, written by the system."),
    description="A scope for names: most objects live in exactly one namespace.",
)

NamespaceSpec = declare(
    "NamespaceSpec",
    Field("finalizers", ListOf(STRING), 1, list_type="atomic"),
)

NamespaceStatus = declare(
    "NamespaceStatus",
    Field("phase", STRING, 1, enum=("Active", "Terminating"), omit_zero=True),
    Field(
        "conditions",
        ListOf(ref("NamespaceCondition")),
        2,
        list_type="map",
        map_keys=("type",),
        merge_key="type",
        strategy="merge",
    ),
)

NamespaceCondition = declare(
    "NamespaceCondition",
    Field("type", STRING, 1, required=True),
    Field("status", STRING, 2, required=True),
    Field("lastTransitionTime", TIME, 4),
    Field("reason", STRING, 5, omit_zero=True),
    Field("message", STRING, 6, omit_zero=True),
)

Pod = declare(
    "Pod",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("PodSpec"), 2, description="The desired state."),
    Field("status", ref("PodStatus"), 3, description="The most recently observed state, written by the system."),
    description="A group of containers that share network and storage and are scheduled onto one node together.",
)

PodSpec = declare(
    "PodSpec",
    Field(
        "volumes",
        ListOf(ref("Volume")),
        1,
        list_type="map",
        map_keys=("name",),
        merge_key="name",
        strategy="merge,retainKeys",
        description="Volumes the pod's containers can mount.",
    ),
    Field(
        "initContainers",
        ListOf(ref("Container")),
        20,
        list_type="map",
        map_keys=("name",),
        merge_key="name",
        strategy="merge",
        description="Containers run to completion, in order, before the app containers start.",
    ),
    Field(
        "containers",
        ListOf(ref("Container")),
        2,
        required=True,
        list_type="map",
        map_keys=("name",),
        merge_key="name",
        strategy="merge",
        description="The containers of the pod; at least one.",
    ),
    Field(
        "ephemeralContainers",
        ListOf(ref("EphemeralContainer")),
        34,
        list_type="map",
        map_keys=("name",),
        merge_key="name",
        strategy="merge",
    ),
    Field(
        "restartPolicy",
        STRING,
        3,
        default="Always",
        enum=("Always", "OnFailure", "Never"),
        omit_zero=True,
        description="When containers are restarted: Always, OnFailure or Never.",
    ),
    Field(
        "terminationGracePeriodSeconds",
        INT64,
        4,
        default=30,
        description="Seconds between the termination signal and the kill on deletion.",
    ),
    Field("activeDeadlineSeconds", INT64, 5),
    Field(
        "dnsPolicy",
        STRING,
        6,
        default="ClusterFirst",
        enum=("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"),
        omit_zero=True,
        description="How the pod's DNS resolution is configured.",
    ),
    Field(
        "nodeSelector",
        MapOf(STRING),
        7,
        map_type="atomic",
        description="Labels a node must have for the pod to be scheduled there.",
    ),
    Field("serviceAccountName", STRING, 8, omit_zero=True, description="The ServiceAccount the pod runs as."),
    Field("serviceAccount", STRING, 9, omit_zero=True),
    Field("automountServiceAccountToken", BOOL, 21),
    Field("nodeName", STRING, 10, omit_zero=True, description="The node the pod runs on; set by the scheduler."),
    Field("hostNetwork", BOOL, 11, omit_zero=True, description="Run in the node's network namespace."),
    Field("hostPID", BOOL, 12, omit_zero=True),
    Field("hostIPC", BOOL, 13, omit_zero=True),
    Field("shareProcessNamespace", BOOL, 27),
    Field("securityContext", ref("PodSecurityContext"), 14, default={}),
    Field(
        "imagePullSecrets",
        ListOf(ref("LocalObjectReference")),
        15,
        list_type="map",
        map_keys=("name",),
        merge_key="name",
        strategy="merge",
    ),
    Field("hostname", STRING, 16, omit_zero=True),
    Field("subdomain", STRING, 17, omit_zero=True),
    Field("affinity", ref("Affinity"), 18, description="Scheduling constraints relative to nodes and other pods."),
    Field(
        "schedulerName",
        STRING,
        19,
        default="default-scheduler",
        omit_zero=True,
        description="The scheduler that places this pod.",
    ),
    Field("tolerations", ListOf(ref("Toleration")), 22, list_type="atomic", description="Taints the pod tolerates."),
    Field(
        "hostAliases", ListOf(ref("HostAlias")), 23, list_type="map", map_keys=("ip",), merge_key="ip", strategy="merge"
    ),
    Field(
        "priorityClassName", STRING, 24, omit_zero=True, description="The PriorityClass that sets the pod's priority."
    ),
    Field("priority", INT32, 25),
    Field("dnsConfig", ref("PodDNSConfig"), 26),
    Field("readinessGates", ListOf(ref("PodReadinessGate")), 28, list_type="atomic"),
    Field("runtimeClassName", STRING, 29),
    Field("enableServiceLinks", BOOL, 30, default=True),
    Field("preemptionPolicy", STRING, 31, enum=("Never", "PreemptLowerPriority")),
    Field("overhead", MapOf(QUANTITY), 32),
    Field(
        "topologySpreadConstraints",
        ListOf(ref("TopologySpreadConstraint")),
        33,
        list_type="map",
        map_keys=("topologyKey", "whenUnsatisfiable"),
        merge_key="topologyKey",
        strategy="merge",
    ),
    Field("setHostnameAsFQDN", BOOL, 35),
    Field("os", ref("PodOS"), 36),
    Field("hostUsers", BOOL, 37),
    Field(
        "schedulingGates",
        ListOf(ref("PodSchedulingGate")),
        38,
        list_type="map",
        map_keys=("name",),
        merge_key="name",
        strategy="merge",
    ),
    Field(
        "resourceClaims",
        ListOf(ref("PodResourceClaim")),
        39,
        list_type="map",
        map_keys=("name",),
        merge_key="name",
        strategy="merge,retainKeys",
    ),
    Field("resources", ref("ResourceRequirements"), 40),
    description="The desired state of a pod.",
)

Volume = declare(
    "Volume",
    Field("name", STRING, 1, required=True),
    Field("hostPath", ref("HostPathVolumeSource"), 1, embedded_in=2),
    Field("emptyDir", ref("EmptyDirVolumeSource"), 2, embedded_in=2),
    Field("gcePersistentDisk", ref("GCEPersistentDiskVolumeSource"), 3, embedded_in=2),
    Field("awsElasticBlockStore", ref("AWSElasticBlockStoreVolumeSource"), 4, embedded_in=2),
    Field("gitRepo", ref("GitRepoVolumeSource"), 5, embedded_in=2),
    Field("secret", ref("SecretVolumeSource"), 6, embedded_in=2),
    Field("nfs", ref("NFSVolumeSource"), 7, embedded_in=2),
    Field("iscsi", ref("ISCSIVolumeSource"), 8, embedded_in=2),
    Field("glusterfs", ref("GlusterfsVolumeSource"), 9, embedded_in=2),
    Field("persistentVolumeClaim", ref("PersistentVolumeClaimVolumeSource"), 10, embedded_in=2),
    Field("rbd", ref("RBDVolumeSource"), 11, embedded_in=2),
    Field("flexVolume", ref("FlexVolumeSource"), 12, embedded_in=2),
    Field("cinder", ref("CinderVolumeSource"), 13, embedded_in=2),
    Field("cephfs", ref("CephFSVolumeSource"), 14, embedded_in=2),
    Field("flocker", ref("FlockerVolumeSource"), 15, embedded_in=2),
    Field("downwardAPI", ref("DownwardAPIVolumeSource"), 16, embedded_in=2),
    Field("fc", ref("FCVolumeSource"), 17, embedded_in=2),
    Field("azureFile", ref("AzureFileVolumeSource"), 18, embedded_in=2),
    Field("configMap", ref("ConfigMapVolumeSource"), 19, embedded_in=2),
    Field("vsphereVolume", ref("VsphereVirtualDiskVolumeSource"), 20, embedded_in=2),
    Field("quobyte", ref("QuobyteVolumeSource"), 21, embedded_in=2),
    Field("azureDisk", ref("AzureDiskVolumeSource"), 22, embedded_in=2),
    Field("photonPersistentDisk", ref("PhotonPersistentDiskVolumeSource"), 23, embedded_in=2),
    Field("projected", ref("ProjectedVolumeSource"), 26, embedded_in=2),
    Field("portworxVolume", ref("PortworxVolumeSource"), 24, embedded_in=2),
    Field("scaleIO", ref("ScaleIOVolumeSource"), 25, embedded_in=2),
    Field("storageos", ref("StorageOSVolumeSource"), 27, embedded_in=2),
    Field("csi", ref("CSIVolumeSource"), 28, embedded_in=2),
    Field("ephemeral", ref("EphemeralVolumeSource"), 29, embedded_in=2),
    Field("image", ref("ImageVolumeSource"), 30, embedded_in=2),
    description="A named volume that containers in the pod can mount.",
)

HostPathVolumeSource = declare(
    "HostPathVolumeSource",
    Field("path", STRING, 1, required=True),
    Field(
        "type",
        STRING,
        2,
        default="",
        enum=("", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"),
    ),
)

EmptyDirVolumeSource = declare(
    "EmptyDirVolumeSource",
    Field("medium", STRING, 1, omit_zero=True),
    Field("sizeLimit", QUANTITY, 2),
)

GCEPersistentDiskVolumeSource = declare(
    "GCEPersistentDiskVolumeSource",
    Field("pdName", STRING, 1, required=True),
    Field("fsType", STRING, 2, omit_zero=True),
    Field("partition", INT32, 3, omit_zero=True),
    Field("readOnly", BOOL, 4, omit_zero=True),
)

AWSElasticBlockStoreVolumeSource = declare(
    "AWSElasticBlockStoreVolumeSource",
    Field("volumeID", STRING, 1, required=True),
    Field("fsType", STRING, 2, omit_zero=True),
    Field("partition", INT32, 3, omit_zero=True),
    Field("readOnly", BOOL, 4, omit_zero=True),
)

GitRepoVolumeSource = declare(
    "GitRepoVolumeSource",
    Field("repository", STRING, 1, required=True),
    Field("revision", STRING, 2, omit_zero=True),
    Field("directory", STRING, 3, omit_zero=True),
)

SecretVolumeSource = declare(
    "SecretVolumeSource",
    Field("secretName", STRING, 1, omit_zero=True),
    Field("items", ListOf(ref("KeyToPath")), 2, list_type="atomic"),
    Field("defaultMode", INT32, 3, default=420),
    Field("optional", BOOL, 4),
)

KeyToPath = declare(
    "KeyToPath",
    Field("key", STRING, 1, required=True),
    Field("path", STRING, 2, required=True),
    Field("mode", INT32, 3),
)

NFSVolumeSource = declare(
    "NFSVolumeSource",
    Field("server", STRING, 1, required=True),
    Field("path", STRING, 2, required=True),
    Field("readOnly", BOOL, 3, omit_zero=True),
)

ISCSIVolumeSource = declare(
    "ISCSIVolumeSource",
    Field("targetPortal", STRING, 1, required=True),
    Field("iqn", STRING, 2, required=True),
    Field("lun", INT32, 3, required=True),
    Field("iscsiInterface", STRING, 4, omit_zero=True),
    Field("fsType", STRING, 5, omit_zero=True),
    Field("readOnly", BOOL, 6, omit_zero=True),
    Field("portals", ListOf(STRING), 7, list_type="atomic"),
    Field("chapAuthDiscovery", BOOL, 8, omit_zero=True),
    Field("chapAuthSession", BOOL, 11, omit_zero=True),
    Field("secretRef", ref("LocalObjectReference"), 10),
    Field("initiatorName", STRING, 12),
)

LocalObjectReference = declare(
    "LocalObjectReference",
    Field("name", STRING, 1, omit_zero=True),
    map_type="atomic",
)

GlusterfsVolumeSource = declare(
    "GlusterfsVolumeSource",
    Field("endpoints", STRING, 1, required=True),
    Field("path", STRING, 2, required=True),
    Field("readOnly", BOOL, 3, omit_zero=True),
)

PersistentVolumeClaimVolumeSource = declare(
    "PersistentVolumeClaimVolumeSource",
    Field("claimName", STRING, 1, required=True),
    Field("readOnly", BOOL, 2, omit_zero=True),
)

RBDVolumeSource = declare(
    "RBDVolumeSource",
    Field("monitors", ListOf(STRING), 1, required=True, list_type="atomic"),
    Field("image", STRING, 2, required=True),
    Field("fsType", STRING, 3, omit_zero=True),
    Field("pool", STRING, 4, omit_zero=True),
    Field("user", STRING, 5, omit_zero=True),
    Field("keyring", STRING, 6, omit_zero=True),
    Field("secretRef", ref("LocalObjectReference"), 7),
    Field("readOnly", BOOL, 8, omit_zero=True),
)

FlexVolumeSource = declare(
    "FlexVolumeSource",
    Field("driver", STRING, 1, required=True),
    Field("fsType", STRING, 2, omit_zero=True),
    Field("secretRef", ref("LocalObjectReference"), 3),
    Field("readOnly", BOOL, 4, omit_zero=True),
    Field("options", MapOf(STRING), 5),
)

CinderVolumeSource = declare(
    "CinderVolumeSource",
    Field("volumeID", STRING, 1, required=True),
    Field("fsType", STRING, 2, omit_zero=True),
    Field("readOnly", BOOL, 3, omit_zero=True),
    Field("secretRef", ref("LocalObjectReference"), 4),
)

CephFSVolumeSource = declare(
    "CephFSVolumeSource",
    Field("monitors", ListOf(STRING), 1, required=True, list_type="atomic"),
    Field("path", STRING, 2, omit_zero=True),
    Field("user", STRING, 3, omit_zero=True),
    Field("secretFile", STRING, 4, omit_zero=True),
    Field("secretRef", ref("LocalObjectReference"), 5),
    Field("readOnly", BOOL, 6, omit_zero=True),
)

FlockerVolumeSource = declare(
    "FlockerVolumeSource",
    Field("datasetName", STRING, 1, omit_zero=True),
    Field("datasetUUID", STRING, 2, omit_zero=True),
)

DownwardAPIVolumeSource = declare(
    "DownwardAPIVolumeSource",
    Field("items", ListOf(ref("DownwardAPIVolumeFile")), 1, list_type="atomic"),
    Field("defaultMode", INT32, 2, default=420),
)

DownwardAPIVolumeFile = declare(
    "DownwardAPIVolumeFile",
    Field("path", STRING, 1, required=True),
    Field("fieldRef", ref("ObjectFieldSelector"), 2),
    Field("resourceFieldRef", ref("ResourceFieldSelector"), 3),
    Field("mode", INT32, 4),
)

ObjectFieldSelector = declare(
    "ObjectFieldSelector",
    Field("apiVersion", STRING, 1, default="v1", omit_zero=True),
    Field("fieldPath", STRING, 2, required=True),
    map_type="atomic",
)

ResourceFieldSelector = declare(
    "ResourceFieldSelector",
    Field("containerName", STRING, 1, omit_zero=True),
    Field("resource", STRING, 2, required=True),
    Field("divisor", QUANTITY, 3),
    map_type="atomic",
)

FCVolumeSource = declare(
    "FCVolumeSource",
    Field("targetWWNs", ListOf(STRING), 1, list_type="atomic"),
    Field("lun", INT32, 2),
    Field("fsType", STRING, 3, omit_zero=True),
    Field("readOnly", BOOL, 4, omit_zero=True),
    Field("wwids", ListOf(STRING), 5, list_type="atomic"),
)

AzureFileVolumeSource = declare(
    "AzureFileVolumeSource",
    Field("secretName", STRING, 1, required=True),
    Field("shareName", STRING, 2, required=True),
    Field("readOnly", BOOL, 3, omit_zero=True),
)

ConfigMapVolumeSource = declare(
    "ConfigMapVolumeSource",
    Field("name", STRING, 1, omit_zero=True, embedded_in=1),
    Field("items", ListOf(ref("KeyToPath")), 2, list_type="atomic"),
    Field("defaultMode", INT32, 3, default=420),
    Field("optional", BOOL, 4),
)

VsphereVirtualDiskVolumeSource = declare(
    "VsphereVirtualDiskVolumeSource",
    Field("volumePath", STRING, 1, required=True),
    Field("fsType", STRING, 2, omit_zero=True),
    Field("storagePolicyName", STRING, 3, omit_zero=True),
    Field("storagePolicyID", STRING, 4, omit_zero=True),
)

QuobyteVolumeSource = declare(
    "QuobyteVolumeSource",
    Field("registry", STRING, 1, required=True),
    Field("volume", STRING, 2, required=True),
    Field("readOnly", BOOL, 3, omit_zero=True),
    Field("user", STRING, 4, omit_zero=True),
    Field("group", STRING, 5, omit_zero=True),
    Field("tenant", STRING, 6, omit_zero=True),
)

AzureDiskVolumeSource = declare(
    "AzureDiskVolumeSource",
    Field("diskName", STRING, 1, required=True),
    Field("diskURI", STRING, 2, required=True),
    Field("cachingMode", STRING, 3),
    Field("fsType", STRING, 4),
    Field("readOnly", BOOL, 5),
    Field("kind", STRING, 6),
)

PhotonPersistentDiskVolumeSource = declare(
    "PhotonPersistentDiskVolumeSource",
    Field("pdID", STRING, 1, required=True),
    Field("fsType", STRING, 2, omit_zero=True),
)

ProjectedVolumeSource = declare(
    "ProjectedVolumeSource",
    Field("sources", ListOf(ref("VolumeProjection")), 1, list_type="atomic"),
    Field("defaultMode", INT32, 2, default=420),
)

VolumeProjection = declare(
    "VolumeProjection",
    Field("secret", ref("SecretProjection"), 1),
    Field("downwardAPI", ref("DownwardAPIProjection"), 2),
    Field("configMap", ref("ConfigMapProjection"), 3),
    Field("serviceAccountToken", ref("ServiceAccountTokenProjection"), 4),
    Field("clusterTrustBundle", ref("ClusterTrustBundleProjection"), 5),
)

SecretProjection = declare(
    "SecretProjection",
    Field("name", STRING, 1, omit_zero=True, embedded_in=1),
    Field("items", ListOf(ref("KeyToPath")), 2, list_type="atomic"),
    Field("optional", BOOL, 4),
)

DownwardAPIProjection = declare(
    "DownwardAPIProjection",
    Field("items", ListOf(ref("DownwardAPIVolumeFile")), 1, list_type="atomic"),
)

ConfigMapProjection = declare(
    "ConfigMapProjection",
    Field("name", STRING, 1, omit_zero=True, embedded_in=1),
    Field("items", ListOf(ref("KeyToPath")), 2, list_type="atomic"),
    Field("optional", BOOL, 4),
)

ServiceAccountTokenProjection = declare(
    "ServiceAccountTokenProjection",
    Field("audience", STRING, 1, omit_zero=True),
    Field("expirationSeconds", INT64, 2, default=3600),
    Field("path", STRING, 3, required=True),
)

ClusterTrustBundleProjection = declare(
    "ClusterTrustBundleProjection",
    Field("name", STRING, 1),
    Field("signerName", STRING, 2),
    Field("labelSelector", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"), 3),
    Field("optional", BOOL, 5),
    Field("path", STRING, 4, required=True),
)

PortworxVolumeSource = declare(
    "PortworxVolumeSource",
    Field("volumeID", STRING, 1, required=True),
    Field("fsType", STRING, 2, omit_zero=True),
    Field("readOnly", BOOL, 3, omit_zero=True),
)

ScaleIOVolumeSource = declare(
    "ScaleIOVolumeSource",
    Field("gateway", STRING, 1, required=True),
    Field("system", STRING, 2, required=True),
    Field("secretRef", ref("LocalObjectReference"), 3, required=True),
    Field("sslEnabled", BOOL, 4, omit_zero=True),
    Field("protectionDomain", STRING, 5, omit_zero=True),
    Field("storagePool", STRING, 6, omit_zero=True),
    Field("storageMode", STRING, 7, omit_zero=True),
    Field("volumeName", STRING, 8, omit_zero=True),
    Field("fsType", STRING, 9, omit_zero=True),
    Field("readOnly", BOOL, 10, omit_zero=True),
)

StorageOSVolumeSource = declare(
    "StorageOSVolumeSource",
    Field("volumeName", STRING, 1, omit_zero=True),
    Field("volumeNamespace", STRING, 2, omit_zero=True),
    Field("fsType", STRING, 3, omit_zero=True),
    Field("readOnly", BOOL, 4, omit_zero=True),
    Field("secretRef", ref("LocalObjectReference"), 5),
)

CSIVolumeSource = declare(
    "CSIVolumeSource",
    Field("driver", STRING, 1, required=True),
    Field("readOnly", BOOL, 2),
    Field("fsType", STRING, 3),
    Field("volumeAttributes", MapOf(STRING), 4),
    Field("nodePublishSecretRef", ref("LocalObjectReference"), 5),
)

EphemeralVolumeSource = declare(
    "EphemeralVolumeSource",
    Field("volumeClaimTemplate", ref("PersistentVolumeClaimTemplate"), 1),
)

PersistentVolumeClaimTemplate = declare(
    "PersistentVolumeClaimTemplate",
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("PersistentVolumeClaimSpec"), 2, required=True, description="The desired state."),
)

PersistentVolumeClaimSpec = declare(
    "PersistentVolumeClaimSpec",
    Field("accessModes", ListOf(STRING), 1, list_type="atomic"),
    Field("selector", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"), 4),
    Field("resources", ref("VolumeResourceRequirements"), 2),
    Field("volumeName", STRING, 3, omit_zero=True),
    Field("storageClassName", STRING, 5),
    Field("volumeMode", STRING, 6, default="Filesystem", enum=("Block", "Filesystem")),
    Field("dataSource", ref("TypedLocalObjectReference"), 7),
    Field("dataSourceRef", ref("TypedObjectReference"), 8),
    Field("volumeAttributesClassName", STRING, 9),
)

VolumeResourceRequirements = declare(
    "VolumeResourceRequirements",
    Field("limits", MapOf(QUANTITY), 1),
    Field("requests", MapOf(QUANTITY), 2),
)

TypedLocalObjectReference = declare(
    "TypedLocalObjectReference",
    Field("apiGroup", STRING, 1),
    Field("kind", STRING, 2, required=True),
    Field("name", STRING, 3, required=True),
    map_type="atomic",
)

TypedObjectReference = declare(
    "TypedObjectReference",
    Field("apiGroup", STRING, 1),
    Field("kind", STRING, 2, required=True),
    Field("name", STRING, 3, required=True),
    Field("namespace", STRING, 4),
)

ImageVolumeSource = declare(
    "ImageVolumeSource",
    Field("reference", STRING, 1, omit_zero=True),
    Field("pullPolicy", STRING, 2, omit_zero=True),
)

Container = declare(
    "Container",
    Field("name", STRING, 1, required=True, description="The container's name, unique within the pod (a DNS label)."),
    Field("image", STRING, 2, omit_zero=True, description="The container image reference."),
    Field(
        "command",
        ListOf(STRING),
        3,
        list_type="atomic",
        description="Entrypoint array; replaces the image's ENTRYPOINT.",
    ),
    Field(
        "args",
        ListOf(STRING),
        4,
        list_type="atomic",
        description="Arguments to the entrypoint; replace the image's CMD.",
    ),
    Field("workingDir", STRING, 5, omit_zero=True, description="The container's working directory."),
    Field(
        "ports",
        ListOf(ref("ContainerPort")),
        6,
        list_type="map",
        map_keys=("containerPort", "protocol"),
        merge_key="containerPort",
        strategy="merge",
        description="Ports the container exposes.",
    ),
    Field(
        "envFrom",
        ListOf(ref("EnvFromSource")),
        19,
        list_type="atomic",
        description="Sources (ConfigMaps, Secrets) whose keys become environment variables.",
    ),
    Field(
        "env",
        ListOf(ref("EnvVar")),
        7,
        list_type="map",
        map_keys=("name",),
        merge_key="name",
        strategy="merge",
        description="Environment variables set in the container.",
    ),
    Field(
        "resources",
        ref("ResourceRequirements"),
        8,
        default={},
        description="Compute resources required by the container.",
    ),
    Field("resizePolicy", ListOf(ref("ContainerResizePolicy")), 23, list_type="atomic"),
    Field("restartPolicy", STRING, 24),
    Field(
        "volumeMounts",
        ListOf(ref("VolumeMount")),
        9,
        list_type="map",
        map_keys=("mountPath",),
        merge_key="mountPath",
        strategy="merge",
        description="Pod volumes mounted into the container's filesystem.",
    ),
    Field(
        "volumeDevices",
        ListOf(ref("VolumeDevice")),
        21,
        list_type="map",
        map_keys=("devicePath",),
        merge_key="devicePath",
        strategy="merge",
    ),
    Field("livenessProbe", ref("Probe"), 10, description="Restarts the container when it fails."),
    Field("readinessProbe", ref("Probe"), 11, description="Removes the pod from service endpoints while it fails."),
    Field("startupProbe", ref("Probe"), 22, description="Holds other probes until the container has started."),
    Field("lifecycle", ref("Lifecycle"), 12),
    Field("terminationMessagePath", STRING, 13, default="/dev/termination-log", omit_zero=True),
    Field(
        "terminationMessagePolicy", STRING, 20, default="File", enum=("File", "FallbackToLogsOnError"), omit_zero=True
    ),
    Field(
        "imagePullPolicy",
        STRING,
        14,
        enum=("Always", "IfNotPresent", "Never"),
        omit_zero=True,
        description="When to pull the image: Always, IfNotPresent or Never.",
    ),
    Field("securityContext", ref("SecurityContext"), 15, description="Security options for the container."),
    Field("stdin", BOOL, 16, omit_zero=True),
    Field("stdinOnce", BOOL, 17, omit_zero=True),
    Field("tty", BOOL, 18, omit_zero=True),
    description="A single container in a pod.",
)

ContainerPort = declare(
    "ContainerPort",
    Field("name", STRING, 1, omit_zero=True),
    Field("hostPort", INT32, 2, omit_zero=True),
    Field("containerPort", INT32, 3, required=True),
    Field("protocol", STRING, 4, default="TCP", enum=("TCP", "UDP", "SCTP"), omit_zero=True),
    Field("hostIP", STRING, 5, omit_zero=True),
    description="A network port a container listens on.",
)

EnvFromSource = declare(
    "EnvFromSource",
    Field("prefix", STRING, 1, omit_zero=True),
    Field("configMapRef", ref("ConfigMapEnvSource"), 2),
    Field("secretRef", ref("SecretEnvSource"), 3),
)

ConfigMapEnvSource = declare(
    "ConfigMapEnvSource",
    Field("name", STRING, 1, omit_zero=True, embedded_in=1),
    Field("optional", BOOL, 2),
)

SecretEnvSource = declare(
    "SecretEnvSource",
    Field("name", STRING, 1, omit_zero=True, embedded_in=1),
    Field("optional", BOOL, 2),
)

EnvVar = declare(
    "EnvVar",
    Field("name", STRING, 1, required=True),
    Field("value", STRING, 2, omit_zero=True),
    Field("valueFrom", ref("EnvVarSource"), 3),
    description="An environment variable set in a container.",
)

EnvVarSource = declare(
    "EnvVarSource",
    Field("fieldRef", ref("ObjectFieldSelector"), 1),
    Field("resourceFieldRef", ref("ResourceFieldSelector"), 2),
    Field("configMapKeyRef", ref("ConfigMapKeySelector"), 3),
    Field("secretKeyRef", ref("SecretKeySelector"), 4),
)

ConfigMapKeySelector = declare(
    "ConfigMapKeySelector",
    Field("name", STRING, 1, omit_zero=True, embedded_in=1),
    Field("key", STRING, 2, required=True),
    Field("optional", BOOL, 3),
    map_type="atomic",
)

SecretKeySelector = declare(
    "SecretKeySelector",
    Field("name", STRING, 1, omit_zero=True, embedded_in=1),
    Field("key", STRING, 2, required=True),
    Field("optional", BOOL, 3),
    map_type="atomic",
)

ResourceRequirements = declare(
    "ResourceRequirements",
    Field("limits", MapOf(QUANTITY), 1),
    Field("requests", MapOf(QUANTITY), 2),
    Field("claims", ListOf(ref("ResourceClaim")), 3, list_type="map", map_keys=("name",)),
    description="Compute resources a container requests and may not exceed.",
)

ResourceClaim = declare(
    "ResourceClaim",
    Field("name", STRING, 1, required=True),
    Field("request", STRING, 2, omit_zero=True),
)

ContainerResizePolicy = declare(
    "ContainerResizePolicy",
    Field("resourceName", STRING, 1, required=True),
    Field("restartPolicy", STRING, 2, required=True, enum=("NotRequired", "RestartContainer")),
)

VolumeMount = declare(
    "VolumeMount",
    Field("name", STRING, 1, required=True),
    Field("readOnly", BOOL, 2, omit_zero=True),
    Field("recursiveReadOnly", STRING, 7),
    Field("mountPath", STRING, 3, required=True),
    Field("subPath", STRING, 4, omit_zero=True),
    Field("mountPropagation", STRING, 5, enum=("Bidirectional", "HostToContainer", "None")),
    Field("subPathExpr", STRING, 6, omit_zero=True),
)

VolumeDevice = declare(
    "VolumeDevice",
    Field("name", STRING, 1, required=True),
    Field("devicePath", STRING, 2, required=True),
)

Probe = declare(
    "Probe",
    Field("exec", ref("ExecAction"), 1, embedded_in=1),
    Field("httpGet", ref("HTTPGetAction"), 2, embedded_in=1),
    Field("tcpSocket", ref("TCPSocketAction"), 3, embedded_in=1),
    Field("grpc", ref("GRPCAction"), 4, embedded_in=1),
    Field("initialDelaySeconds", INT32, 2, omit_zero=True),
    Field("timeoutSeconds", INT32, 3, default=1, omit_zero=True),
    Field("periodSeconds", INT32, 4, default=10, omit_zero=True),
    Field("successThreshold", INT32, 5, default=1, omit_zero=True),
    Field("failureThreshold", INT32, 6, default=3, omit_zero=True),
    Field("terminationGracePeriodSeconds", INT64, 7),
    description="A health check run against a container.",
)

ExecAction = declare(
    "ExecAction",
    Field("command", ListOf(STRING), 1, list_type="atomic"),
)

HTTPGetAction = declare(
    "HTTPGetAction",
    Field("path", STRING, 1, omit_zero=True),
    Field("port", INT_OR_STRING, 2, required=True),
    Field("host", STRING, 3, omit_zero=True),
    Field("scheme", STRING, 4, default="HTTP", enum=("HTTP", "HTTPS"), omit_zero=True),
    Field("httpHeaders", ListOf(ref("HTTPHeader")), 5, list_type="atomic"),
)

HTTPHeader = declare(
    "HTTPHeader",
    Field("name", STRING, 1, required=True),
    Field("value", STRING, 2, required=True),
)

TCPSocketAction = declare(
    "TCPSocketAction",
    Field("port", INT_OR_STRING, 1, required=True),
    Field("host", STRING, 2, omit_zero=True),
)

GRPCAction = declare(
    "GRPCAction",
    Field("port", INT32, 1, required=True),
    Field("service", STRING, 2),
)

Lifecycle = declare(
    "Lifecycle",
    Field("postStart", ref("LifecycleHandler"), 1),
    Field("preStop", ref("LifecycleHandler"), 2),
)

LifecycleHandler = declare(
    "LifecycleHandler",
    Field("exec", ref("ExecAction"), 1),
    Field("httpGet", ref("HTTPGetAction"), 2),
    Field("tcpSocket", ref("TCPSocketAction"), 3),
    Field("sleep", ref("SleepAction"), 4),
)

SleepAction = declare(
    "SleepAction",
    Field("seconds", INT64, 1, required=True),
)

SecurityContext = declare(
    "SecurityContext",
    Field("capabilities", ref("Capabilities"), 1),
    Field("privileged", BOOL, 2),
    Field("seLinuxOptions", ref("SELinuxOptions"), 3),
    Field("windowsOptions", ref("WindowsSecurityContextOptions"), 10),
    Field("runAsUser", INT64, 4),
    Field("runAsGroup", INT64, 8),
    Field("runAsNonRoot", BOOL, 5),
    Field("readOnlyRootFilesystem", BOOL, 6),
    Field("allowPrivilegeEscalation", BOOL, 7),
    Field("procMount", STRING, 9),
    Field("seccompProfile", ref("SeccompProfile"), 11),
    Field("appArmorProfile", ref("AppArmorProfile"), 12),
)

Capabilities = declare(
    "Capabilities",
    Field("add", ListOf(STRING), 1, list_type="atomic"),
    Field("drop", ListOf(STRING), 2, list_type="atomic"),
)

SELinuxOptions = declare(
    "SELinuxOptions",
    Field("user", STRING, 1, omit_zero=True),
    Field("role", STRING, 2, omit_zero=True),
    Field("type", STRING, 3, omit_zero=True),
    Field("level", STRING, 4, omit_zero=True),
)

WindowsSecurityContextOptions = declare(
    "WindowsSecurityContextOptions",
    Field("gmsaCredentialSpecName", STRING, 1),
    Field("gmsaCredentialSpec", STRING, 2),
    Field("runAsUserName", STRING, 3),
    Field("hostProcess", BOOL, 4),
)

SeccompProfile = declare(
    "SeccompProfile",
    Field("type", STRING, 1, required=True, enum=("Localhost", "RuntimeDefault", "Unconfined")),
    Field("localhostProfile", STRING, 2),
)

AppArmorProfile = declare(
    "AppArmorProfile",
    Field("type", STRING, 1, required=True, enum=("Localhost", "RuntimeDefault", "Unconfined")),
    Field("localhostProfile", STRING, 2),
)

EphemeralContainer = declare(
    "EphemeralContainer",
    Field("name", STRING, 1, required=True, embedded_in=1),
    Field("image", STRING, 2, omit_zero=True, embedded_in=1),
    Field("command", ListOf(STRING), 3, list_type="atomic", embedded_in=1),
    Field("args", ListOf(STRING), 4, list_type="atomic", embedded_in=1),
    Field("workingDir", STRING, 5, omit_zero=True, embedded_in=1),
    Field(
        "ports",
        ListOf(ref("ContainerPort")),
        6,
        list_type="map",
        map_keys=("containerPort", "protocol"),
        merge_key="containerPort",
        strategy="merge",
        embedded_in=1,
    ),
    Field("envFrom", ListOf(ref("EnvFromSource")), 19, list_type="atomic", embedded_in=1),
    Field(
        "env",
        ListOf(ref("EnvVar")),
        7,
        list_type="map",
        map_keys=("name",),
        merge_key="name",
        strategy="merge",
        embedded_in=1,
    ),
    Field("resources", ref("ResourceRequirements"), 8, embedded_in=1),
    Field("resizePolicy", ListOf(ref("ContainerResizePolicy")), 23, list_type="atomic", embedded_in=1),
    Field("restartPolicy", STRING, 24, embedded_in=1),
    Field(
        "volumeMounts",
        ListOf(ref("VolumeMount")),
        9,
        list_type="map",
        map_keys=("mountPath",),
        merge_key="mountPath",
        strategy="merge",
        embedded_in=1,
    ),
    Field(
        "volumeDevices",
        ListOf(ref("VolumeDevice")),
        21,
        list_type="map",
        map_keys=("devicePath",),
        merge_key="devicePath",
        strategy="merge",
        embedded_in=1,
    ),
    Field("livenessProbe", ref("Probe"), 10, embedded_in=1),
    Field("readinessProbe", ref("Probe"), 11, embedded_in=1),
    Field("startupProbe", ref("Probe"), 22, embedded_in=1),
    Field("lifecycle", ref("Lifecycle"), 12, embedded_in=1),
    Field("terminationMessagePath", STRING, 13, omit_zero=True, embedded_in=1),
    Field("terminationMessagePolicy", STRING, 20, omit_zero=True, embedded_in=1),
    Field("imagePullPolicy", STRING, 14, omit_zero=True, embedded_in=1),
    Field("securityContext", ref("SecurityContext"), 15, embedded_in=1),
    Field("stdin", BOOL, 16, omit_zero=True, embedded_in=1),
    Field("stdinOnce", BOOL, 17, omit_zero=True, embedded_in=1),
    Field("tty", BOOL, 18, omit_zero=True, embedded_in=1),
    Field("targetContainerName", STRING, 2, omit_zero=True),
)

PodSecurityContext = declare(
    "PodSecurityContext",
    Field("seLinuxOptions", ref("SELinuxOptions"), 1),
    Field("windowsOptions", ref("WindowsSecurityContextOptions"), 8),
    Field("runAsUser", INT64, 2),
    Field("runAsGroup", INT64, 6),
    Field("runAsNonRoot", BOOL, 3),
    Field("supplementalGroups", ListOf(INT64), 4, list_type="atomic"),
    Field("supplementalGroupsPolicy", STRING, 12),
    Field("fsGroup", INT64, 5),
    Field("sysctls", ListOf(ref("Sysctl")), 7, list_type="atomic"),
    Field("fsGroupChangePolicy", STRING, 9, enum=("Always", "OnRootMismatch")),
    Field("seccompProfile", ref("SeccompProfile"), 10),
    Field("appArmorProfile", ref("AppArmorProfile"), 11),
    Field("seLinuxChangePolicy", STRING, 13),
)

Sysctl = declare(
    "Sysctl",
    Field("name", STRING, 1, required=True),
    Field("value", STRING, 2, required=True),
)

Affinity = declare(
    "Affinity",
    Field("nodeAffinity", ref("NodeAffinity"), 1),
    Field("podAffinity", ref("PodAffinity"), 2),
    Field("podAntiAffinity", ref("PodAntiAffinity"), 3),
)

NodeAffinity = declare(
    "NodeAffinity",
    Field("requiredDuringSchedulingIgnoredDuringExecution", ref("NodeSelector"), 1),
    Field(
        "preferredDuringSchedulingIgnoredDuringExecution", ListOf(ref("PreferredSchedulingTerm")), 2, list_type="atomic"
    ),
)

NodeSelector = declare(
    "NodeSelector",
    Field("nodeSelectorTerms", ListOf(ref("NodeSelectorTerm")), 1, required=True, list_type="atomic"),
    map_type="atomic",
)

NodeSelectorTerm = declare(
    "NodeSelectorTerm",
    Field("matchExpressions", ListOf(ref("NodeSelectorRequirement")), 1, list_type="atomic"),
    Field("matchFields", ListOf(ref("NodeSelectorRequirement")), 2, list_type="atomic"),
    map_type="atomic",
)

NodeSelectorRequirement = declare(
    "NodeSelectorRequirement",
    Field("key", STRING, 1, required=True),
    Field("operator", STRING, 2, required=True, enum=("DoesNotExist", "Exists", "Gt", "In", "Lt", "NotIn")),
    Field("values", ListOf(STRING), 3, list_type="atomic"),
)

PreferredSchedulingTerm = declare(
    "PreferredSchedulingTerm",
    Field("weight", INT32, 1, required=True),
    Field("preference", ref("NodeSelectorTerm"), 2, required=True),
)

PodAffinity = declare(
    "PodAffinity",
    Field("requiredDuringSchedulingIgnoredDuringExecution", ListOf(ref("PodAffinityTerm")), 1, list_type="atomic"),
    Field(
        "preferredDuringSchedulingIgnoredDuringExecution", ListOf(ref("WeightedPodAffinityTerm")), 2, list_type="atomic"
    ),
)

PodAffinityTerm = declare(
    "PodAffinityTerm",
    Field("labelSelector", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"), 1),
    Field("namespaces", ListOf(STRING), 2, list_type="atomic"),
    Field("topologyKey", STRING, 3, required=True),
    Field("namespaceSelector", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"), 4),
    Field("matchLabelKeys", ListOf(STRING), 5, list_type="atomic"),
    Field("mismatchLabelKeys", ListOf(STRING), 6, list_type="atomic"),
)

WeightedPodAffinityTerm = declare(
    "WeightedPodAffinityTerm",
    Field("weight", INT32, 1, required=True),
    Field("podAffinityTerm", ref("PodAffinityTerm"), 2, required=True),
)

PodAntiAffinity = declare(
    "PodAntiAffinity",
    Field("requiredDuringSchedulingIgnoredDuringExecution", ListOf(ref("PodAffinityTerm")), 1, list_type="atomic"),
    Field(
        "preferredDuringSchedulingIgnoredDuringExecution", ListOf(ref("WeightedPodAffinityTerm")), 2, list_type="atomic"
    ),
)

Toleration = declare(
    "Toleration",
    Field("key", STRING, 1, omit_zero=True),
    Field("operator", STRING, 2, enum=("Equal", "Exists"), omit_zero=True),
    Field("value", STRING, 3, omit_zero=True),
    Field("effect", STRING, 4, enum=("NoSchedule", "PreferNoSchedule", "NoExecute"), omit_zero=True),
    Field("tolerationSeconds", INT64, 5),
)

HostAlias = declare(
    "HostAlias",
    Field("ip", STRING, 1, required=True),
    Field("hostnames", ListOf(STRING), 2, list_type="atomic"),
)

PodDNSConfig = declare(
    "PodDNSConfig",
    Field("nameservers", ListOf(STRING), 1, list_type="atomic"),
    Field("searches", ListOf(STRING), 2, list_type="atomic"),
    Field("options", ListOf(ref("PodDNSConfigOption")), 3, list_type="atomic"),
)

PodDNSConfigOption = declare(
    "PodDNSConfigOption",
    Field("name", STRING, 1, omit_zero=True),
    Field("value", STRING, 2),
)

PodReadinessGate = declare(
    "PodReadinessGate",
    Field("conditionType", STRING, 1, required=True),
)

TopologySpreadConstraint = declare(
    "TopologySpreadConstraint",
    Field("maxSkew", INT32, 1, required=True),
    Field("topologyKey", STRING, 2, required=True),
    Field("whenUnsatisfiable", STRING, 3, required=True, enum=("DoNotSchedule", "ScheduleAnyway")),
    Field("labelSelector", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"), 4),
    Field("minDomains", INT32, 5),
    Field("nodeAffinityPolicy", STRING, 6, enum=("Honor", "Ignore")),
    Field("nodeTaintsPolicy", STRING, 7, enum=("Honor", "Ignore")),
    Field("matchLabelKeys", ListOf(STRING), 8, list_type="atomic"),
)

PodOS = declare(
    "PodOS",
    Field("name", STRING, 1, required=True),
)

PodSchedulingGate = declare(
    "PodSchedulingGate",
    Field("name", STRING, 1, required=True),
)

PodResourceClaim = declare(
    "PodResourceClaim",
    Field("name", STRING, 1, required=True),
    Field("resourceClaimName", STRING, 3),
    Field("resourceClaimTemplateName", STRING, 4),
)

PodStatus = declare(
    "PodStatus",
    Field("phase", STRING, 1, enum=("Failed", "Pending", "Running", "Succeeded", "Unknown"), omit_zero=True),
    Field(
        "conditions",
        ListOf(ref("PodCondition")),
        2,
        list_type="map",
        map_keys=("type",),
        merge_key="type",
        strategy="merge",
    ),
    Field("message", STRING, 3, omit_zero=True),
    Field("reason", STRING, 4, omit_zero=True),
    Field("nominatedNodeName", STRING, 11, omit_zero=True),
    Field("hostIP", STRING, 5, omit_zero=True),
    Field("hostIPs", ListOf(ref("HostIP")), 16, list_type="atomic", merge_key="ip", strategy="merge"),
    Field("podIP", STRING, 6, omit_zero=True),
    Field("podIPs", ListOf(ref("PodIP")), 12, list_type="map", map_keys=("ip",), merge_key="ip", strategy="merge"),
    Field("startTime", TIME, 7),
    Field("initContainerStatuses", ListOf(ref("ContainerStatus")), 10, list_type="atomic"),
    Field("containerStatuses", ListOf(ref("ContainerStatus")), 8, list_type="atomic"),
    Field("qosClass", STRING, 9, enum=("BestEffort", "Burstable", "Guaranteed"), omit_zero=True),
    Field("ephemeralContainerStatuses", ListOf(ref("ContainerStatus")), 13, list_type="atomic"),
    Field("resize", STRING, 14, omit_zero=True),
    Field(
        "resourceClaimStatuses",
        ListOf(ref("PodResourceClaimStatus")),
        15,
        list_type="map",
        map_keys=("name",),
        merge_key="name",
        strategy="merge,retainKeys",
    ),
    description="The observed state of a pod.",
)

PodCondition = declare(
    "PodCondition",
    Field("type", STRING, 1, required=True),
    Field("status", STRING, 2, required=True),
    Field("lastProbeTime", TIME, 3),
    Field("lastTransitionTime", TIME, 4),
    Field("reason", STRING, 5, omit_zero=True),
    Field("message", STRING, 6, omit_zero=True),
)

HostIP = declare(
    "HostIP",
    Field("ip", STRING, 1, required=True),
)

PodIP = declare(
    "PodIP",
    Field("ip", STRING, 1, required=True),
)

ContainerStatus = declare(
    "ContainerStatus",
    Field("name", STRING, 1, required=True),
    Field("state", ref("ContainerState"), 2),
    Field("lastState", ref("ContainerState"), 3),
    Field("ready", BOOL, 4, required=True),
    Field("restartCount", INT32, 5, required=True),
    Field("image", STRING, 6, required=True),
    Field("imageID", STRING, 7, required=True),
    Field("containerID", STRING, 8, omit_zero=True),
    Field("started", BOOL, 9),
    Field("allocatedResources", MapOf(QUANTITY), 10),
    Field("resources", ref("ResourceRequirements"), 11),
    Field(
        "volumeMounts",
        ListOf(ref("VolumeMountStatus")),
        12,
        list_type="map",
        map_keys=("mountPath",),
        merge_key="mountPath",
        strategy="merge",
    ),
    Field("user", ref("ContainerUser"), 13),
    Field(
        "allocatedResourcesStatus",
        ListOf(ref("ResourceStatus")),
        14,
        list_type="map",
        map_keys=("name",),
        merge_key="name",
        strategy="merge",
    ),
)

ContainerState = declare(
    "ContainerState",
    Field("waiting", ref("ContainerStateWaiting"), 1),
    Field("running", ref("ContainerStateRunning"), 2),
    Field("terminated", ref("ContainerStateTerminated"), 3),
)

ContainerStateWaiting = declare(
    "ContainerStateWaiting",
    Field("reason", STRING, 1, omit_zero=True),
    Field("message", STRING, 2, omit_zero=True),
)

ContainerStateRunning = declare(
    "ContainerStateRunning",
    Field("startedAt", TIME, 1),
)

ContainerStateTerminated = declare(
    "ContainerStateTerminated",
    Field("exitCode", INT32, 1, required=True),
    Field("signal", INT32, 2, omit_zero=True),
    Field("reason", STRING, 3, omit_zero=True),
    Field("message", STRING, 4, omit_zero=True),
    Field("startedAt", TIME, 5),
    Field("finishedAt", TIME, 6),
    Field("containerID", STRING, 7, omit_zero=True),
)

VolumeMountStatus = declare(
    "VolumeMountStatus",
    Field("name", STRING, 1, required=True),
    Field("mountPath", STRING, 2, required=True),
    Field("readOnly", BOOL, 3, omit_zero=True),
    Field("recursiveReadOnly", STRING, 4),
)

ContainerUser = declare(
    "ContainerUser",
    Field("linux", ref("LinuxContainerUser"), 1),
)

LinuxContainerUser = declare(
    "LinuxContainerUser",
    Field("uid", INT64, 1, required=True),
    Field("gid", INT64, 2, required=True),
    Field("supplementalGroups", ListOf(INT64), 3, list_type="atomic"),
)

ResourceStatus = declare(
    "ResourceStatus",
    Field("name", STRING, 1, required=True),
    Field("resources", ListOf(ref("ResourceHealth")), 2, list_type="map", map_keys=("resourceID",)),
)

ResourceHealth = declare(
    "ResourceHealth",
    Field("resourceID", STRING, 1, required=True),
    Field("health", STRING, 2, omit_zero=True),
)

PodResourceClaimStatus = declare(
    "PodResourceClaimStatus",
    Field("name", STRING, 1, required=True),
    Field("resourceClaimName", STRING, 2),
)

Node = declare(
    "Node",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("NodeSpec"), 2, description="The desired state."),
    Field("status", ref("NodeStatus"), 3, description="The most recently observed state, written by the system."),
    description="A machine that runs pods; its kubelet reports capacity and health here.",
)

NodeSpec = declare(
    "NodeSpec",
    Field("podCIDR", STRING, 1, omit_zero=True),
    Field("podCIDRs", ListOf(STRING), 7, list_type="set", strategy="merge"),
    Field("providerID", STRING, 3, omit_zero=True),
    Field("unschedulable", BOOL, 4, omit_zero=True),
    Field("taints", ListOf(ref("Taint")), 5, list_type="atomic"),
    Field("configSource", ref("NodeConfigSource"), 6),
    Field("externalID", STRING, 2, omit_zero=True),
)

Taint = declare(
    "Taint",
    Field("key", STRING, 1, required=True),
    Field("value", STRING, 2, omit_zero=True),
    Field("effect", STRING, 3, required=True, enum=("NoSchedule", "PreferNoSchedule", "NoExecute")),
    Field("timeAdded", TIME, 4),
)

NodeConfigSource = declare(
    "NodeConfigSource",
    Field("configMap", ref("ConfigMapNodeConfigSource"), 2),
)

ConfigMapNodeConfigSource = declare(
    "ConfigMapNodeConfigSource",
    Field("namespace", STRING, 1, required=True),
    Field("name", STRING, 2, required=True),
    Field("uid", STRING, 3, omit_zero=True),
    Field("resourceVersion", STRING, 4, omit_zero=True),
    Field("kubeletConfigKey", STRING, 5, required=True),
)

NodeStatus = declare(
    "NodeStatus",
    Field("capacity", MapOf(QUANTITY), 1),
    Field("allocatable", MapOf(QUANTITY), 2),
    Field("phase", STRING, 3, omit_zero=True),
    Field(
        "conditions",
        ListOf(ref("NodeCondition")),
        4,
        list_type="map",
        map_keys=("type",),
        merge_key="type",
        strategy="merge",
    ),
    Field(
        "addresses",
        ListOf(ref("NodeAddress")),
        5,
        list_type="map",
        map_keys=("type",),
        merge_key="type",
        strategy="merge",
    ),
    Field("daemonEndpoints", ref("NodeDaemonEndpoints"), 6),
    Field("nodeInfo", ref("NodeSystemInfo"), 7),
    Field("images", ListOf(ref("ContainerImage")), 8, list_type="atomic"),
    Field("volumesInUse", ListOf(STRING), 9, list_type="atomic"),
    Field("volumesAttached", ListOf(ref("AttachedVolume")), 10, list_type="atomic"),
    Field("config", ref("NodeConfigStatus"), 11),
    Field("runtimeHandlers", ListOf(ref("NodeRuntimeHandler")), 12, list_type="atomic"),
    Field("features", ref("NodeFeatures"), 13),
)

NodeCondition = declare(
    "NodeCondition",
    Field("type", STRING, 1, required=True),
    Field("status", STRING, 2, required=True),
    Field("lastHeartbeatTime", TIME, 3),
    Field("lastTransitionTime", TIME, 4),
    Field("reason", STRING, 5, omit_zero=True),
    Field("message", STRING, 6, omit_zero=True),
)

NodeAddress = declare(
    "NodeAddress",
    Field("type", STRING, 1, required=True),
    Field("address", STRING, 2, required=True),
)

NodeDaemonEndpoints = declare(
    "NodeDaemonEndpoints",
    Field("kubeletEndpoint", ref("DaemonEndpoint"), 1),
)

DaemonEndpoint = declare(
    "DaemonEndpoint",
    Field("Port", INT32, 1, required=True),
)

NodeSystemInfo = declare(
    "NodeSystemInfo",
    Field("machineID", STRING, 1, required=True),
    Field("systemUUID", STRING, 2, required=True),
    Field("bootID", STRING, 3, required=True),
    Field("kernelVersion", STRING, 4, required=True),
    Field("osImage", STRING, 5, required=True),
    Field("containerRuntimeVersion", STRING, 6, required=True),
    Field("kubeletVersion", STRING, 7, required=True),
    Field("kubeProxyVersion", STRING, 8, required=True),
    Field("operatingSystem", STRING, 9, required=True),
    Field("architecture", STRING, 10, required=True),
)

ContainerImage = declare(
    "ContainerImage",
    Field("names", ListOf(STRING), 1, list_type="atomic"),
    Field("sizeBytes", INT64, 2, omit_zero=True),
)

AttachedVolume = declare(
    "AttachedVolume",
    Field("name", STRING, 1, required=True),
    Field("devicePath", STRING, 2, required=True),
)

NodeConfigStatus = declare(
    "NodeConfigStatus",
    Field("assigned", ref("NodeConfigSource"), 1),
    Field("active", ref("NodeConfigSource"), 2),
    Field("lastKnownGood", ref("NodeConfigSource"), 3),
    Field("error", STRING, 4, omit_zero=True),
)

NodeRuntimeHandler = declare(
    "NodeRuntimeHandler",
    Field("name", STRING, 1),
    Field("features", ref("NodeRuntimeHandlerFeatures"), 2),
)

NodeRuntimeHandlerFeatures = declare(
    "NodeRuntimeHandlerFeatures",
    Field("recursiveReadOnlyMounts", BOOL, 1),
    Field("userNamespaces", BOOL, 2),
)

NodeFeatures = declare(
    "NodeFeatures",
    Field("supplementalGroupsPolicy", BOOL, 1),
)

Service = declare(
    "Service",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("ServiceSpec"), 2, description="The desired state."),
    Field("status", ref("ServiceStatus"), 3, description="The most recently observed state, written by the system."),
    description="A stable virtual address and DNS name in front of the pods its selector picks.",
)

ServiceSpec = declare(
    "ServiceSpec",
    Field(
        "ports",
        ListOf(ref("ServicePort")),
        1,
        list_type="map",
        map_keys=("port", "protocol"),
        merge_key="port",
        strategy="merge",
        description="The ports the Service exposes.",
    ),
    Field(
        "selector",
        MapOf(STRING),
        2,
        map_type="atomic",
        description="Labels of the pods that receive the Service's traffic.",
    ),
    Field("clusterIP", STRING, 3, omit_zero=True, description="The Service's virtual IP; 'None' makes it headless."),
    Field("clusterIPs", ListOf(STRING), 18, list_type="atomic"),
    Field(
        "type",
        STRING,
        4,
        default="ClusterIP",
        enum=("ClusterIP", "ExternalName", "LoadBalancer", "NodePort"),
        omit_zero=True,
        description="How the Service is exposed: ClusterIP, NodePort, LoadBalancer or ExternalName.",
    ),
    Field("externalIPs", ListOf(STRING), 5, list_type="atomic"),
    Field("sessionAffinity", STRING, 7, default="None", enum=("ClientIP", "None"), omit_zero=True),
    Field("loadBalancerIP", STRING, 8, omit_zero=True),
    Field("loadBalancerSourceRanges", ListOf(STRING), 9, list_type="atomic"),
    Field("externalName", STRING, 10, omit_zero=True),
    Field("externalTrafficPolicy", STRING, 11, enum=("Cluster", "Local"), omit_zero=True),
    Field("healthCheckNodePort", INT32, 12, omit_zero=True),
    Field("publishNotReadyAddresses", BOOL, 13, omit_zero=True),
    Field("sessionAffinityConfig", ref("SessionAffinityConfig"), 14),
    Field("ipFamilies", ListOf(STRING), 19, list_type="atomic"),
    Field("ipFamilyPolicy", STRING, 17, enum=("PreferDualStack", "RequireDualStack", "SingleStack")),
    Field("allocateLoadBalancerNodePorts", BOOL, 20),
    Field("loadBalancerClass", STRING, 21),
    Field("internalTrafficPolicy", STRING, 22, enum=("Cluster", "Local")),
    Field("trafficDistribution", STRING, 23),
    description="The desired state of a Service.",
)

ServicePort = declare(
    "ServicePort",
    Field("name", STRING, 1, omit_zero=True),
    Field("protocol", STRING, 2, default="TCP", enum=("TCP", "UDP", "SCTP"), omit_zero=True),
    Field("appProtocol", STRING, 6),
    Field("port", INT32, 3, required=True, description="The port the Service listens on."),
    Field(
        "targetPort",
        INT_OR_STRING,
        4,
        description="The pod port (number or name) traffic is sent to; defaults to port.",
    ),
    Field(
        "nodePort",
        INT32,
        5,
        omit_zero=True,
        description="The port opened on every node for NodePort and LoadBalancer Services.",
    ),
    description="One port a Service exposes.",
)

SessionAffinityConfig = declare(
    "SessionAffinityConfig",
    Field("clientIP", ref("ClientIPConfig"), 1),
)

ClientIPConfig = declare(
    "ClientIPConfig",
    Field("timeoutSeconds", INT32, 1),
)

ServiceStatus = declare(
    "ServiceStatus",
    Field("loadBalancer", ref("LoadBalancerStatus"), 1),
    Field(
        "conditions",
        ListOf(Ref("io.k8s.apimachinery.pkg.apis.meta.v1.Condition")),
        2,
        list_type="map",
        map_keys=("type",),
        merge_key="type",
        strategy="merge",
    ),
)

LoadBalancerStatus = declare(
    "LoadBalancerStatus",
    Field("ingress", ListOf(ref("LoadBalancerIngress")), 1, list_type="atomic"),
)

LoadBalancerIngress = declare(
    "LoadBalancerIngress",
    Field("ip", STRING, 1, omit_zero=True),
    Field("hostname", STRING, 2, omit_zero=True),
    Field("ipMode", STRING, 3),
    Field("ports", ListOf(ref("PortStatus")), 4, list_type="atomic"),
)

PortStatus = declare(
    "PortStatus",
    Field("port", INT32, 1, required=True),
    Field("protocol", STRING, 2, required=True, enum=("TCP", "UDP", "SCTP")),
    Field("error", STRING, 3),
)

Endpoints = declare(
    "Endpoints",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("subsets", ListOf(ref("EndpointSubset")), 2, list_type="atomic"),
    description="The addresses and ports currently backing a Service (legacy form of EndpointSlice).",
)

EndpointSubset = declare(
    "EndpointSubset",
    Field("addresses", ListOf(ref("EndpointAddress")), 1, list_type="atomic"),
    Field("notReadyAddresses", ListOf(ref("EndpointAddress")), 2, list_type="atomic"),
    Field("ports", ListOf(ref("EndpointPort")), 3, list_type="atomic"),
)

EndpointAddress = declare(
    "EndpointAddress",
    Field("ip", STRING, 1, required=True),
    Field("hostname", STRING, 3, omit_zero=True),
    Field("nodeName", STRING, 4),
    Field("targetRef", ref("ObjectReference"), 2),
    map_type="atomic",
)

ObjectReference = declare(
    "ObjectReference",
    Field("kind", STRING, 1, omit_zero=True),
    Field("namespace", STRING, 2, omit_zero=True),
    Field("name", STRING, 3, omit_zero=True),
    Field("uid", STRING, 4, omit_zero=True),
    Field("apiVersion", STRING, 5, omit_zero=True),
    Field("resourceVersion", STRING, 6, omit_zero=True),
    Field("fieldPath", STRING, 7, omit_zero=True),
    map_type="atomic",
)

EndpointPort = declare(
    "EndpointPort",
    Field("name", STRING, 1, omit_zero=True),
    Field("port", INT32, 2, required=True),
    Field("protocol", STRING, 3, default="TCP", enum=("TCP", "UDP", "SCTP"), omit_zero=True),
    Field("appProtocol", STRING, 4),
    map_type="atomic",
)

ConfigMap = declare(
    "ConfigMap",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("immutable", BOOL, 4),
    Field("data", MapOf(STRING), 2),
    Field("binaryData", MapOf(BYTES), 3),
    description="Non-confidential configuration as key/value pairs, consumed as env vars or files.",
)

Secret = declare(
    "Secret",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("immutable", BOOL, 5),
    Field("data", MapOf(BYTES), 2),
    Field("stringData", MapOf(STRING), 4),
    Field("type", STRING, 3, default="Opaque", omit_zero=True),
    description="Confidential data (tokens, keys, passwords), base64-encoded in `data`.",
)

ServiceAccount = declare(
    "ServiceAccount",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field(
        "secrets",
        ListOf(ref("ObjectReference")),
        2,
        list_type="map",
        map_keys=("name",),
        merge_key="name",
        strategy="merge",
    ),
    Field("imagePullSecrets", ListOf(ref("LocalObjectReference")), 3, list_type="atomic"),
    Field("automountServiceAccountToken", BOOL, 4),
    description="An identity for processes running in pods.",
)

Event = declare(
    "Event",
    *TYPE_META_FIELDS,
    Field(
        "metadata",
        Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
        1,
        required=True,
        description="Standard object metadata.",
    ),
    Field("involvedObject", ref("ObjectReference"), 2, required=True),
    Field("reason", STRING, 3, omit_zero=True),
    Field("message", STRING, 4, omit_zero=True),
    Field("source", ref("EventSource"), 5),
    Field("firstTimestamp", TIME, 6),
    Field("lastTimestamp", TIME, 7),
    Field("count", INT32, 8, omit_zero=True),
    Field("type", STRING, 9, omit_zero=True),
    Field("eventTime", MICROTIME, 10),
    Field("series", ref("EventSeries"), 11),
    Field("action", STRING, 12, omit_zero=True),
    Field("related", ref("ObjectReference"), 13),
    Field("reportingComponent", STRING, 14),
    Field("reportingInstance", STRING, 15),
    description="A report of something that happened to an object (scheduling, pulls, failures, ...).",
)

EventSource = declare(
    "EventSource",
    Field("component", STRING, 1, omit_zero=True),
    Field("host", STRING, 2, omit_zero=True),
)

EventSeries = declare(
    "EventSeries",
    Field("count", INT32, 1, omit_zero=True),
    Field("lastObservedTime", MICROTIME, 2),
)

PersistentVolume = declare(
    "PersistentVolume",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("PersistentVolumeSpec"), 2, description="The desired state."),
    Field(
        "status",
        ref("PersistentVolumeStatus"),
        3,
        description="The most recently observed state, written by the system.",
    ),
    description="A piece of storage provisioned in the cluster, bound to at most one claim.",
)

PersistentVolumeSpec = declare(
    "PersistentVolumeSpec",
    Field("capacity", MapOf(QUANTITY), 1),
    Field("gcePersistentDisk", ref("GCEPersistentDiskVolumeSource"), 1, embedded_in=2),
    Field("awsElasticBlockStore", ref("AWSElasticBlockStoreVolumeSource"), 2, embedded_in=2),
    Field("hostPath", ref("HostPathVolumeSource"), 3, embedded_in=2),
    Field("glusterfs", ref("GlusterfsPersistentVolumeSource"), 4, embedded_in=2),
    Field("nfs", ref("NFSVolumeSource"), 5, embedded_in=2),
    Field("rbd", ref("RBDPersistentVolumeSource"), 6, embedded_in=2),
    Field("iscsi", ref("ISCSIPersistentVolumeSource"), 7, embedded_in=2),
    Field("cinder", ref("CinderPersistentVolumeSource"), 8, embedded_in=2),
    Field("cephfs", ref("CephFSPersistentVolumeSource"), 9, embedded_in=2),
    Field("fc", ref("FCVolumeSource"), 10, embedded_in=2),
    Field("flocker", ref("FlockerVolumeSource"), 11, embedded_in=2),
    Field("flexVolume", ref("FlexPersistentVolumeSource"), 12, embedded_in=2),
    Field("azureFile", ref("AzureFilePersistentVolumeSource"), 13, embedded_in=2),
    Field("vsphereVolume", ref("VsphereVirtualDiskVolumeSource"), 14, embedded_in=2),
    Field("quobyte", ref("QuobyteVolumeSource"), 15, embedded_in=2),
    Field("azureDisk", ref("AzureDiskVolumeSource"), 16, embedded_in=2),
    Field("photonPersistentDisk", ref("PhotonPersistentDiskVolumeSource"), 17, embedded_in=2),
    Field("portworxVolume", ref("PortworxVolumeSource"), 18, embedded_in=2),
    Field("scaleIO", ref("ScaleIOPersistentVolumeSource"), 19, embedded_in=2),
    Field("local", ref("LocalVolumeSource"), 20, embedded_in=2),
    Field("storageos", ref("StorageOSPersistentVolumeSource"), 21, embedded_in=2),
    Field("csi", ref("CSIPersistentVolumeSource"), 22, embedded_in=2),
    Field("accessModes", ListOf(STRING), 3, list_type="atomic"),
    Field("claimRef", ref("ObjectReference"), 4),
    Field(
        "persistentVolumeReclaimPolicy",
        STRING,
        5,
        default="Retain",
        enum=("Delete", "Recycle", "Retain"),
        omit_zero=True,
    ),
    Field("storageClassName", STRING, 6, omit_zero=True),
    Field("mountOptions", ListOf(STRING), 7, list_type="atomic"),
    Field("volumeMode", STRING, 8, default="Filesystem", enum=("Block", "Filesystem")),
    Field("nodeAffinity", ref("VolumeNodeAffinity"), 9),
    Field("volumeAttributesClassName", STRING, 10),
)

GlusterfsPersistentVolumeSource = declare(
    "GlusterfsPersistentVolumeSource",
    Field("endpoints", STRING, 1, required=True),
    Field("path", STRING, 2, required=True),
    Field("readOnly", BOOL, 3, omit_zero=True),
    Field("endpointsNamespace", STRING, 4),
)

RBDPersistentVolumeSource = declare(
    "RBDPersistentVolumeSource",
    Field("monitors", ListOf(STRING), 1, required=True, list_type="atomic"),
    Field("image", STRING, 2, required=True),
    Field("fsType", STRING, 3, omit_zero=True),
    Field("pool", STRING, 4, omit_zero=True),
    Field("user", STRING, 5, omit_zero=True),
    Field("keyring", STRING, 6, omit_zero=True),
    Field("secretRef", ref("SecretReference"), 7),
    Field("readOnly", BOOL, 8, omit_zero=True),
)

SecretReference = declare(
    "SecretReference",
    Field("name", STRING, 1, omit_zero=True),
    Field("namespace", STRING, 2, omit_zero=True),
    map_type="atomic",
)

ISCSIPersistentVolumeSource = declare(
    "ISCSIPersistentVolumeSource",
    Field("targetPortal", STRING, 1, required=True),
    Field("iqn", STRING, 2, required=True),
    Field("lun", INT32, 3, required=True),
    Field("iscsiInterface", STRING, 4, omit_zero=True),
    Field("fsType", STRING, 5, omit_zero=True),
    Field("readOnly", BOOL, 6, omit_zero=True),
    Field("portals", ListOf(STRING), 7, list_type="atomic"),
    Field("chapAuthDiscovery", BOOL, 8, omit_zero=True),
    Field("chapAuthSession", BOOL, 11, omit_zero=True),
    Field("secretRef", ref("SecretReference"), 10),
    Field("initiatorName", STRING, 12),
)

CinderPersistentVolumeSource = declare(
    "CinderPersistentVolumeSource",
    Field("volumeID", STRING, 1, required=True),
    Field("fsType", STRING, 2, omit_zero=True),
    Field("readOnly", BOOL, 3, omit_zero=True),
    Field("secretRef", ref("SecretReference"), 4),
)

CephFSPersistentVolumeSource = declare(
    "CephFSPersistentVolumeSource",
    Field("monitors", ListOf(STRING), 1, required=True, list_type="atomic"),
    Field("path", STRING, 2, omit_zero=True),
    Field("user", STRING, 3, omit_zero=True),
    Field("secretFile", STRING, 4, omit_zero=True),
    Field("secretRef", ref("SecretReference"), 5),
    Field("readOnly", BOOL, 6, omit_zero=True),
)

FlexPersistentVolumeSource = declare(
    "FlexPersistentVolumeSource",
    Field("driver", STRING, 1, required=True),
    Field("fsType", STRING, 2, omit_zero=True),
    Field("secretRef", ref("SecretReference"), 3),
    Field("readOnly", BOOL, 4, omit_zero=True),
    Field("options", MapOf(STRING), 5),
)

AzureFilePersistentVolumeSource = declare(
    "AzureFilePersistentVolumeSource",
    Field("secretName", STRING, 1, required=True),
    Field("shareName", STRING, 2, required=True),
    Field("readOnly", BOOL, 3, omit_zero=True),
    Field("secretNamespace", STRING, 4),
)

ScaleIOPersistentVolumeSource = declare(
    "ScaleIOPersistentVolumeSource",
    Field("gateway", STRING, 1, required=True),
    Field("system", STRING, 2, required=True),
    Field("secretRef", ref("SecretReference"), 3, required=True),
    Field("sslEnabled", BOOL, 4, omit_zero=True),
    Field("protectionDomain", STRING, 5, omit_zero=True),
    Field("storagePool", STRING, 6, omit_zero=True),
    Field("storageMode", STRING, 7, omit_zero=True),
    Field("volumeName", STRING, 8, omit_zero=True),
    Field("fsType", STRING, 9, omit_zero=True),
    Field("readOnly", BOOL, 10, omit_zero=True),
)

LocalVolumeSource = declare(
    "LocalVolumeSource",
    Field("path", STRING, 1, required=True),
    Field("fsType", STRING, 2),
)

StorageOSPersistentVolumeSource = declare(
    "StorageOSPersistentVolumeSource",
    Field("volumeName", STRING, 1, omit_zero=True),
    Field("volumeNamespace", STRING, 2, omit_zero=True),
    Field("fsType", STRING, 3, omit_zero=True),
    Field("readOnly", BOOL, 4, omit_zero=True),
    Field("secretRef", ref("ObjectReference"), 5),
)

CSIPersistentVolumeSource = declare(
    "CSIPersistentVolumeSource",
    Field("driver", STRING, 1, required=True),
    Field("volumeHandle", STRING, 2, required=True),
    Field("readOnly", BOOL, 3, omit_zero=True),
    Field("fsType", STRING, 4, omit_zero=True),
    Field("volumeAttributes", MapOf(STRING), 5),
    Field("controllerPublishSecretRef", ref("SecretReference"), 6),
    Field("nodeStageSecretRef", ref("SecretReference"), 7),
    Field("nodePublishSecretRef", ref("SecretReference"), 8),
    Field("controllerExpandSecretRef", ref("SecretReference"), 9),
    Field("nodeExpandSecretRef", ref("SecretReference"), 10),
)

VolumeNodeAffinity = declare(
    "VolumeNodeAffinity",
    Field("required", ref("NodeSelector"), 1),
)

PersistentVolumeStatus = declare(
    "PersistentVolumeStatus",
    Field("phase", STRING, 1, enum=("Available", "Bound", "Failed", "Pending", "Released"), omit_zero=True),
    Field("message", STRING, 2, omit_zero=True),
    Field("reason", STRING, 3, omit_zero=True),
    Field("lastPhaseTransitionTime", TIME, 4),
)

PersistentVolumeClaim = declare(
    "PersistentVolumeClaim",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("PersistentVolumeClaimSpec"), 2, description="The desired state."),
    Field(
        "status",
        ref("PersistentVolumeClaimStatus"),
        3,
        description="The most recently observed state, written by the system.",
    ),
    description="A request for storage that binds to a matching PersistentVolume.",
)

PersistentVolumeClaimStatus = declare(
    "PersistentVolumeClaimStatus",
    Field("phase", STRING, 1, enum=("Bound", "Lost", "Pending"), omit_zero=True),
    Field("accessModes", ListOf(STRING), 2, list_type="atomic"),
    Field("capacity", MapOf(QUANTITY), 3),
    Field(
        "conditions",
        ListOf(ref("PersistentVolumeClaimCondition")),
        4,
        list_type="map",
        map_keys=("type",),
        merge_key="type",
        strategy="merge",
    ),
    Field("allocatedResources", MapOf(QUANTITY), 5),
    Field("allocatedResourceStatuses", MapOf(STRING), 7, map_type="granular"),
    Field("currentVolumeAttributesClassName", STRING, 8),
    Field("modifyVolumeStatus", ref("ModifyVolumeStatus"), 9),
)

PersistentVolumeClaimCondition = declare(
    "PersistentVolumeClaimCondition",
    Field("type", STRING, 1, required=True),
    Field("status", STRING, 2, required=True),
    Field("lastProbeTime", TIME, 3),
    Field("lastTransitionTime", TIME, 4),
    Field("reason", STRING, 5, omit_zero=True),
    Field("message", STRING, 6, omit_zero=True),
)

ModifyVolumeStatus = declare(
    "ModifyVolumeStatus",
    Field("targetVolumeAttributesClassName", STRING, 1, omit_zero=True),
    Field("status", STRING, 2, required=True),
)

ResourceQuota = declare(
    "ResourceQuota",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("ResourceQuotaSpec"), 2, description="The desired state."),
    Field(
        "status", ref("ResourceQuotaStatus"), 3, description="The most recently observed state, written by the system."
    ),
    description="Limits on the total resources and object counts a namespace may use.",
)

ResourceQuotaSpec = declare(
    "ResourceQuotaSpec",
    Field("hard", MapOf(QUANTITY), 1),
    Field("scopes", ListOf(STRING), 2, list_type="atomic"),
    Field("scopeSelector", ref("ScopeSelector"), 3),
)

ScopeSelector = declare(
    "ScopeSelector",
    Field("matchExpressions", ListOf(ref("ScopedResourceSelectorRequirement")), 1, list_type="atomic"),
    map_type="atomic",
)

ScopedResourceSelectorRequirement = declare(
    "ScopedResourceSelectorRequirement",
    Field(
        "scopeName",
        STRING,
        1,
        required=True,
        enum=(
            "BestEffort",
            "CrossNamespacePodAffinity",
            "NotBestEffort",
            "NotTerminating",
            "PriorityClass",
            "Terminating",
        ),
    ),
    Field("operator", STRING, 2, required=True, enum=("In", "NotIn", "Exists", "DoesNotExist")),
    Field("values", ListOf(STRING), 3, list_type="atomic"),
)

ResourceQuotaStatus = declare(
    "ResourceQuotaStatus",
    Field("hard", MapOf(QUANTITY), 1),
    Field("used", MapOf(QUANTITY), 2),
)

LimitRange = declare(
    "LimitRange",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("LimitRangeSpec"), 2, description="The desired state."),
    description="Default, minimum and maximum resources for containers, pods or claims in a namespace.",
)

LimitRangeSpec = declare(
    "LimitRangeSpec",
    Field("limits", ListOf(ref("LimitRangeItem")), 1, required=True, list_type="atomic"),
)

LimitRangeItem = declare(
    "LimitRangeItem",
    Field("type", STRING, 1),
    Field("max", MapOf(QUANTITY), 2),
    Field("min", MapOf(QUANTITY), 3),
    Field("default", MapOf(QUANTITY), 4),
    Field("defaultRequest", MapOf(QUANTITY), 5),
    Field("maxLimitRequestRatio", MapOf(QUANTITY), 6),
)

ReplicationController = declare(
    "ReplicationController",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("ReplicationControllerSpec"), 2, description="The desired state."),
    Field(
        "status",
        ref("ReplicationControllerStatus"),
        3,
        description="The most recently observed state, written by the system.",
    ),
    description="Keeps a fixed number of pod replicas running (the predecessor of ReplicaSet).",
)

ReplicationControllerSpec = declare(
    "ReplicationControllerSpec",
    Field("replicas", INT32, 1, default=1),
    Field("minReadySeconds", INT32, 4, omit_zero=True),
    Field("selector", MapOf(STRING), 2, map_type="atomic"),
    Field("template", ref("PodTemplateSpec"), 3),
)

PodTemplateSpec = declare(
    "PodTemplateSpec",
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("PodSpec"), 2, description="The desired state."),
    description="The pod a workload creates: labels and annotations plus a pod spec.",
)

ReplicationControllerStatus = declare(
    "ReplicationControllerStatus",
    Field("replicas", INT32, 1, required=True),
    Field("fullyLabeledReplicas", INT32, 2, omit_zero=True),
    Field("readyReplicas", INT32, 4, omit_zero=True),
    Field("availableReplicas", INT32, 5, omit_zero=True),
    Field("observedGeneration", INT64, 3, omit_zero=True),
    Field(
        "conditions",
        ListOf(ref("ReplicationControllerCondition")),
        6,
        list_type="map",
        map_keys=("type",),
        merge_key="type",
        strategy="merge",
    ),
)

ReplicationControllerCondition = declare(
    "ReplicationControllerCondition",
    Field("type", STRING, 1, required=True),
    Field("status", STRING, 2, required=True),
    Field("lastTransitionTime", TIME, 3),
    Field("reason", STRING, 4, omit_zero=True),
    Field("message", STRING, 5, omit_zero=True),
)

Binding = declare(
    "Binding",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("target", ref("ObjectReference"), 2, required=True),
    description="Ties a pod to a node; the scheduler posts it to the pod's binding subresource.",
)

PodTemplate = declare(
    "PodTemplate",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("template", ref("PodTemplateSpec"), 2),
    description="A reusable pod template.",
)

ComponentStatus = declare(
    "ComponentStatus",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field(
        "conditions",
        ListOf(ref("ComponentCondition")),
        2,
        list_type="map",
        map_keys=("type",),
        merge_key="type",
        strategy="merge",
    ),
    description="Health of a control-plane component (deprecated).",
)

ComponentCondition = declare(
    "ComponentCondition",
    Field("type", STRING, 1, required=True),
    Field("status", STRING, 2, required=True),
    Field("message", STRING, 3, omit_zero=True),
    Field("error", STRING, 4, omit_zero=True),
)

TopologySelectorTerm = declare(
    "TopologySelectorTerm",
    Field("matchLabelExpressions", ListOf(ref("TopologySelectorLabelRequirement")), 1, list_type="atomic"),
    map_type="atomic",
)

TopologySelectorLabelRequirement = declare(
    "TopologySelectorLabelRequirement",
    Field("key", STRING, 1, required=True),
    Field("values", ListOf(STRING), 2, required=True, list_type="atomic"),
)

TYPES = (
    Namespace,
    NamespaceSpec,
    NamespaceStatus,
    NamespaceCondition,
    Pod,
    PodSpec,
    Volume,
    HostPathVolumeSource,
    EmptyDirVolumeSource,
    GCEPersistentDiskVolumeSource,
    AWSElasticBlockStoreVolumeSource,
    GitRepoVolumeSource,
    SecretVolumeSource,
    KeyToPath,
    NFSVolumeSource,
    ISCSIVolumeSource,
    LocalObjectReference,
    GlusterfsVolumeSource,
    PersistentVolumeClaimVolumeSource,
    RBDVolumeSource,
    FlexVolumeSource,
    CinderVolumeSource,
    CephFSVolumeSource,
    FlockerVolumeSource,
    DownwardAPIVolumeSource,
    DownwardAPIVolumeFile,
    ObjectFieldSelector,
    ResourceFieldSelector,
    FCVolumeSource,
    AzureFileVolumeSource,
    ConfigMapVolumeSource,
    VsphereVirtualDiskVolumeSource,
    QuobyteVolumeSource,
    AzureDiskVolumeSource,
    PhotonPersistentDiskVolumeSource,
    ProjectedVolumeSource,
    VolumeProjection,
    SecretProjection,
    DownwardAPIProjection,
    ConfigMapProjection,
    ServiceAccountTokenProjection,
    ClusterTrustBundleProjection,
    PortworxVolumeSource,
    ScaleIOVolumeSource,
    StorageOSVolumeSource,
    CSIVolumeSource,
    EphemeralVolumeSource,
    PersistentVolumeClaimTemplate,
    PersistentVolumeClaimSpec,
    VolumeResourceRequirements,
    TypedLocalObjectReference,
    TypedObjectReference,
    ImageVolumeSource,
    Container,
    ContainerPort,
    EnvFromSource,
    ConfigMapEnvSource,
    SecretEnvSource,
    EnvVar,
    EnvVarSource,
    ConfigMapKeySelector,
    SecretKeySelector,
    ResourceRequirements,
    ResourceClaim,
    ContainerResizePolicy,
    VolumeMount,
    VolumeDevice,
    Probe,
    ExecAction,
    HTTPGetAction,
    HTTPHeader,
    TCPSocketAction,
    GRPCAction,
    Lifecycle,
    LifecycleHandler,
    SleepAction,
    SecurityContext,
    Capabilities,
    SELinuxOptions,
    WindowsSecurityContextOptions,
    SeccompProfile,
    AppArmorProfile,
    EphemeralContainer,
    PodSecurityContext,
    Sysctl,
    Affinity,
    NodeAffinity,
    NodeSelector,
    NodeSelectorTerm,
    NodeSelectorRequirement,
    PreferredSchedulingTerm,
    PodAffinity,
    PodAffinityTerm,
    WeightedPodAffinityTerm,
    PodAntiAffinity,
    Toleration,
    HostAlias,
    PodDNSConfig,
    PodDNSConfigOption,
    PodReadinessGate,
    TopologySpreadConstraint,
    PodOS,
    PodSchedulingGate,
    PodResourceClaim,
    PodStatus,
    PodCondition,
    HostIP,
    PodIP,
    ContainerStatus,
    ContainerState,
    ContainerStateWaiting,
    ContainerStateRunning,
    ContainerStateTerminated,
    VolumeMountStatus,
    ContainerUser,
    LinuxContainerUser,
    ResourceStatus,
    ResourceHealth,
    PodResourceClaimStatus,
    Node,
    NodeSpec,
    Taint,
    NodeConfigSource,
    ConfigMapNodeConfigSource,
    NodeStatus,
    NodeCondition,
    NodeAddress,
    NodeDaemonEndpoints,
    DaemonEndpoint,
    NodeSystemInfo,
    ContainerImage,
    AttachedVolume,
    NodeConfigStatus,
    NodeRuntimeHandler,
    NodeRuntimeHandlerFeatures,
    NodeFeatures,
    Service,
    ServiceSpec,
    ServicePort,
    SessionAffinityConfig,
    ClientIPConfig,
    ServiceStatus,
    LoadBalancerStatus,
    LoadBalancerIngress,
    PortStatus,
    Endpoints,
    EndpointSubset,
    EndpointAddress,
    ObjectReference,
    EndpointPort,
    ConfigMap,
    Secret,
    ServiceAccount,
    Event,
    EventSource,
    EventSeries,
    PersistentVolume,
    PersistentVolumeSpec,
    GlusterfsPersistentVolumeSource,
    RBDPersistentVolumeSource,
    SecretReference,
    ISCSIPersistentVolumeSource,
    CinderPersistentVolumeSource,
    CephFSPersistentVolumeSource,
    FlexPersistentVolumeSource,
    AzureFilePersistentVolumeSource,
    ScaleIOPersistentVolumeSource,
    LocalVolumeSource,
    StorageOSPersistentVolumeSource,
    CSIPersistentVolumeSource,
    VolumeNodeAffinity,
    PersistentVolumeStatus,
    PersistentVolumeClaim,
    PersistentVolumeClaimStatus,
    PersistentVolumeClaimCondition,
    ModifyVolumeStatus,
    ResourceQuota,
    ResourceQuotaSpec,
    ScopeSelector,
    ScopedResourceSelectorRequirement,
    ResourceQuotaStatus,
    LimitRange,
    LimitRangeSpec,
    LimitRangeItem,
    ReplicationController,
    ReplicationControllerSpec,
    PodTemplateSpec,
    ReplicationControllerStatus,
    ReplicationControllerCondition,
    Binding,
    PodTemplate,
    ComponentStatus,
    ComponentCondition,
    TopologySelectorTerm,
    TopologySelectorLabelRequirement,
)
