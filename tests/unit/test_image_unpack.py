import gzip
import hashlib
import io
import os
import stat
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from runtime.images.errors import DigestMismatch, ImageError, UnsafeLayer
from runtime.images.unpack import OPAQUE_XATTR, unpack_layer

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="whiteouts are device nodes and trusted xattrs")


Member = tuple[str, bytes, dict[str, Any]]


def tar_bytes(*members: Member) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, attrs in members:
            info = tarfile.TarInfo(name)
            for key, value in attrs.items():
                setattr(info, key, value)
            if info.type in (tarfile.REGTYPE, tarfile.AREGTYPE):
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return buf.getvalue()


def d(name: str) -> Member:
    return (name, b"", {"type": tarfile.DIRTYPE, "mode": 0o755})


def f(name: str, data: bytes = b"x", mode: int = 0o644) -> Member:
    return (name, data, {"mode": mode})


def sym(name: str, target: str) -> Member:
    return (name, b"", {"type": tarfile.SYMTYPE, "linkname": target})


def hard(name: str, target: str) -> Member:
    return (name, b"", {"type": tarfile.LNKTYPE, "linkname": target})


def unpack(tmp_path: Path, data: bytes, expected: str | None = None) -> tuple[Path, str]:
    blob = tmp_path / "blob"
    blob.write_bytes(data)
    snaps = tmp_path / "snapshots"
    snaps.mkdir(exist_ok=True)
    target = snaps / "layer"
    return target, unpack_layer(blob, target, expected)


def assert_nothing_left(tmp_path: Path) -> None:
    assert list((tmp_path / "snapshots").iterdir()) == []


@needs_root
def test_a_layer_unpacks_with_modes_links_and_overlay_whiteouts(tmp_path):
    data = tar_bytes(
        d("bin"), f("bin/busybox", b"\x7fELF", 0o4755), sym("bin/sh", "/bin/busybox"), sym("bin/rel", "busybox"),
        hard("bin/ln", "bin/busybox"), d("etc"), f("etc/.wh.shadow", b""), d("var/cache"),
        f("var/cache/.wh..wh..opq", b""), f("var/cache/new"), f("./loose/file"),
        (".wh..wh.plnk", b"", {}),
    )
    target, diff_id = unpack(tmp_path, data)
    assert diff_id == "sha256:" + hashlib.sha256(data).hexdigest()
    assert (target / "bin/busybox").read_bytes() == b"\x7fELF"
    assert stat.S_IMODE(os.lstat(target / "bin/busybox").st_mode) == 0o4755
    assert os.readlink(target / "bin/sh") == "/bin/busybox"
    assert os.lstat(target / "bin/ln").st_ino == os.lstat(target / "bin/busybox").st_ino
    wh = os.lstat(target / "etc/shadow")
    assert stat.S_ISCHR(wh.st_mode) and wh.st_rdev == 0
    assert not (target / "etc/.wh.shadow").exists()
    assert os.getxattr(target / "var/cache", OPAQUE_XATTR) == b"y"
    assert (target / "var/cache/new").exists() and not (target / "var/cache/.wh..wh..opq").exists()
    assert (target / "loose/file").exists()
    assert not (target / ".wh..wh.plnk").exists()


@needs_root
def test_overlayfs_honours_the_unpacked_whiteouts(tmp_path):
    lower, _ = unpack(tmp_path, tar_bytes(d("etc"), f("etc/keep"), f("etc/gone"), d("cache"), f("cache/old")))
    upper_blob = tar_bytes(d("etc"), f("etc/.wh.gone", b""), d("cache"), f("cache/.wh..wh..opq", b""),
                           f("cache/new"))
    (tmp_path / "blob2").write_bytes(upper_blob)
    upper = tmp_path / "snapshots" / "layer2"
    unpack_layer(tmp_path / "blob2", upper)
    merged = tmp_path / "merged"
    merged.mkdir()
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={upper}:{lower}", str(merged)], check=True)
    try:
        assert sorted(os.listdir(merged / "etc")) == ["keep"]
        assert sorted(os.listdir(merged / "cache")) == ["new"]
    finally:
        subprocess.run(["umount", str(merged)], check=True)


@pytest.mark.parametrize(("members", "why"), [
    ([f("/etc/passwd")], "absolute path"),
    ([f("../evil")], r"contains '\.\.'"),
    ([d("a"), f("a/../../evil")], r"contains '\.\.'"),
    ([sym("up", "../../../etc")], "escapes the image root"),
    ([d("a"), sym("a/up", "../../etc/passwd")], "escapes the image root"),
    ([sym("etc", "/etc"), f("etc/passwd")], "goes through the symbolic link"),
    ([sym("etc", "../.."), f("etc/x")], "escapes the image root"),
    ([hard("pw", "../../etc/passwd")], r"contains '\.\.'"),
    ([hard("pw", "/etc/passwd")], "absolute path"),
    ([sym("etc", "/etc"), hard("pw", "etc/passwd")], "through a symbolic link"),
    ([hard("pw", "not/in/layer")], "outside this layer|not in this layer"),
    ([("dev/sda", b"", {"type": tarfile.BLKTYPE, "devmajor": 8, "devminor": 0})], "device node"),
    ([("null", b"", {"type": tarfile.CHRTYPE, "devmajor": 1, "devminor": 3})], "device node"),
    ([f(".wh...")], "malformed whiteout"),
])
def test_hostile_entries_are_refused_and_leave_nothing(tmp_path, members, why):
    with pytest.raises(UnsafeLayer, match=why):
        unpack(tmp_path, tar_bytes(f("ok"), *members))
    assert_nothing_left(tmp_path)


def test_diff_id_mismatch_leaves_nothing(tmp_path):
    with pytest.raises(DigestMismatch, match="diff id mismatch"):
        unpack(tmp_path, tar_bytes(f("a")), expected="sha256:" + "0" * 64)
    assert_nothing_left(tmp_path)


def test_gzip_layers_hash_the_uncompressed_stream(tmp_path):
    raw = tar_bytes(d("x"), f("x/y", b"hello"))
    target, diff_id = unpack(tmp_path, gzip.compress(raw), expected="sha256:" + hashlib.sha256(raw).hexdigest())
    assert (target / "x/y").read_bytes() == b"hello"
    assert diff_id == "sha256:" + hashlib.sha256(raw).hexdigest()


def test_a_truncated_layer_is_an_error_and_leaves_nothing(tmp_path):
    raw = gzip.compress(tar_bytes(f("big", os.urandom(100_000))))
    with pytest.raises(ImageError, match="corrupt or truncated"):
        unpack(tmp_path, raw[: len(raw) // 2])
    assert_nothing_left(tmp_path)


def test_read_only_directories_are_still_filled_and_removable(tmp_path):
    data = tar_bytes(("ro", b"", {"type": tarfile.DIRTYPE, "mode": 0o555}), f("ro/file"),
                     ("/abs", b"", {}))  # the bad last entry forces cleanup of the read-only tree
    with pytest.raises(UnsafeLayer):
        unpack(tmp_path, data)
    assert_nothing_left(tmp_path)
    target, _ = unpack(tmp_path, tar_bytes(("ro", b"", {"type": tarfile.DIRTYPE, "mode": 0o555}), f("ro/file")))
    assert stat.S_IMODE(os.lstat(target / "ro").st_mode) == 0o555
    assert (target / "ro/file").exists()


def test_a_directory_replaced_by_a_symlink_never_gets_its_mode_applied_through_it(tmp_path):
    victim = tmp_path / "host-file"
    victim.write_text("secret")
    victim.chmod(0o600)
    data = tar_bytes(("x", b"", {"type": tarfile.DIRTYPE, "mode": 0o777}), sym("x", str(victim)))
    target, _ = unpack(tmp_path, data)
    assert os.readlink(target / "x") == str(victim)
    assert stat.S_IMODE(victim.stat().st_mode) == 0o600
    assert stat.S_IMODE(os.lstat(target).st_mode) == 0o755
