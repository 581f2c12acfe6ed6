"""Signing legacy ServiceAccount tokens: the JWTs the token controller writes into
``kubernetes.io/service-account-token`` Secrets.

The claims are the flat ``kubernetes.io/serviceaccount/*`` ones with issuer ``kubernetes/serviceaccount``
and no expiry, as kube-controller-manager's ``LegacyClaims`` writes them and the apiserver's legacy
token authenticator reads them; the apiserver also checks that the named Secret still holds the very
token. RS256 PKCS#1 v1.5 signatures are deterministic, so signing is a pure function of key and claims.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER: Final = "kubernetes/serviceaccount"
PREFIX: Final = "kubernetes.io/serviceaccount/"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def legacy_claims(namespace: str, account: str, account_uid: str, secret: str) -> dict[str, str]:
    """The claims of the token stored in Secret ``namespace/secret`` for ServiceAccount ``account``."""
    return {
        "iss": ISSUER,
        f"{PREFIX}namespace": namespace,
        f"{PREFIX}secret.name": secret,
        f"{PREFIX}service-account.name": account,
        f"{PREFIX}service-account.uid": account_uid,
        "sub": f"system:serviceaccount:{namespace}:{account}",
    }


class TokenSigner:
    """Signs claims as a compact RS256 JWS with ``--service-account-private-key-file``'s key.

    cryptography (~7 MiB) is imported only here: the token controller, which makes a signer, runs in the
    leader alone, while every controller-manager imports this module for ``legacy_claims``."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

        self.key = key
        der = key.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
        # The key id upstream puts in the header: the SHA-256 of the public key, so verifiers can pick a key.
        self.kid = _b64url(hashlib.sha256(der).digest())

    @classmethod
    def from_pem(cls, pem: bytes) -> TokenSigner:
        """The signer for a PEM private key; ValueError unless it is RSA (the only kind the apiserver verifies)."""
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415

        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the service-account private key must be an RSA key")
        return cls(key)

    def sign(self, claims: dict[str, str]) -> str:
        """The token for ``claims``."""
        from cryptography.hazmat.primitives import hashes  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import padding  # noqa: PLC0415

        header = _b64url(json.dumps({"alg": "RS256", "kid": self.kid}, separators=(",", ":")).encode())
        payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = f"{header}.{payload}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"
