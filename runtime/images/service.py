"""CRI v1 ImageService over grpc.aio: ListImages, ImageStatus, PullImage, RemoveImage, ImageFsInfo.

Store calls block (flock, unpacking), so they run in worker threads. Queries (status, lists) have threads
of their own, as the RuntimeService's do: a kubelet asks ImageStatus before every container start, and behind
a burst of sandbox creations in the shared pool that question waited seconds. Concurrent pulls of the same
reference share one download. Image errors become gRPC statuses carrying the error's message.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NoReturn, TypeVar

import grpc

from process.log import get_logger
from protos.cri import api_pb2 as cri
from protos.cri import api_pb2_grpc
from runtime.images.errors import (
    AuthenticationFailed,
    BadReference,
    DigestMismatch,
    ImageError,
    ImageNotFound,
    RegistryUnreachable,
    UnsafeLayer,
    UnsupportedMedia,
)
from runtime.images.reference import parse
from runtime.images.registry import Credentials, RegistryClient, RegistryHosts
from runtime.images.store import ImageRecord, ImageStore

log = get_logger("runtime.images.service")

_STATUS = {
    BadReference: grpc.StatusCode.INVALID_ARGUMENT,
    ImageNotFound: grpc.StatusCode.NOT_FOUND,
    AuthenticationFailed: grpc.StatusCode.UNAUTHENTICATED,
    RegistryUnreachable: grpc.StatusCode.UNAVAILABLE,
    DigestMismatch: grpc.StatusCode.DATA_LOSS,
    UnsafeLayer: grpc.StatusCode.FAILED_PRECONDITION,
    UnsupportedMedia: grpc.StatusCode.FAILED_PRECONDITION,
}
# The sandbox image is pinned: kubelet's image garbage collection never removes it.
PINNED_REPOSITORIES = ("docker.io/library/pause",)

T = TypeVar("T")
_QUERIES = ThreadPoolExecutor(max_workers=2, thread_name_prefix="image-query")


async def _query(fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(_QUERIES, fn, *args)


async def _abort(context: grpc.aio.ServicerContext[Any, Any], err: ImageError) -> NoReturn:
    code = next((c for kind, c in _STATUS.items() if isinstance(err, kind)), grpc.StatusCode.INTERNAL)
    await context.abort(code, str(err))


def credentials(auth: cri.AuthConfig) -> Credentials | None:
    """CRI's AuthConfig: username/password, ``auth`` (base64 of ``user:password``), or a registry token."""
    if auth.registry_token:
        return Credentials(registry_token=auth.registry_token)
    if auth.username:
        return Credentials(auth.username, auth.password)
    if auth.auth:
        try:
            return Credentials.parse(base64.b64decode(auth.auth, validate=True).decode())
        except (binascii.Error, UnicodeDecodeError):
            raise AuthenticationFailed("auth must be base64 of USERNAME:PASSWORD") from None
    return None


class ImageServicer(api_pb2_grpc.ImageServiceServicer):
    """The CRI ImageService of one image store."""

    def __init__(self, store: ImageStore, hosts: RegistryHosts) -> None:
        self.store = store
        self.hosts = hosts
        self._client: RegistryClient | None = None
        self._pulls: dict[tuple[str, Credentials | None], asyncio.Task[ImageRecord]] = {}

    def _image(self, record: ImageRecord) -> cri.Image:
        config = self.store.config(record)
        user = config.user.partition(":")[0]
        image = cri.Image(id=record.id, repo_tags=record.repo_tags, repo_digests=record.repo_digests,
                          size=record.size, spec=cri.ImageSpec(image=record.id),
                          pinned=any(t.rsplit(":", 1)[0] in PINNED_REPOSITORIES for t in record.repo_tags))
        if user.isdigit():
            image.uid.value = int(user)
        else:
            image.username = user
        return image

    async def ListImages(self, request: cri.ListImagesRequest, context: Any) -> cri.ListImagesResponse:
        wanted = request.filter.image.image if request.HasField("filter") else ""
        def listing() -> list[cri.Image]:
            if wanted:
                record = self.store.find(wanted)
                records = [record] if record is not None else []
            else:
                records = self.store.images()
            return [self._image(r) for r in records]

        try:
            images = await _query(listing)
        except ImageError as err:
            await _abort(context, err)
        return cri.ListImagesResponse(images=images)

    async def ImageStatus(self, request: cri.ImageStatusRequest, context: Any) -> cri.ImageStatusResponse:
        def status() -> tuple[ImageRecord, cri.Image] | None:
            record = self.store.find(request.image.image)
            return None if record is None else (record, self._image(record))

        try:
            found = await _query(status)
        except ImageError as err:
            await _abort(context, err)
        if found is None:
            return cri.ImageStatusResponse()  # CRI: a missing image is an empty status, not an error
        record, image = found
        info: dict[str, str] = {}
        if request.verbose:
            config = await _query(self.store.config, record)
            info["info"] = json.dumps({"id": record.id, "manifestDigest": record.manifest_digest,
                                       "layers": record.layers, "config": json.loads(config.to_bytes())})
        return cri.ImageStatusResponse(image=image, info=info)

    async def PullImage(self, request: cri.PullImageRequest, context: Any) -> cri.PullImageResponse:
        try:
            ref = parse(request.image.image)
            creds = credentials(request.auth) if request.HasField("auth") else None
            key = (str(ref), creds)
            task = self._pulls.get(key)
            if task is None:
                if self._client is None:
                    self._client = RegistryClient(self.hosts)
                task = asyncio.ensure_future(self._client.pull(ref, self.store, creds))
                self._pulls[key] = task
                task.add_done_callback(lambda _: self._pulls.pop(key, None))
            record = await asyncio.shield(task)
        except ImageError as err:
            log.warning("pull failed", image=request.image.image, err=err)
            await _abort(context, err)
        return cri.PullImageResponse(image_ref=record.id)

    async def RemoveImage(self, request: cri.RemoveImageRequest, context: Any) -> cri.RemoveImageResponse:
        try:
            await asyncio.to_thread(self.store.remove, request.image.image)
        except ImageNotFound:
            pass  # CRI: removing an absent image succeeds
        except ImageError as err:
            await _abort(context, err)
        return cri.RemoveImageResponse()

    async def ImageFsInfo(self, request: cri.ImageFsInfoRequest, context: Any) -> cri.ImageFsInfoResponse:
        used, inodes = await asyncio.to_thread(self.store.usage)
        usage = cri.FilesystemUsage(timestamp=time.time_ns(), fs_id=cri.FilesystemIdentifier(
            mountpoint=str(self.store.root)), used_bytes=cri.UInt64Value(value=used),
            inodes_used=cri.UInt64Value(value=inodes))
        return cri.ImageFsInfoResponse(image_filesystems=[usage])

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()


def servicer_from_args(store: ImageStore, args: argparse.Namespace) -> ImageServicer:
    """The servicer for ``tinykube runtime``: its ``--registry-mirror`` and ``--insecure-registry`` flags."""
    return ImageServicer(store, RegistryHosts.from_flags(args.registry_mirror, args.insecure_registry))
