"""Compact JWS with RS256, the format of Kubernetes ServiceAccount tokens: sign, and parse defensively.

Parsing never trusts its input: wrong segment counts, bad or non-canonical base64, non-JSON, non-object
claims, other algorithms and oversized tokens all end in `InvalidCredentials` before any key is tried.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from api.schema import JSON
from apiserver.authn.errors import InvalidCredentials

MAX_TOKEN_BYTES = 16 * 1024
"""Longer bearer tokens are refused unparsed (ours are about 1 KiB)."""


def b64encode(data: bytes) -> str:
    """Unpadded base64url, as JWS uses."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    if not text.isascii() or "=" in text:
        raise InvalidCredentials("malformed JWT: segment is not unpadded base64url")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise InvalidCredentials("malformed JWT: segment is not base64url") from None
    if b64encode(raw) != text:
        # Unused low bits in the last character: one token must have one spelling.
        raise InvalidCredentials("malformed JWT: segment is not canonical base64url")
    return raw


def _json_object(data: bytes, what: str) -> dict[str, JSON]:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidCredentials(f"malformed JWT: {what} is not JSON") from None
    if not isinstance(value, dict):
        raise InvalidCredentials(f"malformed JWT: {what} is not a JSON object")
    return value


def sign(claims: dict[str, JSON], key: rsa.RSAPrivateKey, kid: str) -> str:
    """A compact RS256 JWS over `claims`."""
    header = {"alg": "RS256", "kid": kid}
    signing_input = f"{b64encode(json.dumps(header).encode())}.{b64encode(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64encode(signature)}"


@dataclass(frozen=True)
class Parsed:
    """A token split into its parts, its claims decoded but not yet trusted."""

    signing_input: bytes
    signature: bytes
    claims: dict[str, JSON]


def looks_like_jwt(token: str) -> bool:
    """Whether the token has the three-segment shape (other authenticators may own it otherwise)."""
    return token.count(".") == 2


def parse(token: str) -> Parsed:
    """Split and decode; InvalidCredentials for anything that is not an RS256 compact JWS."""
    if len(token) > MAX_TOKEN_BYTES:
        raise InvalidCredentials("JWT too long")
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidCredentials("malformed JWT: not three segments")
    header = _json_object(_b64decode(parts[0]), "header")
    if header.get("alg") != "RS256":
        raise InvalidCredentials("JWT signed with an unsupported algorithm")
    claims = _json_object(_b64decode(parts[1]), "claims")
    return Parsed(f"{parts[0]}.{parts[1]}".encode(), _b64decode(parts[2]), claims)


def verify(parsed: Parsed, keys: list[rsa.RSAPublicKey]) -> None:
    """Accept when any key verifies the signature (several keys allow rotation)."""
    for key in keys:
        try:
            key.verify(parsed.signature, parsed.signing_input, padding.PKCS1v15(), hashes.SHA256())
            return
        except InvalidSignature:
            continue
    raise InvalidCredentials("JWT signature does not verify with any service-account key")
