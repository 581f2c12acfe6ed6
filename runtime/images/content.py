"""Blobs by digest: written to a temporary file, verified, then renamed into place.

A blob path therefore only ever holds content whose sha256 is its name; a failed or interrupted
write leaves at most a file under ``ingest/``, which the next store start removes (a live write
holds a lock on its file, so a second process opening the store leaves it alone).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from runtime.images.errors import DigestMismatch, ImageNotFound, UnsupportedMedia

_DIGEST = re.compile(r"sha256:([a-f0-9]{64})")


def sha256_digest(data: bytes) -> str:
    """The OCI digest of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def digest_hex(digest: str) -> str:
    """The hex part of a ``sha256:`` digest; other algorithms are refused, never trusted blindly."""
    match = _DIGEST.fullmatch(digest)
    if not match:
        raise UnsupportedMedia(f"unsupported digest {digest!r}: only sha256:<64 hex digits> is accepted")
    return match.group(1)


class BlobWriter:
    """Streams one blob to disk; ``commit()`` checks the digest (and size) before it becomes visible."""

    def __init__(self, store: ContentStore, expected: str | None, size: int | None = None) -> None:
        if expected is not None:
            digest_hex(expected)
        self._store = store
        self._expected = expected
        self._size = size
        fd, name = tempfile.mkstemp(dir=store.ingest_dir, prefix="blob-")
        fcntl.flock(fd, fcntl.LOCK_EX)  # marks the write as live for other processes sharing the store
        self._file = os.fdopen(fd, "wb")
        self._tmp = Path(name)
        self._hash = hashlib.sha256()
        self.written = 0

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self._hash.update(chunk)
        self.written += len(chunk)

    def commit(self) -> str:
        """Verify and move into place; returns the digest. On mismatch the data is deleted."""
        self._file.flush()
        os.fchmod(self._file.fileno(), 0o644)  # blobs are public content: registries and tools read them
        os.fsync(self._file.fileno())
        self._file.close()
        actual = "sha256:" + self._hash.hexdigest()
        try:
            if self._expected is not None and actual != self._expected:
                raise DigestMismatch(f"digest mismatch: expected {self._expected}, content has {actual}")
            if self._size is not None and self.written != self._size:
                raise DigestMismatch(f"size mismatch for {actual}: expected {self._size} bytes, got {self.written}")
            os.replace(self._tmp, self._store.path(actual))
        finally:
            self._tmp.unlink(missing_ok=True)
        return actual

    def abort(self) -> None:
        self._file.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if not self._file.closed:  # an error, or left without commit(): nothing is kept
            self.abort()


class ContentStore:
    """A directory of blobs named by their sha256 (``blobs/sha256/<hex>``), as an OCI layout keeps them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blob_dir = root / "blobs" / "sha256"
        self.ingest_dir = root / "ingest"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.ingest_dir.mkdir(parents=True, exist_ok=True)
        self._remove_abandoned_writes()

    def _remove_abandoned_writes(self) -> None:
        """Delete temporary files of interrupted writes: those no live writer holds a lock on."""
        for entry in self.ingest_dir.iterdir():
            try:
                fd = os.open(entry, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                entry.unlink(missing_ok=True)
            except BlockingIOError:
                pass
            finally:
                os.close(fd)

    def path(self, digest: str) -> Path:
        """Where the blob is (or would be); the name is checked, so no digest can point elsewhere."""
        return self.blob_dir / digest_hex(digest)

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError:
            raise ImageNotFound(f"blob {digest} not found in the content store") from None

    def read(self, digest: str) -> bytes:
        """The whole blob: for manifests and configs, which are small."""
        try:
            return self.path(digest).read_bytes()
        except FileNotFoundError:
            raise ImageNotFound(f"blob {digest} not found in the content store") from None

    def writer(self, expected: str | None = None, size: int | None = None) -> BlobWriter:
        """A streaming writer that verifies ``expected`` (and ``size``) on commit."""
        return BlobWriter(self, expected, size)

    def write(self, data: bytes, expected: str | None = None) -> str:
        """Store ``data`` (verified against ``expected`` if given); returns its digest."""
        with self.writer(expected, None) as w:
            w.write(data)
            return w.commit()

    def import_file(self, source: Path, expected: str | None = None) -> str:
        """Copy a file in (verifying ``expected`` if given); returns its digest."""
        with self.writer(expected) as w, source.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                w.write(chunk)
            return w.commit()

    def touch(self, digest: str) -> None:
        """Mark a blob as just used, so a concurrent ``ImageStore.prune`` leaves it to the pull reusing it."""
        with contextlib.suppress(FileNotFoundError):
            os.utime(self.path(digest))

    def recently_written(self, digest: str, seconds: float) -> bool:
        """Whether the blob was written or touched in the last ``seconds``."""
        try:
            return time.time() - self.path(digest).stat().st_mtime < seconds
        except FileNotFoundError:
            return False

    def delete(self, digest: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(digest).unlink()

    def digests(self) -> Iterator[str]:
        """Every stored blob's digest."""
        for entry in self.blob_dir.iterdir():
            if _DIGEST.fullmatch("sha256:" + entry.name):
                yield "sha256:" + entry.name

    def usage(self) -> tuple[int, int]:
        """(bytes, inodes) used by blobs, for ImageFsInfo."""
        total = count = 0
        for entry in self.blob_dir.iterdir():
            total += entry.stat().st_blocks * 512
            count += 1
        return total, count
