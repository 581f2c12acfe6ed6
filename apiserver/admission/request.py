"""What every admission plugin is asked about, and how it says no (kube-apiserver's admission.Attributes)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from api import status
from api.schema import JSON, Resource
from apiserver.auth import User
from apiserver.errors import APIError
from protos.etcd import rpc_pb2

CREATE = "CREATE"
UPDATE = "UPDATE"
DELETE = "DELETE"


@dataclass
class Request:
    """One write under admission: `obj` is the new object (mutable in the mutating phase), `old` the stored one."""

    operation: str
    resource: Resource
    namespace: str
    name: str
    obj: dict[str, JSON] | None
    old: dict[str, JSON] | None = None
    subresource: str = ""
    user: User | None = None
    dry_run: bool = False

    def is_kind(self, group: str, kind: str, subresource: str = "") -> bool:
        """Whether this request writes `group/kind` (its `subresource`, "" for the object itself)."""
        return (self.resource.group, self.resource.kind, self.subresource) == (group, kind, subresource)

    def forbidden(self, message: str) -> APIError:
        """403 as admission.NewForbidden words it: `<resource> "<name>" is forbidden: <message>`."""
        res = self.resource
        details: dict[str, JSON] = {"name": self.name, "kind": res.plural}
        if res.group:
            details["group"] = res.group
        qualified = status.qualified_resource(res.plural, res.group)
        return APIError(status.failure("Forbidden", f'{qualified} "{self.name}" is forbidden: {message}', details))


@dataclass
class Charges:
    """Writes that must commit in the same store transaction as the admitted object (quota usage), guarded by
    compares on what they were computed from; a failed compare means "admit again"."""

    compares: list[rpc_pb2.Compare] = field(default_factory=list)
    ops: list[rpc_pb2.RequestOp] = field(default_factory=list)

    def extend(self, compares: Sequence[rpc_pb2.Compare], ops: Sequence[rpc_pb2.RequestOp]) -> None:
        """Add more guarded writes."""
        self.compares.extend(compares)
        self.ops.extend(ops)
