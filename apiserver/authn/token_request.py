"""TokenRequest (`serviceaccounts/<name>/token`): bound, audience-scoped, expiring ServiceAccount tokens.

A token may be bound to a Pod, a Secret or a Node that exists now with the uid the request names; the
pod must run as the account. Audiences default to --api-audiences; lifetimes are at least 10 minutes,
as in Kubernetes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from api import status
from api.errors import invalid
from api.schema import JSON
from apiserver.authn.lookup import ObjectGetter
from apiserver.authn.serviceaccount_tokens import ObjectRef, ServiceAccountKeys, bound_claims
from apiserver.errors import APIError, bad_request

DEFAULT_SECONDS = 3600
MIN_SECONDS = 600
MAX_SECONDS = 1 << 32
BINDABLE = {"Pod": ("pods", True), "Secret": ("secrets", True), "Node": ("nodes", False)}
"""Kinds a token may be bound to: their resource and whether they are namespaced."""


def _meta(obj: dict[str, JSON]) -> dict[str, JSON]:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def _seconds(spec: dict[str, JSON]) -> int:
    raw = spec.get("expirationSeconds")
    if raw is None:
        return DEFAULT_SECONDS
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise bad_request("spec.expirationSeconds must be an integer")
    if raw < MIN_SECONDS or raw > MAX_SECONDS:
        message = "may not specify a duration less than 10 minutes" if raw < MIN_SECONDS else "may not exceed 2^32"
        cause = invalid("spec.expirationSeconds", raw, message)
        raise APIError(status.invalid("TokenRequest", "authentication.k8s.io", "", [cause]))
    return raw


class TokenRequests:
    """Signs tokens for ServiceAccounts (the keys must include the signing key), checking what they are bound to."""

    def __init__(
        self,
        keys: ServiceAccountKeys,
        issuer: str,
        api_audiences: tuple[str, ...],
        lookup: ObjectGetter,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.api_audiences = api_audiences
        self.lookup = lookup
        self.clock = clock

    async def _bound(
        self, namespace: str, account: str, ref: dict[str, JSON]
    ) -> tuple[dict[str, ObjectRef], dict[str, JSON]]:
        """The objects to name in the token (by claim key) and the reference to echo."""
        kind, name, uid = str(ref.get("kind", "")), str(ref.get("name", "")), str(ref.get("uid", ""))
        if kind not in BINDABLE:
            raise bad_request(f'cannot bind token for serviceaccount "{account}" to object of type {kind or "<empty>"}')
        if not name:
            raise bad_request("spec.boundObjectRef.name is required")
        plural, namespaced = BINDABLE[kind]
        obj = await self.lookup.get(plural, namespace if namespaced else None, name)
        if obj is None:
            raise APIError(status.not_found(plural, "", name))
        actual = str(_meta(obj).get("uid", ""))
        if uid and uid != actual:
            raise APIError(
                status.conflict(
                    plural,
                    "",
                    name,
                    f"the UID in the bound object reference ({uid}) does not match the UID in record. "
                    "The object might have been deleted and then recreated",
                )
            )
        refs = {kind.lower(): ObjectRef(name, actual)}
        if kind == "Pod":
            spec = obj.get("spec")
            pod_spec = spec if isinstance(spec, dict) else {}
            if (pod_spec.get("serviceAccountName") or "default") != account:
                raise bad_request(
                    f'cannot bind token for serviceaccount "{account}" to pod running with different serviceaccount '
                    "name."
                )
            node_name = pod_spec.get("nodeName")
            if isinstance(node_name, str) and node_name:
                node = await self.lookup.get("nodes", None, node_name)
                refs["node"] = ObjectRef(node_name, str(_meta(node).get("uid", "")) if node else "")
        return refs, {**ref, "uid": actual}

    async def create(self, sa: dict[str, JSON], body: dict[str, JSON]) -> dict[str, JSON]:
        """The TokenRequest answered with a signed token for ServiceAccount `sa`."""
        spec = body.get("spec") or {}
        if not isinstance(spec, dict):
            raise bad_request("spec must be an object")
        seconds = _seconds(spec)
        raw_audiences = spec.get("audiences") or []
        if not isinstance(raw_audiences, list) or not all(isinstance(a, str) and a for a in raw_audiences):
            raise bad_request("spec.audiences must be a list of non-empty strings")
        audiences = [str(a) for a in raw_audiences] or list(self.api_audiences)
        meta = _meta(sa)
        namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
        out_spec: dict[str, JSON] = {**spec, "audiences": list(audiences), "expirationSeconds": seconds}
        refs: dict[str, ObjectRef] = {}
        ref = spec.get("boundObjectRef")
        if ref is not None:
            if not isinstance(ref, dict):
                raise bad_request("spec.boundObjectRef must be an object")
            refs, out_spec["boundObjectRef"] = await self._bound(namespace, name, ref)
        now = int(self.clock())
        claims = bound_claims(
            issuer=self.issuer,
            namespace=namespace,
            account=ObjectRef(name, str(meta.get("uid", ""))),
            audiences=audiences,
            seconds=seconds,
            now=now,
            pod=refs.get("pod"),
            secret=refs.get("secret"),
            node=refs.get("node"),
        )
        return {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
            "spec": out_spec,
            "status": {
                "token": self.keys.sign(claims),
                "expirationTimestamp": datetime.fromtimestamp(now + seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        }
