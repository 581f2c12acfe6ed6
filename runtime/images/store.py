"""The image store: names → images → content-addressed layer snapshots, on disk under one root.

Layout::

    ROOT/content/blobs/sha256/<hex>   manifests, configs and layer blobs (see content.py)
    ROOT/snapshots/<diff-id hex>/     one unpacked layer, an overlayfs lowerdir shared by every image using it
    ROOT/snapshots/empty/             the lowerdir of an image without layers
    ROOT/images.json                  image records and names
    ROOT/leases/<holder>              one per lease: the layers a container's (or a build's) rootfs keeps
    ROOT/lock                         flock: shared by queries and lease writes, exclusive for other mutations,
                                      so the CLI and the daemon can share a root

Leases are files of their own, not entries in ``images.json``: every pod start takes two (sandbox and
container), and rewriting one file holding all of them made each start cost O(pods) with an fsync under the
exclusive lock, serialising every sandbox and container creation on the node. A lease file is written
(and fsynced) under the shared lock, so leases are taken in parallel while ``prune`` (exclusive) sees them all.

An image's id is its config digest, as containerd's CRI plugin and docker report it. A snapshot
stays while any image or lease (a container holding its rootfs) names it, which is the layer
refcount: removing one image never takes a layer that another image or a container still uses.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from process.log import get_logger
from runtime.images.content import ContentStore, digest_hex
from runtime.images.errors import BadReference, ImageError, ImageNotFound
from runtime.images.oci import ImageConfig, Index, Manifest, parse_manifest
from runtime.images.reference import Reference, image_id_of, parse
from runtime.images.unpack import unpack_layer

log = get_logger("runtime.images.store")

EMPTY_SNAPSHOT = "empty"
FRESH_BLOB_SECONDS = 600.0
_MIN_ID_PREFIX = 4


@dataclass
class ImageRecord:
    """What the store knows about one image (ImageStatus is built from this)."""

    id: str
    manifest_digest: str
    repo_tags: list[str] = field(default_factory=list)
    repo_digests: list[str] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)  # diff ids, bottom first
    size: int = 0
    created: float = 0.0
    last_used: float = 0.0


@dataclass(frozen=True)
class Rootfs:
    """What a container needs from its image: overlayfs lowerdirs and the image config.

    ``lowerdirs`` is topmost layer first, the order of overlayfs's ``lowerdir=`` option, so
    ``"lowerdir=" + ":".join(map(str, rootfs.lowerdirs))`` mounts the image.
    """

    image_id: str
    lowerdirs: list[Path]
    config: ImageConfig


@dataclass
class _Metadata:
    images: dict[str, ImageRecord] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # full reference -> image id
    leases: dict[str, list[str]] = field(default_factory=dict)  # written by older versions; moved to files


class ImageStore:
    """Image records, names and snapshots under ``root``; safe to use from several processes.

    ``fresh_blob_seconds``: unreferenced blobs younger than this survive ``prune``, since a pull or
    build running in another process may be about to reference them.
    """

    def __init__(self, root: Path, fresh_blob_seconds: float = FRESH_BLOB_SECONDS) -> None:
        self.root = root
        self.fresh_blob_seconds = fresh_blob_seconds
        root.mkdir(parents=True, exist_ok=True)
        self.content = ContentStore(root / "content")
        self.snapshot_dir = root / "snapshots"
        self.snapshot_dir.mkdir(exist_ok=True)
        (self.snapshot_dir / EMPTY_SNAPSHOT).mkdir(exist_ok=True)
        self._meta_path = root / "images.json"
        self._lock_path = root / "lock"
        self._lease_dir = root / "leases"
        self._lease_dir.mkdir(exist_ok=True)

    # ---- persistence -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[_Metadata]:
        """Hold the store lock and yield the metadata; it is written back if the block succeeds."""
        with self._lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            meta = self._load()
            before = self._dump(meta)
            for holder, layers in meta.leases.items():  # an older version's leases become files
                self._write_lease(holder, "", layers)
            meta.leases.clear()
            yield meta
            after = self._dump(meta)
            if after != before:
                tmp = self._meta_path.with_suffix(".tmp")
                with tmp.open("wb") as f:
                    f.write(after)
                    f.flush()
                    os.fsync(f.fileno())
                tmp.replace(self._meta_path)

    @contextlib.contextmanager
    def _reading(self) -> Iterator[_Metadata]:
        """The metadata under a shared lock, for queries: no copy to compare, nothing written back.

        A kubelet asks for image status on every pod sync; ``_locked`` serialised those and dumped the
        whole metadata (every container's lease included) twice per question.
        """
        with self._lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_SH)
            yield self._load()

    def _lease_path(self, holder: str) -> Path:
        if not holder or "/" in holder or holder.startswith("."):
            raise ValueError(f"invalid lease holder {holder!r}")
        return self._lease_dir / holder

    def _write_lease(self, holder: str, image_id: str, layers: Sequence[str]) -> None:
        """Write ``holder``'s lease durably (a crash must not let prune take a running container's layers)."""
        path = self._lease_path(holder)
        tmp = self._lease_dir / f".{holder}.tmp"
        with tmp.open("wb") as f:
            f.write(json.dumps({"image": image_id, "layers": list(layers)}).encode())
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)

    def _read_lease(self, holder: str) -> tuple[str, list[str]] | None:
        """(image id, diff ids) of ``holder``'s lease, or None."""
        try:
            raw = json.loads(self._lease_path(holder).read_bytes())
        except FileNotFoundError:
            return None
        except ValueError as err:
            raise ImageError(f"lease {holder} in {self._lease_dir} is corrupt: {err}") from None
        return str(raw.get("image", "")), [str(d) for d in raw.get("layers", [])]

    def _held_layers(self, meta: _Metadata) -> set[str]:
        """Every diff id some lease keeps (files, and an older version's entries not yet moved)."""
        held = {d for layers in meta.leases.values() for d in layers}
        with os.scandir(self._lease_dir) as entries:
            for entry in entries:
                if not entry.name.startswith("."):
                    lease = self._read_lease(entry.name)
                    held.update(lease[1] if lease is not None else ())
        return held

    def _load(self) -> _Metadata:
        try:
            raw = json.loads(self._meta_path.read_bytes())
        except FileNotFoundError:
            return _Metadata()
        except ValueError as err:
            raise ImageError(f"image store metadata {self._meta_path} is corrupt: {err}") from None
        return _Metadata({k: ImageRecord(**v) for k, v in raw.get("images", {}).items()},
                         dict(raw.get("names", {})), {k: list(v) for k, v in raw.get("leases", {}).items()})

    @staticmethod
    def _dump(meta: _Metadata) -> bytes:
        return json.dumps({"images": {k: asdict(v) for k, v in meta.images.items()}, "names": meta.names,
                           "leases": meta.leases}, sort_keys=True, indent=1).encode()

    def _snapshot(self, diff_id: str) -> Path:
        return self.snapshot_dir / digest_hex(diff_id)

    # ---- queries -----------------------------------------------------------------------------------

    def images(self) -> list[ImageRecord]:
        """Every image, newest first."""
        with self._reading() as meta:
            return sorted(meta.images.values(), key=lambda r: (-r.created, r.id))

    def get(self, text: str) -> ImageRecord:
        """An image by id, unique id prefix, or reference (short names allowed)."""
        with self._reading() as meta:
            return meta.images[self._resolve(meta, text)]

    def find(self, text: str) -> ImageRecord | None:
        """Like ``get``, but None for an image that is not stored."""
        try:
            return self.get(text)
        except ImageNotFound:
            return None

    def config(self, image: ImageRecord | str) -> ImageConfig:
        """The image's config (Entrypoint, Cmd, Env, WorkingDir, User, ...)."""
        record = self.get(image) if isinstance(image, str) else image
        return ImageConfig.from_bytes(self.content.read(record.id))

    def manifest(self, image: ImageRecord) -> Manifest:
        """The image's platform manifest, for its layer blobs."""
        parsed = parse_manifest(self.content.read(image.manifest_digest))
        if not isinstance(parsed, Manifest):
            raise ImageError(f"image {image.id}: stored manifest is an index")
        return parsed

    def _resolve(self, meta: _Metadata, text: str) -> str:
        return self._lookup(meta, text)[0]

    def _lookup(self, meta: _Metadata, text: str) -> tuple[str, Reference | None]:
        """The image id ``text`` names, and the reference when it named the image by name."""
        full_id = image_id_of(text)
        if full_id is not None and full_id in meta.images:
            return full_id, None
        bare = text.removeprefix("sha256:")
        if len(bare) >= _MIN_ID_PREFIX and all(c in "0123456789abcdef" for c in bare):
            matches = [i for i in meta.images if digest_hex(i).startswith(bare)]
            if len(matches) == 1:
                return matches[0], None
            if len(matches) > 1:
                raise ImageNotFound(f"image id prefix {text!r} is ambiguous")
        try:
            ref = parse(text)
        except BadReference:
            if full_id is not None:
                raise ImageNotFound(f"image {text} not found") from None
            raise
        image_id = meta.names.get(str(ref))
        if image_id is None and ref.digest is not None:
            image_id = meta.names.get(str(ref.with_digest(ref.digest)))
        if image_id is None or image_id not in meta.images:
            raise ImageNotFound(f"image {text!r} not found")
        return image_id, ref

    def rootfs(self, text: str) -> Rootfs:
        """The lowerdirs and config of an image, marking it used now (for LRU garbage collection)."""
        with self._locked() as meta:
            record = meta.images[self._resolve(meta, text)]
            record.last_used = time.time()
        return self._rootfs(record)

    def _rootfs(self, record: ImageRecord) -> Rootfs:
        lowerdirs: list[Path] = []
        for diff_id in reversed(record.layers):
            path = self._snapshot(diff_id)
            if path not in lowerdirs:  # a repeated layer adds nothing above its topmost copy
                lowerdirs.append(path)
        if not lowerdirs:
            lowerdirs.append(self.snapshot_dir / EMPTY_SNAPSHOT)
        for path in lowerdirs:
            if not path.is_dir():
                raise ImageError(f"image {record.id}: snapshot {path.name} is missing; pull the image again")
        return Rootfs(record.id, lowerdirs, self.config(record))

    def lease(self, holder: str, text: str) -> Rootfs:
        """Like ``rootfs``, and keep its snapshots until ``release(holder)``, even if the image is removed.

        The image counts as in use while leased; ``release`` marks it used then (for LRU collection).
        """
        with self._reading() as meta:
            record = meta.images[self._resolve(meta, text)]
            self._write_lease(holder, record.id, record.layers)
        return self._rootfs(record)

    def hold_layers(self, holder: str, layers: Sequence[tuple[str, str]]) -> list[Path]:
        """Snapshots for (blob digest, diff id) pairs not yet part of an image (a build's new layers).

        Unpacks the missing ones and adds them to ``holder``'s lease; returns their paths in order.
        """
        with self._locked():
            paths = []
            for blob, diff_id in layers:
                target = self._snapshot(diff_id)
                if not target.is_dir():
                    unpack_layer(self.content.path(blob), target, diff_id)
                paths.append(target)
            image_id, held = self._read_lease(holder) or ("", [])
            held.extend(d for _, d in layers if d not in held)
            self._write_lease(holder, image_id, held)
            return paths

    def release(self, holder: str) -> None:
        """Drop a lease; snapshots only it still held (their image was removed meanwhile) are pruned now."""
        with self._locked() as meta:
            lease = self._read_lease(holder)
            if lease is None:
                return
            image_id, layers = lease
            self._lease_path(holder).unlink()  # made durable by images.json's fsync below (one ext4 journal)
            if image_id in meta.images:
                meta.images[image_id].last_used = time.time()
            held = set(layers) - {d for r in meta.images.values() for d in r.layers}
            if held:  # only then are the other leases read
                held -= self._held_layers(meta)
        if held:  # the usual release frees nothing: a full prune walks every snapshot and blob
            self.prune()

    def in_use(self) -> set[str]:
        """Image ids whose every layer is held by some lease (images that running containers use)."""
        with self._reading() as meta:
            held = self._held_layers(meta)
            return {i for i, r in meta.images.items() if r.layers and set(r.layers) <= held}

    # ---- adding images -----------------------------------------------------------------------------

    def commit(self, manifest_digest: str, names: Sequence[Reference], repo_digests: Sequence[Reference] = ()
               ) -> ImageRecord:
        """Record the image whose manifest, config and layer blobs are in the content store.

        Unpacks missing snapshots (verifying each layer's diff id against the config), then points
        ``names`` at the image, moving them off any image they named before.
        """
        parsed = parse_manifest(self.content.read(manifest_digest))
        if isinstance(parsed, Index):
            raise ImageError(f"{manifest_digest} is an index; commit the platform manifest")
        config_bytes = self.content.read(parsed.config.digest)
        config = ImageConfig.from_bytes(config_bytes)
        if len(config.diff_ids) != len(parsed.layers):
            raise ImageError(f"image config lists {len(config.diff_ids)} diff ids for {len(parsed.layers)} layers")
        with self._locked() as meta:
            for desc, diff_id in zip(parsed.layers, config.diff_ids, strict=True):
                target = self._snapshot(diff_id)
                if not target.is_dir():
                    if not self.content.has(desc.digest):
                        raise ImageNotFound(f"layer {desc.digest} of {manifest_digest} is not in the content store")
                    unpack_layer(self.content.path(desc.digest), target, diff_id)
            image_id = parsed.config.digest
            now = time.time()
            record = meta.images.get(image_id) or ImageRecord(image_id, manifest_digest, created=now, last_used=now)
            record.manifest_digest = manifest_digest
            record.layers = list(config.diff_ids)
            record.size = parsed.config.size + sum(layer.size for layer in parsed.layers)
            meta.images[image_id] = record
            for ref in names:
                self._point(meta, str(ref.with_tag(ref.tag)) if ref.tag else str(ref), image_id)
            for ref in repo_digests:
                self._point(meta, str(ref), image_id)
            self._refresh_names(meta)
            log.info("image stored", image=image_id[:19], names=",".join(map(str, names)) or "<none>")
            return record

    def tag(self, source: str, dest: str) -> ImageRecord:
        """Give an existing image another name (``docker tag``)."""
        ref = parse(dest)
        if ref.tag is None:
            raise BadReference(f"cannot tag with a digest reference {dest!r}")
        with self._locked() as meta:
            image_id = self._resolve(meta, source)
            self._point(meta, str(ref), image_id)
            self._refresh_names(meta)
            return meta.images[image_id]

    @staticmethod
    def _point(meta: _Metadata, name: str, image_id: str) -> None:
        meta.names[name] = image_id

    @staticmethod
    def _refresh_names(meta: _Metadata) -> None:
        for record in meta.images.values():
            record.repo_tags, record.repo_digests = [], []
        for name, image_id in sorted(meta.names.items()):
            named = meta.images.get(image_id)
            if named is not None:
                (named.repo_digests if "@" in name else named.repo_tags).append(name)

    # ---- removing ----------------------------------------------------------------------------------

    def untag(self, text: str) -> tuple[str, bool]:
        """Remove one name (``docker rmi NAME``): the image goes too when no tag names it any more.

        Given an id, removes the image and all its names. Returns (image id, whether it was deleted).
        """
        with self._locked() as meta:
            image_id, ref = self._lookup(meta, text)
            if ref is not None:
                meta.names.pop(str(ref), None)
                self._refresh_names(meta)
                if meta.images[image_id].repo_tags:
                    return image_id, False
            self._drop(meta, image_id)
        self.prune()
        return image_id, True

    def remove(self, text: str) -> str:
        """Remove an image and every name pointing at it (CRI RemoveImage); snapshots in use stay."""
        with self._locked() as meta:
            image_id = self._resolve(meta, text)
            self._drop(meta, image_id)
        self.prune()
        return image_id

    @staticmethod
    def _drop(meta: _Metadata, image_id: str) -> None:
        meta.images.pop(image_id, None)
        for name in [n for n, i in meta.names.items() if i == image_id]:
            del meta.names[name]
        log.info("image removed", image=image_id[:19])

    def prune(self) -> None:
        """Delete snapshots and blobs no image or lease refers to (the refcount reaching zero)."""
        with self._locked() as meta:
            layers = {d for r in meta.images.values() for d in r.layers} | self._held_layers(meta)
            keep_snapshots = {digest_hex(d) for d in layers} | {EMPTY_SNAPSHOT}
            for entry in self.snapshot_dir.iterdir():
                # Unpacking happens under this lock: an ``.unpack-*`` dir seen here is an interrupted one.
                if entry.name not in keep_snapshots:
                    _remove_snapshot(entry)
            keep_blobs: set[str] = set()
            for record in meta.images.values():
                keep_blobs.add(record.manifest_digest)
                keep_blobs.add(record.id)
                with contextlib.suppress(ImageError):
                    keep_blobs.update(d.digest for d in self.manifest(record).layers)
            for digest in list(self.content.digests()):
                # A fresh blob may belong to a pull or build that has not committed its image yet.
                if digest not in keep_blobs and not self.content.recently_written(digest, self.fresh_blob_seconds):
                    self.content.delete(digest)

    def collect(self, limit_bytes: int, keep: set[str] | None = None) -> list[str]:
        """Remove least recently used images until the store uses at most ``limit_bytes``.

        Images in ``keep`` and images a lease holds are never removed. Returns the removed ids,
        oldest use first.
        """
        protected = set(keep or ()) | self.in_use()
        removed: list[str] = []
        while self.usage()[0] > limit_bytes:
            candidates = [r for r in self.images() if r.id not in protected]
            if not candidates:
                log.warning("image garbage collection cannot free more", limit=limit_bytes)
                break
            victim = min(candidates, key=lambda r: (r.last_used, r.id))
            self.remove(victim.id)
            removed.append(victim.id)
        return removed

    def collect_to_disk_threshold(self, high_percent: int, low_percent: int, keep: set[str] | None = None) -> list[str]:
        """kubelet's image GC policy: above ``high_percent`` of the filesystem used, free down to ``low_percent``."""
        fs = os.statvfs(self.root)
        capacity = fs.f_blocks * fs.f_frsize
        used = capacity - fs.f_bavail * fs.f_frsize
        if used * 100 < high_percent * capacity:
            return []
        to_free = used - capacity * low_percent // 100
        return self.collect(max(0, self.usage()[0] - to_free), keep)

    def usage(self) -> tuple[int, int]:
        """(bytes, inodes) the store occupies on disk: blobs, snapshots and metadata (ImageFsInfo)."""
        used, inodes = self.content.usage()
        for dirpath, dirnames, filenames in os.walk(self.snapshot_dir):
            for name in dirnames + filenames:
                with contextlib.suppress(FileNotFoundError):
                    used += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
                    inodes += 1
            del dirpath
        return used, inodes


def _remove_snapshot(path: Path) -> None:
    def force(func: Any, p: str, exc: Any) -> None:
        # Layers may contain read-only directories; make the parent writable and retry once.
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(p), 0o700)
            func(p)

    shutil.rmtree(path, onerror=force)
