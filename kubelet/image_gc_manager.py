"""The image garbage collection loop: list, measure, ask ``kubelet.image_gc``, remove through CRI, report.

Every ``period`` (5 minutes upstream) it lists the runtime's images and containers, measures the image
filesystem (ImageFsInfo's mountpoint, statvfs'd here as cAdvisor does for a real kubelet), and removes
what the plan says. A pass that cannot free enough records ``FreeDiskSpaceFailed`` on the Node; passes that
fail twice in a row record ``ImageGCFailed`` (the first failure is only logged, as upstream does).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Final

import grpc

from kubelet.cri import CriClient
from kubelet.image_gc import (
    FREE_DISK_SPACE_FAILED,
    IMAGE_GC_FAILED,
    INVALID_DISK_CAPACITY,
    GcPolicy,
    ImageRecord,
    detect,
    plan,
    shortfall_message,
)
from process.log import get_logger

log = get_logger("kubelet.image_gc")

IMAGE_GC_PERIOD: Final = 300.0
WARNING: Final = "Warning"


class ImageGcError(Exception):
    """A pass could not bring the image filesystem under the low threshold."""


def filesystem(mountpoint: str) -> tuple[int, int]:
    """(capacity, available) bytes of the filesystem holding ``mountpoint``."""
    st = os.statvfs(mountpoint)
    return st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize


class ImageGcManager:
    """Image garbage collection for one node; ``node_event(type, reason, message)`` records on the Node."""

    def __init__(self, cri: CriClient, policy: GcPolicy, node_event: Callable[[str, str, str], None]) -> None:
        self.cri = cri
        self.policy = policy
        self.node_event = node_event
        self.records: dict[str, ImageRecord] = {}
        self._failed_before = False

    async def collect(self) -> list[str]:
        """One pass; returns the ids removed. Raises ImageGcError when it could not free enough."""
        images = await self.cri.runtime_images()
        in_use = {c.image_ref for c in await self.cri.containers()}
        now = time.time()
        self.records = detect(self.records, images, in_use, now)
        fs = await self.cri.image_fs()
        capacity, available = await asyncio.to_thread(filesystem, fs.mountpoint)
        decided = plan(self.records, in_use, capacity=capacity, available=available,
                       policy=self.policy, now=now)
        if decided.problem:
            self.node_event(WARNING, INVALID_DISK_CAPACITY, decided.problem)
            raise ImageGcError(decided.problem)
        removed: list[str] = []
        freed = 0
        for image_id in decided.remove:
            try:
                await self.cri.remove_image(image_id)
            except grpc.aio.AioRpcError as err:
                log.warning("image not removed", image=image_id[:19], error=err.details() or str(err.code()))
                continue
            removed.append(image_id)
            freed += decided.sizes[image_id]
            self.records.pop(image_id, None)
        if removed:
            log.info("images removed", count=len(removed), bytes=freed, usage_percent=decided.usage_percent)
        if freed < decided.to_free:
            message = shortfall_message(decided.to_free, freed)
            self.node_event(WARNING, FREE_DISK_SPACE_FAILED, message)
            raise ImageGcError(message)
        return removed

    async def run_forever(self, period: float = IMAGE_GC_PERIOD) -> None:
        """A pass every ``period`` seconds; the first after one period, off the node's startup path."""
        while True:
            await asyncio.sleep(period)
            try:
                await self.collect()
                self._failed_before = False
            except (ImageGcError, grpc.aio.AioRpcError, RuntimeError, OSError) as err:
                message = str(err) if not isinstance(err, grpc.aio.AioRpcError) else err.details() or str(err)
                if self._failed_before:
                    log.error("image garbage collection failed multiple times in a row", error=message)
                    self.node_event(WARNING, IMAGE_GC_FAILED, message)
                else:
                    log.warning("image garbage collection failed once", error=message)
                self._failed_before = True
