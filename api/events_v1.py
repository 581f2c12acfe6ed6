"""events.k8s.io/v1: Event (a view of core events with newer field names).

Field names, protobuf numbers and list/patch markers match Kubernetes v1.32's generated.proto and types.go,
so JSON, protobuf and patch semantics agree with kube-apiserver.
"""

from api.schema import (
    INT32,
    MICROTIME,
    STRING,
    TIME,
    TYPE_META_FIELDS,
    Field,
    Ref,
    type_factory,
)

declare, ref = type_factory("io.k8s.api.events.v1.")

Event = declare(
    "Event",
    *TYPE_META_FIELDS,
    Field(
        "metadata", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 1, description="Standard object metadata."
    ),
    Field("eventTime", MICROTIME, 2, required=True),
    Field("series", ref("EventSeries"), 3),
    Field("reportingController", STRING, 4, omit_zero=True),
    Field("reportingInstance", STRING, 5, omit_zero=True),
    Field("action", STRING, 6, omit_zero=True),
    Field("reason", STRING, 7, omit_zero=True),
    Field("regarding", Ref("io.k8s.api.core.v1.ObjectReference"), 8),
    Field("related", Ref("io.k8s.api.core.v1.ObjectReference"), 9),
    Field("note", STRING, 10, omit_zero=True),
    Field("type", STRING, 11, omit_zero=True),
    Field("deprecatedSource", Ref("io.k8s.api.core.v1.EventSource"), 12),
    Field("deprecatedFirstTimestamp", TIME, 13),
    Field("deprecatedLastTimestamp", TIME, 14),
    Field("deprecatedCount", INT32, 15, omit_zero=True),
    description="A report of something that happened to an object (scheduling, pulls, failures, ...).",
)

EventSeries = declare(
    "EventSeries",
    Field("count", INT32, 1, required=True),
    Field("lastObservedTime", MICROTIME, 2, required=True),
)

TYPES = (
    Event,
    EventSeries,
)
