"""Authentication and authorization delegated to the apiserver, for the servers of kubelets and control-plane
components (what k8s.io/apiserver's delegating authenticator and webhook authorizer do).

A caller is known by its TLS client certificate (verified by the server's TLS context against the client CA:
CN = user, O = groups) or by a bearer token the apiserver vouches for through a ``TokenReview``; what it may
do is asked of the apiserver with a ``SubjectAccessReview``. Answers are cached briefly, as upstream does,
so a busy endpoint costs one review per caller and action per TTL rather than one per request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import web

from client.errors import ApiConnectionError, ApiError
from client.rest import RestClient

TOKEN_REVIEWS: Final = "/apis/authentication.k8s.io/v1/tokenreviews"
ACCESS_REVIEWS: Final = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
ANONYMOUS: Final = "system:anonymous"
VERBS: Final[Mapping[str, str]] = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update",
                                   "PATCH": "patch", "DELETE": "delete"}


@dataclass(frozen=True)
class Caller:
    """Who is calling, as the apiserver would name them."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()

    def user_info(self) -> dict[str, Any]:
        out: dict[str, Any] = {"user": self.name, "groups": list(self.groups)}
        if self.uid:
            out["uid"] = self.uid
        return out


@dataclass(frozen=True)
class Action:
    """What a request does: a resource action (``resource``/``subresource``/``name``) or a non-resource path."""

    verb: str
    resource: str = ""
    subresource: str = ""
    name: str = ""
    group: str = ""
    namespace: str = ""
    path: str = ""

    def review_spec(self) -> dict[str, Any]:
        if not self.resource:
            return {"nonResourceAttributes": {"path": self.path, "verb": self.verb}}
        attrs = {"verb": self.verb, "group": self.group, "resource": self.resource,
                 "subresource": self.subresource, "name": self.name, "namespace": self.namespace}
        return {"resourceAttributes": {k: v for k, v in attrs.items() if v}}

    def describe(self) -> str:
        if not self.resource:
            return f"verb={self.verb} path={self.path}"
        what = self.resource + (f"/{self.subresource}" if self.subresource else "")
        return f"verb={self.verb} resource={what}" + (f" name={self.name}" if self.name else "")


def certificate_caller(peercert: Mapping[str, Any] | None) -> Caller | None:
    """The caller named by a verified client certificate (``ssl``'s ``getpeercert()`` form)."""
    if not peercert:
        return None
    cn, orgs = "", []
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                cn = value
            elif key == "organizationName":
                orgs.append(value)
    return Caller(cn, "", (*orgs, "system:authenticated")) if cn else None


@dataclass
class _Entry:
    value: Any
    expires: float


@dataclass
class TTLCache:
    """Answers kept for a while; allowed and denied answers may live for different times."""

    now: Callable[[], float]
    entries: dict[Any, _Entry] = field(default_factory=dict)
    limit: int = 4096

    def get(self, key: Any) -> Any:
        entry = self.entries.get(key)
        if entry is None or entry.expires <= self.now():
            self.entries.pop(key, None)
            return None
        return entry.value

    def put(self, key: Any, value: Any, ttl: float) -> None:
        if len(self.entries) >= self.limit:
            now = self.now()
            self.entries = {k: e for k, e in self.entries.items() if e.expires > now}
            if len(self.entries) >= self.limit:
                self.entries.clear()
        self.entries[key] = _Entry(value, self.now() + ttl)


class DelegatedAuth:
    """Who the caller is (certificate, or TokenReview) and whether it may (SubjectAccessReview)."""

    def __init__(self, rest: RestClient, *, token_webhook: bool = True, authorize_webhook: bool = True,
                 anonymous: bool = False, token_ttl: float = 120.0, allowed_ttl: float = 300.0,
                 denied_ttl: float = 30.0) -> None:
        self.rest = rest
        self.token_webhook = token_webhook
        self.authorize_webhook = authorize_webhook
        self.anonymous = anonymous
        self.token_ttl, self.allowed_ttl, self.denied_ttl = token_ttl, allowed_ttl, denied_ttl
        self.tokens = TTLCache(rest.clock.now)
        self.decisions = TTLCache(rest.clock.now)

    async def authenticate(self, request: web.Request) -> Caller | None:
        """The caller, or None when nothing (acceptable) identifies it."""
        header = request.headers.get("Authorization", "")
        if self.token_webhook and header.lower().startswith("bearer "):
            token = header[7:].strip()
            return await self._token_caller(token) if token else None
        transport = request.transport
        caller = certificate_caller(transport.get_extra_info("peercert") if transport is not None else None)
        if caller is not None:
            return caller
        return Caller(ANONYMOUS, "", ("system:unauthenticated",)) if self.anonymous else None

    async def _token_caller(self, token: str) -> Caller | None:
        cached = self.tokens.get(token)
        if cached is not None:
            return cached if isinstance(cached, Caller) else None
        review = await self.rest.request("POST", TOKEN_REVIEWS, body={
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}})
        status = (review or {}).get("status") or {}
        user = status.get("user") or {}
        caller: Caller | bool = False
        if status.get("authenticated") and user.get("username"):
            caller = Caller(str(user["username"]), str(user.get("uid", "")), tuple(user.get("groups") or ()))
        self.tokens.put(token, caller, self.token_ttl)
        return caller if isinstance(caller, Caller) else None

    async def authorize(self, caller: Caller, action: Action) -> tuple[bool, str]:
        """(allowed, reason) for ``caller`` doing ``action``."""
        if not self.authorize_webhook:
            return True, ""
        key = (caller, action)
        cached = self.decisions.get(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        review = await self.rest.request("POST", ACCESS_REVIEWS, body={
            "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {**caller.user_info(), **action.review_spec()}})
        status = (review or {}).get("status") or {}
        decision = (bool(status.get("allowed")) and not status.get("denied"), str(status.get("reason", "")))
        self.decisions.put(key, decision, self.allowed_ttl if decision[0] else self.denied_ttl)
        return decision

    def middleware(self, action_of: Callable[[web.Request], Action | None]) -> Any:
        """An aiohttp middleware: requests whose ``action_of`` is None pass (health checks); the rest need an
        authenticated caller (401) allowed to do the action (403, naming user and action as the kubelet does)."""

        @web.middleware
        async def check(request: web.Request,
                        handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
            action = action_of(request)
            if action is None:
                return await handler(request)
            try:
                caller = await self.authenticate(request)
                if caller is None:
                    raise web.HTTPUnauthorized(text="Unauthorized")
                allowed, reason = await self.authorize(caller, action)
            except (ApiError, ApiConnectionError) as err:
                raise web.HTTPInternalServerError(text=f"authorization check failed: {err}") from None
            if not allowed:
                raise web.HTTPForbidden(text=f"Forbidden (user={caller.name}, {action.describe()})"
                                             + (f": {reason}" if reason else ""))
            return await handler(request)

        return check
