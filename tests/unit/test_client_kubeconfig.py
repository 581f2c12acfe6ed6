"""kubeconfig loading and merging as kubectl does it, in-cluster config, writing back, and TLS material."""

from __future__ import annotations

import asyncio
import base64
import ssl
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from client.kubeconfig import (
    ClientConfig,
    Kubeconfig,
    KubeconfigError,
    TLSConfig,
    TokenSource,
    build_kubeconfig,
    in_cluster_config,
    load_client_config,
    write_kubeconfig,
)
from tests.support.fake_apiserver import b64, issue_cert, make_ca, server_ssl_context


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc))
    return path


def _doc(clusters=(), users=(), contexts=(), current="") -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": current,
        "clusters": [{"name": n, "cluster": c} for n, c in clusters],
        "users": [{"name": n, "user": u} for n, u in users],
        "contexts": [{"name": n, "context": c} for n, c in contexts],
    }


# ---------------------------------------------------------------------------------------------
# merging


def test_kubeconfig_env_merges_first_definition_wins(tmp_path):
    a = _write(tmp_path / "a.yaml", _doc(
        clusters=[("prod", {"server": "https://a.example:6443"})],
        contexts=[("ctx-a", {"cluster": "prod", "user": "alice"})],
        current="ctx-a"))
    b = _write(tmp_path / "b.yaml", _doc(
        clusters=[("prod", {"server": "https://b.example:6443"}), ("dev", {"server": "https://dev:6443"})],
        users=[("alice", {"token": "t-alice"})],
        contexts=[("ctx-b", {"cluster": "dev", "user": "alice", "namespace": "team"})],
        current="ctx-b"))
    env = {"KUBECONFIG": f"{a}:{tmp_path / 'missing.yaml'}:{b}:{a}"}
    cfg = Kubeconfig.load(env=env)
    assert cfg.paths == [a, b]                             # missing file skipped, duplicate dropped
    assert cfg.current_context == "ctx-a"                  # first file that sets it
    assert cfg.cluster("prod")["server"] == "https://a.example:6443"   # first definition wins whole
    assert set(cfg.contexts) == {"ctx-a", "ctx-b"}
    cc = cfg.client_config()
    assert cc.servers == ["https://a.example:6443"]
    assert cc.authorization() == "Bearer t-alice"          # user found in the second file
    assert cc.namespace == "default"
    other = cfg.client_config("ctx-b")
    assert other.servers == ["https://dev:6443"]
    assert other.namespace == "team"
    assert other.context == "ctx-b"
    assert cfg.client_config("ctx-b", namespace="kube-system").namespace == "kube-system"


def test_current_context_from_a_later_file_when_the_first_sets_none(tmp_path):
    a = _write(tmp_path / "a.yaml", _doc(clusters=[("c", {"server": "http://127.0.0.1:1"})]))
    b = _write(tmp_path / "b.yaml", _doc(contexts=[("x", {"cluster": "c", "user": ""})], current="x"))
    cfg = Kubeconfig.load(env={"KUBECONFIG": f"{a}:{b}"})
    assert cfg.current_context == "x"
    assert cfg.client_config().servers == ["http://127.0.0.1:1"]


def test_explicit_kubeconfig_wins_over_env_and_must_exist(tmp_path):
    a = _write(tmp_path / "a.yaml", _doc(clusters=[("c", {"server": "https://a:1"})],
                                         contexts=[("x", {"cluster": "c"})], current="x"))
    b = _write(tmp_path / "b.yaml", _doc(clusters=[("c", {"server": "https://b:1"})],
                                         contexts=[("x", {"cluster": "c"})], current="x"))
    cfg = Kubeconfig.load(b, env={"KUBECONFIG": str(a)})
    assert cfg.client_config().servers == ["https://b:1"]
    with pytest.raises(KubeconfigError, match="does not exist"):
        Kubeconfig.load(tmp_path / "nope", env={})


def test_home_kube_config_is_the_default(tmp_path):
    _write(tmp_path / ".kube" / "config", _doc(clusters=[("c", {"server": "https://home:1"})],
                                                contexts=[("x", {"cluster": "c"})], current="x"))
    assert Kubeconfig.load(env={}, home=tmp_path).client_config().servers == ["https://home:1"]


def test_flag_overrides_for_cluster_user_server_and_namespace(tmp_path):
    path = _write(tmp_path / "c.yaml", _doc(
        clusters=[("one", {"server": "https://one:1"}), ("two", {"server": "https://two:1"})],
        users=[("alice", {"token": "a"}), ("bob", {"token": "b"})],
        contexts=[("x", {"cluster": "one", "user": "alice"})], current="x"))
    cfg = Kubeconfig.load(path)
    cc = cfg.client_config(cluster="two", user="bob", namespace="ns")
    assert (cc.servers, cc.authorization(), cc.namespace) == (["https://two:1"], "Bearer b", "ns")
    assert cfg.client_config(server="https://other:2").servers == ["https://other:2"]
    bare = Kubeconfig.load(_write(tmp_path / "bare.yaml", _doc(clusters=[("one", {"server": "https://one:1"})])))
    assert bare.client_config(cluster="one", user="").servers == ["https://one:1"]


def test_unknown_context_cluster_and_missing_current_context_are_errors(tmp_path):
    a = _write(tmp_path / "a.yaml", _doc(contexts=[("x", {"cluster": "ghost"})]))
    cfg = Kubeconfig.load(a)
    with pytest.raises(KubeconfigError, match="no current-context"):
        cfg.client_config()
    with pytest.raises(KubeconfigError, match="context 'nope' not found"):
        cfg.client_config("nope")
    with pytest.raises(KubeconfigError, match="cluster 'ghost' not found"):
        cfg.client_config("x")


def test_malformed_kubeconfig_is_reported_with_its_path(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("clusters: {not: a list}\n")
    with pytest.raises(KubeconfigError, match=str(bad)):
        Kubeconfig.load(bad)
    bad.write_text("clusters: [\n")
    with pytest.raises(KubeconfigError, match="not valid YAML"):
        Kubeconfig.load(bad)


def test_relative_file_references_resolve_against_their_own_file(tmp_path):
    ca = make_ca()
    client = issue_cert(ca, "admin", orgs=("system:masters",))
    sub = tmp_path / "conf"
    (sub / "pki").mkdir(parents=True)
    (sub / "pki" / "ca.crt").write_bytes(ca.cert_pem)
    (sub / "pki" / "admin.crt").write_bytes(client.cert_pem)
    (sub / "pki" / "admin.key").write_bytes(client.key_pem)
    (sub / "token").write_text("tok-from-file\n")
    path = _write(sub / "config", _doc(
        clusters=[("c", {"server": "https://127.0.0.1:6443", "certificate-authority": "pki/ca.crt"})],
        users=[("u", {"client-certificate": "pki/admin.crt", "client-key": "pki/admin.key", "tokenFile": "token"})],
        contexts=[("x", {"cluster": "c", "user": "u"})], current="x"))
    cfg = Kubeconfig.load(env={"KUBECONFIG": str(path)})
    assert cfg.cluster("c")["certificate-authority"] == str(sub / "pki" / "ca.crt")
    cc = cfg.client_config()
    assert cc.tls.ca_data == ca.cert_pem
    assert cc.tls.cert_data == client.cert_pem
    assert cc.tls.key_data == client.key_pem
    assert cc.authorization() == "Bearer tok-from-file"
    assert isinstance(cc.ssl_context(), ssl.SSLContext)


def test_insecure_with_ca_and_exec_only_users_are_refused(tmp_path):
    ca = make_ca()
    path = _write(tmp_path / "c.yaml", _doc(
        clusters=[("both", {"server": "https://x:1", "insecure-skip-tls-verify": True,
                            "certificate-authority-data": b64(ca.cert_pem)}),
                  ("ok", {"server": "https://x:1", "insecure-skip-tls-verify": True})],
        users=[("plugin", {"exec": {"command": "aws", "apiVersion": "client.authentication.k8s.io/v1"}})],
        contexts=[("a", {"cluster": "both"}), ("b", {"cluster": "ok", "user": "plugin"})]))
    cfg = Kubeconfig.load(path)
    with pytest.raises(KubeconfigError, match="mutually exclusive"):
        cfg.client_config("a")
    with pytest.raises(KubeconfigError, match="exec credential plugin"):
        cfg.client_config("b")


def test_token_file_beats_inline_token_and_basic_auth_excludes_tokens(tmp_path):
    (tmp_path / "tok").write_text("from-file")
    path = _write(tmp_path / "c.yaml", _doc(
        clusters=[("c", {"server": "https://x:1"})],
        users=[("both", {"token": "inline", "tokenFile": str(tmp_path / "tok")}),
               ("mixed", {"token": "t", "username": "u", "password": "p"})],
        contexts=[("a", {"cluster": "c", "user": "both"}), ("b", {"cluster": "c", "user": "mixed"})]))
    cfg = Kubeconfig.load(path)
    assert cfg.client_config("a").authorization() == "Bearer from-file"
    with pytest.raises(KubeconfigError, match="more than one authentication method"):
        cfg.client_config("b")


def test_bad_base64_data_names_the_field(tmp_path):
    path = _write(tmp_path / "c.yaml", _doc(
        clusters=[("c", {"server": "https://x:1", "certificate-authority-data": "!!!not base64"})],
        contexts=[("a", {"cluster": "c"})], current="a"))
    with pytest.raises(KubeconfigError, match="certificate-authority-data"):
        Kubeconfig.load(path).client_config()


def test_basic_auth_header():
    cc = ClientConfig(servers=["https://x:1/"], username="admin", password="s3cret")
    assert cc.servers == ["https://x:1"]
    assert cc.authorization() == "Basic " + base64.b64encode(b"admin:s3cret").decode()
    assert ClientConfig(servers=["http://x:1"]).ssl_context() is None


# ---------------------------------------------------------------------------------------------
# tokens and in-cluster config


def test_token_file_is_reread_when_it_rotates(tmp_path):
    tok = tmp_path / "token"
    tok.write_text("first")
    source = TokenSource(path=tok)
    assert source.token() == "first"
    tok.write_text("second-token")   # a different size, so the change is seen even within one mtime tick
    assert source.token() == "second-token"
    tok.unlink()
    with pytest.raises(KubeconfigError, match="token file"):
        source.token()


def _service_account(tmp_path: Path, ca_pem: bytes, namespace: str = "kube-system") -> Path:
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text("sa-token-1")
    (sa / "ca.crt").write_bytes(ca_pem)
    (sa / "namespace").write_text(namespace)
    return sa


def test_in_cluster_config(tmp_path):
    ca = make_ca()
    sa = _service_account(tmp_path, ca.cert_pem)
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    cc = in_cluster_config(env, sa)
    assert cc.servers == ["https://10.96.0.1:443"]
    assert cc.namespace == "kube-system"
    assert cc.tls.ca_data == ca.cert_pem
    assert cc.authorization() == "Bearer sa-token-1"
    (sa / "token").write_text("sa-token-rotated")
    assert cc.authorization() == "Bearer sa-token-rotated"
    v6 = in_cluster_config({"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "6443"}, sa)
    assert v6.servers == ["https://[fd00::1]:6443"]
    with pytest.raises(KubeconfigError, match="KUBERNETES_SERVICE_HOST"):
        in_cluster_config({}, sa)


def test_load_client_config_falls_back_to_in_cluster_only_without_files(tmp_path):
    ca = make_ca()
    sa = _service_account(tmp_path, ca.cert_pem)
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443",
           "KUBECONFIG": str(tmp_path / "absent")}
    assert load_client_config(env=env, account_dir=sa).servers == ["https://10.96.0.1:443"]
    present = _write(tmp_path / "present", _doc(clusters=[("c", {"server": "https://k:1"})],
                                                contexts=[("x", {"cluster": "c"})], current="x"))
    env["KUBECONFIG"] = str(present)
    assert load_client_config(env=env, account_dir=sa).servers == ["https://k:1"]
    with pytest.raises(KubeconfigError, match="no kubeconfig found"):
        load_client_config(env={"HOME": str(tmp_path)}, account_dir=sa)


# ---------------------------------------------------------------------------------------------
# writing


def test_build_write_and_load_round_trip(tmp_path):
    ca = make_ca()
    admin = issue_cert(ca, "admin", orgs=("system:masters",))
    doc = build_kubeconfig(cluster="tinykube", server="https://172.28.1.1:6443", user="admin",
                           ca_data=ca.cert_pem, cert_data=admin.cert_pem, key_data=admin.key_pem)
    path = tmp_path / "state" / "admin.kubeconfig"
    write_kubeconfig(path, doc)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    cc = load_client_config(path, env={})
    assert cc.servers == ["https://172.28.1.1:6443"]
    assert cc.context == "admin@tinykube"
    assert (cc.tls.ca_data, cc.tls.cert_data, cc.tls.key_data) == (ca.cert_pem, admin.cert_pem, admin.key_pem)


def test_edits_go_to_the_file_an_entry_came_from(tmp_path):
    a = _write(tmp_path / "a.yaml", _doc(clusters=[("shared", {"server": "https://old:1"})]))
    b = _write(tmp_path / "b.yaml", _doc(contexts=[("x", {"cluster": "shared"})], current="x",
                                         users=[("bob", {"token": "t"})]))
    cfg = Kubeconfig.load(env={"KUBECONFIG": f"{a}:{b}"})
    cfg.set_cluster("shared", server="https://new:1", insecure_skip_tls_verify=True)
    cfg.set_user("bob", token=None, token_file="/run/bob-token")
    cfg.set_cluster("fresh", server="https://fresh:1", certificate_authority_data=b"PEM")
    cfg.set_context("y", cluster="fresh", user="bob", namespace="ns")
    cfg.use_context("y")
    assert sorted(cfg.save()) == sorted([a, b])
    doc_a = yaml.safe_load(a.read_text())
    doc_b = yaml.safe_load(b.read_text())
    assert doc_a["clusters"][0]["cluster"] == {"server": "https://new:1", "insecure-skip-tls-verify": True}
    # new entries go to kubectl's default file: the first existing file in KUBECONFIG
    assert [c["name"] for c in doc_a["clusters"]] == ["shared", "fresh"]
    assert doc_a["clusters"][1]["cluster"]["certificate-authority-data"] == b64(b"PEM")
    assert [c["name"] for c in doc_a["contexts"]] == ["y"]
    assert doc_b["users"][0]["user"] == {"tokenFile": "/run/bob-token"}
    # kubectl 1.32 (checked with `kubectl config use-context`): a new current-context goes to the
    # default file, not to the file that held the old one; the default file then wins the merge.
    assert doc_a["current-context"] == "y"
    assert doc_b["current-context"] == "x"
    reloaded = Kubeconfig.load(env={"KUBECONFIG": f"{a}:{b}"})
    assert reloaded.client_config().servers == ["https://fresh:1"]
    reloaded.use_context("")                          # clearing: the first file that sets one
    reloaded.save()
    assert Kubeconfig.load(env={"KUBECONFIG": f"{a}:{b}"}).current_context == "x"
    reloaded.delete("contexts", "y")
    reloaded.save()
    assert "y" not in Kubeconfig.load(env={"KUBECONFIG": f"{a}:{b}"}).contexts
    with pytest.raises(KubeconfigError):
        reloaded.use_context("y")


def test_edit_without_any_file_creates_the_default_file(tmp_path):
    cfg = Kubeconfig.load(env={}, home=tmp_path)
    cfg.set_cluster("c", server="https://c:1")
    cfg.set_context("x", cluster="c")
    cfg.use_context("x")
    assert cfg.save() == [tmp_path / ".kube" / "config"]
    assert Kubeconfig.load(env={}, home=tmp_path).client_config().servers == ["https://c:1"]
    assert cfg.to_dict()["current-context"] == "x"


# ---------------------------------------------------------------------------------------------
# TLS handshakes on loopback


async def _handshake(server_ctx: ssl.SSLContext, client: TLSConfig, server_hostname: str) -> str:
    """Connect with ``client``'s context; return the CN of the client certificate the server saw."""
    seen: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def on_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peercert") or {}
        cn = [v for rdn in peer.get("subject", ()) for k, v in rdn if k == "commonName"]
        if not seen.done():
            seen.set_result(cn[0] if cn else "")
        writer.close()

    server = await asyncio.start_server(on_conn, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client.ssl_context(),
                                                  server_hostname=server_hostname)
        result = await asyncio.wait_for(seen, 5)
        writer.close()
        return result
    finally:
        server.close()
        await server.wait_closed()


async def test_tls_context_verifies_server_and_presents_client_cert(tmp_path):
    ca = make_ca()
    serving = issue_cert(ca, "kube-apiserver", ips=("127.0.0.1",), dns=("apiserver.internal",), server=True)
    admin = issue_cert(ca, "admin", orgs=("system:masters",))
    server_ctx = server_ssl_context(ca, serving, tmp_path)
    client = TLSConfig(ca_data=ca.cert_pem, cert_data=admin.cert_pem, key_data=admin.key_pem)
    assert await _handshake(server_ctx, client, "127.0.0.1") == "admin"
    # tls-server-name: connect by IP but verify the certificate for another name
    named = TLSConfig(ca_data=ca.cert_pem, server_name="apiserver.internal")
    assert await _handshake(server_ctx, named, "apiserver.internal") == ""
    with pytest.raises(ssl.SSLCertVerificationError):
        await _handshake(server_ctx, TLSConfig(ca_data=make_ca("other").cert_pem), "127.0.0.1")
    with pytest.raises(ssl.SSLCertVerificationError):
        await _handshake(server_ctx, TLSConfig(ca_data=ca.cert_pem), "wrong.name")
    assert await _handshake(server_ctx, TLSConfig(insecure=True), "anything") == ""


def test_mismatched_client_key_is_a_kubeconfig_error():
    ca = make_ca()
    one, two = issue_cert(ca, "a"), issue_cert(ca, "b")
    with pytest.raises(KubeconfigError, match="do not load"):
        TLSConfig(cert_data=one.cert_pem, key_data=two.key_pem).ssl_context()
    with pytest.raises(KubeconfigError, match="both"):
        TLSConfig(cert_data=one.cert_pem).ssl_context()
