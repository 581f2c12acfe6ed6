"""Server-side `kubectl get` tables (meta.k8s.io/v1 Table) built from a resource's declared columns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from api.schema import JSON, Column, Resource

NAME_COLUMN_DESCRIPTION: Final = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources "
    "may allow a client to request the generation of an appropriate name automatically."
)
AGE_DESCRIPTION: Final = "CreationTimestamp is a timestamp representing the server time when this object was created."


def parse_time(text: str | None) -> datetime | None:
    """An RFC 3339 timestamp, or None."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def human_duration(seconds: float) -> str:
    """kubectl's compact duration (`5m`, `3h12m`, `2d5h`) with its precision steps."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def since(text: str | None, now: datetime) -> str:
    """Age of a timestamp as kubectl prints it; `<unknown>` when absent."""
    t = parse_time(text)
    if t is None:
        return "<unknown>"
    return human_duration((now - t).total_seconds())


def age(obj: JSON, now: datetime) -> str:
    """AGE: time since creation."""
    return since((obj.get("metadata") or {}).get("creationTimestamp"), now)


def name(obj: JSON, now: datetime) -> str:
    """NAME: the object's name."""
    return str((obj.get("metadata") or {}).get("name", ""))


NAME: Final = Column("Name", name, format="name", description=NAME_COLUMN_DESCRIPTION)
AGE: Final = Column("Age", age, description=AGE_DESCRIPTION)
CREATED_AT: Final = Column(
    "Created At",
    lambda o, now: (o.get("metadata") or {}).get("creationTimestamp"),
    type="date",
    description=AGE_DESCRIPTION,
)
DEFAULT_COLUMNS: Final = (NAME, CREATED_AT)


def columns_for(resource: Resource | None) -> tuple[Column, ...]:
    """The resource's columns, or the default Name/Created At pair."""
    return resource.columns if resource is not None and resource.columns else DEFAULT_COLUMNS


def column_definitions(columns: tuple[Column, ...]) -> list[dict[str, JSON]]:
    """The Table's columnDefinitions."""
    return [
        {"name": c.name, "type": c.type, "format": c.format, "description": c.description, "priority": c.priority}
        for c in columns
    ]


def partial_metadata(obj: JSON) -> dict[str, JSON]:
    """The row object kubectl reads for -A (namespace) and --show-labels."""
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}


def row(columns: tuple[Column, ...], obj: JSON, now: datetime, include_object: str = "Metadata") -> dict[str, JSON]:
    """One Table row: the cells plus the object (or its metadata) kubectl reads for -A and --show-labels."""
    cells = []
    for c in columns:
        try:
            cells.append(c.cell(obj, now))
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):
            # A malformed stored object (say, a string where a list belongs) must not fail the whole list.
            cells.append("<unknown>")
    out: dict[str, JSON] = {"cells": cells}
    if include_object == "Object":
        out["object"] = obj
    elif include_object != "None":
        out["object"] = partial_metadata(obj)
    return out


def table(
    resource: Resource | None,
    objects: list[JSON],
    *,
    now: datetime | None = None,
    include_object: str = "Metadata",
    list_meta: dict[str, JSON] | None = None,
    with_definitions: bool = True,
) -> dict[str, JSON]:
    """A Table for a list (or a single object, or one watch event) of one resource."""
    when = now or datetime.now(UTC)
    cols = columns_for(resource)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta or {},
        "columnDefinitions": column_definitions(cols) if with_definitions else None,
        "rows": [row(cols, o, when, include_object) for o in objects],
    }
