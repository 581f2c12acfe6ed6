"""Images in and out of files: ``docker save`` tarballs and OCI image layouts (directories or tars).

Export writes one format that is both: an OCI layout (``oci-layout``, ``index.json``,
``blobs/sha256/``) with docker's ``manifest.json`` beside it, as ``docker save`` does since
Docker 25. Import reads either, from a directory or a tar, taking each file by name from the
archive instead of extracting it, so a hostile archive cannot write anywhere.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from process.log import get_logger
from runtime.images.content import ContentStore, digest_hex
from runtime.images.errors import BadReference, ImageError, ImageNotFound
from runtime.images.oci import (
    DOCKER_LAYER_GZIP,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    REF_NAME_ANNOTATION,
    Descriptor,
    Index,
    Manifest,
    canonical_json,
    parse_manifest,
    select_platform,
)
from runtime.images.reference import Reference, parse
from runtime.images.store import ImageRecord, ImageStore

log = get_logger("runtime.images.archive")

CONTAINERD_NAME_ANNOTATION = "io.containerd.image.name"
LAYOUT_MARKER = canonical_json({"imageLayoutVersion": "1.0.0"})
_CHUNK = 1 << 20
_MAX_JSON = 16 << 20


class _Source(Protocol):
    def open(self, name: str) -> BinaryIO: ...

    def exists(self, name: str) -> bool: ...


class _DirSource:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, name: str) -> Path:
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ImageError(f"{self.root}: {name!r} points outside the layout")
        return path

    def open(self, name: str) -> BinaryIO:
        try:
            return self._path(name).open("rb")
        except (FileNotFoundError, IsADirectoryError):
            raise ImageNotFound(f"{self.root}: {name} is missing") from None

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()


class _TarSource:
    def __init__(self, archive: tarfile.TarFile, label: str) -> None:
        self.archive = archive
        self.label = label
        self.members = {m.name.removeprefix("./"): m for m in archive.getmembers() if m.isfile()}

    def open(self, name: str) -> BinaryIO:
        member = self.members.get(name.removeprefix("./"))
        stream = self.archive.extractfile(member) if member is not None else None
        if stream is None:
            raise ImageNotFound(f"{self.label}: {name} is missing from the archive")
        return stream  # type: ignore[return-value]

    def exists(self, name: str) -> bool:
        return name.removeprefix("./") in self.members


def _read_json(source: _Source, name: str) -> Any:
    with source.open(name) as f:
        data = f.read(_MAX_JSON + 1)
    if len(data) > _MAX_JSON:
        raise ImageError(f"{name} is larger than {_MAX_JSON} bytes")
    try:
        return json.loads(data)
    except ValueError as err:
        raise ImageError(f"{name} is not valid JSON: {err}") from None


def _copy_blob(source: _Source, name: str, content: ContentStore, expected: str | None) -> str:
    if expected is not None and content.has(expected):
        return expected
    with source.open(name) as f, content.writer(expected) as blob:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            blob.write(chunk)
        return blob.commit()


# ---- import ---------------------------------------------------------------------------------------

def import_images(path: Path, store: ImageStore, name: Reference | None = None) -> list[ImageRecord]:
    """Import every image of a docker-save tar, an OCI layout directory or an OCI layout tar.

    ``name`` tags an image the archive leaves unnamed (or names only by tag, as umoci does).
    """
    if path.is_dir():
        return _import_source(_DirSource(path), str(path), store, name)
    try:
        archive = tarfile.open(path, "r:*")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise ImageNotFound(f"{path}: no such file or directory") from None
    except tarfile.TarError as err:
        raise ImageError(f"{path} is neither a tar archive nor an OCI layout directory: {err}") from None
    with archive:
        return _import_source(_TarSource(archive, str(path)), str(path), store, name)


def _import_source(source: _Source, label: str, store: ImageStore, name: Reference | None) -> list[ImageRecord]:
    if source.exists("index.json"):
        return _import_oci(source, store, name)
    if source.exists("manifest.json"):
        return _import_docker(source, store, name)
    raise ImageError(f"{label} has neither index.json (OCI layout) nor manifest.json (docker save)")


def _import_oci(source: _Source, store: ImageStore, name: Reference | None) -> list[ImageRecord]:
    index = parse_manifest(json.dumps(_read_json(source, "index.json")).encode())
    if not isinstance(index, Index):
        raise ImageError("index.json is not an OCI index")
    records = []
    for desc in index.manifests:
        names = _names_of(desc, name)
        manifest_digest = _import_manifest(source, store.content, desc)
        records.append(store.commit(manifest_digest, names))
    return records


def _import_manifest(source: _Source, content: ContentStore, desc: Descriptor) -> str:
    """Copy a manifest (descending into a nested index for linux/amd64) and its blobs; returns its digest."""
    digest = _copy_blob(source, f"blobs/sha256/{digest_hex(desc.digest)}", content, desc.digest)
    parsed = parse_manifest(content.read(digest))
    if isinstance(parsed, Index):
        return _import_manifest(source, content, select_platform(parsed))
    for blob in (parsed.config, *parsed.layers):
        _copy_blob(source, f"blobs/sha256/{digest_hex(blob.digest)}", content, blob.digest)
    return digest


def _names_of(desc: Descriptor, fallback: Reference | None) -> list[Reference]:
    notes = desc.annotations or {}
    full = notes.get(CONTAINERD_NAME_ANNOTATION)
    if full:
        return [parse(full)]
    short = notes.get(REF_NAME_ANNOTATION, "")
    if short and ("/" in short or ":" in short):
        with contextlib.suppress(BadReference):
            return [parse(short)]
    if fallback is not None:
        return [fallback.with_tag(short) if short else fallback]
    return []


def _import_docker(source: _Source, store: ImageStore, name: Reference | None) -> list[ImageRecord]:
    entries = _read_json(source, "manifest.json")
    if not isinstance(entries, list):
        raise ImageError("manifest.json is not a list")
    records = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str) \
                or not isinstance(entry.get("Layers"), list):
            raise ImageError("manifest.json entry needs Config and Layers")
        config_digest = _copy_blob(source, entry["Config"], store.content, None)
        layers = []
        for layer_name in entry["Layers"]:
            digest = _copy_blob(source, str(layer_name), store.content, None)
            with store.content.path(digest).open("rb") as f:
                gzipped = f.read(2) == b"\x1f\x8b"
            layers.append(Descriptor(DOCKER_LAYER_GZIP if gzipped else OCI_LAYER, digest, store.content.size(digest)))
        manifest = Manifest(OCI_MANIFEST, Descriptor(OCI_CONFIG, config_digest, store.content.size(config_digest)),
                            tuple(layers))
        manifest_digest = store.content.write(manifest.to_bytes())
        names = [parse(tag) for tag in entry.get("RepoTags") or []]
        records.append(store.commit(manifest_digest, names or ([name] if name else [])))
    return records


# ---- export ---------------------------------------------------------------------------------------

class _Sink(Protocol):
    def add(self, name: str, data: bytes | Path) -> None: ...


class _TarSink:
    def __init__(self, archive: tarfile.TarFile) -> None:
        self.archive = archive
        self.dirs: set[str] = set()

    def add(self, name: str, data: bytes | Path) -> None:
        parts = name.split("/")
        for i in range(1, len(parts)):
            directory = "/".join(parts[:i])
            if directory not in self.dirs:
                self.dirs.add(directory)
                info = tarfile.TarInfo(directory)
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                self.archive.addfile(info)
        info = tarfile.TarInfo(name)
        info.mode = 0o644
        if isinstance(data, bytes):
            info.size = len(data)
            self.archive.addfile(info, io.BytesIO(data))
        else:
            info.size = data.stat().st_size
            with data.open("rb") as f:
                self.archive.addfile(info, f)


class _DirSink:
    def __init__(self, root: Path) -> None:
        self.root = root

    def add(self, name: str, data: bytes | Path) -> None:
        target = self.root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            target.write_bytes(data)
        elif not target.exists():
            with data.open("rb") as src, target.open("wb") as dst:
                for chunk in iter(lambda: src.read(_CHUNK), b""):
                    dst.write(chunk)


def _records(store: ImageStore, refs: Sequence[str]) -> Iterator[tuple[ImageRecord, list[Reference]]]:
    for text in refs:
        record = store.get(text)
        named = [r for r in record.repo_tags if r == str(_try_parse(text))] or record.repo_tags
        yield record, [parse(t) for t in named]


def _try_parse(text: str) -> Reference | None:
    try:
        return parse(text)
    except BadReference:
        return None


def _write(store: ImageStore, refs: Sequence[str], sink: _Sink) -> None:
    index: list[tuple[Descriptor, Reference | None]] = []
    docker: list[dict[str, Any]] = []
    written: set[str] = set()
    for record, names in _records(store, refs):
        manifest = store.manifest(record)
        for digest in (record.manifest_digest, manifest.config.digest, *(d.digest for d in manifest.layers)):
            if digest not in written:
                written.add(digest)
                sink.add(f"blobs/sha256/{digest_hex(digest)}", store.content.path(digest))
        size = store.content.size(record.manifest_digest)
        refs_or_none: list[Reference | None] = list(names) or [None]
        for ref in refs_or_none:
            index.append((Descriptor(manifest.media_type, record.manifest_digest, size), ref))
        docker.append({"Config": f"blobs/sha256/{digest_hex(manifest.config.digest)}",
                       "RepoTags": [r.familiar() for r in names],
                       "Layers": [f"blobs/sha256/{digest_hex(d.digest)}" for d in manifest.layers]})
    sink.add("oci-layout", LAYOUT_MARKER)
    sink.add("index.json", layout_index(index))
    sink.add("manifest.json", canonical_json(docker))


def layout_index(entries: Sequence[tuple[Descriptor, Reference | None]]) -> bytes:
    """An OCI layout's index.json, naming each manifest the ways skopeo, umoci and containerd read."""
    manifests = []
    for desc, ref in entries:
        notes = {REF_NAME_ANNOTATION: ref.familiar(), CONTAINERD_NAME_ANNOTATION: str(ref)} if ref else None
        manifests.append(Descriptor(desc.media_type, desc.digest, desc.size, None, notes).to_json())
    return canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})


def export_archive(store: ImageStore, refs: Sequence[str], out: Path) -> None:
    """Write ``refs`` to the tar ``out`` (docker-save and OCI layout at once); atomic: all or nothing."""
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}-")
    try:
        with os.fdopen(fd, "wb") as f, tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as archive:
            _write(store, refs, _TarSink(archive))
        os.replace(tmp_name, out)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
    log.info("exported", images=",".join(refs), file=str(out))


def export_layout(store: ImageStore, refs: Sequence[str], out: Path) -> None:
    """Write ``refs`` as an OCI layout directory at ``out``; an existing layout's index.json is replaced."""
    out.mkdir(parents=True, exist_ok=True)
    _write(store, refs, _DirSink(out))

