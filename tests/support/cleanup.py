"""A stack of undo actions that always runs, in reverse order, even after a failed test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Cleanup:
    """Collects teardown callbacks; ``run()`` calls all of them and re-raises the first error."""

    def __init__(self) -> None:
        self._undo: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []

    def add(self, fn: Callable[..., Any], *args: Any) -> None:
        self._undo.append((fn, args))

    def run(self) -> None:
        first: BaseException | None = None
        while self._undo:
            fn, args = self._undo.pop()
            try:
                fn(*args)
            except BaseException as exc:  # keep undoing the rest; report the first failure
                first = first or exc
        if first is not None:
            raise first
