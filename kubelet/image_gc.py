"""Image garbage collection's decisions, pure (upstream's pkg/kubelet/images/image_gc_manager.go).

The kubelet remembers when it first saw each image and when a container last used it. When the image
filesystem is at or above ``--image-gc-high-threshold`` percent used, it frees enough to come down to
``--image-gc-low-threshold``: unused, unpinned images, least recently used first, skipping any first seen
less than ``--minimum-image-ttl-duration`` ago. Sizes are the runtime's image sizes, so "freed" is the same
estimate upstream makes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

FREE_DISK_SPACE_FAILED: Final = "FreeDiskSpaceFailed"
IMAGE_GC_FAILED: Final = "ImageGCFailed"
INVALID_DISK_CAPACITY: Final = "InvalidDiskCapacity"


@dataclass(frozen=True)
class GcPolicy:
    """The thresholds (percent of the image filesystem) and the minimum age of an image before it may go."""

    high_percent: int = 85
    low_percent: int = 80
    min_age: float = 120.0

    def problem(self) -> str:
        """Why these flags are unusable (upstream's validation), or ""."""
        if not 0 <= self.high_percent <= 100:
            return f"invalid HighThresholdPercent {self.high_percent}, must be in range [0-100]"
        if not 0 <= self.low_percent <= 100:
            return f"invalid LowThresholdPercent {self.low_percent}, must be in range [0-100]"
        if self.low_percent > self.high_percent:
            return (f"LowThresholdPercent {self.low_percent} can not be higher than HighThresholdPercent "
                    f"{self.high_percent}")
        return ""


@dataclass(frozen=True)
class RuntimeImage:
    """One image as the runtime lists it."""

    id: str
    size: int
    pinned: bool = False


@dataclass(frozen=True)
class ImageRecord:
    """What the kubelet knows of an image beyond the runtime's listing."""

    first_detected: float
    last_used: float
    size: int
    pinned: bool = False


@dataclass(frozen=True)
class GcPlan:
    """What one pass should do: remove ``remove`` in order, hoping to free ``to_free`` bytes.

    ``problem`` is set (and nothing else) when the filesystem's figures make no sense.
    """

    remove: Sequence[str] = ()
    to_free: int = 0
    usage_percent: int = 0
    sizes: Mapping[str, int] = field(default_factory=dict)
    problem: str = ""


def detect(records: Mapping[str, ImageRecord], images: Sequence[RuntimeImage], in_use: Collection[str],
           now: float) -> dict[str, ImageRecord]:
    """The records after a listing: new images start now, images in use are used now, vanished ones go."""
    out: dict[str, ImageRecord] = {}
    for image in images:
        old = records.get(image.id)
        first = old.first_detected if old is not None else now
        last = now if image.id in in_use else (old.last_used if old is not None else 0.0)
        out[image.id] = ImageRecord(first, last, image.size, image.pinned)
    return out


def shortfall_message(to_free: int, found: int) -> str:
    """Upstream's FreeDiskSpaceFailed wording."""
    return (f"Failed to garbage collect required amount of images. Attempted to free {to_free} bytes, "
            f"but only found {found} bytes eligible to free.")


def plan(records: Mapping[str, ImageRecord], in_use: Collection[str], *, capacity: int, available: int,
         policy: GcPolicy, now: float) -> GcPlan:
    """Which images to remove now, given the image filesystem's capacity and available bytes."""
    if capacity <= 0:
        return GcPlan(problem=f"invalid capacity {capacity} on image filesystem")
    available = min(available, capacity)
    usage = 100 - available * 100 // capacity
    if usage < policy.high_percent:
        return GcPlan(usage_percent=usage)
    to_free = capacity * (100 - policy.low_percent) // 100 - available
    if to_free <= 0:
        return GcPlan(usage_percent=usage)
    eligible = sorted(((image_id, r) for image_id, r in records.items()
                       if image_id not in in_use and not r.pinned and now - r.first_detected >= policy.min_age),
                      key=lambda item: (item[1].last_used, item[1].first_detected, item[0]))
    remove: list[str] = []
    freed = 0
    for image_id, record in eligible:
        if freed >= to_free:
            break
        remove.append(image_id)
        freed += record.size
    return GcPlan(remove, to_free, usage, {image_id: records[image_id].size for image_id in remove})
