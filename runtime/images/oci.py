"""The OCI image data model: media types, descriptors, manifests, indexes and image configs.

Docker's v2 schema-2 types are accepted wherever their OCI equivalents are; schema 1 is refused.
JSON we did not write is validated here, so the rest of the package handles typed values only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from runtime.images.content import digest_hex
from runtime.images.errors import ImageError, UnsupportedMedia

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
LAYER_TYPES = (OCI_LAYER, OCI_LAYER_GZIP, DOCKER_LAYER_GZIP, OCI_LAYER_ZSTD, DOCKER_FOREIGN_LAYER)
ACCEPT = ", ".join((*MANIFEST_TYPES, *INDEX_TYPES))

# Annotation naming an image inside an OCI layout's index.json (as umoci, skopeo and buildkit write it).
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"


class MalformedManifest(ImageError):
    """A manifest, index or config that is not valid JSON of the expected shape."""


@dataclass(frozen=True)
class Descriptor:
    """A typed pointer to content: media type, digest and size (and a platform inside an index)."""

    media_type: str
    digest: str
    size: int
    platform: dict[str, str] | None = None
    annotations: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        """The descriptor as manifests and indexes spell it."""
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.platform:
            out["platform"] = self.platform
        if self.annotations:
            out["annotations"] = self.annotations
        return out

    @staticmethod
    def from_json(raw: Any, where: str) -> Descriptor:
        if not isinstance(raw, dict):
            raise MalformedManifest(f"{where}: descriptor is not an object")
        digest, size, media = raw.get("digest"), raw.get("size"), raw.get("mediaType", "")
        if not isinstance(digest, str) or not isinstance(size, int) or not isinstance(media, str) or size < 0:
            raise MalformedManifest(f"{where}: descriptor needs a string digest and a non-negative size")
        digest_hex(digest)
        platform = raw.get("platform")
        annotations = raw.get("annotations")
        return Descriptor(media, digest, size,
                          {str(k): str(v) for k, v in platform.items() if isinstance(v, str)}
                          if isinstance(platform, dict) else None,
                          {str(k): str(v) for k, v in annotations.items()} if isinstance(annotations, dict) else None)


@dataclass(frozen=True)
class Manifest:
    """An image manifest: one config and the layers, bottom first."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]

    def to_bytes(self) -> bytes:
        """The manifest as stored and pushed (canonical JSON, so its digest is stable)."""
        body = {"schemaVersion": 2, "mediaType": self.media_type, "config": self.config.to_json(),
                "layers": [layer.to_json() for layer in self.layers]}
        return canonical_json(body)


@dataclass(frozen=True)
class Index:
    """An OCI index or Docker manifest list: one manifest per platform."""

    media_type: str
    manifests: tuple[Descriptor, ...]


def canonical_json(value: Any) -> bytes:
    """Stable JSON bytes (sorted keys, no spaces), so what we write always has the same digest."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _load(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError) as err:
        raise MalformedManifest(f"{what} is not valid JSON: {err}") from None
    if not isinstance(value, dict):
        raise MalformedManifest(f"{what} is not a JSON object")
    return value


def parse_manifest(data: bytes, content_type: str = "") -> Manifest | Index:
    """Parse a manifest or index; the body's mediaType wins over the HTTP Content-Type."""
    raw = _load(data, "manifest")
    if raw.get("schemaVersion") == 1:
        raise UnsupportedMedia("Docker schema 1 manifests are not supported; push the image again with a v2 client")
    media = raw.get("mediaType") or content_type.split(";", maxsplit=1)[0].strip()
    if not media:
        media = OCI_INDEX if "manifests" in raw else OCI_MANIFEST
    if media in INDEX_TYPES:
        items = raw.get("manifests")
        if not isinstance(items, list):
            raise MalformedManifest("index has no manifests list")
        return Index(media, tuple(Descriptor.from_json(m, "index") for m in items))
    if media in MANIFEST_TYPES:
        layers = raw.get("layers")
        if not isinstance(layers, list):
            raise MalformedManifest("manifest has no layers list")
        parsed = tuple(Descriptor.from_json(layer, "manifest layer") for layer in layers)
        for layer in parsed:
            if layer.media_type not in LAYER_TYPES:
                raise UnsupportedMedia(f"unsupported layer media type {layer.media_type!r}")
        return Manifest(media, Descriptor.from_json(raw.get("config"), "manifest config"), parsed)
    raise UnsupportedMedia(f"unsupported manifest media type {media!r}")


def select_platform(index: Index, os: str = "linux", architecture: str = "amd64") -> Descriptor:
    """The manifest for ``os/architecture``; attestation entries (``unknown/unknown``) never match."""
    for desc in index.manifests:
        platform = desc.platform or {}
        if platform.get("os") == os and platform.get("architecture") == architecture \
                and desc.media_type in (*MANIFEST_TYPES, ""):
            return desc
    found = sorted({f"{(d.platform or {}).get('os')}/{(d.platform or {}).get('architecture')}"
                    for d in index.manifests})
    raise UnsupportedMedia(f"no manifest for platform {os}/{architecture} in the index (has: {', '.join(found)})")


@dataclass
class ImageConfig:
    """The runtime-relevant part of an image config, plus the whole document for rewriting."""

    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    working_dir: str = ""
    user: str = ""
    exposed_ports: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    volumes: list[str] = field(default_factory=list)
    stop_signal: str = ""
    healthcheck: dict[str, Any] | None = None
    diff_ids: list[str] = field(default_factory=list)
    os: str = "linux"
    architecture: str = "amd64"
    created: str = ""

    @staticmethod
    def from_bytes(data: bytes) -> ImageConfig:
        """Parse a config blob, validating the fields the runtime uses."""
        raw = _load(data, "image config")
        conf = raw.get("config") or {}
        rootfs = raw.get("rootfs") or {}
        if not isinstance(conf, dict) or not isinstance(rootfs, dict):
            raise MalformedManifest("image config: 'config' and 'rootfs' must be objects")
        diff_ids = rootfs.get("diff_ids") or []
        if not isinstance(diff_ids, list) or not all(isinstance(d, str) for d in diff_ids):
            raise MalformedManifest("image config: rootfs.diff_ids must be a list of digests")
        for d in diff_ids:
            digest_hex(d)
        health = conf.get("Healthcheck")
        return ImageConfig(
            entrypoint=_strings(conf.get("Entrypoint")), cmd=_strings(conf.get("Cmd")),
            env=_strings(conf.get("Env")), working_dir=str(conf.get("WorkingDir") or ""),
            user=str(conf.get("User") or ""), exposed_ports=sorted((conf.get("ExposedPorts") or {}).keys()),
            labels={str(k): str(v) for k, v in (conf.get("Labels") or {}).items()},
            volumes=sorted((conf.get("Volumes") or {}).keys()), stop_signal=str(conf.get("StopSignal") or ""),
            healthcheck=health if isinstance(health, dict) else None, diff_ids=list(diff_ids),
            os=str(raw.get("os") or "linux"), architecture=str(raw.get("architecture") or "amd64"),
            created=str(raw.get("created") or ""),
        )

    def to_bytes(self, history: list[dict[str, Any]] | None = None) -> bytes:
        """A config blob for a new image (canonical JSON)."""
        conf: dict[str, Any] = {}
        if self.entrypoint:
            conf["Entrypoint"] = self.entrypoint
        if self.cmd:
            conf["Cmd"] = self.cmd
        if self.env:
            conf["Env"] = self.env
        if self.working_dir:
            conf["WorkingDir"] = self.working_dir
        if self.user:
            conf["User"] = self.user
        if self.exposed_ports:
            conf["ExposedPorts"] = {p: {} for p in self.exposed_ports}
        if self.labels:
            conf["Labels"] = self.labels
        if self.volumes:
            conf["Volumes"] = {v: {} for v in self.volumes}
        if self.stop_signal:
            conf["StopSignal"] = self.stop_signal
        if self.healthcheck:
            conf["Healthcheck"] = self.healthcheck
        doc: dict[str, Any] = {"architecture": self.architecture, "os": self.os, "config": conf,
                               "rootfs": {"type": "layers", "diff_ids": self.diff_ids}}
        if self.created:
            doc["created"] = self.created
        if history:
            doc["history"] = history
        return canonical_json(doc)


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    raise MalformedManifest(f"image config: expected a list of strings, got {type(value).__name__}")
