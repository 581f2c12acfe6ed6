import json
import os

import pytest

from runtime.images.compose import write_image
from runtime.images.errors import BadReference, ImageNotFound
from runtime.images.layer import BuiltLayer, LayerBuilder
from runtime.images.oci import ImageConfig
from runtime.images.reference import parse
from runtime.images.store import EMPTY_SNAPSHOT, ImageRecord, ImageStore

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="snapshots hold whiteout device nodes")


def layer(store: ImageStore, **files: str) -> BuiltLayer:
    with LayerBuilder() as b:
        for name, data in sorted(files.items()):
            b.add_file(name, data.encode())
        return b.commit(store.content)


def image(store: ImageStore, name: str, *layers: BuiltLayer, cmd: tuple[str, ...] = ("sh",)) -> ImageRecord:
    digest = write_image(store.content, ImageConfig(cmd=list(cmd)), layers)
    return store.commit(digest, [parse(name)] if name else [])


def test_images_share_layer_snapshots_and_lowerdirs_are_topmost_first(tmp_path):
    store = ImageStore(tmp_path)
    base = layer(store, base="1")
    a = image(store, "a:1", base, layer(store, a="a"))
    b = image(store, "127.0.0.1:5000/b", base, layer(store, b="b"))
    assert a.layers[0] == b.layers[0]
    rootfs = store.rootfs("a:1")
    assert rootfs.image_id == a.id
    assert [p.name for p in rootfs.lowerdirs] == [d.split(":")[1] for d in reversed(a.layers)]
    assert (rootfs.lowerdirs[0] / "a").read_text() == "a"
    assert (rootfs.lowerdirs[1] / "base").read_text() == "1"
    assert rootfs.config.cmd == ["sh"]
    assert store.get("docker.io/library/a:1").id == a.id
    assert store.get(b.id[7:19]).id == b.id
    assert store.get("127.0.0.1:5000/b:latest").repo_tags == ["127.0.0.1:5000/b:latest"]


def test_removing_an_image_keeps_layers_other_images_use(tmp_path):
    store = ImageStore(tmp_path, fresh_blob_seconds=0)
    base = layer(store, base="1")
    a = image(store, "a", base, layer(store, a="a"))
    b = image(store, "b", base)
    store.remove("a")
    with pytest.raises(ImageNotFound):
        store.get("a")
    assert store.rootfs("b").lowerdirs[0].joinpath("base").exists()
    assert not (tmp_path / "snapshots" / a.layers[1][7:]).exists()
    assert not store.content.has(a.id) and store.content.has(b.id)
    store.remove(b.id)
    assert sorted(p.name for p in (tmp_path / "snapshots").iterdir()) == [EMPTY_SNAPSHOT]
    assert list(store.content.digests()) == []


def test_fresh_unreferenced_blobs_survive_a_prune(tmp_path):
    store = ImageStore(tmp_path)
    pulled_not_committed = store.content.write(b"layer of a pull in progress")
    store.prune()
    assert store.content.has(pulled_not_committed)
    ImageStore(tmp_path, fresh_blob_seconds=0).prune()
    assert not store.content.has(pulled_not_committed)


def test_a_second_process_opening_the_store_keeps_live_writes(tmp_path):
    store = ImageStore(tmp_path)
    with store.content.writer() as live:
        live.write(b"partial")
        ImageStore(tmp_path)  # removes abandoned writes only
        digest = live.commit()
    assert store.content.read(digest) == b"partial"
    abandoned = store.content.ingest_dir / "blob-crashed"
    abandoned.write_bytes(b"x")
    ImageStore(tmp_path)
    assert not abandoned.exists()


def test_a_lease_keeps_a_containers_layers_after_its_image_is_removed(tmp_path):
    store = ImageStore(tmp_path)
    img = image(store, "a", layer(store, a="a"))
    rootfs = store.lease("container-1", "a")
    assert store.in_use() == {img.id}
    store.remove("a")
    assert rootfs.lowerdirs[0].joinpath("a").exists()
    store.release("container-1")
    assert not rootfs.lowerdirs[0].exists()


def test_leases_outlive_the_store_instance_and_release_marks_the_image_used(tmp_path):
    store = ImageStore(tmp_path)
    img = image(store, "a", layer(store, a="a"))
    store.lease("sandbox-1", "a")
    store.lease("ctr-1", "a")
    before = ImageStore(tmp_path).get("a").last_used
    assert ImageStore(tmp_path).in_use() == {img.id}
    ImageStore(tmp_path).release("ctr-1")
    assert ImageStore(tmp_path).in_use() == {img.id}  # the sandbox still holds it
    assert ImageStore(tmp_path).get("a").last_used > before
    store.release("sandbox-1")
    store.release("sandbox-1")  # releasing twice is no error
    assert store.in_use() == set()
    with pytest.raises(ValueError):
        store.lease("../escape", "a")


def test_leases_an_older_version_kept_in_images_json_still_hold_their_layers(tmp_path):
    store = ImageStore(tmp_path)
    img = image(store, "a", layer(store, a="a"))
    rootfs = store.rootfs("a")
    meta = json.loads((tmp_path / "images.json").read_text())
    meta["leases"] = {"old-ctr": list(img.layers)}
    (tmp_path / "images.json").write_text(json.dumps(meta))
    assert store.in_use() == {img.id}
    store.remove("a")  # a mutation: the old lease becomes a file, and still keeps the layer
    assert rootfs.lowerdirs[0].joinpath("a").exists()
    assert "old-ctr" not in json.loads((tmp_path / "images.json").read_text())["leases"]
    store.release("old-ctr")
    assert not rootfs.lowerdirs[0].exists()


def test_tags_untag_and_names_move_to_the_newest_image(tmp_path):
    store = ImageStore(tmp_path)
    one = image(store, "app:v1", layer(store, v="1"))
    store.tag("app:v1", "127.0.0.1:5000/app:v1")
    assert store.get(one.id).repo_tags == ["127.0.0.1:5000/app:v1", "docker.io/library/app:v1"]
    assert store.untag("app:v1") == (one.id, False)
    assert store.get(one.id).repo_tags == ["127.0.0.1:5000/app:v1"]
    two = image(store, "127.0.0.1:5000/app:v1", layer(store, v="2"))
    assert store.get("127.0.0.1:5000/app:v1").id == two.id
    assert store.get(one.id).repo_tags == []  # dangling, still removable by id
    assert store.untag(one.id) == (one.id, True)
    with pytest.raises(BadReference):
        store.tag("127.0.0.1:5000/app:v1", "UPPER")


def test_an_image_without_layers_mounts_the_empty_snapshot(tmp_path):
    store = ImageStore(tmp_path)
    image(store, "scratch-app", cmd=("/app",))
    assert [p.name for p in store.rootfs("scratch-app").lowerdirs] == [EMPTY_SNAPSHOT]


def test_garbage_collection_removes_least_recently_used_unused_images(tmp_path):
    store = ImageStore(tmp_path)
    old = image(store, "old", layer(store, big="o" * 300_000))
    kept = image(store, "kept", layer(store, big="k" * 300_000))
    used = image(store, "used", layer(store, big="u" * 300_000))
    store.lease("ctr", "used")
    store.rootfs("kept")  # touching makes it the most recently used
    total = store.usage()[0]
    assert store.collect(total) == []
    assert store.collect(total - 1) == [old.id]
    assert store.collect(0) == [kept.id]
    assert [r.id for r in store.images()] == [used.id]


def test_metadata_survives_a_new_store_instance(tmp_path):
    img = image(ImageStore(tmp_path), "a", layer(ImageStore(tmp_path), a="a"))
    assert ImageStore(tmp_path).get("a").id == img.id


def test_disk_threshold_gc_frees_down_to_the_low_mark(tmp_path, monkeypatch):
    store = ImageStore(tmp_path)
    old = image(store, "old", layer(store, big="o" * 400_000))
    image(store, "new", layer(store, big="n" * 400_000))
    store.rootfs("new")
    real = os.statvfs(tmp_path)
    block = real.f_frsize
    capacity = 10_000_000

    class Fs:
        f_frsize = block
        f_blocks = capacity // block

    def statvfs(path):
        fs = Fs()
        used = store.usage()[0] + 8_400_000  # everything else on the disk
        fs.f_bavail = (capacity - used) // block  # type: ignore[attr-defined]
        return fs

    monkeypatch.setattr(os, "statvfs", statvfs)
    assert store.collect_to_disk_threshold(high_percent=95, low_percent=90) == []  # ~92% used: below high
    assert store.collect_to_disk_threshold(high_percent=90, low_percent=89) == [old.id]
    assert [r.repo_tags for r in store.images()] == [["docker.io/library/new:latest"]]
