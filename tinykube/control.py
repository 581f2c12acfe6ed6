"""The supervising `tinykube up` process's control socket: other `tinykube` commands ask it to act.

Stopping and starting a node's components must go through the process that supervises them (it would
restart anything killed behind its back). One JSON request line in, one JSON answer line out, over a
Unix socket in the cluster's state directory (root-only, like the state directory itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from process.log import get_logger

log = get_logger("control")

Handler = Callable[[dict[str, Any]], Awaitable[str]]
MAX_REQUEST = 65536


class ControlError(RuntimeError):
    """The request was refused; the message says why, for the user."""


def socket_path(state_dir: Path) -> Path:
    return state_dir / "control.sock"


async def serve(path: Path, handler: Handler) -> asyncio.Server:
    """Answer requests on ``path`` with ``handler`` until the returned server is closed."""
    await asyncio.to_thread(path.unlink, missing_ok=True)

    async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = json.loads(await reader.readline())
            if not isinstance(request, dict):
                raise ControlError("a request is a JSON object")
            answer = {"ok": True, "message": await handler(request)}
        except ControlError as exc:
            answer = {"ok": False, "message": str(exc)}
        except ValueError:
            answer = {"ok": False, "message": "a request is one line of JSON"}
        except Exception as exc:  # the supervisor keeps running whatever one request does
            log.error("control request failed", err=repr(exc))
            answer = {"ok": False, "message": f"internal error: {exc!r}"}
        with contextlib.suppress(ConnectionError):
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(one, path=str(path), limit=MAX_REQUEST)
    await asyncio.to_thread(path.chmod, 0o600)
    return server


def request(path: Path, body: dict[str, Any], timeout: float = 120.0) -> str:
    """Send one request to the supervisor; its message, or ControlError with its reason."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise ControlError("the cluster's supervisor is not running") from exc
        sock.sendall(json.dumps(body).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    try:
        answer = json.loads(data)
    except ValueError as exc:
        raise ControlError("the supervisor gave no answer") from exc
    if not answer.get("ok"):
        raise ControlError(str(answer.get("message")))
    return str(answer.get("message", ""))
