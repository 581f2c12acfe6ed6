"""An in-memory apiserver for controller reconcile tests: a View over stored objects that applies actions.

It does what the real apiserver would do to the writes a controller intends: names from
generateName, uid/resourceVersion/generation/creationTimestamp, optimistic concurrency on updates,
status-only updates, strategic/merge/JSON patches, and graceful deletion held by finalizers.
"""

from __future__ import annotations

import builtins
import copy
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from api.catalog import REGISTRY, type_name_for
from api.labels import Selector
from api.patch import json_patch, merge_patch, strategic
from client.rest import PatchType, ResourceRef
from controller_manager import timestamps
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
from controller_manager.view import Obj, key_of, meta

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Conflict(Exception):
    """A write carried a stale resourceVersion (409 from the real apiserver)."""


class FakeClock:
    """Wall time for reconcile calls; only moves when told to."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


class FakeCluster:
    """Objects by (resource, namespace, name), a View over them, and an executor for actions."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.objects: dict[tuple[ResourceRef, str | None, str], Obj] = {}
        self.events: list[RecordEvent] = []
        self.requeues: list[RequeueAfter] = []
        self.expectations = Expectations()
        self._rv = itertools.count(1)
        self._names = itertools.count(1)

    # --- View ---------------------------------------------------------------------------------
    def get(self, resource: ResourceRef, namespace: str | None, name: str) -> Any:
        """The stored object or None; typed Any so tests can index what they know exists."""
        return self.objects.get((resource, namespace if resource.namespaced else None, name))

    def list(self, resource: ResourceRef, namespace: str | None = None,
             selector: Selector | None = None) -> builtins.list[Obj]:
        out = []
        for (res, ns, _), obj in sorted(self.objects.items(), key=lambda kv: (kv[0][1] or "", kv[0][2])):
            if res != resource or (namespace is not None and ns != namespace):
                continue
            if selector is not None and not selector.matches(meta(obj).get("labels")):
                continue
            out.append(obj)
        return out

    def all(self, resource: ResourceRef, namespace: str | None = None) -> builtins.list[Obj]:
        return self.list(resource, namespace)

    # --- writes ---------------------------------------------------------------------------------
    def add(self, resource: ResourceRef, obj: Obj) -> Obj:
        """Create an object as a user would (defaults are the caller's business)."""
        obj = copy.deepcopy(obj)
        obj.setdefault("apiVersion", resource.api_version)
        obj.setdefault("kind", resource.kind)
        m = obj.setdefault("metadata", {})
        if "name" not in m:
            m["name"] = f"{m['generateName']}{next(self._names):05d}"
        if not resource.namespaced:
            m.pop("namespace", None)
        m.setdefault("uid", f"uid-{m['name']}-{next(self._names)}")
        m.setdefault("creationTimestamp", timestamps.format_time(self.clock.now))
        m["resourceVersion"] = str(next(self._rv))
        m.setdefault("generation", 1)
        k = self._key(resource, obj)
        if k in self.objects:
            raise Conflict(f"{resource.resource} {k} already exists")
        self.objects[k] = obj
        return obj

    def put(self, resource: ResourceRef, obj: Obj) -> Obj:
        """Replace an object unconditionally (a kubelet or test changing state)."""
        obj = copy.deepcopy(obj)
        old = self.objects.get(self._key(resource, obj))
        if old is not None and old.get("spec") != obj.get("spec"):
            meta(obj)["generation"] = int(meta(old).get("generation", 1)) + 1
        meta(obj)["resourceVersion"] = str(next(self._rv))
        self.objects[self._key(resource, obj)] = obj
        return obj

    def remove(self, resource: ResourceRef, namespace: str | None, name: str) -> None:
        self.objects.pop((resource, namespace if resource.namespaced else None, name), None)

    def _key(self, resource: ResourceRef, obj: Obj) -> tuple[ResourceRef, str | None, str]:
        return (resource, meta(obj).get("namespace") if resource.namespaced else None, meta(obj)["name"])

    def _current(self, resource: ResourceRef, body: Obj) -> Obj:
        cur = self.objects.get(self._key(resource, body))
        if cur is None:
            raise Conflict(f"{resource.resource} {key_of(body)} not found")
        if meta(body).get("resourceVersion") not in (None, meta(cur).get("resourceVersion")):
            raise Conflict(f"{resource.resource} {key_of(body)}: resourceVersion is stale")
        return cur

    def _chain(self, resource: ResourceRef, body: Obj, chain: dict[tuple[Any, ...], tuple[str, str]]) -> Obj:
        """The driver's resourceVersion chaining for repeated writes to one object within a list."""
        k = self._key(resource, body)
        rv = meta(body).get("resourceVersion")
        if k in chain and rv == chain[k][0]:
            body = copy.deepcopy(body)
            meta(body)["resourceVersion"] = chain[k][1]
        return body

    def _record(self, resource: ResourceRef, body: Obj, based_on: str | None,
                chain: dict[tuple[Any, ...], tuple[str, str]]) -> None:
        k = self._key(resource, body)
        now = self.objects.get(k)
        if now is not None and based_on is not None:
            chain[k] = (chain.get(k, (based_on, ""))[0], meta(now)["resourceVersion"])

    def apply(self, actions: builtins.list[Action]) -> builtins.list[Obj]:
        """Execute actions in order as the driver would; returns created objects. Conflicts propagate."""
        created: builtins.list[Obj] = []
        chain: dict[tuple[Any, ...], tuple[str, str]] = {}
        for action in actions:
            if isinstance(action, (Update, UpdateStatus)):
                based_on = meta(action.body).get("resourceVersion")
                body = self._chain(action.resource, action.body, chain)
                chained = UpdateStatus(action.resource, body) if isinstance(action, UpdateStatus) else \
                    Update(action.resource, body, action.subresource)
                self._apply_one(chained, created)
                self._record(action.resource, body, based_on, chain)
                continue
            self._apply_one(action, created)
        return created

    def _apply_one(self, action: Action, created: builtins.list[Obj]) -> None:
        if isinstance(action, Create):
            obj = self.add(action.resource, action.body)
            created.append(obj)
            if action.expectations_key:
                self.expectations.creation_observed(action.expectations_key)
        elif isinstance(action, Update) and action.subresource == "finalize":
            cur = self._current(action.resource, action.body)
            new = copy.deepcopy(cur)
            new["spec"]["finalizers"] = list(action.body["spec"].get("finalizers") or [])
            self.put(action.resource, new)
            if meta(new).get("deletionTimestamp") and not new["spec"]["finalizers"]:
                self.remove(action.resource, None, meta(new)["name"])
        elif isinstance(action, Update):
            cur = self._current(action.resource, action.body)
            new = copy.deepcopy(action.body)
            new["status"] = copy.deepcopy(cur.get("status"))
            if new.get("status") is None:
                new.pop("status")
            self.put(action.resource, new)
        elif isinstance(action, UpdateStatus):
            cur = self._current(action.resource, action.body)
            new = copy.deepcopy(cur)
            new["status"] = copy.deepcopy(action.body.get("status"))
            # like the deployment status strategy: annotations travel with a status write
            if meta(action.body).get("annotations") is not None:
                meta(new)["annotations"] = copy.deepcopy(meta(action.body)["annotations"])
            self.put(action.resource, new)
        elif isinstance(action, Patch):
            self._patch(action)
        elif isinstance(action, RequireAbsent):
            found = self.get(action.resource, action.namespace, action.name)
            if found is not None and action.uid in (None, meta(found).get("uid")):
                raise Conflict(f"{action.resource.resource} {action.name} exists after all")
        elif isinstance(action, Delete):
            self.delete(action.resource, action.namespace, action.name, action.uid, action.propagation_policy)
            if action.expectations_key:
                self.expectations.deletion_observed(action.expectations_key, f"{action.namespace}/{action.name}")
        elif isinstance(action, RecordEvent):
            self.events.append(action)
        elif isinstance(action, RequeueAfter):
            self.requeues.append(action)
        elif isinstance(action, Expect):
            self.expectations.expect(action.key, action.creations, action.deletions, self.clock.now)

    def delete(self, resource: ResourceRef, namespace: str | None, name: str, uid: str | None = None,
               propagation: str | None = None) -> None:
        """As the apiserver: Foreground/Orphan add their finalizer; any finalizer defers removal."""
        k = (resource, namespace if resource.namespaced else None, name)
        cur = self.objects.get(k)
        if cur is None or (uid is not None and meta(cur).get("uid") != uid):
            return
        extra = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}.get(propagation or "")
        if extra and meta(cur).get("deletionTimestamp") is None and extra not in (meta(cur).get("finalizers") or []):
            cur = copy.deepcopy(cur)
            meta(cur)["finalizers"] = [*(meta(cur).get("finalizers") or []), extra]
        namespace_held = resource.kind == "Namespace" and (cur.get("spec") or {}).get("finalizers")
        if meta(cur).get("finalizers") or namespace_held:
            if meta(cur).get("deletionTimestamp") is None:
                new = copy.deepcopy(cur)
                meta(new)["deletionTimestamp"] = timestamps.format_time(self.clock.now)
                self.put(resource, new)
            return
        del self.objects[k]

    def _patch(self, action: Patch) -> None:
        cur = self.get(action.resource, action.namespace, action.name)
        if cur is None:
            raise Conflict(f"{action.resource.resource} {action.namespace}/{action.name} not found")
        body = copy.deepcopy(action.patch)
        want_uid = (body.get("metadata") or {}).pop("uid", None) if isinstance(body, dict) else None
        if want_uid is not None and want_uid != meta(cur).get("uid"):
            raise Conflict("uid precondition failed")
        want_rv = (body.get("metadata") or {}).get("resourceVersion") if isinstance(body, dict) else None
        if want_rv is not None and want_rv != meta(cur).get("resourceVersion"):
            raise Conflict("resourceVersion precondition failed")
        if action.patch_type == PatchType.STRATEGIC:
            type_name = type_name_for(cur["apiVersion"], cur["kind"])
            assert type_name is not None
            new = strategic.apply(REGISTRY, type_name, cur, body)
        elif action.patch_type == PatchType.MERGE:
            new = merge_patch.apply(cur, body)
        else:
            new = json_patch.apply(copy.deepcopy(cur), body)
        if meta(new).get("deletionTimestamp") and not meta(new).get("finalizers"):
            self.remove(action.resource, action.namespace, action.name)
        else:
            self.put(action.resource, new)


def ready_condition(status: str, since: datetime) -> dict[str, Any]:
    return {"type": "Ready", "status": status, "lastTransitionTime": timestamps.format_time(since)}


def make_running(cluster: FakeCluster, pod: Obj, node: str = "node1", ready: bool = True) -> Obj:
    """What the scheduler and a kubelet do to a pod: bind it, run it, report readiness now."""
    new = copy.deepcopy(pod)
    new.setdefault("spec", {})["nodeName"] = node
    new["status"] = {"phase": "Running",
                     "conditions": [ready_condition("True" if ready else "False", cluster.clock.now)]}
    return cluster.put(PODS_REF, new)


def finish(cluster: FakeCluster, pod: Obj, phase: str) -> Obj:
    new = copy.deepcopy(pod)
    new.setdefault("spec", {}).setdefault("nodeName", "node1")
    new["status"] = {"phase": phase, "conditions": [ready_condition("False", cluster.clock.now)]}
    return cluster.put(PODS_REF, new)


PODS_REF = ResourceRef("", "v1", "pods", True, "Pod")
