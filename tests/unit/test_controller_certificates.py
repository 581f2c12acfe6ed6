"""The CSR signer and approver cores: what they sign, refuse and approve, with a fixed clock and a test CA."""

from __future__ import annotations

import base64
import datetime
import ipaddress
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from client.csr import new_request
from controller_manager import csrapproving, csrsigning
from controller_manager.actions import Update, UpdateStatus
from tinykube.pki import new_ca

NOW = datetime.datetime(2026, 6, 1, 12, 0, tzinfo=datetime.UTC)
YEAR = datetime.timedelta(days=365)


@pytest.fixture(scope="module")
def ca() -> csrsigning.SigningCA:
    made = new_ca()
    return csrsigning.SigningCA.from_pem(made.cert_pem(), made.key_pem())


def make_csr(cn: str = "system:node:n1", orgs: tuple[str, ...] = ("system:nodes",), *,
             signer: str = csrsigning.KUBELET_CLIENT_SIGNER, usages: tuple[str, ...] = ("digital signature",
                                                                                      "client auth"),
             ips: tuple[str, ...] = (), username: str = "system:bootstrap:abcdef",
             approved: bool = False, **spec: Any) -> dict[str, Any]:
    _, pem = new_request(cn, orgs, ips=[ipaddress.ip_address(i) for i in ips])
    csr: dict[str, Any] = {
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
        "metadata": {"name": "csr-1", "resourceVersion": "5"},
        "spec": {"request": base64.b64encode(pem).decode(), "signerName": signer, "usages": list(usages),
                 "username": username, "groups": ["system:bootstrappers", "system:authenticated"], **spec},
    }
    if approved:
        csr["status"] = {"conditions": [{"type": "Approved", "status": "True", "reason": "KubectlApprove"}]}
    return csr


def signed(actions: list[Any]) -> x509.Certificate:
    [action] = actions
    assert isinstance(action, UpdateStatus)
    return x509.load_pem_x509_certificate(base64.b64decode(action.body["status"]["certificate"]))


def failure(actions: list[Any]) -> str:
    [action] = actions
    assert isinstance(action, UpdateStatus) and "certificate" not in action.body["status"]
    cond = action.body["status"]["conditions"][-1]
    assert (cond["type"], cond["reason"]) == ("Failed", "SignerValidationFailure")
    return str(cond["message"])


def test_signs_an_approved_kubelet_client_request_for_at_most_the_signing_duration(ca):
    cert = signed(csrsigning.reconcile(make_csr(approved=True), ca, NOW, YEAR))
    assert cert.issuer == ca.cert.subject
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:node:n1"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:nodes"
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.not_valid_before_utc == NOW - csrsigning.BACKDATE
    assert cert.not_valid_after_utc == NOW + YEAR
    short = signed(csrsigning.reconcile(make_csr(approved=True, expirationSeconds=3600), ca, NOW, YEAR))
    assert short.not_valid_after_utc == NOW + datetime.timedelta(hours=1)


def test_serving_certificates_keep_their_addresses(ca):
    cert = signed(csrsigning.reconcile(make_csr(signer=csrsigning.KUBELET_SERVING_SIGNER, ips=("10.1.2.3",),
                                                usages=("digital signature", "server auth"), approved=True),
                                       ca, NOW, YEAR))
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(i) for i in sans.get_values_for_type(x509.IPAddress)] == ["10.1.2.3"]


@pytest.mark.parametrize(("csr", "reason"), [
    (make_csr("system:node:n1", ("system:masters",), approved=True), "organization"),
    (make_csr("alice", approved=True), "common name"),
    (make_csr(ips=("10.0.0.1",), approved=True), "not allowed in a client certificate"),
    (make_csr(usages=("digital signature", "client auth", "server auth"), approved=True), "usages"),
    (make_csr(signer=csrsigning.KUBELET_SERVING_SIGNER, usages=("digital signature", "server auth"),
              approved=True), "at least one DNS or IP"),
])
def test_refuses_what_a_kubelet_may_not_be_issued(ca, csr, reason):
    assert reason in failure(csrsigning.reconcile(csr, ca, NOW, YEAR))


@pytest.mark.parametrize(("key", "reason"), [
    (rsa.generate_private_key(public_exponent=65537, key_size=1024), "shorter than 2048 bits"),
    (ec.generate_private_key(ec.SECP192R1()), "curve secp192r1 is not allowed"),
])
def test_refuses_weak_keys(ca, key, reason):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "system:node:n1"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes")])
    pem = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256()).public_bytes(
        serialization.Encoding.PEM)
    csr = make_csr(approved=True)
    csr["spec"]["request"] = base64.b64encode(pem).decode()
    assert reason in failure(csrsigning.reconcile(csr, ca, NOW, YEAR))


def test_a_garbled_request_fails(ca):
    csr = make_csr(approved=True)
    csr["spec"]["request"] = base64.b64encode(b"not a CSR").decode()
    assert "invalid certificate request" in failure(csrsigning.reconcile(csr, ca, NOW, YEAR))


def test_leaves_alone_what_is_not_approved_signed_or_ours(ca):
    assert csrsigning.reconcile(make_csr(), ca, NOW, YEAR) == []
    denied = make_csr(approved=True)
    denied["status"]["conditions"].append({"type": "Denied", "status": "True"})
    assert csrsigning.reconcile(denied, ca, NOW, YEAR) == []
    done = make_csr(approved=True)
    done["status"]["certificate"] = "Zm9v"
    assert csrsigning.reconcile(done, ca, NOW, YEAR) == []
    assert csrsigning.reconcile(make_csr(signer="example.com/other", approved=True), ca, NOW, YEAR) == []
    assert csrsigning.reconcile(None, ca, NOW, YEAR) == []


def test_the_approver_asks_for_nodeclient_or_selfnodeclient():
    review = csrapproving.review_for(make_csr())
    assert review is not None
    assert review["user"] == "system:bootstrap:abcdef" and "system:bootstrappers" in review["groups"]
    assert review["resourceAttributes"] == {"group": "certificates.k8s.io", "resource": "certificatesigningrequests",
                                            "verb": "create", "subresource": "nodeclient"}
    renewal = csrapproving.review_for(make_csr(username="system:node:n1"))
    assert renewal is not None and renewal["resourceAttributes"]["subresource"] == "selfnodeclient"


def test_the_approver_ignores_other_signers_decided_and_invalid_requests():
    assert csrapproving.review_for(make_csr(signer=csrsigning.KUBELET_SERVING_SIGNER, ips=("10.0.0.1",),
                                            usages=("digital signature", "server auth"))) is None
    assert csrapproving.review_for(make_csr(approved=True)) is None
    assert csrapproving.review_for(make_csr("system:node:n1", ("system:masters",))) is None
    assert csrapproving.review_for(None) is None


def test_approval_goes_through_the_approval_subresource():
    [action] = csrapproving.approve(make_csr(), NOW)
    assert isinstance(action, Update) and action.subresource == "approval"
    [cond] = action.body["status"]["conditions"]
    assert cond == {"type": "Approved", "status": "True", "reason": "AutoApproved",
                    "message": csrapproving.APPROVAL_MESSAGE, "lastUpdateTime": "2026-06-01T12:00:00Z",
                    "lastTransitionTime": "2026-06-01T12:00:00Z"}
