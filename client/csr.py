"""Requesting a certificate through the certificates.k8s.io API (client-go's util/certificate/csr): make a
key and a PKCS#10 request, submit a CertificateSigningRequest, wait until a signer issues the certificate
or someone denies it."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from client.errors import ApiConnectionError, ClientError, InternalError, ServiceUnavailable
from client.rest import ResourceRef, RestClient

CSRS: Final = ResourceRef("certificates.k8s.io", "v1", "certificatesigningrequests", False,
                          "CertificateSigningRequest")
POLL_SECONDS: Final = 0.5


class CertificateRequestError(ClientError):
    """The request was denied, failed, or not answered in time."""


@dataclass(frozen=True)
class IssuedCertificate:
    """A private key and the certificate a signer issued for it, both PEM."""

    key_pem: bytes
    cert_pem: bytes


def new_request(common_name: str, organizations: Sequence[str] = (), *, dns_names: Sequence[str] = (),
                ips: Sequence[Any] = ()) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    """A fresh P-256 key and a PEM CSR for ``CN=common_name, O=organizations`` (with SANs if given)."""
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs))
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    sans += [x509.IPAddress(ip) for ip in ips]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return key, builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _conditions(csr: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(c.get("type")): c for c in (csr.get("status") or {}).get("conditions") or []}


async def request_certificate(rest: RestClient, *, generate_name: str, signer: str, usages: Sequence[str],
                              common_name: str, organizations: Sequence[str] = (), wait_seconds: float = 300.0,
                              expiration_seconds: int | None = None) -> IssuedCertificate:
    """Submit a CSR and wait for its certificate; CertificateRequestError on denial, failure or timeout."""
    key, request = new_request(common_name, organizations)
    spec: dict[str, Any] = {"request": base64.b64encode(request).decode("ascii"), "signerName": signer,
                            "usages": list(usages)}
    if expiration_seconds is not None:
        spec["expirationSeconds"] = expiration_seconds
    created = await rest.create(CSRS, {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
                                       "metadata": {"generateName": generate_name}, "spec": spec})
    name = created["metadata"]["name"]
    deadline = rest.clock.now() + wait_seconds
    csr = created
    while True:
        conds = _conditions(csr)
        for bad in ("Denied", "Failed"):
            if bad in conds:
                raise CertificateRequestError(
                    f"certificate signing request {name} {bad.lower()}: {conds[bad].get('message', '')}".rstrip(": "))
        issued = (csr.get("status") or {}).get("certificate")
        if issued:
            private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
            return IssuedCertificate(private, base64.b64decode(issued))
        if rest.clock.now() > deadline:
            raise CertificateRequestError(f"certificate signing request {name} not answered in {wait_seconds:.0f}s")
        await rest.clock.sleep(POLL_SECONDS)
        try:
            csr = await rest.get(CSRS, name)
        except (ApiConnectionError, InternalError, ServiceUnavailable):
            continue  # an apiserver restarting: ask again
