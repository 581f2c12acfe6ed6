"""DefaultTolerationSeconds: pods tolerate not-ready and unreachable nodes for 300 s unless they say otherwise."""

from __future__ import annotations

from api import strategy
from apiserver.admission.request import CREATE, Request


class DefaultTolerationSeconds:
    """Adds the two NoExecute tolerations a pod lacks, so the node lifecycle controller evicts after 5 minutes."""

    async def mutate(self, req: Request) -> None:
        """Add the tolerations to a new pod."""
        if req.operation == CREATE and req.is_kind("", "Pod") and req.obj is not None:
            strategy.add_default_tolerations(req.obj)
