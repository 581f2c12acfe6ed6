"""apiextensions.k8s.io/v1: CustomResourceDefinition and its JSON schema type.

Field names, protobuf numbers and list/patch markers match Kubernetes v1.32's generated.proto and types.go,
so JSON, protobuf and patch semantics agree with kube-apiserver.
"""

from api.schema import (
    ANY,
    BOOL,
    BYTES,
    INT32,
    INT64,
    NUMBER,
    STRING,
    TIME,
    TYPE_META_FIELDS,
    Field,
    ListOf,
    MapOf,
    Ref,
    type_factory,
)

declare, ref = type_factory("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.")

CustomResourceDefinition = declare(
    "CustomResourceDefinition",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("spec", ref("CustomResourceDefinitionSpec"), 2, required=True, description="The desired state."),
    Field(
        "status",
        ref("CustomResourceDefinitionStatus"),
        3,
        description="The most recently observed state, written by the system.",
    ),
    description="Adds a new resource type, with its schema, to the API.",
)

CustomResourceDefinitionSpec = declare(
    "CustomResourceDefinitionSpec",
    Field("group", STRING, 1, required=True),
    Field("names", ref("CustomResourceDefinitionNames"), 3, required=True),
    Field("scope", STRING, 4, required=True, enum=("Cluster", "Namespaced")),
    Field("versions", ListOf(ref("CustomResourceDefinitionVersion")), 7, required=True, list_type="atomic"),
    Field("conversion", ref("CustomResourceConversion"), 9),
    Field("preserveUnknownFields", BOOL, 10, omit_zero=True),
)

CustomResourceDefinitionNames = declare(
    "CustomResourceDefinitionNames",
    Field("plural", STRING, 1, required=True),
    Field("singular", STRING, 2, omit_zero=True),
    Field("shortNames", ListOf(STRING), 3, list_type="atomic"),
    Field("kind", STRING, 4, required=True),
    Field("listKind", STRING, 5, omit_zero=True),
    Field("categories", ListOf(STRING), 6, list_type="atomic"),
)

CustomResourceDefinitionVersion = declare(
    "CustomResourceDefinitionVersion",
    Field("name", STRING, 1, required=True),
    Field("served", BOOL, 2, required=True),
    Field("storage", BOOL, 3, required=True),
    Field("deprecated", BOOL, 7, omit_zero=True),
    Field("deprecationWarning", STRING, 8),
    Field("schema", ref("CustomResourceValidation"), 4),
    Field("subresources", ref("CustomResourceSubresources"), 5),
    Field("additionalPrinterColumns", ListOf(ref("CustomResourceColumnDefinition")), 6, list_type="atomic"),
    Field("selectableFields", ListOf(ref("SelectableField")), 9, list_type="atomic"),
)

CustomResourceValidation = declare(
    "CustomResourceValidation",
    Field("openAPIV3Schema", ref("JSONSchemaProps"), 1),
)

JSONSchemaProps = declare(
    "JSONSchemaProps",
    Field("id", STRING, 1, omit_zero=True),
    Field("$schema", STRING, 2, omit_zero=True),
    Field("$ref", STRING, 3),
    Field("description", STRING, 4, omit_zero=True),
    Field("type", STRING, 5, omit_zero=True),
    Field("format", STRING, 6, omit_zero=True),
    Field("title", STRING, 7, omit_zero=True),
    Field("default", ANY, 8),
    Field("maximum", NUMBER, 9),
    Field("exclusiveMaximum", BOOL, 10, omit_zero=True),
    Field("minimum", NUMBER, 11),
    Field("exclusiveMinimum", BOOL, 12, omit_zero=True),
    Field("maxLength", INT64, 13),
    Field("minLength", INT64, 14),
    Field("pattern", STRING, 15, omit_zero=True),
    Field("maxItems", INT64, 16),
    Field("minItems", INT64, 17),
    Field("uniqueItems", BOOL, 18, omit_zero=True),
    Field("multipleOf", NUMBER, 19),
    Field("enum", ListOf(ANY), 20, list_type="atomic"),
    Field("maxProperties", INT64, 21),
    Field("minProperties", INT64, 22),
    Field("required", ListOf(STRING), 23, list_type="atomic"),
    Field("items", ANY, 24),
    Field("allOf", ListOf(ref("JSONSchemaProps")), 25, list_type="atomic"),
    Field("oneOf", ListOf(ref("JSONSchemaProps")), 26, list_type="atomic"),
    Field("anyOf", ListOf(ref("JSONSchemaProps")), 27, list_type="atomic"),
    Field("not", ref("JSONSchemaProps"), 28),
    Field("properties", MapOf(ref("JSONSchemaProps")), 29),
    Field("additionalProperties", ANY, 30),
    Field("patternProperties", MapOf(ref("JSONSchemaProps")), 31),
    Field("dependencies", MapOf(ANY), 32),
    Field("additionalItems", ANY, 33),
    Field("definitions", MapOf(ref("JSONSchemaProps")), 34),
    Field("externalDocs", ref("ExternalDocumentation"), 35),
    Field("example", ANY, 36),
    Field("nullable", BOOL, 37, omit_zero=True),
    Field("x-kubernetes-preserve-unknown-fields", BOOL, 38),
    Field("x-kubernetes-embedded-resource", BOOL, 39, omit_zero=True),
    Field("x-kubernetes-int-or-string", BOOL, 40, omit_zero=True),
    Field("x-kubernetes-list-map-keys", ListOf(STRING), 41, list_type="atomic"),
    Field("x-kubernetes-list-type", STRING, 42),
    Field("x-kubernetes-map-type", STRING, 43),
    Field(
        "x-kubernetes-validations",
        ListOf(ref("ValidationRule")),
        44,
        list_type="map",
        map_keys=("rule",),
        merge_key="rule",
        strategy="merge",
    ),
)

JSONSchemaPropsOrArray = declare(
    "JSONSchemaPropsOrArray",
    Field("schema", ref("JSONSchemaProps"), 1),
    Field("jSONSchemas", ListOf(ref("JSONSchemaProps")), 2, list_type="atomic"),
)

JSONSchemaPropsOrBool = declare(
    "JSONSchemaPropsOrBool",
    Field("allows", BOOL, 1),
    Field("schema", ref("JSONSchemaProps"), 2),
)

JSONSchemaPropsOrStringArray = declare(
    "JSONSchemaPropsOrStringArray",
    Field("schema", ref("JSONSchemaProps"), 1),
    Field("property", ListOf(STRING), 2, list_type="atomic"),
)

ExternalDocumentation = declare(
    "ExternalDocumentation",
    Field("description", STRING, 1, omit_zero=True),
    Field("url", STRING, 2, omit_zero=True),
)

ValidationRule = declare(
    "ValidationRule",
    Field("rule", STRING, 1, required=True),
    Field("message", STRING, 2, omit_zero=True),
    Field("messageExpression", STRING, 3, omit_zero=True),
    Field("reason", STRING, 4),
    Field("fieldPath", STRING, 5, omit_zero=True),
    Field("optionalOldSelf", BOOL, 6),
)

CustomResourceSubresources = declare(
    "CustomResourceSubresources",
    Field(
        "status",
        ref("CustomResourceSubresourceStatus"),
        1,
        description="The most recently observed state, written by the system.",
    ),
    Field("scale", ref("CustomResourceSubresourceScale"), 2),
)

CustomResourceSubresourceStatus = declare(
    "CustomResourceSubresourceStatus",
)

CustomResourceSubresourceScale = declare(
    "CustomResourceSubresourceScale",
    Field("specReplicasPath", STRING, 1, required=True),
    Field("statusReplicasPath", STRING, 2, required=True),
    Field("labelSelectorPath", STRING, 3),
)

CustomResourceColumnDefinition = declare(
    "CustomResourceColumnDefinition",
    Field("name", STRING, 1, required=True),
    Field("type", STRING, 2, required=True),
    Field("format", STRING, 3, omit_zero=True),
    Field("description", STRING, 4, omit_zero=True),
    Field("priority", INT32, 5, omit_zero=True),
    Field("jsonPath", STRING, 6, required=True),
)

SelectableField = declare(
    "SelectableField",
    Field("jsonPath", STRING, 1, required=True),
)

CustomResourceConversion = declare(
    "CustomResourceConversion",
    Field("strategy", STRING, 1, required=True, default="None", enum=("None", "Webhook")),
    Field("webhook", ref("WebhookConversion"), 2),
)

WebhookConversion = declare(
    "WebhookConversion",
    Field("clientConfig", ref("WebhookClientConfig"), 2),
    Field("conversionReviewVersions", ListOf(STRING), 3, required=True, list_type="atomic"),
)

WebhookClientConfig = declare(
    "WebhookClientConfig",
    Field("url", STRING, 3),
    Field("service", ref("ServiceReference"), 1),
    Field("caBundle", BYTES, 2),
)

ServiceReference = declare(
    "ServiceReference",
    Field("namespace", STRING, 1, required=True),
    Field("name", STRING, 2, required=True),
    Field("path", STRING, 3),
    Field("port", INT32, 4),
)

CustomResourceDefinitionStatus = declare(
    "CustomResourceDefinitionStatus",
    Field("conditions", ListOf(ref("CustomResourceDefinitionCondition")), 1, list_type="map", map_keys=("type",)),
    Field("acceptedNames", ref("CustomResourceDefinitionNames"), 2),
    Field("storedVersions", ListOf(STRING), 3, list_type="atomic"),
)

CustomResourceDefinitionCondition = declare(
    "CustomResourceDefinitionCondition",
    Field("type", STRING, 1, required=True),
    Field("status", STRING, 2, required=True),
    Field("lastTransitionTime", TIME, 3),
    Field("reason", STRING, 4, omit_zero=True),
    Field("message", STRING, 5, omit_zero=True),
)

TYPES = (
    CustomResourceDefinition,
    CustomResourceDefinitionSpec,
    CustomResourceDefinitionNames,
    CustomResourceDefinitionVersion,
    CustomResourceValidation,
    JSONSchemaProps,
    JSONSchemaPropsOrArray,
    JSONSchemaPropsOrBool,
    JSONSchemaPropsOrStringArray,
    ExternalDocumentation,
    ValidationRule,
    CustomResourceSubresources,
    CustomResourceSubresourceStatus,
    CustomResourceSubresourceScale,
    CustomResourceColumnDefinition,
    SelectableField,
    CustomResourceConversion,
    WebhookConversion,
    WebhookClientConfig,
    ServiceReference,
    CustomResourceDefinitionStatus,
    CustomResourceDefinitionCondition,
)
