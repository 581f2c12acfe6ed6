"""Push and pull the default busybox image through Debian's docker-registry, with the ``tinykube image`` CLI."""

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from protos.cri import api_pb2 as cri
from protos.cri import api_pb2_grpc
from runtime.images.registry import RegistryHosts
from runtime.images.service import ImageServicer
from runtime.images.store import ImageStore
from tests.support.processes import Processes

BIN = Path(sys.executable).parent
pytestmark = [
    pytest.mark.skipif(shutil.which("docker-registry") is None, reason="needs Debian's docker-registry"),
    pytest.mark.skipif(not Path("/bin/busybox").exists(), reason="needs busybox-static"),
    pytest.mark.skipif(os.geteuid() != 0, reason="snapshots hold whiteout device nodes"),
]


def tinykube(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "tinykube"), "image", *argv], capture_output=True, text=True, timeout=120)


def ok(*argv: str) -> str:
    result = tinykube(*argv)
    assert result.returncode == 0, result.stderr
    return result.stdout


def start_registry(processes: Processes, tmp_path: Path, port: int, auth: str = "") -> str:
    config = tmp_path / f"registry-{port}.yml"
    config.write_text(f"version: 0.1\nlog: {{level: warn}}\n"
                      f"storage: {{filesystem: {{rootdirectory: {tmp_path / 'registry-data'}}}}}\n"
                      f"http: {{addr: 127.0.0.1:{port}}}\n{auth}")
    processes.start(f"registry-{port}", ["docker-registry", "serve", str(config)])
    deadline = time.monotonic() + 15
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
            break
        except urllib.error.HTTPError as err:
            if err.code == 401:
                break
            raise
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(processes.log(f"registry-{port}")) from None
            time.sleep(0.1)
    return f"127.0.0.1:{port}"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A store holding the default images, built and imported by the CLI as ``make setup`` builds them."""
    root = tmp_path / "source"
    ok("build-defaults", "--out", str(tmp_path / "layout"), "--import", "--root", str(root))
    return root


def test_push_then_pull_by_tag_and_by_digest(tmp_path: Path, port: Callable[[], int], processes: Processes,
                                             source: Path):
    registry = start_registry(processes, tmp_path, port())
    ok("--root", str(source), "tag", "busybox", f"{registry}/busybox:latest")
    pushed = ok("--root", str(source), "push", f"{registry}/busybox:latest")
    digest = pushed.split("digest: ")[1].split()[0]
    assert ok("--root", str(source), "push", f"{registry}/busybox:latest") == pushed  # blobs exist: nothing re-sent

    dest = tmp_path / "dest"
    assert ok("--root", str(dest), "pull", f"{registry}/busybox").splitlines() == [
        f"Digest: {digest}", f"{registry}/busybox:latest"]
    ok("--root", str(dest), "pull", f"{registry}/busybox@{digest}")
    ok("--root", str(dest), "--registry-mirror", f"docker.io=http://{registry}", "pull", "busybox")

    store = ImageStore(dest)
    original = ImageStore(source).get("busybox")
    for name in (f"{registry}/busybox:latest", f"{registry}/busybox@{digest}", "busybox"):
        assert store.get(name).id == original.id
    rootfs = store.rootfs("busybox")
    assert (rootfs.lowerdirs[0] / "bin/busybox").read_bytes() == Path("/bin/busybox").read_bytes()
    assert os.readlink(rootfs.lowerdirs[0] / "bin/sh") == "/bin/busybox"
    assert rootfs.config.cmd == ["sh"]
    listing = ok("--root", str(dest), "ls")
    assert f"{registry}/busybox" in listing and "busybox " in listing


def test_registry_errors_are_one_line(tmp_path: Path, port: Callable[[], int], processes: Processes):
    registry = start_registry(processes, tmp_path, port())
    root = str(tmp_path / "store")
    missing = tinykube("--root", root, "pull", f"{registry}/nothing:here")
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: image ") and "not found" in missing.stderr
    unreachable = tinykube("--root", root, "pull", f"127.0.0.1:{port()}/busybox")
    assert unreachable.returncode == 1 and "cannot reach registry" in unreachable.stderr
    bad = tinykube("--root", root, "pull", "busybox@sha256:nothex")
    assert bad.returncode == 1 and "invalid image reference" in bad.stderr
    for result in (missing, unreachable, bad):
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_basic_auth_with_htpasswd(tmp_path: Path, port: Callable[[], int], processes: Processes, source: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # noqa: PLC0415 - deprecated module, imported where its warning is silenced

        hashed = crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))  # bcrypt, cost 4
    (tmp_path / "htpasswd").write_text(f"alice:{hashed}\n")
    registry = start_registry(processes, tmp_path, port(),
                              f"auth: {{htpasswd: {{realm: tinykube, path: {tmp_path / 'htpasswd'}}}}}\n")
    ok("--root", str(source), "tag", "pause", f"{registry}/pause:1")
    refused = tinykube("--root", str(source), "push", f"{registry}/pause:1")
    assert refused.returncode == 1 and "requires a username and password" in refused.stderr
    ok("--root", str(source), "push", "--creds", "alice:s3cret", f"{registry}/pause:1")
    wrong = tinykube("--root", str(tmp_path / "dest"), "pull", "--creds", "alice:nope", f"{registry}/pause:1")
    assert wrong.returncode == 1 and "refused our credentials" in wrong.stderr
    ok("--root", str(tmp_path / "dest"), "pull", "--creds", "alice:s3cret", f"{registry}/pause:1")
    config = ImageStore(tmp_path / "dest").config(f"{registry}/pause:1")
    assert config.entrypoint[:2] == ["/bin/sh", "-c"] and "trap" in config.entrypoint[2]


async def test_cri_pull_through_a_mirror(tmp_path: Path, port: Callable[[], int], processes: Processes,
                                         source: Path):
    registry = start_registry(processes, tmp_path, port())
    ok("--root", str(source), "tag", "busybox", f"{registry}/busybox:latest")
    ok("--root", str(source), "push", f"{registry}/busybox:latest")
    servicer = ImageServicer(ImageStore(tmp_path / "runtime-images"),
                             RegistryHosts.from_flags([f"docker.io=http://{registry}"]))
    server = grpc.aio.server()
    api_pb2_grpc.add_ImageServiceServicer_to_server(servicer, server)
    sock = tmp_path / "cri.sock"
    server.add_insecure_port(f"unix://{sock}")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"unix://{sock}") as channel:
            stub = api_pb2_grpc.ImageServiceStub(channel)
            pulled = await stub.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image="busybox")))
            status = await stub.ImageStatus(cri.ImageStatusRequest(image=cri.ImageSpec(image="busybox:latest")))
            assert status.image.id == pulled.image_ref == ImageStore(source).get("busybox").id
            assert status.image.repo_tags == ["docker.io/library/busybox:latest"]
            with pytest.raises(grpc.aio.AioRpcError) as missing:
                await stub.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image="not-in-the-mirror")))
            assert missing.value.code() == grpc.StatusCode.NOT_FOUND
            assert "not-in-the-mirror" in (missing.value.details() or "")
    finally:
        await server.stop(None)
        await servicer.close()
