"""ImageLocality: prefer nodes that already hold the pod's images, weighted by how widely each is spread.

Spreading the score by the fraction of nodes holding an image avoids piling every pod of a common image
onto the few nodes that pulled it first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from scheduler.cache import Cache
from scheduler.framework import MAX_NODE_SCORE, SKIP, CycleState, PreScorePlugin, ScorePlugin, StateData, Status
from scheduler.nodeinfo import NodeInfo, normalized_image_name
from scheduler.podinfo import PodInfo

MB: Final = 1024 * 1024
MIN_THRESHOLD: Final = 23 * MB
MAX_CONTAINER_THRESHOLD: Final = 1000 * MB


@dataclass(slots=True)
class _Images(StateData):
    # (normalized image, fraction of nodes that have it)
    images: tuple[tuple[str, float], ...]
    max_threshold: int

    def clone(self) -> _Images:
        return self


class ImageLocality(PreScorePlugin, ScorePlugin):
    """Score from the summed, spread-scaled sizes of the pod's images present on the node."""

    name = "ImageLocality"

    def pre_score(self, state: CycleState, pod: PodInfo, snapshot: Cache, nodes: Sequence[NodeInfo]) -> Status | None:
        total = len(snapshot.node_infos())
        images = tuple(
            (normalized_image_name(image), snapshot.image_spread(image) / total)
            for image in pod.images
            if snapshot.image_spread(image)
        )
        if not images:
            return SKIP
        containers = len(pod.spec.get("containers") or ()) + len(pod.spec.get("initContainers") or ())
        state.write(self.name, _Images(images, MAX_CONTAINER_THRESHOLD * containers))
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        data = state.read(self.name, _Images)
        sizes = node.image_sizes
        total = 0
        for image, spread in data.images:
            size = sizes.get(image)
            if size:
                total += int(size * spread)
        total = min(max(total, MIN_THRESHOLD), data.max_threshold)
        return MAX_NODE_SCORE * (total - MIN_THRESHOLD) // (data.max_threshold - MIN_THRESHOLD)
