import asyncio
import ssl
import subprocess
import sys
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID

from tinykube.certs_cmd import NodeIdentity, generate

BIN = Path(sys.executable).parent


def make(tmp_path: Path, **kw) -> list[str]:
    return generate(tmp_path, ips=["172.28.1.1", "172.28.1.11"], names=["node1"],
                    server="https://172.28.1.1:6443", cluster="tk", **kw)


def test_generates_kubeadm_set_with_sans_and_groups(tmp_path):
    written = make(tmp_path)
    assert set(written) == {"ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "admin.crt", "admin.key",
                            "apiserver-kubelet-client.crt", "apiserver-kubelet-client.key",
                            "sa.key", "sa.pub", "admin.kubeconfig"}
    serving = x509.load_pem_x509_certificate((tmp_path / "apiserver.crt").read_bytes())
    san = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} >= {"172.28.1.1", "172.28.1.11", "10.96.0.1"}
    assert "kubernetes.default.svc.cluster.local" in san.get_values_for_type(x509.DNSName)
    admin = x509.load_pem_x509_certificate((tmp_path / "admin.crt").read_bytes())
    assert admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"
    assert (tmp_path / "ca.key").stat().st_mode & 0o077 == 0


def test_second_run_keeps_everything(tmp_path):
    make(tmp_path)
    before = (tmp_path / "ca.crt").read_bytes()
    assert make(tmp_path) == []
    assert (tmp_path / "ca.crt").read_bytes() == before
    assert make(tmp_path, force=True)
    assert (tmp_path / "ca.crt").read_bytes() != before


def test_tls_handshake_with_client_certificate(tmp_path):
    """The serving and admin certificates really authenticate each other through the CA."""
    make(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=tmp_path / "ca.crt")
    server_ctx.load_cert_chain(tmp_path / "apiserver.crt", tmp_path / "apiserver.key")
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    client_ctx = ssl.create_default_context(cafile=tmp_path / "ca.crt")
    client_ctx.load_cert_chain(tmp_path / "admin.crt", tmp_path / "admin.key")
    seen: list[str] = []

    async def run() -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peer = writer.get_extra_info("peercert")
            seen.append(dict(x[0] for x in peer["subject"])["commonName"])
            writer.close()

        srv = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
        port = srv.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_ctx,
                                                  server_hostname="kubernetes.default")
        await asyncio.sleep(0.05)
        writer.close()
        srv.close()
        await srv.wait_closed()

    asyncio.run(run())
    assert seen == ["kubernetes-admin"]


def test_kubeconfig_is_what_kubectl_reads(tmp_path):
    make(tmp_path)
    config = yaml.safe_load((tmp_path / "admin.kubeconfig").read_text())
    assert config["current-context"] == "tk"
    assert config["clusters"][0]["cluster"]["server"] == "https://172.28.1.1:6443"
    view = subprocess.run(["kubectl", "config", "view", "--kubeconfig", str(tmp_path / "admin.kubeconfig"),
                           "-o", "jsonpath={.contexts[0].context.user}"], capture_output=True, text=True)
    assert view.returncode == 0, view.stderr
    assert view.stdout == "tk-admin"


def test_cli_rejects_a_bad_ip_in_one_line(tmp_path):
    result = subprocess.run([str(BIN / "tinykube"), "certs", "--dir", str(tmp_path), "--apiserver-ips", "1.2.3.x"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "'1.2.3.x' is not an IP address" in result.stderr
    assert "Traceback" not in result.stderr
    assert not any(tmp_path.iterdir())


def test_node_identities_like_kubeadm(tmp_path):
    nodes = [NodeIdentity("node1", "172.28.1.11", control_plane=True),
             NodeIdentity("node2", "172.28.1.12", bootstrap=True)]
    written = make(tmp_path, nodes=nodes)
    assert {"etcd/ca.crt", "etcd/server-node1.crt", "etcd/peer-node1.crt", "apiserver-etcd-client.crt",
            "etcd/healthcheck-client.crt", "kubelet-node1.kubeconfig", "kubelet-node1-serving.crt",
            "kubelet-node2-serving.crt", "kube-scheduler-serving.crt", "kube-controller-manager-serving.crt",
            "scheduler.kubeconfig", "controller-manager.kubeconfig", "kube-proxy.kubeconfig"} <= set(written)
    # The store has its own CA (no cluster identity reaches it) and no member certificate for a worker.
    etcd_ca = x509.load_pem_x509_certificate((tmp_path / "etcd" / "ca.crt").read_bytes())
    member = x509.load_pem_x509_certificate((tmp_path / "etcd" / "server-node1.crt").read_bytes())
    assert member.issuer == etcd_ca.subject != x509.load_pem_x509_certificate(
        (tmp_path / "ca.crt").read_bytes()).subject
    assert not (tmp_path / "etcd" / "server-node2.crt").exists()
    # A bootstrapping node gets no client certificate made for it: it asks for one through a CSR.
    assert not (tmp_path / "kubelet-node2.kubeconfig").exists()
    kubelet = yaml.safe_load((tmp_path / "kubelet-node1.kubeconfig").read_text())
    assert kubelet["users"][0]["name"] == "system:node:node1"
    serving = x509.load_pem_x509_certificate((tmp_path / "kubelet-node2-serving.crt").read_bytes())
    san = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(i) for i in san.get_values_for_type(x509.IPAddress)] == ["172.28.1.12"]
    assert yaml.safe_load((tmp_path / "scheduler.kubeconfig").read_text())["users"][0]["name"] == \
        "system:kube-scheduler"
    assert make(tmp_path, nodes=nodes) == []
