"""Layer tarballs into snapshot directories, safely, in the form overlayfs reads as a lowerdir.

Each layer becomes its own directory holding only that layer's changes. OCI whiteouts become
overlayfs whiteouts: ``.wh.NAME`` a 0/0 character device at ``NAME``, ``.wh..wh..opq`` the
``trusted.overlay.opaque`` xattr on its directory. Entries that would write outside the snapshot
(absolute paths, ``..``, paths through a symlink, relative symlinks climbing above the root,
hardlinks to anything outside this layer) and device nodes are refused. The snapshot appears
under its final name only once every entry is written and the uncompressed stream's sha256 equals
the expected diff id, so a failure never leaves a partial snapshot behind.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import zlib
from pathlib import Path
from typing import BinaryIO

from runtime.images.errors import DigestMismatch, ImageError, UnpackError, UnsafeLayer, UnsupportedMedia

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_CHUNK = 1 << 20
_TYPE_BITS = {tarfile.DIRTYPE: stat.S_IFDIR, tarfile.REGTYPE: stat.S_IFREG, tarfile.AREGTYPE: stat.S_IFREG,
              tarfile.CONTTYPE: stat.S_IFREG, tarfile.FIFOTYPE: stat.S_IFIFO}


class _HashingReader:
    """Hashes the uncompressed stream as tarfile consumes it, so the diff id costs no second pass."""

    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner
        self.hash = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(size)
        self.hash.update(data)
        return data

    def drain(self) -> None:
        for chunk in iter(lambda: self.read(_CHUNK), b""):
            del chunk


def _open_layer(blob: Path) -> BinaryIO:
    raw = blob.open("rb")
    magic = raw.read(4)
    raw.seek(0)
    if magic.startswith(_GZIP_MAGIC):
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if magic == _ZSTD_MAGIC:
        raw.close()
        raise UnsupportedMedia("zstd-compressed layers are not supported")
    return raw


def unpack_layer(blob: Path, target: Path, expected_diff_id: str | None = None) -> str:
    """Unpack ``blob`` (tar, or tar+gzip) into the new directory ``target``; returns the diff id.

    ``target`` must not exist. If another process created it meanwhile, its content is the same
    (content-addressed), so ours is discarded.
    """
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".unpack-{target.name[:12]}-"))
    try:
        with contextlib.closing(_open_layer(blob)) as stream:
            reader = _HashingReader(stream)
            try:
                _extract(reader, tmp)
                reader.drain()
                os.chmod(tmp, 0o755)  # the layer's root: mkdtemp made it private, containers must traverse it
            except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as err:
                raise ImageError(f"layer {blob.name[:12]}: corrupt or truncated archive: {err}") from None
            except OSError as err:
                raise UnpackError(f"layer {blob.name[:12]}: cannot write {err.filename or 'entry'}: "
                                  f"{err.strerror or err}") from None
        diff_id = "sha256:" + reader.hash.hexdigest()
        if expected_diff_id is not None and diff_id != expected_diff_id:
            raise DigestMismatch(f"layer diff id mismatch: image config says {expected_diff_id}, "
                                 f"the uncompressed layer is {diff_id}")
        try:
            tmp.rename(target)
        except OSError:
            if not target.is_dir():
                raise
            _remove_tree(tmp)
    except BaseException:
        _remove_tree(tmp)
        raise
    return diff_id


def _remove_tree(path: Path) -> None:
    def make_writable(func: object, p: str, exc: object) -> None:
        # A read-only directory from the layer blocks deleting its entries; open it up and retry.
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(p), 0o700)
            if os.path.isdir(p) and not os.path.islink(p):
                os.chmod(p, 0o700)
                shutil.rmtree(p, ignore_errors=True)
            else:
                os.unlink(p)

    if path.exists():
        shutil.rmtree(path, onerror=make_writable)


def clean_name(name: str) -> list[str]:
    """The path components of a tar member name, refusing absolute paths and ``..``."""
    if name.startswith("/"):
        raise UnsafeLayer(f"layer entry {name!r} has an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeLayer(f"layer entry {name!r} contains '..'")
    return parts


def _ensure_parents(root: Path, parts: list[str], name: str) -> Path:
    """Create missing parent directories; refuse to pass through a symlink (it could point anywhere)."""
    current = root
    for part in parts:
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            os.mkdir(current, 0o755)
            continue
        if stat.S_ISLNK(st.st_mode):
            raise UnsafeLayer(f"layer entry {name!r} goes through the symbolic link {part!r}")
        if not stat.S_ISDIR(st.st_mode):
            os.unlink(current)  # a later entry in the same layer replaces a file by a directory
            os.mkdir(current, 0o755)
    return current


def _existing_target(root: Path, parts: list[str], name: str) -> Path:
    """The in-layer path a hardlink points at, reached without following any symlink."""
    parent = root
    for part in parts[:-1]:
        parent = parent / part
        st = os.lstat(parent) if parent.exists() or parent.is_symlink() else None
        if st is None or stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
            raise UnsafeLayer(f"hardlink {name!r} points outside this layer or through a symbolic link")
    target = parent / parts[-1]
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        raise UnsafeLayer(f"hardlink {name!r} points at a file that is not in this layer") from None
    if stat.S_ISDIR(st.st_mode):
        raise UnsafeLayer(f"hardlink {name!r} points at a directory")
    return target


def _clear(path: Path, keep_dir: bool) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        if not keep_dir:
            _remove_tree(path)
    else:
        os.unlink(path)


def _extract(reader: _HashingReader, root: Path) -> None:
    as_root = os.geteuid() == 0
    dirs: list[tuple[Path, tarfile.TarInfo]] = []
    with tarfile.open(fileobj=reader, mode="r|") as archive:  # type: ignore[call-overload]
        member: tarfile.TarInfo
        for member in archive:
            parts = clean_name(member.name)
            if not parts:
                continue  # the root entry "./": the snapshot dir's own metadata is ours
            base = parts[-1]
            parent = _ensure_parents(root, parts[:-1], member.name)
            if base.startswith(WHITEOUT_PREFIX):
                _whiteout(parent, base, member.name)
                continue
            path = parent / base
            if member.ischr() or member.isblk():
                raise UnsafeLayer(f"layer entry {member.name!r} is a device node")
            if member.isdir():
                _clear(path, keep_dir=True)
                if not path.is_dir():
                    os.mkdir(path, 0o700)
                dirs.append((path, member))
                continue
            _clear(path, keep_dir=False)
            if member.isfile():
                src = archive.extractfile(member)
                assert src is not None  # a regular member always has a stream
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                with os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(src, out, _CHUNK)
            elif member.issym():
                _check_symlink(parts, member)
                os.symlink(member.linkname, path)
            elif member.islnk():
                os.link(_existing_target(root, clean_name(member.linkname), member.name), path,
                        follow_symlinks=False)
                continue  # a hardlink shares the target's inode: its metadata is already set
            elif member.isfifo():
                os.mkfifo(path, 0o600)
            else:
                raise UnsafeLayer(f"layer entry {member.name!r} has unsupported type {member.type!r}")
            _set_metadata(path, member, as_root)
    for path, member in reversed(dirs):  # deepest last-written first, so parents stay writable until the end
        _set_metadata(path, member, as_root)


def _check_symlink(parts: list[str], member: tarfile.TarInfo) -> None:
    """Absolute targets resolve inside the container's root; relative ones must not climb above it."""
    target = member.linkname
    if not target:
        raise UnsafeLayer(f"symbolic link {member.name!r} has an empty target")
    if target.startswith("/"):
        return
    resolved = posixpath.normpath(posixpath.join("/".join(parts[:-1]), target))
    if resolved == ".." or resolved.startswith("../"):
        raise UnsafeLayer(f"symbolic link {member.name!r} -> {target!r} escapes the image root")


def _whiteout(parent: Path, base: str, name: str) -> None:
    if base == OPAQUE_MARKER:
        os.setxattr(parent, OPAQUE_XATTR, b"y")
        return
    hidden = base[len(WHITEOUT_PREFIX):]
    if hidden.startswith(WHITEOUT_PREFIX):
        return  # aufs bookkeeping (.wh..wh.plnk and friends): no meaning for overlayfs
    if hidden in ("", ".", ".."):
        raise UnsafeLayer(f"layer entry {name!r} is a malformed whiteout")
    path = parent / hidden
    _clear(path, keep_dir=False)
    os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))


def _set_metadata(path: Path, member: tarfile.TarInfo, as_root: bool) -> None:
    """Owner, mode and mtime, through a descriptor opened without following symlinks.

    A later entry may have replaced a directory by a symlink pointing at a host path: path-based
    chmod would follow it, so the entry is opened with O_NOFOLLOW and its type checked first.
    """
    if member.issym():
        if as_root:
            os.lchown(path, member.uid, member.gid)
        os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
        return
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return  # replaced by a symlink later in the layer: this entry's metadata no longer applies
        raise
    try:
        if stat.S_IFMT(os.fstat(fd).st_mode) != _TYPE_BITS.get(member.type):
            return  # replaced by another kind of entry later in the layer
        if as_root:
            os.fchown(fd, member.uid, member.gid)
        os.fchmod(fd, member.mode & 0o7777)  # after chown, which clears set-id bits
        os.utime(fd, (member.mtime, member.mtime))
    finally:
        os.close(fd)
