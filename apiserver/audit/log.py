"""Audit events (audit.k8s.io/v1 Event) and the JSON-lines file they go to, rotated by size.

An event's detail follows the policy's level: Metadata names who did what to which object and how it ended;
Request adds the request body; RequestResponse the response body. Secrets, TokenRequests and TokenReviews
are capped at Metadata: their bodies carry secret values and bearer tokens.
"""

from __future__ import annotations

import json
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from api.schema import JSON
from apiserver.audit.policy import Decision
from apiserver.authz.attributes import Attributes

SENSITIVE = frozenset(
    {
        ("", "secrets", ""),
        ("", "serviceaccounts", "token"),
        ("authentication.k8s.io", "tokenreviews", ""),
        ("authentication.k8s.io", "tokenrequests", ""),
    }
)
"""Resources whose bodies hold secret values or bearer tokens: recorded at Metadata at most."""


def timestamp(when: datetime) -> str:
    """RFC 3339 with microseconds, as kube-apiserver writes audit timestamps."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def capped(decision: Decision, attrs: Attributes) -> Decision:
    """The decision, lowered to Metadata for requests whose bodies must never be recorded."""
    if decision.at_least("Request") and (attrs.api_group, attrs.resource, attrs.subresource) in SENSITIVE:
        return Decision("Metadata", decision.omit_stages)
    return decision


@dataclass
class Event:
    """One request being audited: the fixed fields, filled in as the request goes."""

    decision: Decision
    attrs: Attributes
    request_uri: str
    source_ips: list[str]
    user_agent: str
    received: datetime
    audit_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def record(
        self,
        stage: str,
        when: datetime,
        *,
        code: int | None = None,
        failure: dict[str, JSON] | None = None,
        request_object: JSON | None = None,
        response_object: JSON | None = None,
    ) -> dict[str, JSON]:
        """The event as written for `stage`."""
        attrs = self.attrs
        user: dict[str, JSON] = {"username": attrs.user.name, "groups": list(attrs.user.groups)}
        if attrs.user.uid:
            user["uid"] = attrs.user.uid
        event: dict[str, JSON] = {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": self.decision.level,
            "auditID": self.audit_id,
            "stage": stage,
            "requestURI": self.request_uri,
            "verb": attrs.verb,
            "user": user,
            "sourceIPs": self.source_ips,
            "userAgent": self.user_agent,
        }
        if attrs.resource_request:
            ref: dict[str, JSON] = {"resource": attrs.resource}
            for key, value in (
                ("namespace", attrs.namespace),
                ("name", attrs.name),
                ("apiGroup", attrs.api_group),
                ("apiVersion", attrs.api_version),
                ("subresource", attrs.subresource),
            ):
                if value:
                    ref[key] = value
            event["objectRef"] = ref
        if code is not None:
            response: dict[str, JSON] = {"metadata": {}, "code": code}
            if failure:
                response.update({k: failure[k] for k in ("status", "message", "reason") if k in failure})
            event["responseStatus"] = response
        if request_object is not None and self.decision.at_least("Request"):
            event["requestObject"] = request_object
        if response_object is not None and self.decision.at_least("RequestResponse"):
            event["responseObject"] = response_object
        event["requestReceivedTimestamp"] = timestamp(self.received)
        event["stageTimestamp"] = timestamp(when)
        return event


class AuditLog:
    """A JSON-lines file (or stdout for "-"), rotated when it would pass `max_size_mb` (0: never), keeping the
    `max_backups` newest rotated files (0: all), named `<name>-<timestamp><ext>` as kube-apiserver names them."""

    def __init__(self, path: str, max_size_mb: int = 0, max_backups: int = 0) -> None:
        self.path = None if path == "-" else Path(path)
        self.max_bytes = max_size_mb * 1024 * 1024
        self.max_backups = max_backups
        self._out: TextIO = sys.stdout if self.path is None else self._open()

    def _open(self) -> TextIO:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self.path.open("a", encoding="utf-8")

    def write(self, event: dict[str, JSON]) -> None:
        """Append one event as one line."""
        line = json.dumps(event, separators=(",", ":")) + "\n"
        if self.path is not None and self.max_bytes and self._out.tell() + len(line) > self.max_bytes:
            self._rotate()
        self._out.write(line)
        self._out.flush()

    def _rotate(self) -> None:
        assert self.path is not None
        self._out.close()
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%S.%f")[:-3]
        self.path.rename(self.path.with_name(f"{self.path.stem}-{stamp}{self.path.suffix}"))
        if self.max_backups:
            backups = sorted(self.path.parent.glob(f"{self.path.stem}-*{self.path.suffix}"))
            for old in backups[: -self.max_backups]:
                old.unlink(missing_ok=True)
        self._out = self._open()

    def close(self) -> None:
        """Close the file (stdout stays open)."""
        if self.path is not None:
            self._out.close()
