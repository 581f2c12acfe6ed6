"""ServiceAccount JWTs: the keys that sign and verify them, and their claims.

Bound tokens (TokenRequest) carry Kubernetes' private `kubernetes.io` claim naming the namespace, the
account and the object the token is bound to (pod, secret or node, each with its uid), plus `aud`,
`exp`, `nbf`, `iat` and `jti`. Legacy tokens (the ones stored in `kubernetes.io/service-account-token`
Secrets) have the flat `kubernetes.io/serviceaccount/*` claims, issuer `kubernetes/serviceaccount`, and
no expiry. Reading claims is pure; whether the named objects still exist is the authenticator's job.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from api.schema import JSON
from apiserver.authn import jws
from apiserver.authn.errors import InvalidCredentials

LEGACY_ISSUER = "kubernetes/serviceaccount"
LEGACY_PREFIX = "kubernetes.io/serviceaccount/"
NOT_BEFORE_LEEWAY = 60.0
"""Seconds a token's nbf/iat may lie in the future (clock skew between apiservers)."""


@dataclass(frozen=True)
class ObjectRef:
    """An object a token names: its name and uid."""

    name: str
    uid: str


@dataclass(frozen=True)
class ServiceAccountClaims:
    """What a signature-checked token asserts; `expires` is None for legacy tokens."""

    namespace: str
    account: ObjectRef
    audiences: tuple[str, ...]
    expires: float | None
    not_before: float | None
    jti: str = ""
    pod: ObjectRef | None = None
    secret: ObjectRef | None = None
    node: ObjectRef | None = None
    legacy_secret: str = ""
    """For legacy tokens: the Secret that must still hold this very token."""


def _load_public(path: Path) -> rsa.RSAPublicKey:
    data = path.read_bytes()
    loaded = (
        serialization.load_pem_private_key(data, password=None).public_key()
        if b"PRIVATE KEY" in data
        else serialization.load_pem_public_key(data)
    )
    if not isinstance(loaded, rsa.RSAPublicKey):
        raise ValueError(f"{path}: only RSA service-account keys are supported")
    return loaded


class ServiceAccountKeys:
    """Signs with the private key; verifies with every public key given (key rotation) or the signer's own."""

    def __init__(self, signing_key: Path | None, public_keys: list[Path]) -> None:
        self.private: rsa.RSAPrivateKey | None = None
        if signing_key is not None:
            key = serialization.load_pem_private_key(signing_key.read_bytes(), password=None)
            if not isinstance(key, rsa.RSAPrivateKey):
                raise ValueError(f"{signing_key}: only RSA keys are supported")
            self.private = key
        self.public = [_load_public(path) for path in public_keys]
        if self.private is not None and not self.public:
            self.public.append(self.private.public_key())
        self.kid = ""
        if self.private is not None:
            der = self.private.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            self.kid = jws.b64encode(hashlib.sha256(der).digest())

    def sign(self, claims: dict[str, JSON]) -> str:
        """The signed token; only when a signing key was given."""
        if self.private is None:
            raise RuntimeError("no service-account signing key")
        return jws.sign(claims, self.private, self.kid)

    def verified_claims(self, token: str) -> dict[str, JSON]:
        """The claims of a token one of our keys signed; InvalidCredentials otherwise."""
        parsed = jws.parse(token)
        jws.verify(parsed, self.public)
        return parsed.claims


def bound_claims(
    *,
    issuer: str,
    namespace: str,
    account: ObjectRef,
    audiences: list[str],
    seconds: int,
    now: int,
    pod: ObjectRef | None = None,
    secret: ObjectRef | None = None,
    node: ObjectRef | None = None,
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> dict[str, JSON]:
    """The claims of a TokenRequest token."""
    private: dict[str, JSON] = {
        "namespace": namespace,
        "serviceaccount": {"name": account.name, "uid": account.uid},
    }
    for key, ref in (("pod", pod), ("secret", secret), ("node", node)):
        if ref is not None:
            private[key] = {"name": ref.name, "uid": ref.uid}
    return {
        "aud": list(audiences),
        "exp": now + seconds,
        "iat": now,
        "nbf": now,
        "iss": issuer,
        "jti": new_id(),
        "sub": f"system:serviceaccount:{namespace}:{account.name}",
        "kubernetes.io": private,
    }


def legacy_claims(namespace: str, account: ObjectRef, secret_name: str) -> dict[str, JSON]:
    """The claims of a Secret-based token, as the token controller writes them."""
    return {
        "iss": LEGACY_ISSUER,
        f"{LEGACY_PREFIX}namespace": namespace,
        f"{LEGACY_PREFIX}secret.name": secret_name,
        f"{LEGACY_PREFIX}service-account.name": account.name,
        f"{LEGACY_PREFIX}service-account.uid": account.uid,
        "sub": f"system:serviceaccount:{namespace}:{account.name}",
    }


def _text(value: JSON, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidCredentials(f"JWT claim {what} missing or not a string")
    return value


def _number(value: JSON, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidCredentials(f"JWT claim {what} missing or not a number")
    return float(value)


def _ref(value: JSON, what: str) -> ObjectRef | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidCredentials(f"JWT claim kubernetes.io.{what} is not an object")
    uid = value.get("uid", "")
    return ObjectRef(_text(value.get("name"), f"kubernetes.io.{what}.name"), uid if isinstance(uid, str) else "")


def _audiences(value: JSON) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(a, str) for a in value):
        return tuple(str(a) for a in value)
    raise InvalidCredentials("JWT claim aud missing or malformed")


def read_claims(claims: dict[str, JSON], issuers: frozenset[str]) -> ServiceAccountClaims:
    """The ServiceAccount a verified token speaks for; InvalidCredentials for foreign or malformed claims."""
    iss = claims.get("iss")
    if iss == LEGACY_ISSUER:
        return ServiceAccountClaims(
            namespace=_text(claims.get(f"{LEGACY_PREFIX}namespace"), "namespace"),
            account=ObjectRef(
                _text(claims.get(f"{LEGACY_PREFIX}service-account.name"), "service-account.name"),
                _text(claims.get(f"{LEGACY_PREFIX}service-account.uid"), "service-account.uid"),
            ),
            audiences=(),
            expires=None,
            not_before=None,
            legacy_secret=_text(claims.get(f"{LEGACY_PREFIX}secret.name"), "secret.name"),
        )
    if iss not in issuers:
        raise InvalidCredentials("JWT issuer is not this cluster's service-account issuer")
    private = claims.get("kubernetes.io")
    if not isinstance(private, dict):
        raise InvalidCredentials("JWT has no kubernetes.io claim")
    account = _ref(private.get("serviceaccount"), "serviceaccount")
    if account is None:
        raise InvalidCredentials("JWT names no service account")
    jti = claims.get("jti", "")
    nbf = claims.get("nbf")
    return ServiceAccountClaims(
        namespace=_text(private.get("namespace"), "kubernetes.io.namespace"),
        account=account,
        audiences=_audiences(claims.get("aud")),
        expires=_number(claims.get("exp"), "exp"),
        not_before=_number(nbf, "nbf") if nbf is not None else None,
        jti=jti if isinstance(jti, str) else "",
        pod=_ref(private.get("pod"), "pod"),
        secret=_ref(private.get("secret"), "secret"),
        node=_ref(private.get("node"), "node"),
    )
