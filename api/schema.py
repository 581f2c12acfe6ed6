"""The schema DSL: object types, their fields, and the resources that serve them.

Everything else in `api/` (defaulting, validation, patches, OpenAPI, protobuf decoding, tables, field
selectors) walks these declarations, so a field is described in exactly one place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

JSON = Any
"""A decoded JSON value; objects are dicts with string keys."""


class _NoDefault:
    """Marks a field without a declared default (None is a legal default value in JSON)."""

    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Final = _NoDefault()


@dataclass(frozen=True, slots=True)
class Scalar:
    """A leaf value; `format` is the OpenAPI type/format pair it maps to (see FORMATS)."""

    format: str


@dataclass(frozen=True, slots=True)
class Ref:
    """A nested object type, named by its OpenAPI definition name and resolved through a Registry."""

    name: str


@dataclass(frozen=True, slots=True)
class ListOf:
    """A JSON array. `proto_wrapped` marks lists that protobuf carries inside a one-field message
    (authentication's ExtraValue), so the decoder knows to unwrap them."""

    item: TypeSpec
    proto_wrapped: bool = False


@dataclass(frozen=True, slots=True)
class MapOf:
    """A JSON object with arbitrary string keys and uniform values (labels, ResourceList, …)."""

    value: TypeSpec


TypeSpec = Scalar | Ref | ListOf | MapOf

STRING: Final = Scalar("string")
INT32: Final = Scalar("int32")
INT64: Final = Scalar("int64")
BOOL: Final = Scalar("boolean")
NUMBER: Final = Scalar("double")
BYTES: Final = Scalar("byte")
TIME: Final = Scalar("date-time")
MICROTIME: Final = Scalar("micro-time")
DURATION: Final = Scalar("duration")
QUANTITY: Final = Scalar("quantity")
INT_OR_STRING: Final = Scalar("int-or-string")
FREE_OBJECT: Final = Scalar("object")
"""An object whose content is not described (RawExtension, FieldsV1): x-kubernetes-preserve-unknown-fields."""
ANY: Final = Scalar("any")
"""Any JSON value (apiextensions' JSON type)."""

FORMATS: Final[Mapping[str, tuple[str, str]]] = {
    "string": ("string", ""),
    "int32": ("integer", "int32"),
    "int64": ("integer", "int64"),
    "boolean": ("boolean", ""),
    "double": ("number", "double"),
    "byte": ("string", "byte"),
    "date-time": ("string", "date-time"),
    "micro-time": ("string", "date-time"),
    "duration": ("string", ""),
    "quantity": ("string", ""),
    "int-or-string": ("", "int-or-string"),
    "object": ("object", ""),
    "any": ("", ""),
}
"""OpenAPI (type, format) for each scalar; an empty type means "any" in OpenAPI terms."""


@dataclass(frozen=True, slots=True)
class Field:
    """One JSON member of an object type.

    `proto` is the field number in Kubernetes' generated.proto (0 for members that protobuf does not
    carry, such as the inline apiVersion/kind). `strategy`/`merge_key` drive strategic merge patch;
    `list_type`/`map_keys` are the x-kubernetes-list-* markers used by server-side apply and OpenAPI.
    """

    name: str
    type: TypeSpec
    proto: int = 0
    required: bool = False
    default: JSON = NO_DEFAULT
    enum: tuple[str, ...] = ()
    description: str = ""
    list_type: str = ""
    map_keys: tuple[str, ...] = ()
    merge_key: str = ""
    strategy: str = ""
    map_type: str = ""
    embedded_in: int = 0
    omit_zero: bool = False
    """Go declares this scalar without a pointer and with omitempty: its zero value ("", 0, false) means
    unset. Protobuf always carries such fields, and defaulting treats the zero value as absent."""
    """Non-zero when Go embeds this member's struct inline: JSON shows the member directly, protobuf
    carries it inside the embedded message at this field number of the parent."""

    @property
    def has_default(self) -> bool:
        """Whether a default is declared (None can be one)."""
        return self.default is not NO_DEFAULT

    @property
    def merges(self) -> bool:
        """Whether strategic merge patch merges this list instead of replacing it."""
        return "merge" in self.strategy.split(",")


@dataclass(eq=False)
class ObjectType:
    """A structured object type, named as Kubernetes names its OpenAPI definition."""

    name: str
    fields: tuple[Field, ...]
    description: str = ""
    map_type: str = ""
    """"atomic" for structs that server-side apply replaces as a whole (LabelSelector, ObjectReference…)."""
    by_name: dict[str, Field] = field(init=False, repr=False)
    defaulted: tuple[Field, ...] = field(init=False, repr=False)
    """Fields with a declared default (walked on every defaulting pass, so precomputed)."""
    nested: frozenset[str] = field(init=False, repr=False)
    """Names of fields whose values contain other object types: the only ones walks must descend into."""

    def __post_init__(self) -> None:
        self.by_name = {f.name: f for f in self.fields}
        self.defaulted = tuple(f for f in self.fields if f.has_default)
        self.nested = frozenset(f.name for f in self.fields if refs_in(f.type))
        if len(self.by_name) != len(self.fields):
            raise ValueError(f"{self.name}: duplicate field names")
        numbers = [(f.embedded_in, f.proto) for f in self.fields if f.proto]
        if len(set(numbers)) != len(numbers):
            raise ValueError(f"{self.name}: duplicate protobuf field numbers")


def type_factory(prefix: str) -> tuple[Callable[..., ObjectType], Callable[[str], Ref]]:
    """Helpers for a group module: declare types and refer to them without repeating the package prefix."""

    def declare(short: str, *fields: Field, description: str = "", map_type: str = "") -> ObjectType:
        return ObjectType(prefix + short, tuple(fields), description=description, map_type=map_type)

    def ref(short: str) -> Ref:
        return Ref(prefix + short)

    return declare, ref


CellFunction = Callable[[JSON, datetime], JSON]


@dataclass(frozen=True, slots=True)
class Column:
    """A `kubectl get` table column; `cell` renders it from the object at a given time (for ages)."""

    name: str
    cell: CellFunction
    type: str = "string"
    format: str = ""
    description: str = ""
    priority: int = 0


@dataclass(frozen=True, slots=True)
class Subresource:
    """A subresource served under a resource (`pods/status`, `deployments/scale`, …)."""

    name: str
    kind: str
    verbs: tuple[str, ...]
    group: str | None = None
    """Set when the subresource's kind lives in another group (scale → autoscaling/v1)."""
    version: str | None = None


FieldGetter = Callable[[JSON], str]

STANDARD_VERBS: Final = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True, slots=True)
class Resource:
    """A served resource: the REST and storage metadata of one kind in one group/version."""

    group: str
    version: str
    kind: str
    plural: str
    type_name: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = STANDARD_VERBS
    subresources: tuple[Subresource, ...] = ()
    columns: tuple[Column, ...] = ()
    field_selectors: Mapping[str, FieldGetter] = field(default_factory=dict)
    name_rule: str = "subdomain"
    """Which metadata.name rule applies: subdomain, label, dns1035, path-segment or any."""
    has_status: bool = True
    """Whether `status` is reset on create and ignored on main-resource updates (the status strategy)."""
    tracks_generation: bool = False
    """Whether metadata.generation starts at 1 and increases with every spec change."""
    shared_storage: str = ""
    """Storage prefix of another group's resource this one is a view of (events.k8s.io events live with
    core events); objects are converted to that resource's storage version (api.conversion)."""

    @property
    def api_version(self) -> str:
        """`v1` for the core group, `<group>/<version>` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        """The kind of list responses (`PodList`)."""
        return self.kind + "List"

    @property
    def singular_name(self) -> str:
        """The singular resource name used by discovery and kubectl."""
        return self.singular or self.kind.lower()

    @property
    def storage_prefix(self) -> str:
        """Kubernetes' key layout: /registry/<resource> for core, /registry/<group>/<resource> otherwise."""
        if self.shared_storage:
            return self.shared_storage
        return f"/registry/{self.group}/{self.plural}" if self.group else f"/registry/{self.plural}"

    def storage_key(self, namespace: str | None, name: str) -> str:
        """The store key of one object."""
        if self.namespaced:
            if not namespace:
                raise ValueError(f"{self.plural} are namespaced: a namespace is required")
            return f"{self.storage_prefix}/{namespace}/{name}"
        return f"{self.storage_prefix}/{name}"

    def subresource(self, name: str) -> Subresource | None:
        """The named subresource, or None."""
        return next((s for s in self.subresources if s.name == name), None)


class UnknownType(KeyError):
    """A Ref names a type nobody declared: a bug in a declaration, caught when the registry is built."""


@dataclass
class Registry:
    """All declared object types and resources, with the lookups the apiserver needs."""

    types: dict[str, ObjectType] = field(default_factory=dict)
    resources: list[Resource] = field(default_factory=list)
    _by_gvr: dict[tuple[str, str, str], Resource] = field(default_factory=dict, repr=False)
    _by_gvk: dict[tuple[str, str, str], Resource] = field(default_factory=dict, repr=False)

    def add_types(self, types: tuple[ObjectType, ...]) -> None:
        """Add declared types; names must be unique."""
        for t in types:
            if t.name in self.types:
                raise ValueError(f"type {t.name} declared twice")
            self.types[t.name] = t

    def add_resource(self, res: Resource) -> None:
        """Add a served resource (and its `<Kind>List` type)."""
        key = (res.group, res.version, res.plural)
        if key in self._by_gvr:
            raise ValueError(f"resource {key} declared twice")
        if res.type_name not in self.types:
            raise UnknownType(res.type_name)
        self._by_gvr[key] = res
        self._by_gvk.setdefault((res.group, res.version, res.kind), res)
        self.resources.append(res)
        list_name = res.type_name + "List"
        if list_name not in self.types:
            self.types[list_name] = list_type_for(res)

    def type(self, name: str) -> ObjectType:
        """The declared type of that name; UnknownType otherwise."""
        try:
            return self.types[name]
        except KeyError:
            raise UnknownType(name) from None

    def resolve(self, ref: Ref) -> ObjectType:
        """The object type a Ref names."""
        return self.type(ref.name)

    def resource(self, group: str, version: str, plural: str) -> Resource | None:
        """Lookup by group/version/resource (the URL path); the core group is ''."""
        return self._by_gvr.get((group, version, plural))

    def require(self, group: str, version: str, plural: str) -> Resource:
        """Lookup for resources the caller knows are built in (controllers, tests); KeyError otherwise."""
        res = self._by_gvr.get((group, version, plural))
        if res is None:
            raise KeyError(f"no resource {plural!r} in {group or 'core'}/{version}")
        return res

    def resource_for_kind(self, group: str, version: str, kind: str) -> Resource | None:
        """The resource serving a kind in a group/version."""
        return self._by_gvk.get((group, version, kind))

    def resource_for_api_version(self, api_version: str, kind: str) -> Resource | None:
        """The resource for an object's apiVersion and kind."""
        group, _, version = api_version.rpartition("/")
        return self.resource_for_kind(group, version, kind)

    def group_versions(self) -> list[tuple[str, str]]:
        """Served group/versions in declaration order (the first version of a group is preferred)."""
        seen: dict[tuple[str, str], None] = {}
        for r in self.resources:
            seen.setdefault((r.group, r.version), None)
        return list(seen)

    def check(self) -> None:
        """Every Ref must resolve: run once when the catalog is assembled."""
        for t in self.types.values():
            for f in t.fields:
                for ref in refs_in(f.type):
                    if ref.name not in self.types:
                        raise UnknownType(f"{t.name}.{f.name} → {ref.name}")


def refs_in(spec: TypeSpec) -> list[Ref]:
    """The object types a field type refers to (through lists and maps)."""
    if isinstance(spec, Ref):
        return [spec]
    if isinstance(spec, ListOf):
        return refs_in(spec.item)
    if isinstance(spec, MapOf):
        return refs_in(spec.value)
    return []


TYPE_META_FIELDS: Final = (
    Field("apiVersion", STRING, description="The versioned schema of this representation of an object."),
    Field("kind", STRING, description="The REST resource this object represents."),
)
"""The inline TypeMeta members every top-level kind carries in JSON (protobuf puts them in the envelope)."""

LIST_META: Final = Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta")


def list_type_for(res: Resource) -> ObjectType:
    """`<Kind>List`: every list has the same shape (metadata = 1, items = 2 in protobuf)."""
    return ObjectType(
        res.type_name + "List",
        (
            *TYPE_META_FIELDS,
            Field("metadata", LIST_META, 1),
            Field("items", ListOf(Ref(res.type_name)), 2, required=True, description=f"List of {res.plural}."),
        ),
        description=f"A list of {res.kind} objects.",
    )
