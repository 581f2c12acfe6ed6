"""Service account tokens for projected volumes: fetched through TokenRequest, cached, rotated before expiry.

Volume setup is synchronous and runs on every pod sync, so tokens are fetched ahead (``ensure``) and read from
the cache (``get``). A token is refreshed once 80% of its lifetime has passed, as upstream's token manager
does, and the atomic writer swaps the new one in on the next sync.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from client.errors import ApiConnectionError, ApiError
from client.rest import ResourceRef, RestClient
from kubelet.logs import parse_time
from kubelet.volumes.sources import VolumeSourceError

SERVICE_ACCOUNTS: Final = ResourceRef("", "v1", "serviceaccounts", True, "ServiceAccount")
DEFAULT_EXPIRATION: Final = 3607
REFRESH_FRACTION: Final = 0.8


@dataclass(frozen=True)
class TokenKey:
    """One token: which pod, account, audience and lifetime asked."""

    namespace: str
    account: str
    audience: str
    expiration: int
    pod_uid: str


@dataclass(frozen=True)
class Token:
    """A token and its lifetime."""

    text: str
    issued_at: float
    expires_at: float

    def needs_refresh(self, now: float) -> bool:
        """True past 80% of the token's lifetime."""
        return now >= self.issued_at + REFRESH_FRACTION * (self.expires_at - self.issued_at)


def token_keys(pod: Mapping[str, Any]) -> Iterator[TokenKey]:
    """The tokens ``pod``'s projected volumes need."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    account = spec.get("serviceAccountName") or "default"
    for volume in spec.get("volumes") or []:
        for source in (volume.get("projected") or {}).get("sources") or []:
            if (sat := source.get("serviceAccountToken")) is not None:
                yield TokenKey(meta.get("namespace", "default"), account, sat.get("audience", ""),
                               int(sat.get("expirationSeconds") or DEFAULT_EXPIRATION), meta.get("uid", ""))


class TokenCache:
    """Tokens by key, filled from the apiserver's ``serviceaccounts/token``."""

    def __init__(self, rest: RestClient) -> None:
        self.rest = rest
        self._tokens: dict[TokenKey, Token] = {}
        self._errors: dict[str, str] = {}

    async def ensure(self, pod: Mapping[str, Any]) -> None:
        """Fetch the pod's missing or aging tokens; failures surface when the volume is set up."""
        now = time.time()
        meta = pod.get("metadata") or {}
        for key in token_keys(pod):
            current = self._tokens.get(key)
            if current is not None and not current.needs_refresh(now):
                continue
            body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                    "spec": {"audiences": [key.audience] if key.audience else [],
                             "expirationSeconds": key.expiration,
                             "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": meta.get("name", ""),
                                                "uid": key.pod_uid}}}
            try:
                reply = await self.rest.create(SERVICE_ACCOUNTS, body, key.namespace, name=key.account,
                                               subresource="token")
            except (ApiError, ApiConnectionError) as err:
                self._errors[key.pod_uid] = f"{err}"
                continue
            status = reply.get("status") or {}
            expires = status.get("expirationTimestamp")
            self._tokens[key] = Token(str(status.get("token", "")), now,
                                      parse_time(expires) if expires else now + key.expiration)
            self._errors.pop(key.pod_uid, None)

    def get(self, namespace: str, account: str, audience: str, expiration: int, pod_uid: str) -> str:
        """The cached token (the volume's ``token_request``); VolumeSourceError when none could be had."""
        token = self._tokens.get(TokenKey(namespace, account, audience, expiration, pod_uid))
        if token is None:
            why = self._errors.get(pod_uid, "not fetched yet")
            raise VolumeSourceError(f'failed to fetch token for service account "{namespace}/{account}": {why}')
        return token.text

    def forget(self, pod_uid: str) -> None:
        """Drop a deleted pod's tokens."""
        for key in [k for k in self._tokens if k.pod_uid == pod_uid]:
            del self._tokens[key]
        self._errors.pop(pod_uid, None)
