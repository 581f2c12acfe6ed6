"""Volume payloads from API objects and the atomic writer's on-disk layout (temp dirs only)."""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from kubelet.volumes.atomic_writer import DATA_DIR, AtomicWriter, FileProjection, PayloadError
from kubelet.volumes.sources import (
    VolumeSourceError,
    config_map_payload,
    downward_api_payload,
    projected_payload,
    secret_payload,
)

CMS = {("ns", "cfg"): {"data": {"a.conf": "A", "b.conf": "B"}, "binaryData": {"bin": base64.b64encode(b"\0\1")
                                                                               .decode()}}}
SECRETS = {("ns", "tls"): {"data": {"tls.key": base64.b64encode(b"KEY").decode()}}}
POD = {"metadata": {"name": "web", "namespace": "ns", "uid": "u", "labels": {"b": "2", "a": "1"}},
       "spec": {"serviceAccountName": "builder",
                "containers": [{"name": "app", "resources": {"limits": {"memory": "64Mi"}}}]}}


def cm(ns: str, name: str) -> Mapping[str, Any] | None:
    return CMS.get((ns, name))


def sec(ns: str, name: str) -> Mapping[str, Any] | None:
    return SECRETS.get((ns, name))


def test_config_map_all_keys_items_and_modes() -> None:
    everything = config_map_payload({"name": "cfg"}, "ns", cm)
    assert everything == {"a.conf": FileProjection(b"A"), "b.conf": FileProjection(b"B"),
                          "bin": FileProjection(b"\0\1")}
    picked = config_map_payload({"name": "cfg", "defaultMode": 0o400,
                                 "items": [{"key": "a.conf", "path": "etc/a"},
                                           {"key": "b.conf", "path": "b", "mode": 0o600}]}, "ns", cm)
    assert picked == {"etc/a": FileProjection(b"A", 0o400), "b": FileProjection(b"B", 0o600)}
    with pytest.raises(VolumeSourceError, match="configMap references non-existent config key: zz"):
        config_map_payload({"name": "cfg", "items": [{"key": "zz", "path": "z"}]}, "ns", cm)
    with pytest.raises(VolumeSourceError, match='configmap "gone" not found'):
        config_map_payload({"name": "gone"}, "ns", cm)
    assert config_map_payload({"name": "gone", "optional": True}, "ns", cm) == {}


def test_secret_and_downward_api() -> None:
    assert secret_payload({"secretName": "tls"}, "ns", sec) == {"tls.key": FileProjection(b"KEY")}
    with pytest.raises(VolumeSourceError, match='secret "nope" not found'):
        secret_payload({"secretName": "nope"}, "ns", sec)
    payload = downward_api_payload({"items": [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
        {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}, "mode": 0o400},
        {"path": "mem", "resourceFieldRef": {"containerName": "app", "resource": "limits.memory",
                                             "divisor": "1Mi"}}]}, POD, {})
    assert payload == {"labels": FileProjection(b'a="1"\nb="2"'), "name": FileProjection(b"web", 0o400),
                       "mem": FileProjection(b"64")}


def test_projected_merges_sources_and_needs_token_api_for_tokens() -> None:
    source = {"defaultMode": 0o440, "sources": [
        {"configMap": {"name": "cfg", "items": [{"key": "a.conf", "path": "a"}]}},
        {"secret": {"name": "tls"}},
        {"downwardAPI": {"items": [{"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}]}}]}
    out = projected_payload(source, POD, config_maps=cm, secrets=sec, node_allocatable={}, token_request=None)
    assert out == {"a": FileProjection(b"A", 0o440), "tls.key": FileProjection(b"KEY", 0o440),
                   "ns": FileProjection(b"ns", 0o440)}
    token_source = {"sources": [{"serviceAccountToken": {"audience": "vault", "expirationSeconds": 600,
                                                         "path": "tok"}}]}
    with pytest.raises(VolumeSourceError, match="TokenRequest"):
        projected_payload(token_source, POD, config_maps=cm, secrets=sec, node_allocatable={}, token_request=None)
    asked: list[tuple[str, str, str, int, str]] = []

    def request(ns: str, sa: str, aud: str, secs: int, uid: str) -> str:
        asked.append((ns, sa, aud, secs, uid))
        return "jwt"

    out = projected_payload(token_source, POD, config_maps=cm, secrets=sec, node_allocatable={},
                            token_request=request)
    assert out == {"tok": FileProjection(b"jwt", 0o644)} and asked == [("ns", "builder", "vault", 600, "u")]


def test_atomic_writer_layout_update_and_removal(tmp_path: Path) -> None:
    w = AtomicWriter(tmp_path / "vol")
    assert w.write({"a": FileProjection(b"1"), "dir/b": FileProjection(b"2", 0o600)})
    first_gen = os.readlink(tmp_path / "vol" / DATA_DIR)
    assert first_gen.startswith("..") and (tmp_path / "vol" / first_gen).is_dir()
    assert os.readlink(tmp_path / "vol" / "a") == "..data/a"
    assert (tmp_path / "vol" / "dir" / "b").read_bytes() == b"2"
    assert (tmp_path / "vol" / "dir" / "b").stat().st_mode & 0o777 == 0o600
    assert not w.write({"a": FileProjection(b"1"), "dir/b": FileProjection(b"2", 0o600)})  # unchanged: no-op
    assert os.readlink(tmp_path / "vol" / DATA_DIR) == first_gen
    assert w.write({"a": FileProjection(b"new")})
    assert (tmp_path / "vol" / "a").read_bytes() == b"new"
    assert not (tmp_path / "vol" / "dir").exists() and not (tmp_path / "vol" / first_gen).exists()
    names = sorted(p.name for p in (tmp_path / "vol").iterdir())
    assert names[0].startswith("..2") and names[1:] == ["..data", "a"]
    assert w.current() == {"a": FileProjection(b"new")}


@pytest.mark.parametrize("path", ["/abs", "../up", "a/../../b", "..hidden", ""])
def test_atomic_writer_refuses_escaping_paths(tmp_path: Path, path: str) -> None:
    with pytest.raises(PayloadError):
        AtomicWriter(tmp_path).write({path: FileProjection(b"x")})
