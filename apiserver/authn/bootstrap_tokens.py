"""Bootstrap tokens (`<id>.<secret>`) for nodes joining a cluster, as kubeadm creates them.

A token is valid while the Secret `bootstrap-token-<id>` in kube-system (type bootstrap.kubernetes.io/token)
holds the same id and secret, allows authentication (`usage-bootstrap-authentication: "true"`) and has
not passed its `expiration`. The user is `system:bootstrap:<id>` in `system:bootstrappers` plus the
Secret's `auth-extra-groups`, which must themselves be `system:bootstrappers:…` groups.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import time
from collections.abc import Callable

from api.schema import JSON
from api.tables import parse_time
from apiserver.auth import User
from apiserver.authn.errors import InvalidCredentials
from apiserver.authn.lookup import ObjectGetter

TOKEN = re.compile(r"([a-z0-9]{6})\.([a-z0-9]{16})")
EXTRA_GROUP = re.compile(r"system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]")
SECRET_TYPE = "bootstrap.kubernetes.io/token"
SECRET_PREFIX = "bootstrap-token-"
NAMESPACE = "kube-system"
GROUP = "system:bootstrappers"


def _field(data: dict[str, JSON], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        return ""
    try:
        return base64.b64decode(value, validate=True).decode()
    except (binascii.Error, ValueError):
        return ""


class BootstrapTokenAuthenticator:
    """Bearer tokens of the bootstrap shape, checked against their Secret in kube-system."""

    def __init__(self, lookup: ObjectGetter, clock: Callable[[], float] = time.time) -> None:
        self.lookup = lookup
        self.clock = clock

    async def authenticate(self, token: str) -> User | None:
        """The bootstrap user, None for tokens of another shape; InvalidCredentials when the Secret disagrees."""
        match = TOKEN.fullmatch(token)
        if match is None:
            return None
        token_id, token_secret = match.groups()
        name = SECRET_PREFIX + token_id
        secret = await self.lookup.get("secrets", NAMESPACE, name)
        if secret is None:
            raise InvalidCredentials(f"bootstrap token {token_id}: no secret {NAMESPACE}/{name}")
        meta = secret.get("metadata")
        if isinstance(meta, dict) and meta.get("deletionTimestamp"):
            raise InvalidCredentials(f"bootstrap token {token_id}: its secret is being deleted")
        if secret.get("type") != SECRET_TYPE:
            raise InvalidCredentials(f"bootstrap token {token_id}: secret {name} is not of type {SECRET_TYPE}")
        raw = secret.get("data")
        data = raw if isinstance(raw, dict) else {}
        if _field(data, "token-id") != token_id or not hmac.compare_digest(
            _field(data, "token-secret").encode(), token_secret.encode()
        ):
            raise InvalidCredentials(f"bootstrap token {token_id}: secret does not match")
        if _field(data, "usage-bootstrap-authentication") != "true":
            raise InvalidCredentials(f"bootstrap token {token_id}: not usable for authentication")
        expiration = _field(data, "expiration")
        if expiration:
            when = parse_time(expiration)
            if when is None or when.timestamp() <= self.clock():
                raise InvalidCredentials(f"bootstrap token {token_id}: expired (or unreadable expiration)")
        extra = [g.strip() for g in _field(data, "auth-extra-groups").split(",") if g.strip()]
        bad = [g for g in extra if not EXTRA_GROUP.fullmatch(g)]
        if bad:
            raise InvalidCredentials(f"bootstrap token {token_id}: auth-extra-groups may only name {GROUP}:… groups")
        return User(f"system:bootstrap:{token_id}", "", (GROUP, *dict.fromkeys(extra))).authenticated()
