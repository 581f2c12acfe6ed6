"""Pull/push against an in-process fake registry, for the paths docker-registry cannot show:
bearer tokens, manifest lists, corrupt blobs."""

import base64
import hashlib
import json
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from runtime.images.compose import write_image
from runtime.images.errors import (
    AuthenticationFailed,
    BadReference,
    DigestMismatch,
    ImageNotFound,
    RegistryUnreachable,
)
from runtime.images.layer import LayerBuilder
from runtime.images.oci import DOCKER_LIST, OCI_MANIFEST, ImageConfig
from runtime.images.reference import parse
from runtime.images.registry import Credentials, RegistryClient, RegistryHosts
from runtime.images.store import ImageStore

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="snapshots hold whiteout device nodes")


@dataclass
class FakeRegistry:
    auth: str = "none"  # none | basic | bearer
    users: dict[str, str] = field(default_factory=lambda: {"alice": "secret"})
    manifests: dict[tuple[str, str], tuple[bytes, str]] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    uploads: dict[str, bytearray] = field(default_factory=dict)
    blob_puts: int = 0
    tokens_issued: list[str] = field(default_factory=list)
    base: str = ""

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/token", self._token)
        app.router.add_route("*", "/v2/{repo:.+}/manifests/{ref}", self._manifest)
        app.router.add_route("*", "/v2/{repo:.+}/blobs/uploads/", self._start_upload)
        app.router.add_put("/v2/{repo:.+}/blobs/uploads/{id}", self._finish_upload)
        app.router.add_route("*", "/v2/{repo:.+}/blobs/{digest}", self._blob)
        return app

    def _user_ok(self, header: str) -> bool:
        if not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return self.users.get(user) == password

    @web.middleware
    async def _auth(self, request: web.Request, handler):
        if request.path == "/token" or self.auth == "none":
            return await handler(request)
        header = request.headers.get("Authorization", "")
        if self.auth == "basic" and self._user_ok(header):
            return await handler(request)
        if self.auth == "bearer" and header.removeprefix("Bearer ") in self.tokens_issued:
            return await handler(request)
        challenge = 'Basic realm="fake"' if self.auth == "basic" else \
            f'Bearer realm="{self.base}/token",service="fake",scope="repository:x:pull"'
        return web.json_response({"errors": [{"code": "UNAUTHORIZED", "message": "auth"}]}, status=401,
                                 headers={"WWW-Authenticate": challenge})

    async def _token(self, request: web.Request) -> web.Response:
        if "Authorization" in request.headers and not self._user_ok(request.headers["Authorization"]):
            return web.Response(status=401)
        token = f"tok-{len(self.tokens_issued)}-{request.query.get('scope')}"
        self.tokens_issued.append(token)
        return web.json_response({"token": token})

    async def _manifest(self, request: web.Request) -> web.Response:
        key = (request.match_info["repo"], request.match_info["ref"])
        if request.method == "PUT":
            data = await request.read()
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            for ref in (key[1], digest):
                self.manifests[(key[0], ref)] = (data, request.content_type)
            return web.Response(status=201, headers={"Docker-Content-Digest": digest})
        if key not in self.manifests:
            return web.json_response({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "unknown"}]}, status=404)
        data, media = self.manifests[key]
        return web.Response(body=data, content_type=media)

    async def _blob(self, request: web.Request) -> web.Response:
        digest = request.match_info["digest"]
        if digest not in self.blobs:
            return web.Response(status=404)
        return web.Response(body=b"" if request.method == "HEAD" else self.blobs[digest],
                            headers={"Content-Length": str(len(self.blobs[digest]))})

    async def _start_upload(self, request: web.Request) -> web.Response:
        upload = f"u{len(self.uploads)}"
        self.uploads[upload] = bytearray()
        return web.Response(status=202, headers={"Location": f"/v2/{request.match_info['repo']}/blobs/uploads/"
                                                             f"{upload}?_state=abc"})

    async def _finish_upload(self, request: web.Request) -> web.Response:
        data = await request.read()
        digest = request.query["digest"]
        assert request.query["_state"] == "abc"
        assert "sha256:" + hashlib.sha256(data).hexdigest() == digest
        self.blobs[digest] = data
        self.blob_puts += 1
        return web.Response(status=201)

    def publish(self, store: ImageStore, image: str, repo: str, tag: str) -> str:
        record = store.get(image)
        manifest = store.manifest(record)
        for desc in (manifest.config, *manifest.layers):
            self.blobs[desc.digest] = store.content.read(desc.digest)
        data = store.content.read(record.manifest_digest)
        self.manifests[(repo, tag)] = self.manifests[(repo, record.manifest_digest)] = (data, OCI_MANIFEST)
        return record.manifest_digest


@pytest.fixture
async def registry() -> AsyncIterator[FakeRegistry]:
    fake = FakeRegistry()
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    fake.base = f"http://127.0.0.1:{server.port}"
    yield fake
    await server.close()


@pytest.fixture
async def client() -> AsyncIterator[RegistryClient]:
    async with RegistryClient(RegistryHosts(), timeout=5) as c:
        yield c


def make_image(store: ImageStore, name: str, text: str) -> None:
    with LayerBuilder() as b:
        b.add_dir("etc")
        b.add_file("etc/hello", text.encode())
        layer = b.commit(store.content)
    store.commit(write_image(store.content, ImageConfig(cmd=["cat", "/etc/hello"]), [layer]), [parse(name)])


def ref_on(registry: FakeRegistry, path: str) -> str:
    return f"{registry.base.removeprefix('http://')}/{path}"


@pytest.fixture
def source(tmp_path: Path) -> ImageStore:
    store = ImageStore(tmp_path / "source")
    make_image(store, "app:v1", "v1")
    return store


async def test_pull_with_an_anonymous_bearer_token(tmp_path, registry, client, source):
    registry.auth = "bearer"
    digest = registry.publish(source, "app:v1", "team/app", "v1")
    store = ImageStore(tmp_path / "dest")
    record = await client.pull(parse(ref_on(registry, "team/app:v1")), store)
    assert record.id == source.get("app:v1").id
    assert record.repo_digests == [ref_on(registry, f"team/app@{digest}")]
    assert (store.rootfs(ref_on(registry, "team/app:v1")).lowerdirs[0] / "etc/hello").read_text() == "v1"
    assert registry.tokens_issued == ["tok-0-repository:team/app:pull"]


async def test_pull_by_digest_records_no_tag(tmp_path, registry, client, source):
    digest = registry.publish(source, "app:v1", "app", "v1")
    store = ImageStore(tmp_path / "dest")
    record = await client.pull(parse(ref_on(registry, f"app@{digest}")), store)
    assert record.repo_tags == []
    assert store.get(ref_on(registry, f"app@{digest}")).id == record.id


async def test_basic_auth_needs_the_right_credentials(tmp_path, registry, client, source):
    registry.auth = "basic"
    registry.publish(source, "app:v1", "app", "v1")
    store = ImageStore(tmp_path / "dest")
    ref = parse(ref_on(registry, "app:v1"))
    with pytest.raises(AuthenticationFailed, match="requires a username and password"):
        await client.pull(ref, store)
    with pytest.raises(AuthenticationFailed, match="refused our credentials"):
        await client.pull(ref, store, Credentials("alice", "wrong"))
    record = await client.pull(ref, store, Credentials.parse("alice:secret"))
    assert record.repo_tags == [str(ref)]


async def test_bearer_token_service_gets_the_credentials(tmp_path, registry, client, source):
    registry.auth = "bearer"
    registry.publish(source, "app:v1", "app", "v1")
    with pytest.raises(AuthenticationFailed, match=r"token service .* answered 401"):
        await client.pull(parse(ref_on(registry, "app:v1")), ImageStore(tmp_path / "d"), Credentials("alice", "no"))


async def test_an_index_resolves_to_linux_amd64(tmp_path, registry, client, source):
    digest = registry.publish(source, "app:v1", "app", "only-amd64")
    size = len(source.content.read(digest))
    index = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": "sha256:" + "1" * 64, "size": 1,
         "platform": {"os": "linux", "architecture": "arm64"}},
        {"mediaType": OCI_MANIFEST, "digest": digest, "size": size,
         "platform": {"os": "linux", "architecture": "amd64"}},
    ]}).encode()
    registry.manifests[("app", "multi")] = (index, DOCKER_LIST)
    store = ImageStore(tmp_path / "dest")
    record = await client.pull(parse(ref_on(registry, "app:multi")), store)
    assert record.manifest_digest == digest
    assert record.repo_digests == [ref_on(registry, "app@sha256:" + hashlib.sha256(index).hexdigest())]


async def test_a_corrupt_blob_is_a_digest_mismatch_and_leaves_nothing(tmp_path, registry, client, source):
    registry.publish(source, "app:v1", "app", "v1")
    layer = source.manifest(source.get("app:v1")).layers[0].digest
    good = registry.blobs[layer]
    registry.blobs[layer] = good[:20] + bytes([good[20] ^ 0xFF]) + good[21:]
    store = ImageStore(tmp_path / "dest")
    with pytest.raises(DigestMismatch, match="digest mismatch"):
        await client.pull(parse(ref_on(registry, "app:v1")), store)
    assert store.images() == []
    assert not store.content.has(layer)
    assert list(store.content.ingest_dir.iterdir()) == []
    assert sorted(p.name for p in store.snapshot_dir.iterdir()) == ["empty"]


async def test_missing_and_unreachable_are_told_apart(tmp_path, registry, client):
    store = ImageStore(tmp_path / "dest")
    with pytest.raises(ImageNotFound, match="MANIFEST_UNKNOWN"):
        await client.pull(parse(ref_on(registry, "nope:v1")), store)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    with pytest.raises(RegistryUnreachable, match=f"127.0.0.1:{closed}"):
        await client.pull(parse(f"127.0.0.1:{closed}/app:v1"), store)


async def test_docker_hub_names_resolve_through_a_mirror(tmp_path, registry, source):
    registry.publish(source, "app:v1", "busybox", "latest")
    hosts = RegistryHosts.from_flags([f"docker.io={registry.base}"])
    async with RegistryClient(hosts, timeout=5) as client:
        record = await client.pull(parse("busybox"), ImageStore(tmp_path / "dest"))
    assert record.repo_tags == ["docker.io/library/busybox:latest"]


async def test_push_uploads_each_blob_once(registry, client, source):
    registry.auth = "bearer"
    target = parse(ref_on(registry, "pushed/app:v2"))
    source.tag("app:v1", str(target))
    digest = await client.push(target, source)
    assert registry.blob_puts == 2
    assert registry.manifests[("pushed/app", "v2")][0] == source.content.read(digest)
    assert registry.tokens_issued == ["tok-0-repository:pushed/app:pull,push"]
    await client.push(target, source)
    assert registry.blob_puts == 2
    assert ref_on(registry, f"pushed/app@{digest}") in source.get("app:v1").repo_digests


def test_registry_hosts_choose_the_scheme_and_mirrors():
    hosts = RegistryHosts.from_flags(["docker.io=http://172.28.1.1:5000/", "index.docker.io=http://m2:5000"],
                                     ["172.28.1.1:5000"])
    assert hosts.endpoints("docker.io") == ["http://172.28.1.1:5000", "http://m2:5000", "https://registry-1.docker.io"]
    assert hosts.upstream("172.28.1.1:5000") == "http://172.28.1.1:5000"  # insecure: plain http
    assert hosts.upstream("127.0.0.1:5000") == "http://127.0.0.1:5000"  # loopback, as docker treats it
    assert hosts.upstream("[::1]:5000") == "http://[::1]:5000"
    assert hosts.upstream("quay.io") == "https://quay.io"
    with pytest.raises(BadReference, match="invalid registry mirror"):
        RegistryHosts.from_flags(["docker.io"])
