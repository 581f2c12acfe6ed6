"""Running a component's main coroutine on uvloop, with SIGTERM/SIGINT as a graceful stop."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

import uvloop

from process.log import get_logger

log = get_logger("process")


def serve(main: Callable[[asyncio.Event], Awaitable[int | None]]) -> int:
    """Run ``main(stop)`` until it returns; the first SIGTERM or SIGINT sets ``stop``.

    A second signal while stopping is left to the default handler, so a stuck process can
    still be interrupted. Returns the process exit code.
    """

    async def runner() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_signal(signum: int) -> None:
            log.info("stopping", signal=signal.Signals(signum).name)
            stop.set()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal, sig)
        code = await main(stop)
        return 0 if code is None else code

    return uvloop.run(runner())
