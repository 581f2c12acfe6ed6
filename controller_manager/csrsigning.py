"""csrsigning: approved CertificateSigningRequests for the kubelet signers get a certificate from the cluster CA.

As kube-controller-manager's signer: only ``kubernetes.io/kube-apiserver-client-kubelet`` and
``kubernetes.io/kubelet-serving`` (``--cluster-signing-cert-file``/``--cluster-signing-key-file``); a request
that does not meet its signer's rules (subject, SANs, usages) is marked ``Failed`` instead of signed. The
certificate lives ``--cluster-signing-duration`` or ``spec.expirationSeconds``, whichever is shorter, and never
past the CA's own expiry. Pure: the CSR, the CA and the time in; the status write out.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from controller_manager.actions import Action, UpdateStatus
from controller_manager.view import CERTIFICATE_SIGNING_REQUESTS, Obj

KUBELET_CLIENT_SIGNER: Final = "kubernetes.io/kube-apiserver-client-kubelet"
KUBELET_SERVING_SIGNER: Final = "kubernetes.io/kubelet-serving"
NODE_USER_PREFIX: Final = "system:node:"
NODES_GROUP: Final = "system:nodes"
BACKDATE: Final = datetime.timedelta(minutes=5)
# Usages each signer accepts, as Kubernetes' validation of kubelet CSRs lists them (key encipherment for RSA).
_ALLOWED_USAGES: Final = {
    KUBELET_CLIENT_SIGNER: frozenset({"digital signature", "key encipherment", "client auth"}),
    KUBELET_SERVING_SIGNER: frozenset({"digital signature", "key encipherment", "server auth"}),
}
_REQUIRED_USAGE: Final = {KUBELET_CLIENT_SIGNER: "client auth", KUBELET_SERVING_SIGNER: "server auth"}


@dataclass(frozen=True)
class SigningCA:
    """The CA that signs, with its key."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

    @classmethod
    def from_pem(cls, cert_pem: bytes, key_pem: bytes) -> SigningCA:
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise ValueError(f"unsupported signing key type {type(key).__name__}")
        return cls(x509.load_pem_x509_certificate(cert_pem), key)


def conditions(csr: Obj) -> dict[str, Obj]:
    """The CSR's conditions by type."""
    return {str(c.get("type")): c for c in (csr.get("status") or {}).get("conditions") or [] if isinstance(c, dict)}


def decoded_request(csr: Obj) -> x509.CertificateSigningRequest:
    """``spec.request`` (base64 of a PEM CSR in the API's JSON) parsed; ValueError when it is not one."""
    raw = base64.b64decode(str((csr.get("spec") or {}).get("request", "")), validate=True)
    request = x509.load_pem_x509_csr(raw)
    if not request.is_signature_valid:
        raise ValueError("the request's signature does not verify")
    return request


def subject_of(request: x509.CertificateSigningRequest) -> tuple[str, list[str]]:
    cn = [str(a.value) for a in request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    orgs = [str(a.value) for a in request.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    return (cn[0] if cn else ""), orgs


def _sans(request: x509.CertificateSigningRequest) -> x509.SubjectAlternativeName | None:
    try:
        return request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None


_CURVES: Final = frozenset({"secp256r1", "secp384r1", "secp521r1"})


def _weak_key_error(request: x509.CertificateSigningRequest) -> str:
    """Why the request's key is too weak to sign ('' when it is not).

    The apiserver runs OpenSSL at security level 0 (busybox's TLS client needs it), so OpenSSL no longer
    turns weak keys in client chains away: the signer keeps them out of the cluster instead.
    """
    key = request.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA keys shorter than 2048 bits are not allowed" if key.key_size < 2048 else ""
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "" if key.curve.name in _CURVES else f"elliptic curve {key.curve.name} is not allowed"
    return "" if isinstance(key, ed25519.Ed25519PublicKey) else "only RSA, ECDSA and Ed25519 keys are allowed"


def validation_error(signer: str, request: x509.CertificateSigningRequest, usages: Sequence[str]) -> str:
    """Why ``request`` may not be signed by ``signer`` ('' when it may): Kubernetes' kubelet CSR rules."""
    if weak := _weak_key_error(request):
        return weak
    cn, orgs = subject_of(request)
    if orgs != [NODES_GROUP]:
        return f"subject organization is not {NODES_GROUP}"
    if not cn.startswith(NODE_USER_PREFIX) or cn == NODE_USER_PREFIX:
        return f'subject common name does not begin with "{NODE_USER_PREFIX}"'
    sans = _sans(request)
    emails = sans.get_values_for_type(x509.RFC822Name) if sans else []
    uris = sans.get_values_for_type(x509.UniformResourceIdentifier) if sans else []
    names = (sans.get_values_for_type(x509.DNSName) + [str(i) for i in sans.get_values_for_type(x509.IPAddress)]
             if sans else [])
    if emails or uris:
        return "email and URI subjectAltNames are not allowed"
    if signer == KUBELET_CLIENT_SIGNER and names:
        return "DNS and IP subjectAltNames are not allowed in a client certificate"
    if signer == KUBELET_SERVING_SIGNER and not names:
        return "at least one DNS or IP subjectAltName is required"
    wanted = set(usages)
    if not wanted <= _ALLOWED_USAGES[signer] or _REQUIRED_USAGE[signer] not in wanted:
        return f"usages {sorted(wanted)} are not allowed for {signer}"
    return ""


def _key_usage(usages: set[str]) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature="digital signature" in usages,
                         key_encipherment="key encipherment" in usages, key_cert_sign=False, crl_sign=False,
                         content_commitment=False, data_encipherment=False, key_agreement=False,
                         encipher_only=False, decipher_only=False)


def issue(ca: SigningCA, request: x509.CertificateSigningRequest, usages: Sequence[str],
          now: datetime.datetime, lifetime: datetime.timedelta) -> bytes:
    """The PEM certificate for ``request``: its subject and SANs, the requested usages, signed by ``ca``."""
    wanted = set(usages)
    eku = [oid for usage, oid in (("client auth", ExtendedKeyUsageOID.CLIENT_AUTH),
                                  ("server auth", ExtendedKeyUsageOID.SERVER_AUTH)) if usage in wanted]
    not_after = min(now + lifetime, ca.cert.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(request.subject)
        .issuer_name(ca.cert.subject)
        .public_key(request.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(wanted), critical=True)
        .add_extension(x509.ExtendedKeyUsage(eku), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.cert.public_key()),  # type: ignore[arg-type]
                       critical=False)
    )
    sans = _sans(request)
    if sans is not None:
        builder = builder.add_extension(sans, critical=False)
    return builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _failed(csr: Obj, message: str, now_text: str) -> Action:
    body = {**csr, "status": {**(csr.get("status") or {})}}
    kept = [c for c in body["status"].get("conditions") or [] if c.get("type") != "Failed"]
    body["status"]["conditions"] = [*kept, {"type": "Failed", "status": "True", "reason": "SignerValidationFailure",
                                            "message": message, "lastUpdateTime": now_text,
                                            "lastTransitionTime": now_text}]
    return UpdateStatus(CERTIFICATE_SIGNING_REQUESTS, body)


def reconcile(csr: Obj | None, ca: SigningCA, now: datetime.datetime, max_lifetime: datetime.timedelta) -> list[Action]:
    """Sign ``csr`` if it is approved, ours to sign, not yet signed and not failed."""
    if csr is None:
        return []
    spec = csr.get("spec") or {}
    signer = str(spec.get("signerName", ""))
    conds = conditions(csr)
    if (signer not in _ALLOWED_USAGES or "Approved" not in conds or "Denied" in conds or "Failed" in conds
            or (csr.get("status") or {}).get("certificate")):
        return []
    now_text = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    usages = [str(u) for u in spec.get("usages") or []]
    try:
        request = decoded_request(csr)
    except ValueError as err:
        return [_failed(csr, f"invalid certificate request: {err}", now_text)]
    problem = validation_error(signer, request, usages)
    if problem:
        return [_failed(csr, problem, now_text)]
    lifetime = max_lifetime
    if isinstance(spec.get("expirationSeconds"), int):
        lifetime = min(lifetime, datetime.timedelta(seconds=int(spec["expirationSeconds"])))
    pem = issue(ca, request, usages, now, lifetime)
    status = {**(csr.get("status") or {}), "certificate": base64.b64encode(pem).decode("ascii")}
    return [UpdateStatus(CERTIFICATE_SIGNING_REQUESTS, {**csr, "status": status})]
