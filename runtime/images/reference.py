"""Docker/OCI image references: ``busybox`` is ``docker.io/library/busybox:latest``.

Follows the grammar of github.com/distribution/reference: a domain is the first path component
when it has a ``.`` or ``:`` or is ``localhost``; otherwise the image lives on Docker Hub, where
single-component names belong to ``library/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runtime.images.errors import BadReference

DEFAULT_DOMAIN = "docker.io"
DEFAULT_TAG = "latest"
_LEGACY_DOMAIN = "index.docker.io"

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN = re.compile(r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
                     r"(?::[0-9]+)?|\[[0-9a-fA-F:]+\](?::[0-9]+)?")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")
_IMAGE_ID = re.compile(r"(?:sha256:)?([a-f0-9]{64})")
_MAX_NAME = 255


@dataclass(frozen=True)
class Reference:
    """A fully qualified reference; ``tag`` is ``None`` only when a digest names the image."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """``domain/path``: the repository, without tag or digest."""
        return f"{self.domain}/{self.path}"

    @property
    def locator(self) -> str:
        """What to ask the registry's manifests endpoint for: the digest if known, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def with_tag(self, tag: str) -> Reference:
        """The same repository at ``tag``."""
        return Reference(self.domain, self.path, tag, None)

    def with_digest(self, digest: str) -> Reference:
        """The same repository pinned to ``digest`` (how repo digests are named)."""
        return Reference(self.domain, self.path, None, digest)

    def familiar(self) -> str:
        """The short form docker prints: ``busybox:latest``, ``127.0.0.1:5000/app:v1``."""
        path = self.path
        if self.domain == DEFAULT_DOMAIN:
            short = path.removeprefix("library/") if path.count("/") == 1 else path
        else:
            short = f"{self.domain}/{path}"
        return short + self._suffix()

    def _suffix(self) -> str:
        text = f":{self.tag}" if self.tag else ""
        return text + (f"@{self.digest}" if self.digest else "")

    def __str__(self) -> str:
        return self.name + self._suffix()


def parse(text: str) -> Reference:
    """Parse and normalise ``text``; a reference without tag or digest gets ``:latest``."""
    original = text
    if not text or text != text.strip():
        raise BadReference(f"invalid image reference {original!r}: empty or surrounded by spaces")
    digest: str | None = None
    if "@" in text:
        text, digest = text.rsplit("@", 1)
        if not _DIGEST.fullmatch(digest):
            raise BadReference(f"invalid image reference {original!r}: digest must be sha256:<64 hex digits>")
    tag: str | None = None
    slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > slash:
        text, tag = text[:colon], text[colon + 1:]
        if not _TAG.fullmatch(tag):
            raise BadReference(f"invalid image reference {original!r}: bad tag {tag!r}")
    domain, path = _split_domain(text, original)
    if len(f"{domain}/{path}") > _MAX_NAME:
        raise BadReference(f"invalid image reference {original!r}: name longer than {_MAX_NAME} characters")
    for component in path.split("/"):
        if not _COMPONENT.fullmatch(component):
            hint = " (repository names must be lowercase)" if component.lower() != component else ""
            raise BadReference(f"invalid image reference {original!r}: bad path component {component!r}{hint}")
    if tag is None and digest is None:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest)


def _split_domain(text: str, original: str) -> tuple[str, str]:
    first, sep, rest = text.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        if not _DOMAIN.fullmatch(first):
            raise BadReference(f"invalid image reference {original!r}: bad registry host {first!r}")
        domain, path = first, rest
    else:
        domain, path = DEFAULT_DOMAIN, text
    if domain == _LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if not path:
        raise BadReference(f"invalid image reference {original!r}: no repository name")
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = f"library/{path}"
    return domain, path


def image_id_of(text: str) -> str | None:
    """``sha256:<hex>`` when ``text`` is an image id (with or without the ``sha256:`` prefix), else None."""
    match = _IMAGE_ID.fullmatch(text)
    return f"sha256:{match.group(1)}" if match else None
