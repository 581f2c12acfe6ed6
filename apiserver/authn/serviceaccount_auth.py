"""Authentication by ServiceAccount JWTs: bound tokens from TokenRequest and legacy Secret-based tokens.

The signature check (the costly part) is cached per token for a few seconds; time, audience and the
existence of every object the token is bound to (account, pod, secret, node, each with its uid) are
checked on every request against the watch cache, so a token stops working as soon as its pod or
account is deleted or recreated, however recently it was cached.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from collections.abc import Callable

from api.schema import JSON
from api.tables import parse_time
from apiserver.auth import User, service_account_user
from apiserver.authn.errors import InvalidCredentials
from apiserver.authn.jws import looks_like_jwt
from apiserver.authn.lookup import ObjectGetter
from apiserver.authn.serviceaccount_tokens import (
    NOT_BEFORE_LEEWAY,
    ObjectRef,
    ServiceAccountClaims,
    ServiceAccountKeys,
    read_claims,
)
from apiserver.authn.token_cache import TokenCache

DELETION_GRACE = 60.0
"""Seconds past an object's deletionTimestamp during which tokens bound to it still work (a pod
terminating gracefully may still call the API); after that, or once it is gone, they stop."""
EXTRA_PREFIX = "authentication.kubernetes.io/"


class ServiceAccountAuthenticator:
    """Bearer JWTs signed with the cluster's service-account keys."""

    def __init__(
        self,
        keys: ServiceAccountKeys,
        issuers: frozenset[str],
        api_audiences: tuple[str, ...],
        *,
        lookup: ObjectGetter,
        clock: Callable[[], float] = time.time,
        cache: TokenCache[ServiceAccountClaims] | None = None,
    ) -> None:
        self.keys = keys
        self.issuers = issuers
        self.api_audiences = api_audiences
        self.lookup = lookup
        self.clock = clock
        self.cache: TokenCache[ServiceAccountClaims] = cache if cache is not None else TokenCache()

    async def authenticate(self, token: str, audiences: tuple[str, ...] = ()) -> tuple[User, tuple[str, ...]] | None:
        """The account and the audiences it was accepted for; None when the token is no JWT at all."""
        if not looks_like_jwt(token):
            return None
        claims = self.cache.get(token)
        if claims is None:
            claims = read_claims(self.keys.verified_claims(token), self.issuers)
            self.cache.put(token, claims)
        wanted = audiences or self.api_audiences
        if claims.expires is None:
            # Legacy tokens name no audience: they are good for this server's audiences only.
            legacy = tuple(a for a in wanted if a in self.api_audiences)
            if not legacy:
                raise InvalidCredentials("legacy service-account token is not valid for the requested audiences")
            await self._check_legacy(claims, token)
            return self._user(claims), legacy
        accepted = tuple(a for a in wanted if a in claims.audiences)
        if not accepted:
            raise InvalidCredentials("token audiences do not include any audience this server accepts")
        now = self.clock()
        if claims.expires <= now:
            raise InvalidCredentials("service-account token has expired")
        if claims.not_before is not None and claims.not_before > now + NOT_BEFORE_LEEWAY:
            raise InvalidCredentials("service-account token is not valid yet")
        await self._check_bound(claims)
        return self._user(claims), accepted

    async def _live(self, plural: str, namespace: str | None, ref: ObjectRef, what: str) -> dict[str, JSON]:
        obj = await self.lookup.get(plural, namespace, ref.name, ref.uid)
        if obj is None:
            raise InvalidCredentials(f"{what} the token is bound to no longer exists (or its uid changed)")
        meta = obj.get("metadata")
        deleted = meta.get("deletionTimestamp") if isinstance(meta, dict) else None
        when = parse_time(deleted) if isinstance(deleted, str) else None
        if when is not None and when.timestamp() + DELETION_GRACE < self.clock():
            raise InvalidCredentials(f"{what} the token is bound to has been deleted")
        return obj

    async def _check_bound(self, claims: ServiceAccountClaims) -> None:
        ns = claims.namespace
        await self._live("serviceaccounts", ns, claims.account, f"service account {ns}/{claims.account.name}")
        if claims.pod is not None:
            await self._live("pods", ns, claims.pod, f"pod {ns}/{claims.pod.name}")
        if claims.secret is not None:
            await self._live("secrets", ns, claims.secret, f"secret {ns}/{claims.secret.name}")
        if claims.node is not None and claims.pod is None:
            # A pod-bound token names its pod's node for information only; a node-bound one lives with the node.
            await self._live("nodes", None, claims.node, f"node {claims.node.name}")

    async def _check_legacy(self, claims: ServiceAccountClaims, token: str) -> None:
        ns = claims.namespace
        secret = await self._live(
            "secrets", ns, ObjectRef(claims.legacy_secret, ""), f"secret {ns}/{claims.legacy_secret}"
        )
        data = secret.get("data")
        stored = data.get("token") if isinstance(data, dict) else None
        try:
            held = base64.b64decode(stored, validate=True) if isinstance(stored, str) else b""
        except (binascii.Error, ValueError):
            held = b""
        if not hmac.compare_digest(held, token.encode()):
            raise InvalidCredentials(f"secret {ns}/{claims.legacy_secret} no longer holds this token")
        await self._live("serviceaccounts", ns, claims.account, f"service account {ns}/{claims.account.name}")

    @staticmethod
    def _user(claims: ServiceAccountClaims) -> User:
        extra: dict[str, tuple[str, ...]] = {}
        if claims.pod is not None:
            extra[EXTRA_PREFIX + "pod-name"] = (claims.pod.name,)
            extra[EXTRA_PREFIX + "pod-uid"] = (claims.pod.uid,)
        if claims.node is not None:
            extra[EXTRA_PREFIX + "node-name"] = (claims.node.name,)
            extra[EXTRA_PREFIX + "node-uid"] = (claims.node.uid,)
        if claims.jti:
            extra[EXTRA_PREFIX + "credential-id"] = (f"JTI={claims.jti}",)
        return service_account_user(claims.namespace, claims.account.name, claims.account.uid, extra)
