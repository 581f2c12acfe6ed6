"""When the kubelet's TLS bootstrap runs: only without a kubeconfig whose client certificate is still valid."""

from __future__ import annotations

import datetime
from pathlib import Path

from client.kubeconfig import build_kubeconfig, write_kubeconfig
from kubelet.bootstrap import usable_kubeconfig
from tinykube.pki import issue, new_ca

NOW = datetime.datetime.now(datetime.UTC)


def _kubeconfig(path: Path, **user: bytes | str) -> Path:
    ca = new_ca()
    write_kubeconfig(path, build_kubeconfig(cluster="c", server="https://127.0.0.1:6443", user="u",
                                            ca_data=ca.cert_pem(), **user))  # type: ignore[arg-type]
    return path


def test_a_kubeconfig_with_a_valid_certificate_is_kept(tmp_path):
    ident = issue(new_ca(), "system:node:n1", organizations=["system:nodes"], client=True)
    path = _kubeconfig(tmp_path / "k", cert_data=ident.cert_pem(), key_data=ident.key_pem())
    assert usable_kubeconfig(path, NOW)
    # The same certificate once it has expired sends the kubelet back to its bootstrap kubeconfig.
    assert not usable_kubeconfig(path, NOW + datetime.timedelta(days=400))


def test_missing_or_broken_kubeconfigs_need_a_bootstrap(tmp_path):
    assert not usable_kubeconfig(tmp_path / "absent", NOW)
    (tmp_path / "garbage").write_text("{not: [yaml")
    assert not usable_kubeconfig(tmp_path / "garbage", NOW)
    assert usable_kubeconfig(_kubeconfig(tmp_path / "token", token="abc.def"), NOW)
