"""rbac.authorization.k8s.io/v1: Role, ClusterRole and their bindings.

Field names, protobuf numbers and list/patch markers match Kubernetes v1.32's generated.proto and types.go,
so JSON, protobuf and patch semantics agree with kube-apiserver.
"""

from api.schema import (
    STRING,
    TYPE_META_FIELDS,
    Field,
    ListOf,
    Ref,
    type_factory,
)

declare, ref = type_factory("io.k8s.api.rbac.v1.")

Role = declare(
    "Role",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("rules", ListOf(ref("PolicyRule")), 2, list_type="atomic"),
    description="A namespaced set of permissions.",
)

PolicyRule = declare(
    "PolicyRule",
    Field("verbs", ListOf(STRING), 1, required=True, list_type="atomic"),
    Field("apiGroups", ListOf(STRING), 2, list_type="atomic"),
    Field("resources", ListOf(STRING), 3, list_type="atomic"),
    Field("resourceNames", ListOf(STRING), 4, list_type="atomic"),
    Field("nonResourceURLs", ListOf(STRING), 5, list_type="atomic"),
)

ClusterRole = declare(
    "ClusterRole",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("rules", ListOf(ref("PolicyRule")), 2, list_type="atomic"),
    Field("aggregationRule", ref("AggregationRule"), 3),
    description="A cluster-wide set of permissions.",
)

AggregationRule = declare(
    "AggregationRule",
    Field(
        "clusterRoleSelectors", ListOf(Ref("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector")), 1, list_type="atomic"
    ),
)

RoleBinding = declare(
    "RoleBinding",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("subjects", ListOf(ref("Subject")), 2, list_type="atomic"),
    Field("roleRef", ref("RoleRef"), 3, required=True),
    description="Grants a Role's or ClusterRole's permissions to subjects within a namespace.",
)

Subject = declare(
    "Subject",
    Field("kind", STRING, 1, required=True),
    Field("apiGroup", STRING, 2, omit_zero=True),
    Field("name", STRING, 3, required=True),
    Field("namespace", STRING, 4, omit_zero=True),
    map_type="atomic",
)

RoleRef = declare(
    "RoleRef",
    Field("apiGroup", STRING, 1, required=True),
    Field("kind", STRING, 2, required=True),
    Field("name", STRING, 3, required=True),
    map_type="atomic",
)

ClusterRoleBinding = declare(
    "ClusterRoleBinding",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("subjects", ListOf(ref("Subject")), 2, list_type="atomic"),
    Field("roleRef", ref("RoleRef"), 3, required=True),
    description="Grants a ClusterRole's permissions to subjects cluster-wide.",
)

TYPES = (
    Role,
    PolicyRule,
    ClusterRole,
    AggregationRule,
    RoleBinding,
    Subject,
    RoleRef,
    ClusterRoleBinding,
)
