"""Bring-up as an ordered list of named steps (as kind does it): each idempotent, each with its undo.

`up` runs the steps in order and reports progress; `down` runs the undos in reverse. A step that fails
stops the bring-up with its name, the reason and where to look.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from process.log import get_logger

log = get_logger("steps")

Ctx = TypeVar("Ctx")


class StepError(RuntimeError):
    """A step that could not complete; ``hint`` says where to look (a log file, a command)."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class Step(Generic[Ctx]):
    name: str
    run: Callable[[Ctx], Awaitable[None]]
    undo: Callable[[Ctx], Awaitable[None]] | None = None


Progress = Callable[[str, str, float], None]  # (step name, "start"|"done"|"failed", seconds)


async def run_steps(steps: Sequence[Step[Ctx]], ctx: Ctx, progress: Progress) -> None:
    for step in steps:
        progress(step.name, "start", 0.0)
        began = time.monotonic()
        try:
            await step.run(ctx)
        except Exception as exc:
            progress(step.name, "failed", time.monotonic() - began)
            if isinstance(exc, StepError):
                raise
            raise StepError(f"{step.name}: {exc}") from exc
        progress(step.name, "done", time.monotonic() - began)


async def undo_steps(steps: Sequence[Step[Ctx]], ctx: Ctx) -> list[str]:
    """Undo every step in reverse, carrying on past failures; returns the failures' descriptions."""
    failures: list[str] = []
    for step in reversed(steps):
        if step.undo is None:
            continue
        try:
            await step.undo(ctx)
        except Exception as exc:  # keep undoing: a half-removed cluster is worse than a reported error
            log.error("undo failed", step=step.name, err=str(exc))
            failures.append(f"{step.name}: {exc}")
    return failures
