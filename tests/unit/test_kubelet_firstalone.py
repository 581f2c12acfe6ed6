"""The first sandbox of a QoS tier is created alone; the rest (also those that queued behind it) at once."""

from __future__ import annotations

import asyncio
import functools

import pytest

from kubelet.firstalone import FirstAlone


def test_first_of_each_key_alone_then_concurrent() -> None:
    running: list[str] = []
    peak: dict[str, int] = {}

    async def op(name: str, key: str) -> str:
        running.append(key)
        peak[name] = len(running)
        await asyncio.sleep(0.01)
        running.remove(key)
        return name

    async def main() -> list[str]:
        gate = FirstAlone()
        return await asyncio.gather(*(gate.run("besteffort", functools.partial(op, f"p{i}", "besteffort"))
                                      for i in range(6)))

    assert asyncio.run(main()) == [f"p{i}" for i in range(6)]
    assert peak["p0"] == 1  # alone
    assert max(peak.values()) == 5  # the five that waited for it then ran together


def test_a_failed_first_lets_the_next_try_alone() -> None:
    calls: list[int] = []

    async def failing() -> int:
        calls.append(1)
        raise RuntimeError("cgroup busy")

    async def ok() -> int:
        calls.append(2)
        return 2

    async def main() -> int:
        gate = FirstAlone()
        with pytest.raises(RuntimeError):
            await gate.run("burstable", failing)
        return await gate.run("burstable", ok)

    assert asyncio.run(main()) == 2
    assert calls == [1, 2]
