"""Certificate signing requests through a real Node,RBAC apiserver and a real controller-manager (with its own
identity): ``kubectl certificate approve|deny``, the kubelet signers' rules, automatic approval only for
requesters a SubjectAccessReview allows, and a (hollow) kubelet joining with a bootstrap token (TLS
bootstrap: CSR, automatic approval, signed client certificate, its own kubeconfig, Ready Node)."""

from __future__ import annotations

import base64
import ipaddress
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from client.csr import new_request
from tests.support.apiserver_cluster import BIN, ApiserverCluster, cluster_fixture
from tests.support.polling import wait_for
from tests.support.secure_endpoints import TOKENS, component_kubeconfig, start_rbac_cluster

pytestmark = pytest.mark.slow


def _start_signing_cluster(c: ApiserverCluster) -> None:
    """A Node,RBAC apiserver accepting bootstrap tokens, and a controller-manager that signs and approves."""
    start_rbac_cluster(c, "cp1=127.0.0.1:control-plane", extra=("--enable-bootstrap-token-auth",))
    c.processes.start("controller-manager", [
        str(BIN / "tinykube"), "controller-manager", "--kubeconfig",
        str(component_kubeconfig(c, "controller-manager")),
        "--secure-port", "0", "--leader-elect=false", "--controllers", "csrsigning,csrapproving",
        "--cluster-signing-cert-file", str(c.pki / "ca.crt"),
        "--cluster-signing-key-file", str(c.pki / "ca.key"), "--cluster-signing-duration", "2h"])


cluster = cluster_fixture("certificates", scope="function", apiservers=0, setup=_start_signing_cluster)


def csr_manifest(name: str, signer: str, usages: list[str], cn: str, orgs: tuple[str, ...],
                 ips: tuple[str, ...] = ()) -> str:
    _, request = new_request(cn, orgs, ips=[ipaddress.ip_address(ip) for ip in ips])
    return yaml.safe_dump({"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
                           "metadata": {"name": name},
                           "spec": {"request": base64.b64encode(request).decode(), "signerName": signer,
                                    "usages": usages, "username": "forged", "groups": ["system:masters"]}})


def csr(cluster: ApiserverCluster, name: str) -> dict[str, Any]:
    return cluster.kubectl_json("get", "csr", name)


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def issued(cluster: ApiserverCluster, name: str) -> x509.Certificate | None:
    pem = (csr(cluster, name).get("status") or {}).get("certificate")
    return x509.load_pem_x509_certificate(base64.b64decode(pem)) if pem else None


def test_kubectl_approve_signs_deny_refuses_and_the_signer_checks_its_rules(cluster: ApiserverCluster,
                                                                           prefix: str) -> None:
    serving = f"{prefix}-serving"
    cluster.kubectl("apply", "-f", "-", stdin=csr_manifest(
        serving, "kubernetes.io/kubelet-serving", ["digital signature", "server auth"], "system:node:n1",
        ("system:nodes",), ips=("10.0.0.7",)))
    created = csr(cluster, serving)
    # The apiserver records who asked; what the client claimed is overwritten.
    assert created["spec"]["username"] == "kubernetes-admin"
    assert "system:masters" in created["spec"]["groups"] and "system:authenticated" in created["spec"]["groups"]
    time.sleep(1)  # serving certificates are never approved automatically: nothing may be issued
    assert "Approved" not in conditions(csr(cluster, serving)) and issued(cluster, serving) is None
    assert "Pending" in cluster.kubectl("get", "csr", serving).stdout

    cluster.kubectl("certificate", "approve", serving)
    cert = wait_for(lambda: issued(cluster, serving), 30, "the approved CSR's certificate")
    ca = x509.load_pem_x509_certificate((cluster.pki / "ca.crt").read_bytes())
    assert cert.issuer == ca.subject
    pub = ca.public_key()
    assert isinstance(pub, ec.EllipticCurvePublicKey)
    pub.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:node:n1"
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["10.0.0.7"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    # --cluster-signing-duration caps the lifetime (2h, backdated 5 minutes).
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).total_seconds() == pytest.approx(7500, abs=5)
    approved = conditions(csr(cluster, serving))["Approved"]
    assert approved["reason"] == "KubectlApprove" and approved["status"] == "True"
    assert "Approved,Issued" in cluster.kubectl("get", "csr", serving).stdout

    denied = f"{prefix}-denied"
    cluster.kubectl("apply", "-f", "-", stdin=csr_manifest(
        denied, "kubernetes.io/kubelet-serving", ["digital signature", "server auth"], "system:node:n2",
        ("system:nodes",), ips=("10.0.0.8",)))
    cluster.kubectl("certificate", "deny", denied)
    assert conditions(csr(cluster, denied))["Denied"]["reason"] == "KubectlDeny"
    approve_after_deny = cluster.kubectl("certificate", "approve", denied, check=False)
    assert approve_after_deny.returncode != 0 and "denied" in approve_after_deny.stderr.lower()
    time.sleep(1)
    assert issued(cluster, denied) is None

    # Approved, but not what a kubelet may be issued (a serving certificate without node identity): Failed.
    bad = f"{prefix}-bad"
    cluster.kubectl("apply", "-f", "-", stdin=csr_manifest(
        bad, "kubernetes.io/kubelet-serving", ["digital signature", "server auth"], "mallory", ("system:masters",),
        ips=("10.0.0.9",)))
    cluster.kubectl("certificate", "approve", bad)
    failed = wait_for(lambda: conditions(csr(cluster, bad)).get("Failed"), 30, "the signer to refuse")
    assert failed["reason"] == "SignerValidationFailure" and "organization" in failed["message"]
    assert issued(cluster, bad) is None

    # /status is the signer's: it cannot approve (the approval conditions stay as they were).
    pending = f"{prefix}-pending"
    cluster.kubectl("apply", "-f", "-", stdin=csr_manifest(
        pending, "kubernetes.io/kubelet-serving", ["digital signature", "server auth"], "system:node:n3",
        ("system:nodes",), ips=("10.0.0.10",)))
    body = csr(cluster, pending)
    body["status"] = {"conditions": [{"type": "Approved", "status": "True", "reason": "Sneaky"}]}
    code, _ = cluster.request("PUT", f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{pending}/status",
                              json.dumps(body).encode())
    assert code == 200
    assert "Approved" not in conditions(csr(cluster, pending))


def test_kubelet_joins_with_a_bootstrap_token(cluster: ApiserverCluster, tmp_path: Path, prefix: str) -> None:
    token = _run_tinykube("token", "create", "--kubeconfig", str(cluster.apiservers[0].kubeconfig), "--ttl", "1h")
    token_id = token.split(".")[0]
    secret = cluster.kubectl_json("get", "secret", "-n", "kube-system", f"bootstrap-token-{token_id}")
    assert secret["type"] == "bootstrap.kubernetes.io/token"
    admin = yaml.safe_load(cluster.apiservers[0].kubeconfig.read_text())
    boot = tmp_path / "bootstrap.kubeconfig"
    admin["users"][0]["user"] = {"token": token}
    boot.write_text(yaml.safe_dump(admin))
    kubeconfig = tmp_path / "kubelet" / "kubelet.kubeconfig"
    node = f"{prefix}-joiner"
    cluster.processes.start("kubelet", [
        sys.executable, "-m", "tinykube.cli", "kubelet", "--hollow", "--kubeconfig", str(kubeconfig),
        "--bootstrap-kubeconfig", str(boot), "--hostname-override", node, "--node-ip", "127.0.0.2",
        "--root-dir", str(tmp_path / "kubelet"), "--node-status-update-frequency", "1s"])

    def ready() -> bool:
        out = cluster.kubectl("get", "node", node, "-o", "json", check=False)
        if out.returncode != 0:
            return False
        return any(c["type"] == "Ready" and c["status"] == "True"
                   for c in json.loads(out.stdout)["status"].get("conditions") or [])

    wait_for(ready, 60, "the joining node to be Ready")
    [request] = [c for c in cluster.kubectl_json("get", "csr")["items"]
                 if c["spec"]["signerName"] == "kubernetes.io/kube-apiserver-client-kubelet"]
    assert request["spec"]["username"] == f"system:bootstrap:{token_id}"
    assert "system:bootstrappers" in request["spec"]["groups"]
    assert conditions(request)["Approved"]["reason"] == "AutoApproved"
    # The kubelet wrote its own kubeconfig around the issued certificate, and the apiserver knows it by it.
    written = yaml.safe_load(kubeconfig.read_text())
    pem = Path(written["users"][0]["user"]["client-certificate"]).read_bytes()
    cert = x509.load_pem_x509_certificate(pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == f"system:node:{node}"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:nodes"
    assert base64.b64decode(request["status"]["certificate"]) in pem
    assert (tmp_path / "kubelet" / "pki" / "kubelet-client-current.pem").stat().st_mode & 0o077 == 0
    lease = cluster.kubectl_json("get", "lease", "-n", "kube-node-lease", node)
    assert lease["spec"]["holderIdentity"] == node


def _run_tinykube(*argv: str) -> str:
    out = subprocess.run([str(BIN / "tinykube"), *argv], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_node_client_requests_are_approved_only_for_requesters_allowed_to_ask(cluster: ApiserverCluster,
                                                                             tmp_path: Path, prefix: str) -> None:
    # alice may create CSRs (system:node-bootstrapper) but not have node client certificates approved.
    cluster.kubectl("create", "clusterrolebinding", f"{prefix}-alice-csr", "--clusterrole=system:node-bootstrapper",
                    "--user=alice")
    alice = yaml.safe_load(cluster.apiservers[0].kubeconfig.read_text())
    alice["users"][0]["user"] = {"token": TOKENS["alice"]}
    as_alice = tmp_path / "alice.kubeconfig"
    as_alice.write_text(yaml.safe_dump(alice))
    sneaky, honest = f"{prefix}-sneaky", f"{prefix}-admin"
    manifest = csr_manifest(sneaky, "kubernetes.io/kube-apiserver-client-kubelet", ["digital signature", "client auth"],
                            "system:node:victim", ("system:nodes",))
    created = cluster.kubectl("--kubeconfig", str(as_alice), "create", "--validate=false", "-f", "-", stdin=manifest)
    assert created.returncode == 0
    # The same request from someone the policy allows (cluster-admin) is approved and signed...
    cluster.kubectl("apply", "-f", "-", stdin=csr_manifest(
        honest, "kubernetes.io/kube-apiserver-client-kubelet", ["digital signature", "client auth"],
        "system:node:victim", ("system:nodes",)))
    wait_for(lambda: issued(cluster, honest), 30, "the allowed requester's certificate")
    assert conditions(csr(cluster, honest))["Approved"]["reason"] == "AutoApproved"
    # ...while alice's, looked at in the same pass, stays pending.
    assert csr(cluster, sneaky)["spec"]["username"] == "alice"
    assert "Approved" not in conditions(csr(cluster, sneaky)) and issued(cluster, sneaky) is None
