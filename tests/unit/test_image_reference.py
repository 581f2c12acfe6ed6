import pytest

from runtime.images.errors import BadReference
from runtime.images.reference import image_id_of, parse

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(("text", "full", "familiar"), [
    ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
    ("library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("me/app:v1", "docker.io/me/app:v1", "me/app:v1"),
    ("127.0.0.1:5000/busybox:1", "127.0.0.1:5000/busybox:1", "127.0.0.1:5000/busybox:1"),
    ("localhost/a/b/c", "localhost/a/b/c:latest", "localhost/a/b/c:latest"),
    ("registry.example.com/x", "registry.example.com/x:latest", "registry.example.com/x:latest"),
    ("localhost:5000/app", "localhost:5000/app:latest", "localhost:5000/app:latest"),
    (f"busybox@{DIGEST}", f"docker.io/library/busybox@{DIGEST}", f"busybox@{DIGEST}"),
    (f"host:5000/app:v2@{DIGEST}", f"host:5000/app:v2@{DIGEST}", f"host:5000/app:v2@{DIGEST}"),
])
def test_parse_normalises_like_docker(text, full, familiar):
    ref = parse(text)
    assert str(ref) == full
    assert ref.familiar() == familiar
    assert parse(full) == ref


def test_locator_prefers_the_digest():
    assert parse("host:5000/app:v2").locator == "v2"
    assert parse(f"host:5000/app:v2@{DIGEST}").locator == DIGEST
    ref = parse("127.0.0.1:5000/team/app:1")
    assert (ref.domain, ref.path, ref.tag) == ("127.0.0.1:5000", "team/app", "1")


@pytest.mark.parametrize(("text", "why"), [
    ("", "empty"),
    (" busybox", "spaces"),
    ("BusyBox", "lowercase"),
    ("busybox@sha256:abc", "digest"),
    ("busybox@md5:" + "a" * 32, "digest"),
    ("busybox:bad tag", "tag"),
    ("busybox:" + "x" * 200, "tag"),
    ("host:5000/", "no repository"),
    ("a//b", "path component"),
    ("-bad/x", "path component"),
])
def test_bad_references_say_what_is_wrong(text, why):
    with pytest.raises(BadReference, match=why):
        parse(text)


def test_image_ids_with_or_without_prefix():
    assert image_id_of("ab" * 32) == "sha256:" + "ab" * 32
    assert image_id_of("sha256:" + "ab" * 32) == "sha256:" + "ab" * 32
    assert image_id_of("busybox") is None
