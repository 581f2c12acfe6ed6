"""A Kubernetes-shaped fake apiserver on a loopback port, and throwaway TLS material, for client tests.

Only the HTTP network is faked: objects live in a dict, every write bumps one global
resourceVersion, lists paginate with ``limit``/``continue``, watches stream newline-delimited
events from a replayable history (``410 Expired`` below ``compacted_rv``), and Status errors have
the shapes the real apiserver sends. Tests reach in to script failures (``fail_next``), drop watch
connections, or compact history.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# ----------------------------------------------------------------------------------------------
# TLS material


@dataclass
class CertPair:
    """A PEM certificate and its private key."""

    cert_pem: bytes
    key_pem: bytes
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def make_ca(cn: str = "tinykube-test-ca") -> CertPair:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .sign(key, hashes.SHA256()))
    return _pair(cert, key)


def issue_cert(ca: CertPair, cn: str, *, orgs: tuple[str, ...] = (), ips: tuple[str, ...] = (),
               dns: tuple[str, ...] = (), server: bool = False) -> CertPair:
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(x509.Name(attrs)).issuer_name(ca.cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH if server
                                                     else x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]),
                              critical=False))
    sans: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    sans += [x509.DNSName(d) for d in dns]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return _pair(builder.sign(ca.key, hashes.SHA256()), key)


def _pair(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> CertPair:
    return CertPair(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()),
        cert=cert, key=key,
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def server_ssl_context(ca: CertPair, serving: CertPair, tmp_dir: Path,
                       require_client_cert: bool = False) -> ssl.SSLContext:
    """A server-side context presenting ``serving`` and verifying client certificates against ``ca``."""
    cert_file = tmp_dir / "serving.crt"
    key_file = tmp_dir / "serving.key"
    cert_file.write_bytes(serving.cert_pem)
    key_file.write_bytes(serving.key_pem)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cadata=ca.cert_pem.decode())
    ctx.load_cert_chain(cert_file, key_file)
    ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    return ctx


# ----------------------------------------------------------------------------------------------
# The fake apiserver


def status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": message, "reason": reason, "code": code}
    if details is not None:
        body["details"] = details
    return body


@dataclass
class Canned:
    """A scripted answer for the next request matching ``method`` and ``path_part``."""

    method: str
    path_part: str
    code: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    drop: bool = False       # cut the connection instead of answering
    truncate: bool = False   # start a 200 answer, then cut the connection mid-body


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class _Route:
    group: str
    version: str
    resource: str
    namespace: str | None
    name: str | None
    subresource: str | None


def _parse(path: str) -> _Route | None:
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    return _Route(group, version, resource, namespace, name, sub)


def _matches_labels(obj: dict[str, Any], selector: str | None) -> bool:
    if not selector:
        return True
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in selector.split(","):
        key, _, value = term.partition("=")
        if labels.get(key.strip()) != value.strip():
            return False
    return True


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


Queue = asyncio.Queue[dict[str, Any] | None]


class FakeBackend:
    """The "store" behind one or more fake apiservers: objects, one global resourceVersion, history."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}   # (resource, namespace, name)
        self.history: list[tuple[int, str, str, dict[str, Any]]] = []   # (rv, type, resource, object)
        self.rv = 100
        self.compacted_rv = 0
        self.subscribers: dict[Queue, str] = {}                          # open watch -> its resource

    def seed(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Store ``obj`` as if created (emits ADDED to watchers)."""
        meta = obj.setdefault("metadata", {})
        return self.write("ADDED", resource, meta.get("namespace") or "", obj)

    def modify(self, resource: str, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        current = self.objects[(resource, namespace, name)]
        return self.write("MODIFIED", resource, namespace, _merge(current, patch))

    def remove(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        obj = self.objects.pop((resource, namespace, name))
        self.rv += 1
        obj = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self.rv)}}
        self._emit("DELETED", resource, obj)
        return obj

    def compact(self) -> None:
        """Forget history up to now: watches and continue tokens from older versions get 410."""
        self.compacted_rv = self.rv
        self.history.clear()

    def write(self, kind: str, resource: str, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        self.rv += 1
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        meta["resourceVersion"] = str(self.rv)
        meta.setdefault("uid", f"uid-{meta['name']}-{self.rv}")
        if namespace:
            meta["namespace"] = namespace
        self.objects[(resource, namespace, meta["name"])] = obj
        self._emit(kind, resource, obj)
        return obj

    def _emit(self, kind: str, resource: str, obj: dict[str, Any]) -> None:
        self.history.append((self.rv, kind, resource, copy.deepcopy(obj)))
        for q, watched in list(self.subscribers.items()):
            if watched == resource:
                q.put_nowait({"type": kind, "object": copy.deepcopy(obj)})


class FakeApiserver:
    """An in-memory apiserver on 127.0.0.1 with Kubernetes list/watch/410 behaviour.

    Several servers built on one ``FakeBackend`` behave like apiservers sharing a store.
    """

    def __init__(self, ssl_context: ssl.SSLContext | None = None, backend: FakeBackend | None = None) -> None:
        self.backend = backend or FakeBackend()
        self.requests: list[Seen] = []
        self.canned: list[Canned] = []
        self.client_cns: list[str] = []
        self.discovery: dict[str, dict[str, Any]] = {}   # path -> document, served before anything else
        self.watchers: set[Queue] = set()                # this server's open watches
        self._ssl = ssl_context
        self._runner: web.AppRunner | None = None
        self.url = ""

    # The backend's state and scripting, as if this server were the whole cluster.
    @property
    def objects(self) -> dict[tuple[str, str, str], dict[str, Any]]:
        return self.backend.objects

    @property
    def history(self) -> list[tuple[int, str, str, dict[str, Any]]]:
        return self.backend.history

    @property
    def rv(self) -> int:
        return self.backend.rv

    @property
    def compacted_rv(self) -> int:
        return self.backend.compacted_rv

    def seed(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        return self.backend.seed(resource, obj)

    def modify(self, resource: str, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        return self.backend.modify(resource, namespace, name, patch)

    def remove(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        return self.backend.remove(resource, namespace, name)

    def compact(self) -> None:
        self.backend.compact()

    def _write(self, kind: str, resource: str, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        return self.backend.write(kind, resource, namespace, obj)

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._ssl)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"{'https' if self._ssl else 'http'}://127.0.0.1:{port}"
        return self.url

    async def close(self) -> None:
        self.drop_watches()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- scripting ----------------------------------------------------------------------------

    def fail_next(self, method: str, path_part: str, code: int, body: dict[str, Any] | None = None, *,
                  headers: dict[str, str] | None = None, times: int = 1, drop: bool = False,
                  truncate: bool = False) -> None:
        self.canned.append(Canned(method, path_part, code, body, headers or {}, times, drop, truncate))

    def drop_watches(self) -> None:
        """End every watch stream open on this server abruptly (as its restart would)."""
        for q in list(self.watchers):
            q.put_nowait(None)

    def bookmark(self) -> None:
        for q in list(self.watchers):
            q.put_nowait({"type": "BOOKMARK", "object": {"kind": "Bookmark",
                                                       "metadata": {"resourceVersion": str(self.rv)}}})

    def send_error(self, code: int, reason: str, message: str) -> None:
        for q in list(self.watchers):
            q.put_nowait({"type": "ERROR", "object": status(code, reason, message)})

    def seen(self, method: str, path_part: str = "") -> list[Seen]:
        return [r for r in self.requests if r.method == method and path_part in r.path]

    # --- HTTP ---------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body: Any = None
        if raw:
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                return self._json(400, status(400, "BadRequest", "body is not JSON"))
        self.requests.append(Seen(request.method, request.path, dict(request.query), dict(request.headers), body))
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        if peer:
            self.client_cns += [v for rdn in peer.get("subject", ()) for k, v in rdn if k == "commonName"]
        for canned in self.canned:
            if canned.method == request.method and canned.path_part in request.path and canned.times > 0:
                canned.times -= 1
                if canned.drop:
                    assert request.transport is not None
                    request.transport.close()
                    raise ConnectionResetError("dropped by test")
                if canned.truncate:
                    partial = web.StreamResponse(status=200, headers={"Content-Type": "application/json",
                                                                      "Content-Length": "100000"})
                    await partial.prepare(request)
                    await partial.write(b'{"kind": "PodList", "items": [')
                    assert request.transport is not None
                    request.transport.close()
                    return partial
                return self._json(canned.code, canned.body, canned.headers)
        if request.method == "GET" and request.path in self.discovery:
            return self._json(200, self.discovery[request.path])
        route = _parse(request.path)
        if route is None:
            return self._json(404, status(404, "NotFound", "the server could not find the requested resource"))
        if request.method == "GET" and route.name is None and request.query.get("watch") in ("1", "true"):
            return await self._watch(request, route)
        handler = {"GET": self._get, "POST": self._post, "PUT": self._put, "PATCH": self._patch,
                   "DELETE": self._delete}.get(request.method)
        if handler is None:
            return self._json(405, status(405, "MethodNotAllowed", "method not allowed"))
        return await handler(request, route, body)

    @staticmethod
    def _json(code: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(status=code, body=orjson.dumps(body) if body is not None else b"",
                            content_type="application/json", headers=headers)

    def _key(self, route: _Route, name: str | None = None) -> tuple[str, str, str]:
        return (route.resource, route.namespace or "", name or route.name or "")

    def _not_found(self, route: _Route, name: str | None = None) -> web.Response:
        n = name or route.name
        return self._json(404, status(404, "NotFound", f'{route.resource} "{n}" not found',
                                      {"name": n, "group": route.group, "kind": route.resource}))

    async def _get(self, request: web.Request, route: _Route, body: Any) -> web.StreamResponse:
        if route.name is not None:
            obj = self.objects.get(self._key(route))
            if obj is None:
                return self._not_found(route)
            if route.subresource == "log":
                return web.Response(text=f"log of {route.name}\nline 2\n", content_type="text/plain")
            return self._json(200, obj)
        return self._list(request, route)

    def _list(self, request: web.Request, route: _Route) -> web.Response:
        q = request.query
        items = sorted((k, o) for k, o in self.objects.items()
                       if k[0] == route.resource and (route.namespace is None or k[1] == route.namespace)
                       and _matches_labels(o, q.get("labelSelector")))
        list_rv = self.rv
        start = 0
        if q.get("continue"):
            token_rv, _, after = q["continue"].partition(":")
            if int(token_rv) < self.compacted_rv:
                return self._json(410, status(410, "Expired", "The provided continue parameter is too old"))
            list_rv = int(token_rv)
            start = next((i for i, (k, _) in enumerate(items) if "/".join(k[1:]) > after), len(items))
        limit = int(q["limit"]) if q.get("limit") else 0
        page = items[start:start + limit] if limit else items[start:]
        meta: dict[str, Any] = {"resourceVersion": str(list_rv)}
        if limit and start + limit < len(items):
            meta["continue"] = f"{list_rv}:{'/'.join(page[-1][0][1:])}"
            meta["remainingItemCount"] = len(items) - start - limit
        return self._json(200, {"kind": "List", "apiVersion": route.version, "metadata": meta,
                                "items": [o for _, o in page]})

    async def _watch(self, request: web.Request, route: _Route) -> web.StreamResponse:
        q = request.query
        rv = q.get("resourceVersion") or "0"
        queue: Queue = asyncio.Queue()
        if rv == "0":
            for (res, ns, _), obj in sorted(self.objects.items()):
                if res == route.resource and (route.namespace is None or ns == route.namespace):
                    queue.put_nowait({"type": "ADDED", "object": copy.deepcopy(obj)})
        elif int(rv) < self.compacted_rv:
            queue.put_nowait({"type": "ERROR", "object": status(
                410, "Expired", f"too old resource version: {rv} ({self.compacted_rv})")})
            queue.put_nowait(None)
        else:
            for event_rv, kind, res, obj in self.history:
                if event_rv > int(rv) and res == route.resource:
                    queue.put_nowait({"type": kind, "object": copy.deepcopy(obj)})
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        self.watchers.add(queue)
        self.backend.subscribers[queue] = route.resource
        bookmarks = q.get("allowWatchBookmarks") in ("1", "true")
        timeout = float(q["timeoutSeconds"]) if q.get("timeoutSeconds") else None
        try:
            async with asyncio.timeout(timeout):
                while True:
                    event = await queue.get()
                    if event is None:
                        assert request.transport is not None
                        request.transport.close()
                        return resp
                    if event["type"] == "BOOKMARK" and not bookmarks:
                        continue
                    event_ns = (event["object"].get("metadata") or {}).get("namespace")
                    if route.namespace is not None and event["type"] != "ERROR" \
                            and event_ns not in (None, route.namespace):
                        continue
                    await resp.write(orjson.dumps(event) + b"\n")
                    if event["type"] == "ERROR":
                        return resp   # the apiserver ends a watch after an ERROR event
        except TimeoutError:
            return resp
        finally:
            self.watchers.discard(queue)
            self.backend.subscribers.pop(queue, None)

    async def _post(self, request: web.Request, route: _Route, body: Any) -> web.StreamResponse:
        if route.subresource == "binding":
            pod = self.objects.get(self._key(route))
            if pod is None:
                return self._not_found(route)
            self._write("MODIFIED", route.resource, route.namespace or "",
                        _merge(pod, {"spec": {"nodeName": body["target"]["name"]}}))
            return self._json(201, {"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 201})
        if route.subresource == "eviction":
            if self._key(route) not in self.objects:
                return self._not_found(route)
            self.remove(route.resource, route.namespace or "", route.name or "")
            return self._json(201, {"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 201})
        name = (body.get("metadata") or {}).get("name")
        if not name:
            return self._json(422, status(422, "Invalid", "name: Required value",
                                          {"causes": [{"reason": "FieldValueRequired", "field": "metadata.name",
                                                       "message": "Required value"}]}))
        if self._key(route, name) in self.objects:
            return self._json(409, status(409, "AlreadyExists", f'{route.resource} "{name}" already exists',
                                          {"name": name, "kind": route.resource}))
        return self._json(201, self._write("ADDED", route.resource, route.namespace or "", body))

    async def _put(self, request: web.Request, route: _Route, body: Any) -> web.StreamResponse:
        current = self.objects.get(self._key(route))
        if current is None:
            return self._not_found(route)
        sent_rv = (body.get("metadata") or {}).get("resourceVersion")
        if sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
            return self._json(409, status(409, "Conflict", "the object has been modified; please apply your "
                                          "changes to the latest version and try again", {"name": route.name}))
        if route.subresource == "status":
            body = {**current, "status": body.get("status")}
        return self._json(200, self._write("MODIFIED", route.resource, route.namespace or "", body))

    async def _patch(self, request: web.Request, route: _Route, body: Any) -> web.StreamResponse:
        current = self.objects.get(self._key(route))
        if current is None:
            if request.content_type == "application/apply-patch+yaml":
                return self._json(201, self._write("ADDED", route.resource, route.namespace or "", body))
            return self._not_found(route)
        if request.content_type == "application/json-patch+json":
            patched = copy.deepcopy(current)
            for op in body:   # enough of RFC 6902 for tests: replace/add of top-level paths
                patched[op["path"].strip("/")] = op["value"]
        else:
            patched = _merge(current, body)
        return self._json(200, self._write("MODIFIED", route.resource, route.namespace or "", patched))

    async def _delete(self, request: web.Request, route: _Route, body: Any) -> web.StreamResponse:
        if route.name is None:
            doomed = [k for k, o in self.objects.items() if k[0] == route.resource
                      and (route.namespace is None or k[1] == route.namespace)
                      and _matches_labels(o, request.query.get("labelSelector"))]
            for key in doomed:
                self.remove(*key)
            return self._json(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})
        current = self.objects.get(self._key(route))
        if current is None:
            return self._not_found(route)
        pre = (body or {}).get("preconditions") or {}
        if pre.get("resourceVersion") and pre["resourceVersion"] != current["metadata"]["resourceVersion"]:
            return self._json(409, status(409, "Conflict", "precondition failed: resourceVersion"))
        self.remove(route.resource, route.namespace or "", route.name)
        return self._json(200, {"kind": "Status", "apiVersion": "v1", "status": "Success",
                                "details": {"name": route.name}})
