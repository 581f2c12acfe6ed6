"""Typed image errors, each with a message the CRI layer and the CLI can show as it is."""

from __future__ import annotations


class ImageError(Exception):
    """Base of every image failure; ``str(err)`` is a complete one-line message for the user."""


class BadReference(ImageError):
    """An image reference that does not parse (the user must fix the name)."""


class ImageNotFound(ImageError):
    """The image, manifest or blob does not exist locally or in the registry."""


class RegistryUnreachable(ImageError):
    """No endpoint of the registry answered (connection refused, DNS, TLS, timeout)."""


class RegistryError(ImageError):
    """The registry answered, but not as the distribution spec says (unexpected status or body)."""


class AuthenticationFailed(ImageError):
    """The registry refused our credentials or the token service did not issue a token."""


class DigestMismatch(ImageError):
    """Content whose sha256 is not the digest that names it; nothing of it is kept."""


class UnsupportedMedia(ImageError):
    """A manifest, layer compression or platform we do not handle."""


class UnsafeLayer(ImageError):
    """A layer entry that would write outside the snapshot or create a device node."""


class ImageInUse(ImageError):
    """Removal refused because a container still holds the image."""


class BuildError(ImageError):
    """A Dockerfile that cannot be built, with the line that failed."""


class UnpackError(ImageError):
    """A layer that could not be written to disk (full disk, permissions), with the entry and the cause."""
