"""Where resources live in the API and how requests address them, free of any transport.

``client.rest`` (asyncio) and ``client.blocking`` (synchronous, for short-lived CLIs) share these.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ResourceRef:
    """Where a resource lives in the API: group/version/resource, whether namespaced, and its kind."""

    group: str
    version: str
    resource: str
    namespaced: bool = True
    kind: str = ""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def prefix(self) -> str:
        """``/api/v1`` for the core group, ``/apis/<group>/<version>`` for the rest."""
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        """The URL path of the collection, one object, or one of its subresources."""
        parts = [self.prefix]
        if self.namespaced and namespace:
            parts += ["namespaces", namespace]
        elif self.namespaced and name is not None:
            raise ValueError(f"{self.resource} is namespaced: a namespace is needed to address {name!r}")
        parts.append(self.resource)
        if name is not None:
            if not name:
                raise ValueError(f"an empty name does not address a {self.resource} object")
            parts.append(name)
        if subresource:
            if name is None:
                raise ValueError(f"subresource {subresource!r} needs an object name")
            parts.append(subresource)
        return "/".join(parts)


class PatchType(enum.StrEnum):
    """The four patch content types the apiserver accepts."""

    JSON = "application/json-patch+json"
    MERGE = "application/merge-patch+json"
    STRATEGIC = "application/strategic-merge-patch+json"
    APPLY = "application/apply-patch+yaml"


def query(**params: Any) -> dict[str, str]:
    """Query parameters in the apiserver's spelling: ``None`` dropped, booleans as ``true``/``false``."""
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def delete_options(*, propagation_policy: str | None = None, grace_period_seconds: int | None = None,
                   preconditions: Mapping[str, str] | None = None, dry_run: bool = False) -> dict[str, Any]:
    """A ``DeleteOptions`` body; ``preconditions`` holds ``uid`` and/or ``resourceVersion``."""
    body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
    if propagation_policy is not None:
        body["propagationPolicy"] = propagation_policy
    if grace_period_seconds is not None:
        body["gracePeriodSeconds"] = grace_period_seconds
    if preconditions:
        body["preconditions"] = dict(preconditions)
    if dry_run:
        body["dryRun"] = ["All"]
    return body
