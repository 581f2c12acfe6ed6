"""Encryption at rest: EncryptionConfiguration parsing, Kubernetes' value prefixes, rotation order, failures."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from apiserver import encryption
from apiserver.encryption import ConfigError, TransformError

KEY = "/registry/secrets/default/s1"
PLAIN = b'{"kind":"Secret","data":{"password":"aHVudGVyMg=="}}'


def secret(n: int, size: int = 32) -> str:
    return base64.b64encode(bytes([n]) * size).decode()


def doc(*providers: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": [{"resources": ["secrets"], "providers": list(providers)}],
    }


def config(*providers: dict[str, Any]) -> encryption.Transformer:
    return encryption.parse(doc(*providers))


def aes(kind: str, *names: str, seed: int = 1) -> dict[str, Any]:
    """A provider whose keys are named `names`; the same `seed` gives the same key material."""
    return {kind: {"keys": [{"name": n, "secret": secret(seed + i)} for i, n in enumerate(names)]}}


@pytest.mark.parametrize("kind", ["aesgcm", "aescbc"])
def test_round_trip_writes_kubernetes_prefix_and_no_plaintext(kind: str) -> None:
    t = config(aes(kind, "key1"), {"identity": {}})
    stored = t.to_store(KEY, PLAIN)
    assert stored.startswith(f"k8s:enc:{kind}:v1:key1:".encode())
    assert b"hunter" not in stored and b"aHVudGVyMg" not in stored and b"Secret" not in stored
    assert t.to_store(KEY, PLAIN) != stored  # a fresh nonce / IV per write
    read = t.from_store(KEY, stored)
    assert read.data == PLAIN and not read.stale


def test_other_resources_pass_through_untouched() -> None:
    t = config(aes("aesgcm", "key1"))
    assert t.to_store("/registry/configmaps/default/c", PLAIN) == PLAIN
    assert t.from_store("/registry/configmaps/default/c", PLAIN).data == PLAIN
    assert t.covers(KEY) and not t.covers("/registry/secretsx/default/s") and not t.covers("/registry/pods/a/b")


def test_group_resources_and_wildcards_map_to_store_prefixes() -> None:
    assert encryption.storage_prefix("secrets") == "/registry/secrets/"
    assert encryption.storage_prefix("deployments.apps") == "/registry/apps/deployments/"
    assert encryption.storage_prefix("*.apps") == "/registry/apps/"
    assert encryption.storage_prefix("*.*") == "/registry/"
    with pytest.raises(ConfigError, match="core-group wildcard"):
        encryption.storage_prefix("*.")


def test_rotation_new_key_first_reads_old_values_as_stale_and_writes_new() -> None:
    old = config(aes("aesgcm", "key1"), {"identity": {}})
    written_old = old.to_store(KEY, PLAIN)
    # key2 (new material) first; key1 keeps its material (seed 1), so old values still read.
    rotated = config(
        {"aesgcm": {"keys": [{"name": "key2", "secret": secret(9)}, {"name": "key1", "secret": secret(1)}]}},
        {"identity": {}},
    )
    read = rotated.from_store(KEY, written_old)
    assert read.data == PLAIN and read.stale
    rewritten = rotated.to_store(KEY, read.data)
    assert rewritten.startswith(b"k8s:enc:aesgcm:v1:key2:")
    assert not rotated.from_store(KEY, rewritten).stale
    # Plaintext written before encryption was turned on reads through the trailing identity, as stale.
    legacy = rotated.from_store(KEY, PLAIN)
    assert legacy.data == PLAIN and legacy.stale


def test_wrong_key_fails_cleanly_naming_the_key() -> None:
    stored = config(aes("aesgcm", "key1")).to_store(KEY, PLAIN)
    impostor = config(aes("aesgcm", "key1", seed=7))
    with pytest.raises(TransformError, match=f'unable to transform key "{KEY}": cipher: message authentication failed'):
        impostor.from_store(KEY, stored)
    cbc = config(aes("aescbc", "key1")).to_store(KEY, PLAIN)
    wrong_cbc = config(aes("aescbc", "key1", seed=7))
    with pytest.raises(TransformError, match="PKCS7"):
        wrong_cbc.from_store(KEY, cbc)


def test_value_moved_to_another_key_does_not_decrypt() -> None:
    t = config(aes("aesgcm", "key1"))
    stored = t.to_store(KEY, PLAIN)
    with pytest.raises(TransformError, match="authentication failed"):
        t.from_store("/registry/secrets/default/other", stored)


def test_unknown_key_name_and_encrypted_data_without_a_provider() -> None:
    stored = config(aes("aesgcm", "key1")).to_store(KEY, PLAIN)
    with pytest.raises(TransformError, match="identity transformer tried to read encrypted data"):
        config(aes("aesgcm", "key2"), {"identity": {}}).from_store(KEY, stored)
    with pytest.raises(TransformError, match="no matching prefix found"):
        config(aes("aesgcm", "key2")).from_store(KEY, stored)
    with pytest.raises(TransformError, match="identity transformer"):
        encryption.PLAINTEXT.from_store(KEY, stored)
    with pytest.raises(TransformError, match="shorter"):
        config(aes("aesgcm", "key1")).from_store(KEY, b"k8s:enc:aesgcm:v1:key1:abc")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"kind": "Other"}, "kind: must be EncryptionConfiguration"),
        ({**doc({"identity": {}}), "apiVersion": "v1"}, "apiVersion"),
        ({**doc({"identity": {}}), "resources": []}, "resources"),
        (doc({"aesgcm": {"keys": [{"name": "k", "secret": "c2hvcnQ="}]}}), "16, 24 or 32 bytes"),
        (doc({"aesgcm": {"keys": [{"name": "k", "secret": "!!"}]}}), "not valid base64"),
        (doc({"aesgcm": {"keys": [{"name": "a:b", "secret": secret(1)}]}}), "may not contain ':'"),
        (doc({"kms": {"name": "x"}}), "provider 'kms' is not supported"),
        (doc(), "at least one provider"),
    ],
)
def test_bad_configuration_is_refused_with_the_field(bad: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        encryption.parse(bad)
