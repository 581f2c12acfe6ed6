"""Static pod identity, defaults and mirror pods, from manifest files in a temp dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelet.static_pods import (
    CONFIG_HASH,
    CONFIG_MIRROR,
    ManifestError,
    is_mirror,
    mirror_pod,
    read_manifests,
    static_pod,
)

MANIFEST = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "etcd", "labels": {"tier": "cp"}},
            "spec": {"containers": [{"name": "etcd", "image": "busybox"}]}}


def test_identity_and_defaults() -> None:
    pod = static_pod(MANIFEST, "/etc/manifests/etcd.yaml", "node1")
    meta = pod["metadata"]
    assert (meta["name"], meta["namespace"]) == ("etcd-node1", "default")
    assert meta["annotations"][CONFIG_HASH] == meta["uid"] and len(meta["uid"]) == 32
    assert pod["spec"]["nodeName"] == "node1" and pod["spec"]["restartPolicy"] == "Always"
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "Always"  # untagged: :latest
    assert static_pod(MANIFEST, "/etc/manifests/etcd.yaml", "node1")["metadata"]["uid"] == meta["uid"]
    edited = {**MANIFEST, "spec": {"containers": [{"name": "etcd", "image": "busybox:1.36"}]}}
    assert static_pod(edited, "/etc/manifests/etcd.yaml", "node1")["metadata"]["uid"] != meta["uid"]
    assert static_pod(MANIFEST, "/etc/manifests/etcd.yaml", "node2")["metadata"]["uid"] != meta["uid"]
    with pytest.raises(ManifestError, match="expected kind Pod"):
        static_pod({"kind": "Deployment", "metadata": {"name": "x"}}, "f", "node1")


def test_read_manifests_skips_bad_files(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n"
                                        "spec: {containers: [{name: c, image: busybox}]}\n")
    (tmp_path / "bad.yaml").write_text("kind: Service\nmetadata: {name: s}\n")
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / ".hidden.yaml").write_text("ignored")
    pods, errors = read_manifests(tmp_path, "n1")
    assert [p["metadata"]["name"] for p in pods.values()] == ["web-n1"]
    assert len(errors) == 2 and any("expected kind Pod" in e for e in errors)
    assert read_manifests(tmp_path / "missing", "n1") == ({}, [])


def test_mirror_pod() -> None:
    pod = static_pod(MANIFEST, "f", "node1")
    mirror = mirror_pod(pod, "node1", "node-uid")
    assert is_mirror(mirror) and not is_mirror(pod)
    assert mirror["metadata"]["annotations"][CONFIG_MIRROR] == pod["metadata"]["uid"]
    assert mirror["metadata"]["ownerReferences"][0] == {"apiVersion": "v1", "kind": "Node", "name": "node1",
                                                        "uid": "node-uid", "controller": True}
    assert "uid" not in mirror["metadata"] and mirror["spec"] == pod["spec"]
