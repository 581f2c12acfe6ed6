"""Executing the actions a reconcile core returns against the apiserver, with the driver rules of ``actions.py``.

Actions run in order and the first failure stops the rest (raised as ``ActionFailed``, so the
worker requeues the key with backoff). Slow-start ``Create`` batches run their members
concurrently and stop after a batch with a failure; every failed or skipped create lowers the
controller's expectations, as does every failed delete, so a controller is never left waiting for
an informer event that cannot come. Repeated writes of one object within a list are chained on
the resourceVersion the previous write returned. Events go to the ``EventRecorder`` in the
background: recording one never fails the list.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from client.errors import ApiConnectionError, ApiError, NotFound
from client.events import EventRecorder
from client.rest import ResourceRef, RestClient
from controller_manager.actions import (
    Action,
    Create,
    Delete,
    Expect,
    Patch,
    RecordEvent,
    RequeueAfter,
    RequireAbsent,
    Update,
    UpdateStatus,
)
from controller_manager.expectations import Expectations
from controller_manager.view import Obj, meta

Requeue = Callable[[str, float], None]
BATCH_WRITES_IN_FLIGHT = 32
"""Most creates of a slow-start batch sent at once: a 256-pod batch all at once would open as many
connections (each a TLS handshake on both ends) and queue them all at the apiserver anyway."""
_ObjectKey = tuple[ResourceRef, str | None, str]


class ActionFailed(Exception):
    """Action ``index`` of a list failed (the ones before it were applied); ``cause`` says why."""

    def __init__(self, index: int, action: Action, cause: BaseException) -> None:
        super().__init__(f"{type(action).__name__} {_describe(action)}: {cause}")
        self.index = index
        self.action = action
        self.cause = cause


class ObjectStillExists(Exception):
    """A ``RequireAbsent`` live read found the object the cache had not shown."""


def _describe(action: Action) -> str:
    if isinstance(action, (Create, Update, UpdateStatus)):
        m = meta(action.body)
        name = m.get("name") or f"{m.get('generateName', '')}*"
        return f"{action.resource.resource} {m.get('namespace', '')}/{name}".replace(" /", " ")
    if isinstance(action, (Patch, Delete, RequireAbsent)):
        return f"{action.resource.resource} {action.namespace or ''}/{action.name}".replace(" /", " ")
    if isinstance(action, RecordEvent):
        return f"event {action.reason}"
    return action.key


def _batched(action: Action) -> bool:
    return isinstance(action, Create) and action.batch is not None


def _object_key(resource: ResourceRef, body: Obj) -> _ObjectKey:
    m = meta(body)
    return (resource, m.get("namespace") if resource.namespaced else None, str(m.get("name", "")))


def involved_as_object(ref: Obj) -> Obj:
    """An ObjectReference shaped as the object it names, which ``EventRecorder`` takes."""
    md = {k: ref[k] for k in ("name", "namespace", "uid", "resourceVersion") if ref.get(k)}
    return {"kind": ref.get("kind", ""), "apiVersion": ref.get("apiVersion", "v1"), "metadata": md}


class Executor:
    """Applies action lists for one controller: its REST client, recorder, expectations and queue."""

    def __init__(self, rest: RestClient, recorder: EventRecorder, requeue: Requeue, *,
                 expectations: Expectations | None = None, now: Callable[[], datetime]) -> None:
        self.rest = rest
        self.recorder = recorder
        self.requeue = requeue
        self.expectations = expectations
        self.now = now
        self._in_flight = asyncio.Semaphore(BATCH_WRITES_IN_FLIGHT)

    async def execute(self, actions: Sequence[Action]) -> None:
        """Run ``actions`` by the driver rules; raises ``ActionFailed`` at the first failure."""
        chain: dict[_ObjectKey, tuple[str, str]] = {}
        i = 0
        while i < len(actions):
            action = actions[i]
            if _batched(action):
                end = i
                while end < len(actions) and _batched(actions[end]):
                    end += 1
                await self._batches(i, [a for a in actions[i:end] if isinstance(a, Create)])
                i = end
                continue
            try:
                await self._one(action, chain)
            except (ApiError, ApiConnectionError, ObjectStillExists) as exc:
                self._abandon(action)
                raise ActionFailed(i, action, exc) from exc
            i += 1

    async def _batches(self, start: int, creates: list[Create]) -> None:
        by_batch: dict[int, list[tuple[int, Create]]] = {}
        for offset, c in enumerate(creates):
            by_batch.setdefault(c.batch or 0, []).append((start + offset, c))
        failure: ActionFailed | None = None
        for batch in sorted(by_batch):
            members = by_batch[batch]
            if failure is not None:
                for _, c in members:
                    self._abandon(c)
                continue
            results = await asyncio.gather(*(self._create_limited(c) for _, c in members), return_exceptions=True)
            for (index, c), result in zip(members, results, strict=True):
                if isinstance(result, BaseException):
                    if not isinstance(result, (ApiError, ApiConnectionError)):
                        raise result
                    self._abandon(c)
                    failure = failure or ActionFailed(index, c, result)
        if failure is not None:
            raise failure

    def _abandon(self, action: Action) -> None:
        """A write that failed or was skipped will never be observed: lower the expectations now."""
        if self.expectations is None:
            return
        if isinstance(action, Create) and action.expectations_key:
            self.expectations.creation_observed(action.expectations_key)
        elif isinstance(action, Delete) and action.expectations_key:
            self.expectations.deletion_observed(action.expectations_key, f"{action.namespace}/{action.name}")

    async def _create(self, action: Create) -> Obj:
        return await self.rest.create(action.resource, action.body)

    async def _create_limited(self, action: Create) -> Obj:
        async with self._in_flight:
            return await self._create(action)

    async def _one(self, action: Action, chain: dict[_ObjectKey, tuple[str, str]]) -> None:
        if isinstance(action, Create):
            await self._create(action)
        elif isinstance(action, (Update, UpdateStatus)):
            await self._update(action, chain)
        elif isinstance(action, Patch):
            await self.rest.patch(action.resource, action.name, action.patch, action.namespace,
                                  patch_type=action.patch_type, subresource=action.subresource)
        elif isinstance(action, Delete):
            await self._delete(action)
        elif isinstance(action, RequireAbsent):
            await self._require_absent(action)
        elif isinstance(action, RecordEvent):
            self.recorder.event(involved_as_object(action.involved), action.type, action.reason, action.message)
        elif isinstance(action, RequeueAfter):
            self.requeue(action.key, action.seconds)
        elif isinstance(action, Expect) and self.expectations is not None:
            self.expectations.expect(action.key, action.creations, action.deletions, self.now())

    async def _update(self, action: Update | UpdateStatus, chain: dict[_ObjectKey, tuple[str, str]]) -> None:
        key = _object_key(action.resource, action.body)
        based_on = meta(action.body).get("resourceVersion")
        body: Obj = action.body
        if key in chain and based_on == chain[key][0]:
            body = copy.deepcopy(body)
            meta(body)["resourceVersion"] = chain[key][1]
        subresource = "status" if isinstance(action, UpdateStatus) else action.subresource
        written: dict[str, Any] = await self.rest.update(action.resource, body, subresource=subresource)
        if based_on is not None:
            chain[key] = (chain.get(key, (based_on, ""))[0], str(meta(written).get("resourceVersion", "")))

    async def _delete(self, action: Delete) -> None:
        try:
            await self.rest.delete(action.resource, action.name, action.namespace,
                                   propagation_policy=action.propagation_policy,
                                   grace_period_seconds=action.grace_period_seconds,
                                   preconditions={"uid": action.uid} if action.uid else None)
        except NotFound:
            # already gone: the informer reports (or reported) the deletion; nothing is left to do
            self._abandon(action)

    async def _require_absent(self, action: RequireAbsent) -> None:
        try:
            found = await self.rest.get(action.resource, action.name, action.namespace)
        except NotFound:
            return
        if action.uid is None or meta(found).get("uid") == action.uid:
            raise ObjectStillExists(f"{action.resource.resource} {action.name} exists (the cache has not seen it yet)")
