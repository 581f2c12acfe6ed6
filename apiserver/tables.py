"""Content negotiation for `kubectl get`: meta.k8s.io Table when the Accept header asks for one.

kubectl asks `application/json;as=Table;v=v1;g=meta.k8s.io, …, application/json`; the server renders
the cells (api.tables) and kubectl prints them verbatim, adding NAMESPACE and LABELS from each row's
PartialObjectMetadata.
"""

from __future__ import annotations

from collections.abc import Mapping

from api import status, tables
from api.schema import JSON, Resource
from apiserver.errors import APIError

INCLUDE_OBJECT = ("None", "Metadata", "Object")


def wants_table(accept: str) -> bool:
    """Whether the client's first acceptable form is a v1 (or v1beta1) meta.k8s.io Table."""
    for clause in accept.split(","):
        params = dict(p.strip().partition("=")[::2] for p in clause.split(";")[1:])
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1"):
            return True
        if params.get("as"):
            continue
        # A plain JSON clause before any Table clause means the client prefers plain objects.
        return False
    return False


def include_object(query: Mapping[str, str]) -> str:
    """The `includeObject` parameter (Metadata by default); 400 for other values."""
    value = query.get("includeObject", "Metadata") or "Metadata"
    if value not in INCLUDE_OBJECT:
        raise APIError(
            status.bad_request(
                f'includeObject: Unsupported value: {value!r}: supported values: "None", "Metadata", "Object"'
            )
        )
    return value


def render(
    res: Resource,
    objects: list[dict[str, JSON]],
    query: Mapping[str, str],
    list_meta: dict[str, JSON] | None = None,
    with_definitions: bool = True,
) -> dict[str, JSON]:
    """The Table for a list, one object or one watch event."""
    return tables.table(
        res, list(objects), include_object=include_object(query), list_meta=list_meta, with_definitions=with_definitions
    )
