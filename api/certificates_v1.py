"""certificates.k8s.io/v1: CertificateSigningRequest.

Field names, protobuf numbers and list/patch markers match Kubernetes v1.32's generated.proto and types.go,
so JSON, protobuf and patch semantics agree with kube-apiserver.
"""

from api.schema import (
    BYTES,
    INT32,
    STRING,
    TIME,
    TYPE_META_FIELDS,
    Field,
    ListOf,
    MapOf,
    Ref,
    type_factory,
)

declare, ref = type_factory("io.k8s.api.certificates.v1.")

CertificateSigningRequest = declare(
    "CertificateSigningRequest",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("CertificateSigningRequestSpec"), 2, required=True, description="The desired state."),
    Field(
        "status",
        ref("CertificateSigningRequestStatus"),
        3,
        description="The most recently observed state, written by the system.",
    ),
    description="A request for a certificate signed by a named signer.",
)

CertificateSigningRequestSpec = declare(
    "CertificateSigningRequestSpec",
    Field("request", BYTES, 1, required=True, list_type="atomic"),
    Field("signerName", STRING, 7, required=True),
    Field("expirationSeconds", INT32, 8),
    Field("usages", ListOf(STRING), 5, list_type="atomic"),
    Field("username", STRING, 2, omit_zero=True),
    Field("uid", STRING, 3, omit_zero=True),
    Field("groups", ListOf(STRING), 4, list_type="atomic"),
    Field("extra", MapOf(ListOf(STRING, proto_wrapped=True)), 6),
)

CertificateSigningRequestStatus = declare(
    "CertificateSigningRequestStatus",
    Field("conditions", ListOf(ref("CertificateSigningRequestCondition")), 1, list_type="map", map_keys=("type",)),
    Field("certificate", BYTES, 2, list_type="atomic"),
)

CertificateSigningRequestCondition = declare(
    "CertificateSigningRequestCondition",
    Field("type", STRING, 1, required=True),
    Field("status", STRING, 6, required=True),
    Field("reason", STRING, 2, omit_zero=True),
    Field("message", STRING, 3, omit_zero=True),
    Field("lastUpdateTime", TIME, 4),
    Field("lastTransitionTime", TIME, 5),
)

TYPES = (
    CertificateSigningRequest,
    CertificateSigningRequestSpec,
    CertificateSigningRequestStatus,
    CertificateSigningRequestCondition,
)
