"""authentication.k8s.io/v1: TokenReview, TokenRequest, SelfSubjectReview.

Field names, protobuf numbers and list/patch markers match Kubernetes v1.32's generated.proto and types.go,
so JSON, protobuf and patch semantics agree with kube-apiserver.
"""

from api.schema import (
    BOOL,
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

declare, ref = type_factory("io.k8s.api.authentication.v1.")

TokenReview = declare(
    "TokenReview",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("TokenReviewSpec"), 2, required=True, description="The desired state."),
    Field(
        "status", ref("TokenReviewStatus"), 3, description="The most recently observed state, written by the system."
    ),
    description="Asks the apiserver to authenticate a token.",
)

TokenReviewSpec = declare(
    "TokenReviewSpec",
    Field("token", STRING, 1, omit_zero=True),
    Field("audiences", ListOf(STRING), 2, list_type="atomic"),
)

TokenReviewStatus = declare(
    "TokenReviewStatus",
    Field("authenticated", BOOL, 1, omit_zero=True),
    Field("user", ref("UserInfo"), 2),
    Field("audiences", ListOf(STRING), 4, list_type="atomic"),
    Field("error", STRING, 3, omit_zero=True),
)

UserInfo = declare(
    "UserInfo",
    Field("username", STRING, 1, omit_zero=True),
    Field("uid", STRING, 2, omit_zero=True),
    Field("groups", ListOf(STRING), 3, list_type="atomic"),
    Field("extra", MapOf(ListOf(STRING, proto_wrapped=True)), 4),
)

TokenRequest = declare(
    "TokenRequest",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("TokenRequestSpec"), 2, required=True, description="The desired state."),
    Field(
        "status", ref("TokenRequestStatus"), 3, description="The most recently observed state, written by the system."
    ),
    description="Requests a token for a service account.",
)

TokenRequestSpec = declare(
    "TokenRequestSpec",
    Field("audiences", ListOf(STRING), 1, list_type="atomic"),
    Field("expirationSeconds", INT64, 4),
    Field("boundObjectRef", ref("BoundObjectReference"), 3),
)

BoundObjectReference = declare(
    "BoundObjectReference",
    Field("kind", STRING, 1, omit_zero=True),
    Field("apiVersion", STRING, 2, omit_zero=True),
    Field("name", STRING, 3, omit_zero=True),
    Field("uid", STRING, 4, omit_zero=True),
)

TokenRequestStatus = declare(
    "TokenRequestStatus",
    Field("token", STRING, 1, required=True),
    Field("expirationTimestamp", TIME, 2, required=True),
)

SelfSubjectReview = declare(
    "SelfSubjectReview",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field(
        "status",
        ref("SelfSubjectReviewStatus"),
        2,
        description="The most recently observed state, written by the system.",
    ),
    description="Returns the user information of the requester.",
)

SelfSubjectReviewStatus = declare(
    "SelfSubjectReviewStatus",
    Field("userInfo", ref("UserInfo"), 1),
)

TYPES = (
    TokenReview,
    TokenReviewSpec,
    TokenReviewStatus,
    UserInfo,
    TokenRequest,
    TokenRequestSpec,
    BoundObjectReference,
    TokenRequestStatus,
    SelfSubjectReview,
    SelfSubjectReviewStatus,
)
