"""Exec and attach over the WebSocket channel protocol (``v5.channel.k8s.io``, falling back to ``v4``).

Each binary message starts with its channel: 0 stdin, 1 stdout, 2 stderr, 3 error (a ``Status`` carrying
the exit code), 4 terminal resize; v5 adds 255 (close a channel: end of stdin). aiohttp is imported here
only, so verbs that do not stream never pay for it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import urllib.parse
from collections.abc import Callable
from typing import Any

from client.kubeconfig import ClientConfig
from tkctl.errors import CliError

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


def exit_code_of(status: dict[str, Any]) -> int:
    """The remote command's exit code from the error channel's ``Status`` (0 on success)."""
    if status.get("status") == "Success":
        return 0
    if status.get("reason") == "NonZeroExitCode":
        for cause in (status.get("details") or {}).get("causes") or []:
            if cause.get("reason") == "ExitCode":
                return int(cause.get("message") or 1)
    raise CliError(str(status.get("message") or "error executing remote command"))


def stream_url(config: ClientConfig, path: str, params: list[tuple[str, str]]) -> str:
    base = config.servers[0]
    scheme = "wss" if base.startswith("https") else "ws"
    return f"{scheme}{base[base.index(':'):]}{path}?{urllib.parse.urlencode(params)}"


def _write_stdout(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


async def run_stream(config: ClientConfig, headers: dict[str, str], url: str, *, stdin: bool, tty: bool,
                     stdin_data: bytes | None = None, on_stdout: Callable[[bytes], None] | None = None) -> int:
    """Run one exec/attach session; returns the remote exit code. ``stdin_data`` replaces the terminal's stdin."""
    import aiohttp  # noqa: PLC0415

    auth = config.authorization()
    if auth:
        headers = {**headers, "Authorization": auth}
    ssl_ctx = config.ssl_context()
    out = on_stdout or _write_stdout
    loop = asyncio.get_running_loop()
    code = 0
    async with aiohttp.ClientSession() as http, http.ws_connect(
            url, protocols=("v5.channel.k8s.io", "v4.channel.k8s.io"), headers=headers,
            ssl=ssl_ctx if ssl_ctx is not None else True, max_msg_size=0) as ws:
        v5 = ws.protocol == "v5.channel.k8s.io"

        async def pump_stdin() -> None:
            if stdin_data is not None:
                if stdin_data:
                    await ws.send_bytes(bytes([STDIN]) + stdin_data)
            else:
                queue: asyncio.Queue[bytes] = asyncio.Queue()

                def readable() -> None:
                    data = os.read(0, 65536)
                    queue.put_nowait(data)
                    if not data:
                        loop.remove_reader(0)

                loop.add_reader(0, readable)
                while data := await queue.get():
                    await ws.send_bytes(bytes([STDIN]) + data)
            if v5:
                await ws.send_bytes(bytes([CLOSE, STDIN]))

        feeder = asyncio.create_task(pump_stdin()) if stdin else None
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.BINARY or not msg.data:
                continue
            channel, payload = msg.data[0], msg.data[1:]
            if channel == STDOUT:
                out(payload)
            elif channel == STDERR:
                sys.stderr.buffer.write(payload)
                sys.stderr.buffer.flush()
            elif channel == ERROR and payload:
                code = exit_code_of(json.loads(payload))
        if feeder is not None:
            feeder.cancel()
    return code
