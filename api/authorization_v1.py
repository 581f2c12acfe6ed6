"""authorization.k8s.io/v1: the access review kinds.

Field names, protobuf numbers and list/patch markers match Kubernetes v1.32's generated.proto and types.go,
so JSON, protobuf and patch semantics agree with kube-apiserver.
"""

from api.schema import (
    BOOL,
    STRING,
    TYPE_META_FIELDS,
    Field,
    ListOf,
    MapOf,
    Ref,
    type_factory,
)

declare, ref = type_factory("io.k8s.api.authorization.v1.")

SubjectAccessReview = declare(
    "SubjectAccessReview",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("SubjectAccessReviewSpec"), 2, required=True, description="The desired state."),
    Field(
        "status",
        ref("SubjectAccessReviewStatus"),
        3,
        description="The most recently observed state, written by the system.",
    ),
    description="Asks whether a user may perform an action.",
)

SubjectAccessReviewSpec = declare(
    "SubjectAccessReviewSpec",
    Field("resourceAttributes", ref("ResourceAttributes"), 1),
    Field("nonResourceAttributes", ref("NonResourceAttributes"), 2),
    Field("user", STRING, 3, omit_zero=True),
    Field("groups", ListOf(STRING), 4, list_type="atomic"),
    Field("extra", MapOf(ListOf(STRING, proto_wrapped=True)), 5),
    Field("uid", STRING, 6, omit_zero=True),
)

ResourceAttributes = declare(
    "ResourceAttributes",
    Field("namespace", STRING, 1, omit_zero=True),
    Field("verb", STRING, 2, omit_zero=True),
    Field("group", STRING, 3, omit_zero=True),
    Field("version", STRING, 4, omit_zero=True),
    Field("resource", STRING, 5, omit_zero=True),
    Field("subresource", STRING, 6, omit_zero=True),
    Field("name", STRING, 7, omit_zero=True),
    Field("fieldSelector", ref("FieldSelectorAttributes"), 8),
    Field("labelSelector", ref("LabelSelectorAttributes"), 9),
)

FieldSelectorAttributes = declare(
    "FieldSelectorAttributes",
    Field("rawSelector", STRING, 1, omit_zero=True),
    Field(
        "requirements",
        ListOf(Ref("io.k8s.apimachinery.pkg.apis.meta.v1.FieldSelectorRequirement")),
        2,
        list_type="atomic",
    ),
)

LabelSelectorAttributes = declare(
    "LabelSelectorAttributes",
    Field("rawSelector", STRING, 1, omit_zero=True),
    Field(
        "requirements",
        ListOf(Ref("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement")),
        2,
        list_type="atomic",
    ),
)

NonResourceAttributes = declare(
    "NonResourceAttributes",
    Field("path", STRING, 1, omit_zero=True),
    Field("verb", STRING, 2, omit_zero=True),
)

SubjectAccessReviewStatus = declare(
    "SubjectAccessReviewStatus",
    Field("allowed", BOOL, 1, required=True),
    Field("denied", BOOL, 4, omit_zero=True),
    Field("reason", STRING, 2, omit_zero=True),
    Field("evaluationError", STRING, 3, omit_zero=True),
)

SelfSubjectAccessReview = declare(
    "SelfSubjectAccessReview",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("SelfSubjectAccessReviewSpec"), 2, required=True, description="The desired state."),
    Field(
        "status",
        ref("SubjectAccessReviewStatus"),
        3,
        description="The most recently observed state, written by the system.",
    ),
    description="Asks whether the requester may perform an action.",
)

SelfSubjectAccessReviewSpec = declare(
    "SelfSubjectAccessReviewSpec",
    Field("resourceAttributes", ref("ResourceAttributes"), 1),
    Field("nonResourceAttributes", ref("NonResourceAttributes"), 2),
)

LocalSubjectAccessReview = declare(
    "LocalSubjectAccessReview",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("SubjectAccessReviewSpec"), 2, required=True, description="The desired state."),
    Field(
        "status",
        ref("SubjectAccessReviewStatus"),
        3,
        description="The most recently observed state, written by the system.",
    ),
    description="Asks whether a user may perform an action in one namespace.",
)

SelfSubjectRulesReview = declare(
    "SelfSubjectRulesReview",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("SelfSubjectRulesReviewSpec"), 2, required=True, description="The desired state."),
    Field(
        "status",
        ref("SubjectRulesReviewStatus"),
        3,
        description="The most recently observed state, written by the system.",
    ),
    description="Lists the actions the requester may perform in a namespace.",
)

SelfSubjectRulesReviewSpec = declare(
    "SelfSubjectRulesReviewSpec",
    Field("namespace", STRING, 1, omit_zero=True),
)

SubjectRulesReviewStatus = declare(
    "SubjectRulesReviewStatus",
    Field("resourceRules", ListOf(ref("ResourceRule")), 1, required=True, list_type="atomic"),
    Field("nonResourceRules", ListOf(ref("NonResourceRule")), 2, required=True, list_type="atomic"),
    Field("incomplete", BOOL, 3, required=True),
    Field("evaluationError", STRING, 4, omit_zero=True),
)

ResourceRule = declare(
    "ResourceRule",
    Field("verbs", ListOf(STRING), 1, required=True, list_type="atomic"),
    Field("apiGroups", ListOf(STRING), 2, list_type="atomic"),
    Field("resources", ListOf(STRING), 3, list_type="atomic"),
    Field("resourceNames", ListOf(STRING), 4, list_type="atomic"),
)

NonResourceRule = declare(
    "NonResourceRule",
    Field("verbs", ListOf(STRING), 1, required=True, list_type="atomic"),
    Field("nonResourceURLs", ListOf(STRING), 2, list_type="atomic"),
)

TYPES = (
    SubjectAccessReview,
    SubjectAccessReviewSpec,
    ResourceAttributes,
    FieldSelectorAttributes,
    LabelSelectorAttributes,
    NonResourceAttributes,
    SubjectAccessReviewStatus,
    SelfSubjectAccessReview,
    SelfSubjectAccessReviewSpec,
    LocalSubjectAccessReview,
    SelfSubjectRulesReview,
    SelfSubjectRulesReviewSpec,
    SubjectRulesReviewStatus,
    ResourceRule,
    NonResourceRule,
)
