"""Fixtures every suite shares: unique names, free ports, real processes, guaranteed cleanup."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.cleanup import Cleanup
from tests.support.names import unique_prefix
from tests.support.netns import add_netns, delete_netns
from tests.support.ports import free_port
from tests.support.processes import Processes

_SUITE_MARKERS = {"unit", "integration", "e2e", "chaos"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test carries its suite's marker (from its folder), so ``-m unit`` selects exactly that suite."""
    for item in items:
        parts = Path(str(item.fspath)).parts
        for suite in _SUITE_MARKERS & set(parts):
            item.add_marker(getattr(pytest.mark, suite))


@pytest.fixture
def prefix() -> str:
    """A name prefix unique to this test, for netns, links, cgroups and iptables chains."""
    return unique_prefix()


@pytest.fixture
def cleanup() -> Iterator[Cleanup]:
    """Register undo actions; they run after the test whatever its outcome."""
    stack = Cleanup()
    yield stack
    stack.run()


@pytest.fixture
def port() -> Callable[[], int]:
    """Call to get a free loopback port reserved for this worker."""
    return free_port


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    """Starts real processes; every one is killed at teardown, with its logs left under tmp_path."""
    procs = Processes(tmp_path / "logs")
    yield procs
    procs.stop_all()


@pytest.fixture
def netns(prefix: str, cleanup: Cleanup) -> Callable[[str], str]:
    """Call with a suffix to create netns ``<prefix>-<suffix>``; each is deleted at teardown."""

    def make(suffix: str) -> str:
        name = add_netns(f"{prefix}-{suffix}")
        cleanup.add(delete_netns, name)
        return name

    return make
