"""networking.k8s.io/v1: NetworkPolicy, Ingress, IngressClass.

Field names, protobuf numbers and list/patch markers match Kubernetes v1.32's generated.proto and types.go,
so JSON, protobuf and patch semantics agree with kube-apiserver.
"""

from api.schema import (
    INT32,
    INT_OR_STRING,
    STRING,
    TYPE_META_FIELDS,
    Field,
    ListOf,
    Ref,
    type_factory,
)

declare, ref = type_factory("io.k8s.api.networking.v1.")

NetworkPolicy = declare(
    "NetworkPolicy",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("NetworkPolicySpec"), 2, description="The desired state."),
    description="Which traffic may reach or leave the pods it selects.",
)

NetworkPolicySpec = declare(
    "NetworkPolicySpec",
    Field("podSelector", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"), 1, required=True),
    Field("ingress", ListOf(ref("NetworkPolicyIngressRule")), 2, list_type="atomic"),
    Field("egress", ListOf(ref("NetworkPolicyEgressRule")), 3, list_type="atomic"),
    Field("policyTypes", ListOf(STRING), 4, list_type="atomic"),
)

NetworkPolicyIngressRule = declare(
    "NetworkPolicyIngressRule",
    Field("ports", ListOf(ref("NetworkPolicyPort")), 1, list_type="atomic"),
    Field("from", ListOf(ref("NetworkPolicyPeer")), 2, list_type="atomic"),
)

NetworkPolicyPort = declare(
    "NetworkPolicyPort",
    Field("protocol", STRING, 1, default="TCP", enum=("TCP", "UDP", "SCTP")),
    Field("port", INT_OR_STRING, 2),
    Field("endPort", INT32, 3),
)

NetworkPolicyPeer = declare(
    "NetworkPolicyPeer",
    Field("podSelector", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"), 1),
    Field("namespaceSelector", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"), 2),
    Field("ipBlock", ref("IPBlock"), 3),
)

IPBlock = declare(
    "IPBlock",
    Field("cidr", STRING, 1, required=True),
    Field("except", ListOf(STRING), 2, list_type="atomic"),
)

NetworkPolicyEgressRule = declare(
    "NetworkPolicyEgressRule",
    Field("ports", ListOf(ref("NetworkPolicyPort")), 1, list_type="atomic"),
    Field("to", ListOf(ref("NetworkPolicyPeer")), 2, list_type="atomic"),
)

Ingress = declare(
    "Ingress",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("IngressSpec"), 2, description="The desired state."),
    Field("status", ref("IngressStatus"), 3, description="The most recently observed state, written by the system."),
    description="HTTP(S) routing from outside the cluster to Services.",
)

IngressSpec = declare(
    "IngressSpec",
    Field("ingressClassName", STRING, 4),
    Field("defaultBackend", ref("IngressBackend"), 1),
    Field("tls", ListOf(ref("IngressTLS")), 2, list_type="atomic"),
    Field("rules", ListOf(ref("IngressRule")), 3, list_type="atomic"),
)

IngressBackend = declare(
    "IngressBackend",
    Field("service", ref("IngressServiceBackend"), 4),
    Field("resource", Ref("io.k8s.api.core.v1.TypedLocalObjectReference"), 3),
)

IngressServiceBackend = declare(
    "IngressServiceBackend",
    Field("name", STRING, 1, required=True),
    Field("port", ref("ServiceBackendPort"), 2),
)

ServiceBackendPort = declare(
    "ServiceBackendPort",
    Field("name", STRING, 1, omit_zero=True),
    Field("number", INT32, 2, omit_zero=True),
    map_type="atomic",
)

IngressTLS = declare(
    "IngressTLS",
    Field("hosts", ListOf(STRING), 1, list_type="atomic"),
    Field("secretName", STRING, 2, omit_zero=True),
)

IngressRule = declare(
    "IngressRule",
    Field("host", STRING, 1, omit_zero=True),
    Field("http", ref("HTTPIngressRuleValue"), 1, embedded_in=2),
)

HTTPIngressRuleValue = declare(
    "HTTPIngressRuleValue",
    Field("paths", ListOf(ref("HTTPIngressPath")), 1, required=True, list_type="atomic"),
)

HTTPIngressPath = declare(
    "HTTPIngressPath",
    Field("path", STRING, 1, omit_zero=True),
    Field("pathType", STRING, 3, required=True, enum=("Exact", "ImplementationSpecific", "Prefix")),
    Field("backend", ref("IngressBackend"), 2, required=True),
)

IngressStatus = declare(
    "IngressStatus",
    Field("loadBalancer", ref("IngressLoadBalancerStatus"), 1),
)

IngressLoadBalancerStatus = declare(
    "IngressLoadBalancerStatus",
    Field("ingress", ListOf(ref("IngressLoadBalancerIngress")), 1, list_type="atomic"),
)

IngressLoadBalancerIngress = declare(
    "IngressLoadBalancerIngress",
    Field("ip", STRING, 1, omit_zero=True),
    Field("hostname", STRING, 2, omit_zero=True),
    Field("ports", ListOf(ref("IngressPortStatus")), 4, list_type="atomic"),
)

IngressPortStatus = declare(
    "IngressPortStatus",
    Field("port", INT32, 1, required=True),
    Field("protocol", STRING, 2, required=True),
    Field("error", STRING, 3),
)

IngressClass = declare(
    "IngressClass",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("IngressClassSpec"), 2, description="The desired state."),
    description="Names the controller that implements a class of Ingresses.",
)

IngressClassSpec = declare(
    "IngressClassSpec",
    Field("controller", STRING, 1, omit_zero=True),
    Field("parameters", ref("IngressClassParametersReference"), 2),
)

IngressClassParametersReference = declare(
    "IngressClassParametersReference",
    Field("apiGroup", STRING, 1),
    Field("kind", STRING, 2, required=True),
    Field("name", STRING, 3, required=True),
    Field("scope", STRING, 4),
    Field("namespace", STRING, 5),
)

TYPES = (
    NetworkPolicy,
    NetworkPolicySpec,
    NetworkPolicyIngressRule,
    NetworkPolicyPort,
    NetworkPolicyPeer,
    IPBlock,
    NetworkPolicyEgressRule,
    Ingress,
    IngressSpec,
    IngressBackend,
    IngressServiceBackend,
    ServiceBackendPort,
    IngressTLS,
    IngressRule,
    HTTPIngressRuleValue,
    HTTPIngressPath,
    IngressStatus,
    IngressLoadBalancerStatus,
    IngressLoadBalancerIngress,
    IngressPortStatus,
    IngressClass,
    IngressClassSpec,
    IngressClassParametersReference,
)
