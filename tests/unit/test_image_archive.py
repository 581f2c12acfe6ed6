import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from runtime.images.archive import export_archive, export_layout, import_images
from runtime.images.compose import write_image
from runtime.images.errors import DigestMismatch, ImageError
from runtime.images.layer import LayerBuilder
from runtime.images.oci import ImageConfig
from runtime.images.reference import parse
from runtime.images.store import ImageStore

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="snapshots hold whiteout device nodes")


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    store = ImageStore(tmp_path / "source")
    with LayerBuilder() as b:
        b.add_dir("etc")
        b.add_file("etc/motd", b"hello")
        base = b.commit(store.content)
    with LayerBuilder() as b:
        b.add_whiteout("etc/motd")
        b.add_file("app", b"#!/bin/sh\n", 0o755)
        top = b.commit(store.content)
    store.commit(write_image(store.content, ImageConfig(cmd=["/app"]), [base, top]),
                 [parse("app:v1"), parse("127.0.0.1:5000/app:v1")])
    store.commit(write_image(store.content, ImageConfig(cmd=["sh"]), [base]), [parse("base")])
    return store


def test_docker_save_archive_round_trip(tmp_path: Path, store: ImageStore):
    out = tmp_path / "images.tar"
    export_archive(store, ["app:v1", "base"], out)
    with tarfile.open(out) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        assert {"oci-layout", "index.json"} <= set(tar.getnames())
        for entry in manifest:
            for name in [entry["Config"], *entry["Layers"]]:
                data = tar.extractfile(name).read()  # type: ignore[union-attr]
                assert name.endswith(hashlib.sha256(data).hexdigest())
    assert [e["RepoTags"] for e in manifest] == [["app:v1"], ["base:latest"]]  # only the names asked for
    dest = ImageStore(tmp_path / "dest")
    records = import_images(out, dest)
    assert {r.id for r in records} == {store.get("app:v1").id, store.get("base").id}
    assert dest.get("app:v1").repo_tags == ["docker.io/library/app:v1"]
    assert dest.rootfs("app:v1").config.cmd == ["/app"]
    assert [p.name for p in dest.rootfs("app:v1").lowerdirs] == [p.name for p in store.rootfs("app:v1").lowerdirs]


def test_oci_layout_directory_round_trip_and_fallback_name(tmp_path: Path, store: ImageStore):
    layout = tmp_path / "layout"
    export_layout(store, ["base"], layout)
    index = json.loads((layout / "index.json").read_text())
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "base:latest"
    dest = ImageStore(tmp_path / "dest")
    assert import_images(layout, dest)[0].repo_tags == ["docker.io/library/base:latest"]
    index["manifests"][0]["annotations"] = {"org.opencontainers.image.ref.name": "v2"}  # umoci style: a tag only
    (layout / "index.json").write_text(json.dumps(index))
    named = import_images(layout, ImageStore(tmp_path / "dest2"), parse("registry.local/base"))
    assert named[0].repo_tags == ["registry.local/base:v2"]


def test_classic_docker_save_with_uncompressed_layers(tmp_path: Path):
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as t:
        info = tarfile.TarInfo("hello")
        info.size = 2
        t.addfile(info, io.BytesIO(b"hi"))
    diff_id = "sha256:" + hashlib.sha256(layer.getvalue()).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["cat", "/hello"]},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    archive = tmp_path / "saved.tar"
    with tarfile.open(archive, "w") as t:
        for name, data in [("abc/layer.tar", layer.getvalue()), ("cfg.json", config),
                           ("manifest.json", json.dumps([{"Config": "cfg.json", "RepoTags": ["old:1"],
                                                          "Layers": ["abc/layer.tar"]}]).encode())]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    store = ImageStore(tmp_path / "store")
    record = import_images(archive, store)[0]
    assert record.repo_tags == ["docker.io/library/old:1"]
    assert (store.rootfs("old:1").lowerdirs[0] / "hello").read_text() == "hi"


def test_a_layout_blob_that_does_not_match_its_name_is_refused(tmp_path: Path, store: ImageStore):
    layout = tmp_path / "layout"
    export_layout(store, ["base"], layout)
    layer_digest = store.manifest(store.get("base")).layers[0].digest
    blob = layout / "blobs/sha256" / layer_digest.removeprefix("sha256:")
    blob.write_bytes(blob.read_bytes() + b"tampered")
    dest = ImageStore(tmp_path / "dest")
    with pytest.raises(DigestMismatch):
        import_images(layout, dest)
    assert dest.images() == [] and list(dest.content.ingest_dir.iterdir()) == []


def test_docker_save_paths_cannot_leave_a_layout_directory(tmp_path: Path):
    layout = tmp_path / "evil"
    layout.mkdir()
    (layout / "manifest.json").write_text(json.dumps([{"Config": "../../etc/hostname", "Layers": []}]))
    with pytest.raises(ImageError, match="outside the layout"):
        import_images(layout, ImageStore(tmp_path / "dest"))


def test_not_an_archive(tmp_path: Path):
    (tmp_path / "junk.tar").write_bytes(b"junk" * 200)
    with pytest.raises(ImageError, match="neither a tar archive nor an OCI layout"):
        import_images(tmp_path / "junk.tar", ImageStore(tmp_path / "dest"))
