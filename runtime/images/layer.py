"""Deterministic layer tarballs: the same files always give the same diff id and blob digest.

Entries get fixed owners and mtimes unless the caller says otherwise, PAX headers without
user/group names, and gzip without a timestamp — which is what makes default images and build
cache hits reproducible.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from runtime.images.content import BlobWriter, ContentStore
from runtime.images.oci import OCI_LAYER_GZIP, Descriptor
from runtime.images.unpack import OPAQUE_MARKER, OPAQUE_XATTR

_SPOOL = 64 << 20
_CHUNK = 1 << 20
EPOCH = 0


@dataclass(frozen=True)
class BuiltLayer:
    """A layer written to the content store: its descriptor and uncompressed digest (diff id)."""

    descriptor: Descriptor
    diff_id: str


class LayerBuilder:
    """Collects entries (in the order added; callers add them sorted) into one tar+gzip layer."""

    def __init__(self) -> None:
        self._spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL)  # noqa: SIM115 - closed in close()
        self._tar = tarfile.open(fileobj=self._spool, mode="w", format=tarfile.PAX_FORMAT)  # noqa: SIM115
        self.count = 0

    def _info(self, path: str, kind: bytes, mode: int, *, uid: int, gid: int, mtime: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(path.strip("/"))
        info.type = kind
        info.mode = mode & 0o7777
        info.uid, info.gid = uid, gid
        info.uname = info.gname = ""
        info.mtime = mtime
        self.count += 1
        return info

    def add_dir(self, path: str, mode: int = 0o755, *, uid: int = 0, gid: int = 0, mtime: int = EPOCH) -> None:
        self._tar.addfile(self._info(path, tarfile.DIRTYPE, mode, uid=uid, gid=gid, mtime=mtime))

    def add_file(self, path: str, data: bytes, mode: int = 0o644, *, uid: int = 0, gid: int = 0,
                 mtime: int = EPOCH) -> None:
        info = self._info(path, tarfile.REGTYPE, mode, uid=uid, gid=gid, mtime=mtime)
        info.size = len(data)
        self._tar.addfile(info, io.BytesIO(data))

    def add_symlink(self, path: str, target: str, *, uid: int = 0, gid: int = 0, mtime: int = EPOCH) -> None:
        info = self._info(path, tarfile.SYMTYPE, 0o777, uid=uid, gid=gid, mtime=mtime)
        info.linkname = target
        self._tar.addfile(info)

    def add_whiteout(self, path: str) -> None:
        """Delete ``path`` from the layers below (an OCI ``.wh.`` entry)."""
        head, _, base = path.strip("/").rpartition("/")
        self.add_file(f"{head}/.wh.{base}" if head else f".wh.{base}", b"", mode=0)

    def add_tar_member(self, info: tarfile.TarInfo, data: IO[bytes] | None) -> None:
        """Copy an entry of another archive (ADD's tar auto-extraction), already renamed by the caller."""
        self.count += 1
        self._tar.addfile(info, data)

    def add_host_path(self, source: Path, dest: str, owner: tuple[int, int] | None = None,
                      mtime: int | None = None) -> None:
        """Add ``source`` at ``dest``; a directory's contents go under ``dest`` (Docker's COPY), sorted.

        ``owner`` and ``mtime`` override the host's values when given, as ``COPY --chown`` does.
        """
        st = os.lstat(source)
        self._add_one(source, st, dest, owner, mtime)
        if stat.S_ISDIR(st.st_mode):
            for root, dirnames, filenames in os.walk(source):
                dirnames.sort()
                rel_root = os.path.relpath(root, source)
                for name in sorted(dirnames + filenames):
                    full = os.path.join(root, name)
                    rel = name if rel_root == "." else f"{rel_root}/{name}"
                    self._add_one(Path(full), os.lstat(full), f"{dest.rstrip('/')}/{rel}", owner, mtime)

    def add_upperdir(self, upper: Path) -> None:
        """An overlayfs upperdir as a layer: 0/0 character devices become ``.wh.`` whiteouts, opaque
        directories get ``.wh..wh..opq``; everything else is taken as it is (RUN's changes)."""
        for root, dirnames, filenames in os.walk(upper):
            dirnames.sort()
            rel_root = os.path.relpath(root, upper)
            for name in sorted(dirnames + filenames):
                full = os.path.join(root, name)
                rel = name if rel_root == "." else f"{rel_root}/{name}"
                st = os.lstat(full)
                if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                    self.add_whiteout(rel)
                    continue
                self._add_one(Path(full), st, rel, None, None)
                if stat.S_ISDIR(st.st_mode) and _is_opaque(full):
                    self.add_file(f"{rel}/{OPAQUE_MARKER}", b"", mode=0)

    def _add_one(self, source: Path, st: os.stat_result, dest: str, owner: tuple[int, int] | None,
                  mtime: int | None) -> None:
        uid, gid = owner if owner is not None else (st.st_uid, st.st_gid)
        when = int(st.st_mtime) if mtime is None else mtime
        if stat.S_ISDIR(st.st_mode):
            if dest.strip("/"):
                self.add_dir(dest, st.st_mode, uid=uid, gid=gid, mtime=when)
        elif stat.S_ISLNK(st.st_mode):
            self.add_symlink(dest, os.readlink(source), uid=uid, gid=gid, mtime=when)
        elif stat.S_ISREG(st.st_mode):
            info = self._info(dest, tarfile.REGTYPE, st.st_mode, uid=uid, gid=gid, mtime=when)
            info.size = st.st_size
            with source.open("rb") as f:
                self._tar.addfile(info, f)
        # sockets, fifos and devices in a build context are skipped, as docker does

    def commit(self, content: ContentStore) -> BuiltLayer:
        """Compress into the content store; returns the layer's descriptor and diff id."""
        self._tar.close()
        self._spool.seek(0)
        diff = hashlib.sha256()
        with content.writer() as blob:
            with gzip.GzipFile(fileobj=_Sink(blob), mode="wb", mtime=0, compresslevel=6) as gz:
                for chunk in iter(lambda: self._spool.read(_CHUNK), b""):
                    diff.update(chunk)
                    gz.write(chunk)
            size = blob.written
            digest = blob.commit()
        self._spool.close()
        return BuiltLayer(Descriptor(OCI_LAYER_GZIP, digest, size), "sha256:" + diff.hexdigest())

    def close(self) -> None:
        self._tar.close()
        self._spool.close()

    def __enter__(self) -> LayerBuilder:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


class _Sink(io.RawIOBase):
    """A write-only file object over a BlobWriter, for GzipFile."""

    def __init__(self, blob: BlobWriter) -> None:
        self._blob = blob

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._blob.write(bytes(data))
        return len(data)
