"""The intended writes a reconcile function returns, which the async driver executes with ``client/``.

Driver contract: actions run in list order; the first one that fails stops the rest and the key is
requeued with rate-limited backoff (so a status write placed before a dependent write is never
skipped). Two exceptions mirror upstream: ``Create`` actions with a ``batch`` number are the
slow-start batches of ReplicaSet/Job pod creation (one batch at a time, its members concurrently,
later batches skipped once a batch had a failure — each skipped or failed create lowers the
controller's expectations), and ``RecordEvent`` failures are logged, never fatal.
``Update``/``UpdateStatus`` bodies carry the ``resourceVersion`` they were computed from, so a
stale decision ends in 409 Conflict and a requeue instead of overwriting newer state. When one list
writes the same object more than once (a spec update, then its status), the driver chains them: a
later body still carrying the version the first write was based on gets the version the previous
write returned, so only someone else's write in between can make it conflict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from client.rest import PatchType, ResourceRef
from controller_manager.view import Obj, meta


@dataclass(frozen=True, slots=True)
class Create:
    """POST ``body`` into the resource's collection (namespace from the body)."""

    resource: ResourceRef
    body: Obj
    batch: int | None = None
    expectations_key: str | None = None


@dataclass(frozen=True, slots=True)
class Update:
    """PUT the whole object (spec/metadata), or a subresource such as a namespace's ``finalize``,
    conditional on the resourceVersion inside it."""

    resource: ResourceRef
    body: Obj
    subresource: str | None = None


@dataclass(frozen=True, slots=True)
class UpdateStatus:
    """PUT the ``status`` subresource, conditional on the resourceVersion inside the body."""

    resource: ResourceRef
    body: Obj


@dataclass(frozen=True, slots=True)
class Patch:
    """PATCH one object (or its subresource); used where upstream patches to avoid conflicts."""

    resource: ResourceRef
    namespace: str | None
    name: str
    patch: Any
    patch_type: PatchType = PatchType.STRATEGIC
    subresource: str | None = None


@dataclass(frozen=True, slots=True)
class Delete:
    """DELETE one object; ``uid`` is sent as a precondition so a same-named successor is never hit."""

    resource: ResourceRef
    namespace: str | None
    name: str
    uid: str | None = None
    propagation_policy: str | None = None
    grace_period_seconds: int | None = None
    expectations_key: str | None = None


@dataclass(frozen=True, slots=True)
class RequireAbsent:
    """A live (quorum) GET that must find no object with this uid, else the remaining actions are
    skipped and the key requeued: a cache that has not seen an object yet must not get its
    dependents deleted."""

    resource: ResourceRef
    namespace: str | None
    name: str
    uid: str | None = None


@dataclass(frozen=True, slots=True)
class RecordEvent:
    """A core/v1 Event about ``involved`` (an ObjectReference), as kubectl describe shows it."""

    involved: Obj
    type: str
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class RequeueAfter:
    """Look at this key again after ``seconds`` even if no event arrives (deadlines, minReadySeconds)."""

    key: str
    seconds: float


@dataclass(frozen=True, slots=True)
class Expect:
    """Record that ``creations`` creates and the deletions of ``deletions`` (pod keys) are in flight for
    controller ``key``; the controller does not act on its pods again until the informer saw them."""

    key: str
    creations: int = 0
    deletions: tuple[str, ...] = field(default_factory=tuple)


Action = Create | Update | UpdateStatus | Patch | Delete | RequireAbsent | RecordEvent | RequeueAfter | Expect

NORMAL = "Normal"
WARNING = "Warning"


def object_reference(obj: Obj) -> Obj:
    """The ObjectReference events and owner bookkeeping use for ``obj``."""
    m = meta(obj)
    ref: Obj = {"kind": obj.get("kind", ""), "apiVersion": obj.get("apiVersion", ""), "name": m.get("name", "")}
    for src, dst in (("namespace", "namespace"), ("uid", "uid"), ("resourceVersion", "resourceVersion")):
        if m.get(src):
            ref[dst] = m[src]
    return ref


def event(obj: Obj, type_: str, reason: str, message: str) -> RecordEvent:
    """An event about ``obj``."""
    return RecordEvent(object_reference(obj), type_, reason, message)
