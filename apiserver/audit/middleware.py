"""The audit middleware: outermost, so it sees every answer (errors included, as the Status sent) and the user
the authentication middleware found. Both stages are written when the request ends, RequestReceived first.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web

from api.schema import JSON
from apiserver.audit.log import AuditLog, Event, capped
from apiserver.audit.policy import Policy
from apiserver.authz.attributes import ANONYMOUS, Attributes
from apiserver.authz.request_info import attributes_for
from apiserver.bodies import RAW_BODY, REQUEST_OBJECT

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(raw: object) -> JSON | None:
    if not isinstance(raw, (bytes, bytearray)) or not raw:
        return None
    try:
        parsed: JSON = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None  # protobuf or YAML bodies are recorded once decoded, or not at all
    return parsed


def _named(attrs: Attributes, request_object: JSON | None) -> Attributes:
    """A create names its object in the body, not the URL: the event's objectRef takes the name from there
    (the policy was matched on the URL alone, as in Kubernetes)."""
    meta = request_object.get("metadata") if isinstance(request_object, dict) else None
    if attrs.name or not attrs.resource_request or not isinstance(meta, dict) or not meta.get("name"):
        return attrs
    return attrs._replace(name=str(meta["name"]))


def source_ips(request: web.Request) -> list[str]:
    """X-Forwarded-For addresses (a proxy in front), then the peer, as kube-apiserver lists them."""
    forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",") if a.strip()]
    peer = request.remote
    return [*forwarded, peer] if peer and peer not in forwarded else forwarded


class Auditor:
    """Writes one audit event per stage of every request the policy selects."""

    def __init__(self, policy: Policy, log: AuditLog) -> None:
        self.policy = policy
        self.log = log

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Let the request through, then record it."""
        received = datetime.now(UTC)
        resp: web.StreamResponse | None = None
        code = 500
        try:
            resp = await handler(request)
            code = resp.status
            return resp
        except web.HTTPException as exc:
            code = exc.status
            raise
        finally:
            self._record(request, received, code, resp)

    def _record(self, request: web.Request, received: datetime, code: int, resp: web.StreamResponse | None) -> None:
        attrs = attributes_for(request.get("user") or ANONYMOUS, request.method, request.path, request.query)
        decision = capped(self.policy.evaluate(attrs), attrs)
        if decision.level == "None":
            return
        request_object = request.get(REQUEST_OBJECT) or _json(request.get(RAW_BODY))
        event = Event(
            decision,
            _named(attrs, request_object),
            request.path_qs,
            source_ips(request),
            request.headers.get("User-Agent", ""),
            received,
        )
        if "RequestReceived" not in decision.omit_stages:
            self.log.write(event.record("RequestReceived", received))
        if "ResponseComplete" in decision.omit_stages:
            return
        wants_body = code >= 400 or decision.at_least("RequestResponse")
        body = _json(resp.body) if wants_body and isinstance(resp, web.Response) else None
        failure = body if code >= 400 and isinstance(body, dict) else None
        self.log.write(
            event.record(
                "ResponseComplete",
                datetime.now(UTC),
                code=code,
                failure=failure,
                request_object=request_object,
                response_object=body if failure is None else None,
            )
        )
