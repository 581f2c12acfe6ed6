"""Bearer tokens out of request headers, read defensively: anything odd is a rejection, never an exception.

kubectl sends `Authorization: Bearer <token>`; browsers' and kubectl's WebSocket clients may instead
carry it as a `base64url.bearer.authorization.k8s.io.<token>` subprotocol of a WebSocket upgrade (no
other header is possible there), as kube-apiserver accepts.
"""

from __future__ import annotations

import base64
import binascii

from multidict import CIMultiDict, CIMultiDictProxy

from apiserver.authn.errors import InvalidCredentials
from apiserver.authn.jws import MAX_TOKEN_BYTES

WEBSOCKET_PREFIX = "base64url.bearer.authorization.k8s.io."

Headers = CIMultiDictProxy[str] | CIMultiDict[str]


def _checked(token: str) -> str:
    if not token:
        raise InvalidCredentials("empty bearer token")
    if len(token) > MAX_TOKEN_BYTES:
        raise InvalidCredentials("bearer token too long")
    if not token.isascii() or not token.isprintable() or " " in token:
        raise InvalidCredentials("bearer token contains characters no token has")
    return token


def _websocket_token(headers: Headers) -> str | None:
    if headers.get("Upgrade", "").lower() != "websocket":
        return None
    for header in headers.getall("Sec-WebSocket-Protocol", []):
        for raw_protocol in header.split(","):
            protocol = raw_protocol.strip()
            if protocol.startswith(WEBSOCKET_PREFIX):
                encoded = protocol[len(WEBSOCKET_PREFIX) :]
                try:
                    raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), altchars=b"-_", validate=True)
                    return _checked(raw.decode("ascii"))
                except (binascii.Error, ValueError):
                    raise InvalidCredentials("WebSocket bearer protocol is not base64url of a token") from None
    return None


def bearer_token(headers: Headers) -> str | None:
    """The request's bearer token; None without one; InvalidCredentials for a malformed Authorization."""
    values = headers.getall("Authorization", [])
    if not values:
        return _websocket_token(headers)
    if len(values) > 1:
        raise InvalidCredentials("more than one Authorization header")
    scheme, _, token = values[0].strip().partition(" ")
    if scheme.lower() != "bearer":
        raise InvalidCredentials("Authorization header is not a bearer token")
    return _checked(token.strip())
