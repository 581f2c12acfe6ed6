"""The REST verbs of every resource: get, list, watch, create, update, patch, delete, deletecollection,
and the status, scale, finalize, binding and eviction subresources.

Every write follows kube-apiserver's order: decode (fieldValidation), server-owned metadata, mutating
admission, the kind's strategy, defaulting, validation, validating admission, then one conditional store
transaction (which also carries the quota usage admission charged). A write that changes nothing is not
written, so resourceVersion and watchers stay quiet, unless it was stored under an old encryption key.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import web

from api import fields, labels, metrics_v1beta1, status, strategy, structure, validation
from api.catalog import REGISTRY
from api.conversion import ConversionError
from api.errors import Cause, required
from api.errors import invalid as invalid_cause
from api.schema import JSON
from apiserver import bodies, json_codec, patch, tables
from apiserver.admission import CREATE, DELETE, UPDATE, Admission
from apiserver.admission import Request as Review
from apiserver.allocators import Allocators, RangeFull, service_keys
from apiserver.auth import User
from apiserver.authz.escalation import EscalationCheck
from apiserver.errors import APIError, bad_request
from apiserver.kinds import Kind, Kinds
from apiserver.kubelet_proxy import KubeletProxy
from apiserver.metrics_api import ResourceMetrics
from apiserver.registry import Registry
from apiserver.reviews import Reviews
from apiserver.watch_cache import Event, WatchCaches
from apiserver.watch_stream import Encoder, WatchStream, chunk, event_line, shared_encoder
from protos.etcd import rpc_pb2
from store import client as store

JSON_TYPE = "application/json"
DEFAULT_WATCH_SECONDS = 1800
GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
POD_SUBRESOURCE_PROXIES = frozenset({"log", "exec", "attach", "portforward"})
UPDATE_RETRIES = 8
SCALE_TYPE = "io.k8s.api.autoscaling.v1.Scale"
READ_WRITE_SUBRESOURCES = frozenset({None, "status", "scale", "approval"})
"""The object itself and the views of it that GET, PUT and PATCH address; other subresources are actions."""
CRD = ("apiextensions.k8s.io", "CustomResourceDefinition")
CSR = ("certificates.k8s.io", "CertificateSigningRequest")
QUOTA_RACE = "the resource quota usage changed while the object was admitted; please try again"


def now_rfc3339() -> str:
    """Server time as creationTimestamp wants it: UTC, whole seconds."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def respond(body: JSON, code: int = 200, warnings: list[str] | None = None) -> web.Response:
    """A JSON reply; `warnings` are whole `Warning:` header values (`299 - "…"`, from api.status)."""
    resp = web.Response(body=json_codec.dumps(body), status=code, content_type=JSON_TYPE)
    for w in warnings or []:
        resp.headers.add("Warning", w)
    return resp


def meta(obj: JSON) -> dict[str, JSON]:
    """The object's metadata (created if absent)."""
    m = obj.setdefault("metadata", {})
    assert isinstance(m, dict)
    return m


def _rv(obj: JSON) -> int:
    return int((obj.get("metadata") or {}).get("resourceVersion") or 0)


def _without_rv(obj: JSON) -> JSON:
    m = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "resourceVersion"}
    return {**obj, "metadata": m}


def _int_param(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"invalid {name} {value!r}: must be an integer") from None


def dry_run_requested(query: Mapping[str, str]) -> bool:
    """`dryRun=All` (the only value kube-apiserver takes)."""
    values = [v for v in query.getall("dryRun", [])] if hasattr(query, "getall") else [query.get("dryRun", "")]
    values = [v for v in values if v]
    for v in values:
        if v != "All":
            raise bad_request(f'dryRun: Unsupported value: "{v}": supported values: "All"')
    return bool(values)


@dataclass
class Target:
    """What a URL names: a resource, maybe a namespace, an object and a subresource."""

    kind: Kind
    namespace: str | None
    name: str | None
    sub: str | None

    @property
    def key(self) -> str:
        """The store key of the named object."""
        assert self.name is not None
        return self.kind.key(self.namespace, self.name)


class Handlers:
    """The resource endpoints of one apiserver."""

    def __init__(
        self,
        *,
        registry: Registry,
        caches: WatchCaches,
        kinds: Kinds,
        admission: Admission,
        allocators: Allocators,
        reviews: Reviews,
        kubelet: KubeletProxy,
        request_timeout: float,
        escalation: EscalationCheck | None = None,
    ) -> None:
        self.registry = registry
        self.caches = caches
        self.kinds = kinds
        self.admission = admission
        self.allocators = allocators
        self.reviews = reviews
        self.kubelet = kubelet
        self.metrics = ResourceMetrics(registry, kubelet, kinds.builtin[("", "v1", "pods")].storage_prefix)
        self.request_timeout = request_timeout
        self.escalation = escalation
        """RBAC's escalation prevention on writes of roles and bindings (None unless RBAC is on)."""

    # ---- routing ----

    async def target(self, group: str, version: str, segments: list[str]) -> Target:
        """Resolve the path after `/api/v1` or `/apis/<g>/<v>`; 404 if it names nothing served."""
        namespace: str | None = None
        rest = segments
        if len(segments) >= 3 and segments[0] == "namespaces":
            candidate = await self.kinds.resolve(group, version, segments[2])
            if candidate is not None and candidate.resource.namespaced:
                namespace, rest = segments[1], segments[2:]
        if not rest or len(rest) > 3 or not all(rest):
            raise APIError(status.failure("NotFound", "the server could not find the requested resource"))
        kind = await self.kinds.resolve(group, version, rest[0])
        if kind is None:
            raise APIError(status.failure("NotFound", "the server could not find the requested resource"))
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if kind.resource.namespaced and name is not None and namespace is None:
            raise APIError(status.failure("NotFound", "the server could not find the requested resource"))
        if sub is not None and kind.resource.subresource(sub) is None:
            raise APIError(status.failure("NotFound", "the server could not find the requested resource"))
        return Target(kind, namespace, name, sub)

    async def serve(
        self, request: web.Request, user: User, group: str, version: str, segments: list[str]
    ) -> web.StreamResponse:
        """Dispatch one resource request by verb and subresource."""
        if (group, version) == (metrics_v1beta1.GROUP, metrics_v1beta1.VERSION):
            return await self.metrics.serve(request, segments)
        t = await self.target(group, version, segments)
        method = request.method
        res = t.kind.resource
        if res.group in ("authentication.k8s.io", "authorization.k8s.io") and method == "POST" and t.name is None:
            body = await bodies.object_body(request)
            return respond(await self.reviews.review(res, body, user, t.namespace), 201)
        if t.sub in POD_SUBRESOURCE_PROXIES and method in ("GET", "POST"):
            assert t.name is not None
            pod = await self.registry.require(res, t.key, t.name)
            return await self.kubelet.serve(request, pod, t.sub)
        if method == "GET" and t.sub in READ_WRITE_SUBRESOURCES:
            if t.name is None:
                if request.query.get("watch") in ("true", "1"):
                    return await self.watch(request, t)
                return await self.list_objects(request, t)
            return await self.get(request, t)
        if method == "POST":
            if t.name is None:
                return await self.create(request, t)
            if t.sub == "binding":
                return await self.bind(request, t)
            if t.sub == "eviction":
                return await self.evict(request, t)
            if t.sub == "token":
                return await self.token_request(request, t)
        if method == "PUT" and t.name is not None and (t.sub in READ_WRITE_SUBRESOURCES or t.sub == "finalize"):
            return await self.update(request, t)
        if method == "PATCH" and t.name is not None and t.sub in READ_WRITE_SUBRESOURCES:
            return await self.patch(request, t)
        if method == "DELETE":
            if t.name is None:
                return await self.delete_collection(request, t)
            if t.sub is None:
                return await self.delete(request, t)
        raise APIError(status.method_not_allowed(res.plural, res.group))

    # ---- output ----

    def output(
        self, request: web.Request, t: Target, obj: dict[str, JSON], code: int = 200, warnings: list[str] | None = None
    ) -> web.Response:
        """One object as JSON, or as a one-row Table when kubectl asks for it."""
        obj = t.kind.from_storage(obj)
        if t.sub is None and code == 200 and tables.wants_table(request.headers.get("Accept", "")):
            return respond(
                tables.render(
                    t.kind.resource,
                    [obj],
                    request.query,
                    list_meta={"resourceVersion": meta(obj).get("resourceVersion", "")},
                )
            )
        return respond(obj, code, warnings)

    # ---- reads ----

    async def get(self, request: web.Request, t: Target) -> web.Response:
        """GET one object (or its status/scale view): a consistent store read without a resourceVersion; with one
        (0: any version, N: not older than N), from the watch cache once it has reached that revision."""
        assert t.name is not None
        rv = request.query.get("resourceVersion", "")
        try:
            wanted = int(rv) if rv else None
        except ValueError:
            raise bad_request(f"invalid resource version {rv!r}") from None
        cache = self.caches.get(f"{t.kind.storage_prefix}/")
        if wanted is not None and cache.ready.is_set() and cache.revision >= wanted:
            cached = cache.state.get(t.key.encode())
            if cached is None:
                raise APIError(status.not_found(t.kind.resource.plural, t.kind.resource.group, t.name))
            obj = cached
        else:
            # The watch cache's copy of the version read spares decoding it (nothing below changes it).
            obj = await self.registry.require(t.kind.resource, t.key, t.name, cache.decoded)
        if t.sub == "scale":
            return respond(t.kind.scale_of(t.kind.from_storage(obj)))
        return self.output(request, t, obj)

    def predicate(self, t: Target, query: Mapping[str, str]) -> Callable[[dict[str, JSON]], bool]:
        """Namespace, label selector and field selector of a list or watch, as one test."""
        try:
            selector = labels.parse(query.get("labelSelector", ""))
        except labels.SelectorError as err:
            raise bad_request(f"unable to parse requirement: {err}") from None
        try:
            field_selector = fields.compile_selector(t.kind.resource, query.get("fieldSelector", ""))
        except fields.FieldSelectorError as err:
            raise bad_request(str(err)) from None
        namespace = t.namespace
        convert = t.kind.from_storage

        def keep(obj: dict[str, JSON]) -> bool:
            m = obj.get("metadata") or {}
            if namespace and m.get("namespace") != namespace:
                return False
            if not selector.matches(m.get("labels") or {}):
                return False
            return field_selector.matches(convert(obj))

        return keep

    async def list_objects(self, request: web.Request, t: Target) -> web.Response:
        """LIST: from the watch cache for resourceVersion=0, otherwise a consistent (or exact) store read."""
        query = request.query
        keep = self.predicate(t, query)
        limit = _int_param(query, "limit") or 0
        token = query.get("continue", "")
        rv = query.get("resourceVersion", "")
        match = query.get("resourceVersionMatch", "")
        if match and not rv:
            raise bad_request(
                "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"
            )
        if match not in ("", "NotOlderThan", "Exact"):
            raise bad_request(f'resourceVersionMatch: Unsupported value: "{match}"')
        if token and rv:
            raise bad_request("specifying resource version is not allowed when using continue")
        prefix = t.kind.collection_prefix(t.namespace)
        if rv == "0" and not token:
            cache = self.caches.get(f"{t.kind.storage_prefix}/")
            await cache.wait_ready(self.request_timeout)
            page_items, revision = cache.snapshot(keep)
            cont = ""
        else:
            revision = 0
            if rv:
                try:
                    wanted = int(rv)
                except ValueError:
                    raise bad_request(f"invalid resource version {rv!r}") from None
                if match == "Exact" or (limit and match != "NotOlderThan"):
                    revision = wanted
            # Objects the watch cache holds at the version read need neither reading nor decoding (nothing below
            # changes them); a cache still loading would only cost a useless keys-only read.
            cache = self.caches.get(f"{t.kind.storage_prefix}/")
            decoded = cache.decoded if cache.ready.is_set() else None
            page = await self.registry.list(
                prefix, limit=limit, token=token, revision=revision, keep=keep, decoded=decoded
            )
            page_items, revision, cont = page.items, page.revision, page.continue_token
        items_out = [t.kind.from_storage(o) for o in page_items]
        list_meta: dict[str, JSON] = {"resourceVersion": str(revision)}
        if cont:
            list_meta["continue"] = cont
        if tables.wants_table(request.headers.get("Accept", "")):
            return respond(tables.render(t.kind.resource, items_out, query, list_meta=list_meta))
        res = t.kind.resource
        return respond(
            {"kind": res.list_kind, "apiVersion": res.api_version, "metadata": list_meta, "items": items_out}
        )

    async def watch(self, request: web.Request, t: Target) -> web.StreamResponse:
        """WATCH from the cache: synthetic ADDED events without a resourceVersion, else changes after it."""
        query = request.query
        keep = self.predicate(t, query)
        rv = query.get("resourceVersion", "")
        try:
            since = int(rv) if rv not in ("", "0") else None
        except ValueError:
            raise bad_request(f"invalid resource version {rv!r}") from None
        timeout = _int_param(query, "timeoutSeconds") or DEFAULT_WATCH_SECONDS
        bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
        cache = self.caches.get(f"{t.kind.storage_prefix}/", since)
        await cache.wait_ready(self.request_timeout)
        if since is not None and since > cache.revision:
            # Ahead of this cache is normal on a quiet prefix; ahead of the store is a version that never was.
            current = await self.registry.revision()
            if since > current:
                raise APIError(status.too_large_resource_version(since, current))
        resp = web.StreamResponse(status=200, headers={"Content-Type": JSON_TYPE, "Cache-Control": "no-cache"})
        resp.enable_chunked_encoding()
        writer = await resp.prepare(request)
        assert writer is not None
        res = t.kind.resource
        stream = WatchStream(request.protocol, writer.drain, self._encoder(request, t))
        try:
            # Watches of one resource, namespace and selectors share one predicate evaluation per change.
            key = (
                res.group,
                res.version,
                res.plural,
                t.namespace,
                query.get("labelSelector", ""),
                query.get("fieldSelector", ""),
            )
            stream.backfill(cache.attach(stream, keep, since, key))
        except APIError as err:
            # kube-apiserver starts the stream, then reports 410 as an ERROR event.
            await resp.write(event_line("ERROR", err.body))
            return resp

        def bookmark() -> JSON:
            # Never behind the watch's own start (the cache may not have reached it yet on a quiet prefix).
            return {
                "kind": res.kind,
                "apiVersion": res.api_version,
                "metadata": {"resourceVersion": str(max(cache.revision, since or 0))},
            }

        try:
            await stream.run(timeout, bookmark if bookmarks else None)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            cache.unsubscribe(stream)
        with contextlib.suppress(ConnectionResetError):
            await resp.write_eof()
        return resp

    def _encoder(self, request: web.Request, t: Target) -> Encoder:
        """How this watcher's events are written: shared JSON chunks, or Table rows rendered for it alone (the
        first with the column definitions)."""
        serve = t.kind.from_storage
        if not tables.wants_table(request.headers.get("Accept", "")):
            return shared_encoder(t.kind.resource.api_version, serve)
        first = True

        def encode(event: Event) -> bytes:
            nonlocal first
            table = tables.render(
                t.kind.resource,
                [serve(event.obj)],
                request.query,
                with_definitions=first,
                list_meta={"resourceVersion": str(event.revision)},
            )
            first = False
            return chunk(event_line(event.type, table))

        return encode

    # ---- decoding new objects ----

    def decode(self, t: Target, body: dict[str, JSON], query: Mapping[str, str]) -> tuple[dict[str, JSON], list[str]]:
        """Check apiVersion/kind, prune per fieldValidation; returns the object and warnings."""
        res = t.kind.resource
        if t.sub == "scale":
            return self._decode_scale(t, body), []
        api_version, kind_name = body.get("apiVersion"), body.get("kind")
        if kind_name and kind_name != res.kind:
            raise bad_request(f"the kind in the data ({kind_name}) does not match the expected kind ({res.kind})")
        if api_version and api_version != res.api_version:
            other = self.kinds.for_kind(api_version, res.kind) if isinstance(api_version, str) else None
            if other is None:
                raise bad_request(
                    f"the API version in the data ({api_version}) does not match the expected API version "
                    f"({res.api_version})"
                )
            try:
                body = t.kind.from_storage(other.to_storage(body))
            except ConversionError as err:
                raise bad_request(str(err)) from None
        body = {**body, "apiVersion": res.api_version, "kind": res.kind}
        obj, report = t.kind.decode(body)
        if report.type_errors:
            detail = "; ".join(f"{c.field}: {c.message}" for c in report.type_errors)
            raise bad_request(f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: {detail}')
        mode = query.get("fieldValidation", "") or "Warn"
        if mode not in ("Strict", "Warn", "Ignore"):
            raise bad_request(
                f'fieldValidation: Unsupported value: "{mode}": supported values: "Ignore", "Strict", "Warn"'
            )
        warnings: list[str] = []
        if report.unknown:
            if mode == "Strict":
                raise APIError(status.strict_decoding(report.unknown))
            if mode == "Warn":
                warnings = status.unknown_field_warnings(report.unknown)
        return obj, warnings

    def _decode_scale(self, t: Target, body: dict[str, JSON]) -> dict[str, JSON]:
        """An autoscaling/v1 Scale from a /scale write, type-checked and validated."""
        if body.get("apiVersion") not in (None, "autoscaling/v1") or body.get("kind") not in (None, "Scale"):
            raise bad_request(f"the body of a /scale request must be an autoscaling/v1 Scale, not {body.get('kind')}")
        obj, report = structure.decode(REGISTRY, SCALE_TYPE, {**body, "apiVersion": "autoscaling/v1", "kind": "Scale"})
        if report.type_errors:
            detail = "; ".join(str(c) for c in report.type_errors)
            raise bad_request(f'Scale in version "v1" cannot be handled as a Scale: {detail}')
        causes = validation.validate_object(REGISTRY, SCALE_TYPE, obj)
        replicas = (obj.get("spec") or {}).get("replicas", 0)
        if isinstance(replicas, int) and replicas < 0:
            causes.append(invalid_cause("spec.replicas", replicas, "must be greater than or equal to 0"))
        if causes:
            raise APIError(status.invalid("Scale", "autoscaling", str(t.name), causes))
        return dict(obj)

    def invalid(self, t: Target, obj: JSON, causes: list[Cause]) -> APIError:
        """422 Invalid for this object."""
        res = t.kind.resource
        return APIError(status.invalid(res.kind, res.group, str((obj.get("metadata") or {}).get("name", "")), causes))

    # ---- create ----

    async def create(self, request: web.Request, t: Target) -> web.Response:
        """POST a new object."""
        body = await bodies.object_body(request)
        obj, warnings = self.decode(t, body, request.query)
        if (t.kind.resource.group, t.kind.resource.kind) == CSR:
            user: User = request["user"]
            strategy.set_csr_requester(obj, user.name, user.uid, user.groups)
        stored = await self.create_object(t, obj, dry_run=dry_run_requested(request.query), user=request.get("user"))
        return self.output(request, t, stored, 201, warnings)

    async def create_object(
        self, t: Target, obj: dict[str, JSON], *, dry_run: bool = False, user: User | None = None
    ) -> dict[str, JSON]:
        """The whole create pipeline for a decoded object; returns it as stored. `user` is who asked (None for
        the apiserver's own writes)."""
        res = t.kind.resource
        m = meta(obj)
        if res.namespaced:
            ns = m.get("namespace") or t.namespace
            if t.namespace and m.get("namespace") and m["namespace"] != t.namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            if not ns:
                raise bad_request("a namespace is required")
            m["namespace"] = ns
        else:
            m.pop("namespace", None)
        if not m.get("name") and m.get("generateName"):
            m["name"] = str(m["generateName"]) + "".join(secrets.choice(GENERATE_ALPHABET) for _ in range(5))
        for owned in (
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "managedFields",
            "selfLink",
        ):
            m.pop(owned, None)
        m["uid"] = str(uuid.uuid4())
        m["creationTimestamp"] = now_rfc3339()
        name = str(m.get("name", ""))
        if user is not None and self.escalation is not None:
            self.escalation.check(user, res.group, res.kind, obj, str(m.get("namespace") or ""))
        review = Review(CREATE, res, str(m.get("namespace") or ""), name, obj, user=user, dry_run=dry_run)
        await self.admission.mutate(review)
        t.kind.prepare_for_create(obj)
        t.kind.default(obj)
        if (res.group, res.kind) == CRD:
            _establish(obj)
        causes = t.kind.validate(obj)
        if causes:
            raise self.invalid(t, obj, causes)
        key = t.kind.key(str(m.get("namespace") or "") or None, name)
        if (res.group, res.kind) == ("", "Service"):
            return await self._create_service(t, key, obj, review)
        for _ in range(UPDATE_RETRIES):
            charges = await self.admission.validate(review)
            if dry_run:
                if await self.registry.get(key) is not None:
                    raise APIError(status.already_exists(res.plural, res.group, name))
                return obj
            try:
                stored = await self.registry.create(
                    res, key, t.kind.to_storage(obj), compares=charges.compares, ops=charges.ops, conflict=QUOTA_RACE
                )
            except APIError as err:
                if err.body.get("reason") != "Conflict" or not charges.compares:
                    raise
                continue  # a quota's usage changed since it was read: admit again against the new usage
            if (res.group, res.kind) == CRD:
                await self.kinds.refresh()
            return stored
        raise APIError(status.conflict(res.plural, res.group, name, QUOTA_RACE))

    async def _create_service(self, t: Target, key: str, obj: dict[str, JSON], review: Review) -> dict[str, JSON]:
        res = t.kind.resource
        for _ in range(UPDATE_RETRIES):
            attempt = copy.deepcopy(obj)
            try:
                reservation, causes = await self.allocators.plan(attempt)
            except RangeFull as err:
                raise APIError(status.failure("InternalError", f"failed to allocate: {err}")) from None
            if causes:
                raise self.invalid(t, attempt, causes)
            charges = await self.admission.validate(review)
            if review.dry_run:
                return attempt
            try:
                return await self.registry.create(
                    res,
                    key,
                    attempt,
                    compares=[*reservation.compares, *charges.compares],
                    ops=[*reservation.puts, *charges.ops],
                    conflict="allocation raced",
                )
            except APIError as err:
                if err.body.get("reason") != "Conflict":
                    raise
                if reservation.user_chosen and not charges.compares:
                    raise self.invalid(
                        t,
                        attempt,
                        [
                            invalid_cause(
                                "spec.clusterIPs",
                                attempt["spec"].get("clusterIPs"),
                                "provided IP or port is already allocated",
                            )
                        ],
                    ) from None
        raise APIError(status.failure("InternalError", "failed to allocate a ClusterIP after several attempts"))

    # ---- update and patch ----

    async def update(self, request: web.Request, t: Target) -> web.Response:
        """PUT an object, its status, its scale, or a namespace's finalizers."""
        assert t.name is not None
        body = await bodies.object_body(request)
        obj, warnings = self.decode(t, body, request.query)
        current = await self.registry.require(t.kind.resource, t.key, t.name)
        body_rv = (obj.get("metadata") or {}).get("resourceVersion")
        if body_rv and str(body_rv) != str(_rv(current)):
            raise APIError(status.conflict(t.kind.resource.plural, t.kind.resource.group, t.name))
        if t.sub == "scale":
            new = t.kind.apply_scale(t.kind.from_storage(current), obj)
            stored = await self.write_update(t, current, new, dry_run_requested(request.query), request.get("user"))
            return respond(t.kind.scale_of(t.kind.from_storage(stored)))
        body_name = (obj.get("metadata") or {}).get("name")
        if body_name and body_name != t.name:
            raise bad_request(f"the name of the object ({body_name}) does not match the name on the URL ({t.name})")
        stored = await self.write_update(t, current, obj, dry_run_requested(request.query), request.get("user"))
        return self.output(request, t, stored, 200, warnings)

    async def patch(self, request: web.Request, t: Target) -> web.Response:
        """PATCH with any patch type; retried on conflicts the patch itself did not ask for."""
        assert t.name is not None
        content_type = bodies.media_type(request)
        raw = await bodies.read(request)
        doc = patch.parse(content_type, raw)
        doc_meta = doc.get("metadata") if isinstance(doc, dict) else None
        pinned = isinstance(doc_meta, dict) and bool(doc_meta.get("resourceVersion"))
        is_dry = dry_run_requested(request.query)
        for _ in range(UPDATE_RETRIES):
            current = await self.registry.get(t.key)
            if current is None:
                if content_type == patch.APPLY and t.sub is None:
                    applied, warnings = self.decode(t, patch.apply(t.kind, content_type, {}, doc), request.query)
                    stored = await self.create_object(t, applied, dry_run=is_dry, user=request.get("user"))
                    return self.output(request, t, stored, 201, warnings)
                raise APIError(status.not_found(t.kind.resource.plural, t.kind.resource.group, t.name))
            live = t.kind.from_storage(current)
            base = t.kind.scale_of(live) if t.sub == "scale" else live
            patched = patch.apply(t.kind, content_type, base, doc)
            if not isinstance(patched.get("metadata", {}), dict):
                raise APIError(
                    status.invalid(
                        t.kind.resource.kind,
                        t.kind.resource.group,
                        t.name,
                        [invalid_cause("metadata", patched["metadata"], "must be an object")],
                    )
                )
            patched_rv = (patched.get("metadata") or {}).get("resourceVersion")
            if patched_rv and str(patched_rv) != str(_rv(current)):
                raise APIError(status.conflict(t.kind.resource.plural, t.kind.resource.group, t.name))
            try:
                if t.sub == "scale":
                    scale = self._decode_scale(t, patched)
                    stored = await self.write_update(
                        t, current, t.kind.apply_scale(live, scale), is_dry, request.get("user")
                    )
                    return respond(t.kind.scale_of(t.kind.from_storage(stored)))
                obj, warnings = self.decode(t, patched, request.query)
                stored = await self.write_update(t, current, obj, is_dry, request.get("user"))
                return self.output(request, t, stored, 200, warnings)
            except APIError as err:
                if err.body.get("reason") != "Conflict" or pinned:
                    raise
        raise APIError(status.conflict(t.kind.resource.plural, t.kind.resource.group, t.name))

    async def write_update(
        self, t: Target, current: dict[str, JSON], new: dict[str, JSON], is_dry: bool, user: User | None = None
    ) -> dict[str, JSON]:
        """Validate, admit and write `new` over `current` (conditional on its version); a no-op writes nothing.
        `user` is who asked (None for the apiserver's own writes)."""
        res = t.kind.resource
        current_served = t.kind.from_storage(current)
        old_meta = current_served.get("metadata") or {}
        if t.sub == "status":
            new = t.kind.prepare_for_status_update(new, current_served)
        elif t.sub == "approval":
            new = strategy.prepare_for_approval_update(new, current_served)
        elif t.sub == "finalize":
            finalizers = (new.get("spec") or {}).get("finalizers") or []
            new = copy.deepcopy(current_served)
            new.setdefault("spec", {})["finalizers"] = finalizers
        else:
            m = meta(new)
            for kept in (
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "namespace",
                "name",
            ):
                if kept in old_meta:
                    m[kept] = old_meta[kept]
                else:
                    m.pop(kept, None)
            m.pop("managedFields", None)
            new = t.kind.prepare_for_update(new, current_served)
            if user is not None and self.escalation is not None:
                self.escalation.check(user, res.group, res.kind, new, t.namespace or "")
        review = Review(UPDATE, res, t.namespace or "", t.name or "", new, current_served, t.sub or "", user, is_dry)
        await self.admission.mutate(review)
        t.kind.default(new)
        if (res.group, res.kind) == CRD and t.sub is None:
            new["status"] = copy.deepcopy(current_served.get("status") or {})
            _establish(new)
        causes = t.kind.validate_update(new, current_served)
        if causes:
            raise self.invalid(t, new, causes)
        # Quota charges only creates: an update's validating phase has nothing to commit with the object.
        await self.admission.validate(review)
        ops: list[rpc_pb2.RequestOp] = []
        compares: list[rpc_pb2.Compare] = []
        if (res.group, res.kind) == ("", "Service") and t.sub is None:
            reservation, causes = await self.allocators.plan(new, current_served)
            if causes:
                raise self.invalid(t, new, causes)
            compares, ops = reservation.compares, reservation.puts
            released = set(service_keys(current_served)) - set(service_keys(new))
            ops += [store.op_delete(k) for k in sorted(released)]
        meta(new)["resourceVersion"] = str(_rv(current))
        if _without_rv(new) == _without_rv(current_served) and not await self.registry.stale(t.key):
            # Unchanged and stored with the current encryption key: nothing to write. A stale value is
            # written again, which is how replacing every Secret moves them to a new key.
            return current
        m = meta(new)
        if m.get("deletionTimestamp") and not m.get("finalizers") and not _namespace_pending(res.kind, new):
            if not is_dry:
                await self.registry.delete(
                    res, t.key, str(m.get("name")), _rv(current), ops=self._released_with(current_served)
                )
            return new
        if is_dry:
            return new
        stored = await self.registry.update(
            res, t.key, t.kind.to_storage(new), _rv(current), compares=compares, ops=ops
        )
        if (res.group, res.kind) == CRD:
            await self.kinds.refresh()
        return stored

    # ---- delete ----

    async def delete_options(self, request: web.Request) -> dict[str, JSON]:
        """DeleteOptions from the body (kubectl) and the query (the Python client)."""
        opts: dict[str, JSON] = {}
        raw = await bodies.read(request)
        if raw.strip():
            parsed = bodies.parse_json(raw, "DeleteOptions")
            if not isinstance(parsed, dict):
                raise bad_request("DeleteOptions must be a JSON object")
            opts.update(parsed)
        grace = _int_param(request.query, "gracePeriodSeconds")
        if grace is not None:
            opts["gracePeriodSeconds"] = grace
        if request.query.get("propagationPolicy"):
            opts["propagationPolicy"] = request.query["propagationPolicy"]
        if request.query.get("orphanDependents") in ("true", "false"):
            opts["orphanDependents"] = request.query["orphanDependents"] == "true"
        policy = opts.get("propagationPolicy")
        if policy not in (None, "", "Orphan", "Background", "Foreground"):
            raise bad_request(
                f'propagationPolicy: Unsupported value: "{policy}": supported values: '
                '"Background", "Foreground", "Orphan"'
            )
        if opts.get("dryRun"):
            opts["dryRun"] = True
        return opts

    async def delete(self, request: web.Request, t: Target) -> web.Response:
        """DELETE one object: graceful for pods, deferred while finalizers remain."""
        assert t.name is not None
        opts = await self.delete_options(request)
        is_dry = dry_run_requested(request.query) or bool(opts.get("dryRun"))
        for _ in range(UPDATE_RETRIES):
            current = await self.registry.require(t.kind.resource, t.key, t.name)
            try:
                return await self._delete_once(request, t, current, opts, is_dry)
            except APIError as err:
                if err.body.get("reason") != "Conflict" or (opts.get("preconditions") or {}):
                    raise
        raise APIError(status.conflict(t.kind.resource.plural, t.kind.resource.group, t.name))

    async def _delete_once(
        self, request: web.Request, t: Target, current: dict[str, JSON], opts: dict[str, JSON], is_dry: bool
    ) -> web.Response:
        res = t.kind.resource
        assert t.name is not None
        served = t.kind.from_storage(current)
        await self.admission.validate(
            Review(DELETE, res, t.namespace or "", t.name, None, served, user=request.get("user"), dry_run=is_dry)
        )
        m = meta(served)
        pre = opts.get("preconditions") or {}
        if isinstance(pre, dict):
            if pre.get("uid") and pre["uid"] != m.get("uid"):
                raise APIError(
                    status.conflict(
                        res.plural,
                        res.group,
                        t.name,
                        f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: {m.get('uid')}",
                    )
                )
            if pre.get("resourceVersion") and str(pre["resourceVersion"]) != str(m.get("resourceVersion")):
                raise APIError(
                    status.conflict(
                        res.plural,
                        res.group,
                        t.name,
                        f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, "
                        f"ResourceVersion in object meta: {m.get('resourceVersion')}",
                    )
                )
        finalizers = list(m.get("finalizers") or [])
        policy = opts.get("propagationPolicy") or ("Orphan" if opts.get("orphanDependents") is True else "")
        if policy == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        elif policy == "Orphan" and "orphan" not in finalizers:
            finalizers.append("orphan")
        grace = 0
        if (res.group, res.kind) == ("", "Pod"):
            spec = served.get("spec") or {}
            requested = opts.get("gracePeriodSeconds")
            grace = (
                int(requested)
                if isinstance(requested, int)
                else int(spec.get("terminationGracePeriodSeconds", 30) or 0)
            )
            phase = (served.get("status") or {}).get("phase")
            if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
                grace = 0
            if m.get("deletionTimestamp") and m.get("deletionGracePeriodSeconds") is not None:
                grace = min(grace, int(m["deletionGracePeriodSeconds"] or 0))
        namespace_pending = (
            res.kind == "Namespace" and not res.group and bool((served.get("spec") or {}).get("finalizers"))
        )
        if finalizers or grace > 0 or namespace_pending:
            new = copy.deepcopy(served)
            nm = meta(new)
            if not nm.get("deletionTimestamp") or grace < int(nm.get("deletionGracePeriodSeconds") or 0):
                nm["deletionTimestamp"] = (datetime.now(UTC) + timedelta(seconds=grace)).strftime("%Y-%m-%dT%H:%M:%SZ")
            nm["deletionGracePeriodSeconds"] = grace
            if finalizers:
                nm["finalizers"] = finalizers
            if namespace_pending:
                new.setdefault("status", {})["phase"] = "Terminating"
            if _without_rv(new) == _without_rv(served):
                return self.output(request, t, current)
            if is_dry:
                return self.output(request, t, new)
            stored = await self.registry.update(res, t.key, t.kind.to_storage(new), _rv(current))
            return self.output(request, t, stored, 202 if policy == "Foreground" else 200)
        if not is_dry:
            revision = await self.registry.delete(res, t.key, t.name, _rv(current), ops=self._released_with(served))
            m["resourceVersion"] = str(revision)
            if (res.group, res.kind) == CRD:
                await self.kinds.refresh()
        if (res.group, res.kind) == ("", "Pod"):
            return self.output(request, t, served)
        return respond(status.success(res.plural, res.group, t.name, str(m.get("uid", ""))))

    def _released_with(self, obj: JSON) -> list[rpc_pb2.RequestOp]:
        """What goes away in the same transaction as `obj`: a Service's ClusterIP and NodePort reservations,
        a CRD's custom objects (kube-apiserver's customresourcecleanup finalizer, done atomically)."""
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if (kind, api_version) == ("Service", "v1"):
            return [store.op_delete(k) for k in service_keys(obj)]
        if (kind, api_version) == ("CustomResourceDefinition", "apiextensions.k8s.io/v1"):
            spec = obj.get("spec") or {}
            group, plural = spec.get("group"), (spec.get("names") or {}).get("plural")
            builtin = any((k[0], k[2]) == (group, plural) for k in self.kinds.builtin)
            if group and plural and not builtin:
                return [store.op_delete(f"/registry/{group}/{plural}/", prefix=True)]
        return []

    async def delete_collection(self, request: web.Request, t: Target) -> web.Response:
        """DELETE on a collection: each selected object is deleted as a single DELETE would."""
        opts = await self.delete_options(request)
        keep = self.predicate(t, request.query)
        page = await self.registry.list(t.kind.collection_prefix(t.namespace), keep=keep)
        is_dry = dry_run_requested(request.query) or bool(opts.get("dryRun"))
        deleted: list[JSON] = []
        for obj in page.items:
            m = obj.get("metadata") or {}
            target = Target(t.kind, str(m.get("namespace") or "") or None, str(m.get("name")), None)
            with contextlib.suppress(APIError):
                await self._delete_once(request, target, obj, opts, is_dry)
                deleted.append(t.kind.from_storage(obj))
        res = t.kind.resource
        return respond(
            {
                "kind": res.list_kind,
                "apiVersion": res.api_version,
                "metadata": {"resourceVersion": str(page.revision)},
                "items": deleted,
            }
        )

    # ---- serviceaccounts/token ----

    async def token_request(self, request: web.Request, t: Target) -> web.Response:
        """TokenRequest: a signed token for an existing ServiceAccount."""
        assert t.name is not None
        body = await bodies.object_body(request)
        sa = await self.registry.require(t.kind.resource, t.key, t.name)
        return respond(await self.reviews.token(sa, body), 201)

    # ---- pod subresources ----

    async def bind(self, request: web.Request, t: Target) -> web.Response:
        """pods/binding: set spec.nodeName once; a pod already bound answers 409."""
        assert t.name is not None
        body = await bodies.object_body(request)
        target = body.get("target") or {}
        node = target.get("name") if isinstance(target, dict) else None
        if not node:
            raise APIError(status.invalid("Binding", "", t.name, [required("target.name")]))
        for _ in range(UPDATE_RETRIES):
            pod = await self.registry.require(t.kind.resource, t.key, t.name)
            spec = pod.setdefault("spec", {})
            assert isinstance(spec, dict)
            if (pod.get("metadata") or {}).get("deletionTimestamp"):
                raise APIError(
                    status.conflict("pods", "", t.name, "pod is being deleted, cannot be assigned to a host")
                )
            if spec.get("nodeName"):
                raise APIError(
                    status.conflict(
                        "pods", "", t.name, f'pod {t.name} is already assigned to node "{spec["nodeName"]}"'
                    )
                )
            uid = (body.get("metadata") or {}).get("uid")
            if uid and uid != (pod.get("metadata") or {}).get("uid"):
                raise APIError(status.conflict("pods", "", t.name, "the UID in the binding does not match the pod"))
            spec["nodeName"] = node
            st = pod.setdefault("status", {})
            assert isinstance(st, dict)
            conditions = [c for c in st.get("conditions") or [] if c.get("type") != "PodScheduled"]
            conditions.append(
                {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": now_rfc3339()}
            )
            st["conditions"] = conditions
            try:
                await self.registry.update(t.kind.resource, t.key, pod, _rv(pod))
            except APIError as err:
                if err.body.get("reason") != "Conflict":
                    raise
                continue
            return respond(
                {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, 201
            )
        raise APIError(status.conflict("pods", "", t.name))

    async def evict(self, request: web.Request, t: Target) -> web.Response:
        """pods/eviction: delete the pod unless a PodDisruptionBudget forbids it (429)."""
        assert t.name is not None
        body = await bodies.object_body(request)
        pod = await self.registry.require(t.kind.resource, t.key, t.name)
        await self.admission.validate(
            Review(CREATE, t.kind.resource, t.namespace or "", t.name, body, pod, "eviction", request.get("user"))
        )
        pod_labels = (pod.get("metadata") or {}).get("labels") or {}
        pdb_kind = await self.kinds.resolve("policy", "v1", "poddisruptionbudgets")
        assert pdb_kind is not None
        page = await self.registry.list(pdb_kind.collection_prefix(t.namespace))
        phase = (pod.get("status") or {}).get("phase")
        if phase not in ("Succeeded", "Failed", "Pending"):
            for pdb in page.items:
                selector = (pdb.get("spec") or {}).get("selector")
                if selector is None or not labels.matches(selector, pod_labels):
                    continue
                allowed = int((pdb.get("status") or {}).get("disruptionsAllowed", 0) or 0)
                pdb_name = (pdb.get("metadata") or {}).get("name")
                if allowed <= 0:
                    raise APIError(
                        status.failure(
                            "TooManyRequests",
                            "Cannot evict pod as it would violate the pod's disruption budget.",
                            {
                                "causes": [
                                    {
                                        "reason": "DisruptionBudget",
                                        "message": f"The disruption budget {pdb_name} needs "
                                        f"{(pdb.get('status') or {}).get('desiredHealthy', 0)} healthy pods and has "
                                        f"{(pdb.get('status') or {}).get('currentHealthy', 0)} currently",
                                    }
                                ]
                            },
                        )
                    )
                pdb["status"]["disruptionsAllowed"] = allowed - 1
                pdb_target = Target(pdb_kind, t.namespace, str(pdb_name), "status")
                await self.registry.update(pdb_kind.resource, pdb_target.key, pdb, _rv(pdb))
        opts = body.get("deleteOptions") or {}
        delete_opts = dict(opts) if isinstance(opts, dict) else {}
        current = await self.registry.require(t.kind.resource, t.key, t.name)
        await self._delete_once(request, Target(t.kind, t.namespace, t.name, None), current, delete_opts, False)
        return respond({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, 201)


def _namespace_pending(kind: str, obj: JSON) -> bool:
    return kind == "Namespace" and bool((obj.get("spec") or {}).get("finalizers"))


def _establish(crd_obj: dict[str, JSON]) -> None:
    """A CRD is served as soon as it is stored: accepted names and the Established condition say so."""
    spec = crd_obj.get("spec") or {}
    st = crd_obj.setdefault("status", {})
    assert isinstance(st, dict)
    stamp = now_rfc3339()
    previous = {c.get("type"): c for c in st.get("conditions") or []}

    def cond(kind: str, reason: str, message: str) -> JSON:
        old = previous.get(kind)
        return (
            old
            if old and old.get("status") == "True"
            else {"type": kind, "status": "True", "lastTransitionTime": stamp, "reason": reason, "message": message}
        )

    st["acceptedNames"] = copy.deepcopy(spec.get("names") or {})
    st["conditions"] = [
        cond("NamesAccepted", "NoConflicts", "no conflicts found"),
        cond("Established", "InitialNamesAccepted", "the initial names have been accepted"),
    ]
    stored = [v.get("name") for v in spec.get("versions") or [] if v.get("storage")]
    st["storedVersions"] = sorted(set((st.get("storedVersions") or []) + stored))
