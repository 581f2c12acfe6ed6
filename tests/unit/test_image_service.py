import base64
import json
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from protos.cri import api_pb2 as cri
from runtime.images.compose import write_image
from runtime.images.errors import AuthenticationFailed
from runtime.images.layer import LayerBuilder
from runtime.images.oci import ImageConfig
from runtime.images.reference import parse
from runtime.images.registry import Credentials, RegistryHosts
from runtime.images.service import ImageServicer, credentials
from runtime.images.store import ImageStore

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="snapshots hold whiteout device nodes")


class Aborted(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(code, message)
        self.code, self.message = code, message


class Context:
    async def abort(self, code: grpc.StatusCode, message: str) -> None:
        raise Aborted(code, message)


@pytest.fixture
async def servicer(tmp_path: Path) -> AsyncIterator[ImageServicer]:
    store = ImageStore(tmp_path)
    for name, user in (("app:v1", "33:33"), ("pause:3.9", "nobody")):
        with LayerBuilder() as b:
            b.add_file("file", name.encode())
            layer = b.commit(store.content)
        store.commit(write_image(store.content, ImageConfig(cmd=["x"], user=user), [layer]), [parse(name)])
    servicer = ImageServicer(store, RegistryHosts())
    yield servicer
    await servicer.close()


def spec(image: str) -> cri.ImageSpec:
    return cri.ImageSpec(image=image)


async def test_list_and_status(servicer: ImageServicer):
    listed = (await servicer.ListImages(cri.ListImagesRequest(), Context())).images
    assert sorted(i.repo_tags[0] for i in listed) == ["docker.io/library/app:v1", "docker.io/library/pause:3.9"]
    app = next(i for i in listed if i.repo_tags == ["docker.io/library/app:v1"])
    assert app.uid.value == 33 and app.spec.image == app.id and not app.pinned and app.size > 0
    pause = next(i for i in listed if i is not app)
    assert pause.username == "nobody" and pause.pinned
    filtered = await servicer.ListImages(cri.ListImagesRequest(filter=cri.ImageFilter(image=spec("app:v1"))), Context())
    assert [i.id for i in filtered.images] == [app.id]
    status = await servicer.ImageStatus(cri.ImageStatusRequest(image=spec(app.id[7:19]), verbose=True), Context())
    assert status.image.id == app.id
    assert json.loads(status.info["info"])["config"]["config"]["User"] == "33:33"
    missing = await servicer.ImageStatus(cri.ImageStatusRequest(image=spec("nothing")), Context())
    assert not missing.HasField("image")


async def test_remove_is_idempotent_and_fs_info_shrinks(servicer: ImageServicer):
    before = (await servicer.ImageFsInfo(cri.ImageFsInfoRequest(), Context())).image_filesystems[0]
    assert before.fs_id.mountpoint == str(servicer.store.root) and before.used_bytes.value > 0
    await servicer.RemoveImage(cri.RemoveImageRequest(image=spec("app:v1")), Context())
    await servicer.RemoveImage(cri.RemoveImageRequest(image=spec("app:v1")), Context())
    after = (await servicer.ImageFsInfo(cri.ImageFsInfoRequest(), Context())).image_filesystems[0]
    assert after.inodes_used.value < before.inodes_used.value
    assert len((await servicer.ListImages(cri.ListImagesRequest(), Context())).images) == 1


@pytest.mark.parametrize(("image", "code", "text"), [
    ("Not A Ref", grpc.StatusCode.INVALID_ARGUMENT, "invalid image reference"),
    ("127.0.0.1:{port}/x:1", grpc.StatusCode.UNAVAILABLE, "cannot reach registry"),
])
async def test_pull_errors_map_to_grpc_codes(servicer: ImageServicer, image: str, code: grpc.StatusCode, text: str):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(Aborted) as caught:
        await servicer.PullImage(cri.PullImageRequest(image=spec(image.format(port=port))), Context())
    assert caught.value.code == code and text in caught.value.message


def test_auth_config_forms():
    assert credentials(cri.AuthConfig(username="u", password="p")) == Credentials("u", "p")
    assert credentials(cri.AuthConfig(auth=base64.b64encode(b"u:p:x").decode())) == Credentials("u", "p:x")
    assert credentials(cri.AuthConfig(registry_token="t")) == Credentials(registry_token="t")
    assert credentials(cri.AuthConfig()) is None
    with pytest.raises(AuthenticationFailed):
        credentials(cri.AuthConfig(auth="!!!"))
