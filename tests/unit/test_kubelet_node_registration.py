"""The kubelet keeps trying to register its Node while no apiserver answers, backing off as upstream does."""

from __future__ import annotations

from typing import Any

import pytest

from client.errors import ApiConnectionError, ApiError
from kubelet.node_sync import register_until_done

pytestmark = pytest.mark.unit

NODE: dict[str, Any] = {"metadata": {"name": "n1", "labels": {}}, "status": {}}


class FlakyApiserver:
    """Refuses ``failures`` creates (connection errors, then a 503), then stores the Node."""

    def __init__(self, failures: int) -> None:
        self.failures = failures

    async def create(self, ref: Any, body: dict[str, Any]) -> dict[str, Any]:
        if self.failures > 0:
            self.failures -= 1
            if self.failures == 0:
                raise ApiError({"kind": "Status", "code": 503, "reason": "ServiceUnavailable", "message": "starting"})
            raise ApiConnectionError("POST /api/v1/nodes: no apiserver reachable")
        return {**body, "metadata": {**body["metadata"], "uid": "u1"}}


async def test_registration_retries_with_doubling_backoff_until_the_apiserver_answers():
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    registered = await register_until_done(FlakyApiserver(8), NODE, sleep=sleep)  # type: ignore[arg-type]
    assert registered["metadata"]["uid"] == "u1"
    assert waits == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 7.0]
