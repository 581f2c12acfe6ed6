"""The control-plane join bundle: the cluster's certificates, encrypted with the join token.

Nodes that join the control plane need what the first node generated (the CAs and their keys, the
ServiceAccount signing key, the store's certificates), which no CSR can give them. kubeadm solves the
same problem with ``init --upload-certs``: the files travel encrypted with a key only the joining
admin holds. Here the first node serves the encrypted bundle over plain HTTP and the key is derived
from the join token; without the token the bundle is useless. Pure functions: no I/O but the tree.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MIN_TOKEN_LENGTH = 16
_NONCE = 12
_INFO = b"tinykube control-plane join bundle v1"


class BundleError(ValueError):
    """A bundle that cannot be opened: wrong token, damaged, or not a bundle."""


def _key(token: str) -> bytes:
    if len(token) < MIN_TOKEN_LENGTH:
        raise BundleError(f"join token too short: {len(token)} characters, at least {MIN_TOKEN_LENGTH}")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(token.encode())


def seal(directory: Path, token: str) -> bytes:
    """Every file under ``directory`` (relative paths, modes kept), tarred and AES-GCM-encrypted."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for path in sorted(p for p in directory.rglob("*") if p.is_file() and not p.is_symlink()):
            tar.add(path, arcname=str(path.relative_to(directory)), recursive=False)
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(_key(token)).encrypt(nonce, raw.getvalue(), _INFO)


def open_into(sealed: bytes, token: str, directory: Path) -> list[str]:
    """Decrypt ``sealed`` and write its files under ``directory`` (existing files are kept); returns their names."""
    try:
        plain = AESGCM(_key(token)).decrypt(sealed[:_NONCE], sealed[_NONCE:], _INFO)
    except (InvalidTag, ValueError) as exc:
        raise BundleError("cannot open the join bundle: wrong join token, or a damaged download") from exc
    written: list[str] = []
    directory.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(plain), mode="r:gz") as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            target = directory / member.name
            if directory.resolve() not in target.resolve().parents:
                raise BundleError(f"join bundle entry {member.name!r} points outside {directory}")
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None  # a regular file always has contents
            target.write_bytes(source.read())
            target.chmod(member.mode & 0o777)
            written.append(member.name)
    return written
