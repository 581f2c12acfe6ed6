"""ServiceAccount tokens: RS256 JWTs signed with the cluster's service-account key, as kube-apiserver issues them.

The claims follow Kubernetes' bound tokens (`kubernetes.io` holds the namespace and the account), so
a pod's projected token and `kubectl create token` output work with any JWT-aware client.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from api.schema import JSON


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class ServiceAccountIdentity:
    """Who a verified token speaks for."""

    namespace: str
    name: str
    uid: str


class TokenIssuer:
    """Signs tokens with the private key; verifies with every public key given (key rotation)."""

    def __init__(self, issuer: str, signing_key: Path | None, public_keys: list[Path]) -> None:
        self.issuer = issuer
        self._private: rsa.RSAPrivateKey | None = None
        if signing_key is not None:
            key = serialization.load_pem_private_key(signing_key.read_bytes(), password=None)
            if not isinstance(key, rsa.RSAPrivateKey):
                raise ValueError(f"{signing_key}: only RSA keys are supported")
            self._private = key
        self._public: list[rsa.RSAPublicKey] = []
        for path in public_keys:
            data = path.read_bytes()
            loaded = (
                serialization.load_pem_private_key(data, password=None).public_key()
                if b"PRIVATE KEY" in data
                else serialization.load_pem_public_key(data)
            )
            if isinstance(loaded, rsa.RSAPublicKey):
                self._public.append(loaded)
        if self._private is not None and not self._public:
            self._public.append(self._private.public_key())

    @property
    def can_sign(self) -> bool:
        """Whether TokenRequest can be served."""
        return self._private is not None

    def _kid(self) -> str:
        assert self._private is not None
        der = self._private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return _b64(hashlib.sha256(der).digest())

    def issue(
        self, sa: ServiceAccountIdentity, audiences: list[str], seconds: int, bound: dict[str, JSON] | None = None
    ) -> tuple[str, int]:
        """A signed token and its expiry (Unix seconds)."""
        assert self._private is not None
        now = int(time.time())
        claims: dict[str, JSON] = {
            "aud": audiences or [self.issuer],
            "exp": now + seconds,
            "iat": now,
            "nbf": now,
            "iss": self.issuer,
            "sub": f"system:serviceaccount:{sa.namespace}:{sa.name}",
            "kubernetes.io": {
                "namespace": sa.namespace,
                "serviceaccount": {"name": sa.name, "uid": sa.uid},
                **(bound or {}),
            },
        }
        header = {"alg": "RS256", "kid": self._kid()}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = self._private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64(signature)}", now + seconds

    def verify(self, token: str) -> ServiceAccountIdentity | None:
        """The account a valid, unexpired token of ours names; None for anything else."""
        parts = token.split(".")
        if len(parts) != 3 or not self._public:
            return None
        try:
            signature = _unb64(parts[2])
            claims = json.loads(_unb64(parts[1]))
        except (ValueError, UnicodeDecodeError):
            return None
        for key in self._public:
            try:
                key.verify(signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256())
                break
            except InvalidSignature:
                continue
        else:
            return None
        if not isinstance(claims, dict) or claims.get("iss") != self.issuer:
            return None
        if int(claims.get("exp", 0)) < time.time():
            return None
        info = claims.get("kubernetes.io") or {}
        sa = info.get("serviceaccount") or {}
        if not info.get("namespace") or not sa.get("name"):
            return None
        return ServiceAccountIdentity(str(info["namespace"]), str(sa["name"]), str(sa.get("uid", "")))
