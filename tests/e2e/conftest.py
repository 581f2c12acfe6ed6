"""Fixtures shared by the kubelet end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.kubelet_node import running_runtime
from tests.support.processes import Processes


@pytest.fixture
def cri_endpoint(tmp_path: Path, prefix: str, processes: Processes) -> Iterator[str]:
    """A runtime in the test's own network namespace: the kubelet meets it on a socket, the apiserver reaches the
    kubelet, and pods use the host network."""
    with running_runtime(tmp_path, prefix, processes, None) as endpoint:
        yield endpoint
