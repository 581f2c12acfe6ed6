"""Encryption at rest: kube-apiserver's EncryptionConfiguration (apiserver.config.k8s.io/v1) over store values.

Per resource rule, the first provider encrypts every write and all providers decrypt, so a new key
listed first takes over writes while objects written under older keys still read (rotation). Stored
values carry Kubernetes' exact prefix, `k8s:enc:<provider>:v1:<key name>:`, then the nonce/IV and the
ciphertext; aesgcm authenticates the store key as additional data, so a value copied under another
key does not decrypt. A value read with any provider but the first is "stale": the apiserver writes it
again even when an update changes nothing, which is how `kubectl replace` re-encrypts with a new key.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import yaml
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENCRYPTED_MARK = b"k8s:enc:"
API_VERSIONS = frozenset({"apiserver.config.k8s.io/v1", "apiserver.config.k8s.io/v1beta1"})
AES_KEY_SIZES = frozenset({16, 24, 32})
GCM_NONCE = 12
CBC_BLOCK = 16


class ConfigError(ValueError):
    """The EncryptionConfiguration file is unusable; the message names the field."""


class TransformError(Exception):
    """A stored value cannot be decrypted (unknown key, wrong key, corrupt data)."""


class Provider(Protocol):
    """One key of one provider: a prefix it recognises and the two directions."""

    prefix: bytes

    def seal(self, data: bytes, context: bytes) -> bytes:
        """Ciphertext (without the prefix) for `data` stored under `context` (the store key)."""

    def open(self, data: bytes, context: bytes) -> bytes:
        """Plaintext of `data` (without the prefix); TransformError if it does not decrypt."""


class Identity:
    """No encryption: values are stored as they are; an encrypted value is never mistaken for one."""

    prefix = b""

    def seal(self, data: bytes, context: bytes) -> bytes:
        return data

    def open(self, data: bytes, context: bytes) -> bytes:
        if data.startswith(ENCRYPTED_MARK):
            raise TransformError("identity transformer tried to read encrypted data")
        return data


class AESGCMKey:
    """AES-GCM with a random 96-bit nonce per write and the store key as authenticated data."""

    def __init__(self, name: str, secret: bytes) -> None:
        self.prefix = f"k8s:enc:aesgcm:v1:{name}:".encode()
        self._aead = AESGCM(secret)

    def seal(self, data: bytes, context: bytes) -> bytes:
        nonce = os.urandom(GCM_NONCE)
        return nonce + self._aead.encrypt(nonce, data, context)

    def open(self, data: bytes, context: bytes) -> bytes:
        if len(data) < GCM_NONCE + 16:
            raise TransformError("the stored data was shorter than the required size")
        try:
            return self._aead.decrypt(data[:GCM_NONCE], data[GCM_NONCE:], context)
        except InvalidTag:
            raise TransformError("cipher: message authentication failed") from None


class AESCBCKey:
    """AES-CBC with a random IV and PKCS#7 padding (Kubernetes' aescbc; no authentication)."""

    def __init__(self, name: str, secret: bytes) -> None:
        self.prefix = f"k8s:enc:aescbc:v1:{name}:".encode()
        self._algorithm = algorithms.AES(secret)

    def seal(self, data: bytes, context: bytes) -> bytes:
        iv = os.urandom(CBC_BLOCK)
        padder = padding.PKCS7(CBC_BLOCK * 8).padder()
        padded = padder.update(data) + padder.finalize()
        enc = Cipher(self._algorithm, modes.CBC(iv)).encryptor()
        return iv + enc.update(padded) + enc.finalize()

    def open(self, data: bytes, context: bytes) -> bytes:
        if len(data) < 2 * CBC_BLOCK or len(data) % CBC_BLOCK:
            raise TransformError("the stored data is not a multiple of the block size")
        dec = Cipher(self._algorithm, modes.CBC(data[:CBC_BLOCK])).decryptor()
        padded = dec.update(data[CBC_BLOCK:]) + dec.finalize()
        unpadder = padding.PKCS7(CBC_BLOCK * 8).unpadder()
        try:
            return unpadder.update(padded) + unpadder.finalize()
        except ValueError:
            raise TransformError("invalid PKCS7 data (empty or not padded)") from None


@dataclass(frozen=True)
class Rule:
    """Store key prefixes (one per configured resource) and their providers, the writer first."""

    prefixes: tuple[str, ...]
    providers: tuple[Provider, ...]

    def matches(self, key: str) -> bool:
        return any(key.startswith(p) for p in self.prefixes)


@dataclass(frozen=True)
class Read:
    """A decrypted value and whether it was written with a provider other than the current writer."""

    data: bytes
    stale: bool


class Transformer:
    """Store values in and out for every key: the first rule whose resources cover the key decides."""

    def __init__(self, rules: Sequence[Rule] = ()) -> None:
        self.rules = tuple(rules)

    def _rule(self, key: str) -> Rule | None:
        return next((r for r in self.rules if r.matches(key)), None)

    def covers(self, key: str) -> bool:
        """Whether a rule of the configuration applies to `key` (otherwise values pass through untouched)."""
        return self._rule(key) is not None

    def to_store(self, key: str, data: bytes) -> bytes:
        """The value to store for `data` at `key`."""
        rule = self._rule(key)
        if rule is None:
            return data
        writer = rule.providers[0]
        return writer.prefix + writer.seal(data, key.encode())

    def from_store(self, key: str, value: bytes) -> Read:
        """The plaintext of a stored value; TransformError (naming the key) if no provider can read it."""
        rule = self._rule(key)
        providers: tuple[Provider, ...] = rule.providers if rule is not None else (Identity(),)
        for index, provider in enumerate(providers):
            if provider.prefix and value.startswith(provider.prefix):
                try:
                    return Read(provider.open(value[len(provider.prefix) :], key.encode()), index > 0)
                except TransformError as err:
                    raise TransformError(f'unable to transform key "{key}": {err}') from None
        for index, provider in enumerate(providers):
            if not provider.prefix:
                try:
                    return Read(provider.open(value, key.encode()), index > 0)
                except TransformError as err:
                    raise TransformError(f'unable to transform key "{key}": {err}') from None
        raise TransformError(f'unable to transform key "{key}": no matching prefix found')


PLAINTEXT = Transformer()
"""What an apiserver without --encryption-provider-config uses: every value as it is."""


def storage_prefix(resource: str) -> str:
    """The store prefix of `secrets` (core) or `deployments.apps` / `*.apps` / `*.*` (Kubernetes' names)."""
    if resource == "*.*":
        return "/registry/"
    plural, _, group = resource.partition(".")
    if plural == "*" and not group:
        raise ConfigError(f"resources: {resource!r}: the core-group wildcard '*.' is not supported; list them")
    if plural == "*":
        return f"/registry/{group}/"
    return f"/registry/{group}/{plural}/" if group else f"/registry/{plural}/"


def _aes_secret(path: str, entry: object) -> tuple[str, bytes]:
    if not isinstance(entry, dict) or not entry.get("name") or not entry.get("secret"):
        raise ConfigError(f"{path}: each key needs a name and a base64 secret")
    name = str(entry["name"])
    if ":" in name:
        raise ConfigError(f"{path}.name: {name!r} may not contain ':'")
    try:
        secret = base64.b64decode(str(entry["secret"]), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{path}.secret: not valid base64") from None
    if len(secret) not in AES_KEY_SIZES:
        raise ConfigError(f"{path}.secret: the key must be 16, 24 or 32 bytes long, not {len(secret)}")
    return name, secret


def _providers(path: str, spec: object) -> list[Provider]:
    if not isinstance(spec, list) or not spec:
        raise ConfigError(f"{path}: at least one provider is required")
    out: list[Provider] = []
    for i, item in enumerate(spec):
        where = f"{path}[{i}]"
        if not isinstance(item, dict) or len(item) != 1:
            raise ConfigError(f"{where}: exactly one provider type per entry")
        ((kind, body),) = item.items()
        if kind == "identity":
            out.append(Identity())
        elif kind in ("aesgcm", "aescbc"):
            keys = (body or {}).get("keys") if isinstance(body, dict) else None
            if not isinstance(keys, list) or not keys:
                raise ConfigError(f"{where}.{kind}.keys: at least one key is required")
            cls = AESGCMKey if kind == "aesgcm" else AESCBCKey
            for j, entry in enumerate(keys):
                out.append(cls(*_aes_secret(f"{where}.{kind}.keys[{j}]", entry)))
        else:
            raise ConfigError(f"{where}: provider {kind!r} is not supported (aesgcm, aescbc, identity)")
    return out


def parse(doc: object) -> Transformer:
    """A Transformer from a parsed EncryptionConfiguration."""
    if not isinstance(doc, dict) or doc.get("kind") != "EncryptionConfiguration":
        raise ConfigError("kind: must be EncryptionConfiguration")
    if doc.get("apiVersion") not in API_VERSIONS:
        raise ConfigError(f"apiVersion: {doc.get('apiVersion')!r} is not apiserver.config.k8s.io/v1")
    entries = doc.get("resources")
    if not isinstance(entries, list) or not entries:
        raise ConfigError("resources: at least one entry is required")
    rules: list[Rule] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ConfigError(f"resources[{i}]: must be an object")
        names = entry.get("resources")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            raise ConfigError(f"resources[{i}].resources: at least one resource name is required")
        prefixes = tuple(storage_prefix(n) for n in names)
        rules.append(Rule(prefixes, tuple(_providers(f"resources[{i}].providers", entry.get("providers")))))
    return Transformer(rules)


def load(path: Path) -> Transformer:
    """--encryption-provider-config: the file parsed; ConfigError saying what is wrong."""
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read {path}: {err}") from None
    return parse(doc)
