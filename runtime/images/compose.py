"""Writing a new image's config and manifest to the content store, from layers already there."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runtime.images.content import ContentStore
from runtime.images.layer import BuiltLayer
from runtime.images.oci import OCI_CONFIG, OCI_MANIFEST, Descriptor, ImageConfig, Manifest


def write_image(content: ContentStore, config: ImageConfig, layers: Sequence[BuiltLayer],
                base_layers: Sequence[Descriptor] = (), history: list[dict[str, Any]] | None = None) -> str:
    """Store config and OCI manifest for ``base_layers`` + ``layers``; returns the manifest digest.

    ``config.diff_ids`` must already list the base image's diff ids; the new layers' are appended.
    """
    config.diff_ids = [*config.diff_ids, *(layer.diff_id for layer in layers)]
    config_bytes = config.to_bytes(history)
    config_digest = content.write(config_bytes)
    manifest = Manifest(OCI_MANIFEST, Descriptor(OCI_CONFIG, config_digest, len(config_bytes)),
                        (*base_layers, *(layer.descriptor for layer in layers)))
    return content.write(manifest.to_bytes())
