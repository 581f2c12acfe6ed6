"""The streaming server behind CRI Exec and PortForward: one-time URLs served over WebSocket.

Exec and PortForward answer with ``http://ADDR/exec/<token>`` or ``/portforward/<token>``; the
client (kubelet's proxy, ``tinykube crictl exec -it``) opens it as a WebSocket speaking Kubernetes'
channel protocol (``v5``/``v4.channel.k8s.io``): every binary frame starts with a channel byte —
0 stdin, 1 stdout, 2 stderr, 3 error/status, 4 resize (``{"Width": W, "Height": H}``), and in v5,
255 close (``[255, 0]`` closes stdin). For port-forward, port ``i`` of ``?port=`` uses channels
``2i`` (data) and ``2i+1`` (errors), each opened by the port number as a little-endian uint16;
``[255, 2i]`` half-closes that port's connection, and the session ends once every port's connection has.
Attach relays the same channels to the container's shim pump. Tokens are single-use and expire
after a minute, like the kubelet's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from process.log import get_logger
from runtime.containers import EXEC_ENV, ContainerError
from runtime.engine import Runtime
from runtime.linux import syscalls
from runtime.sandbox import NETNS_DIR

log = get_logger("runtime.streaming")

TOKEN_TTL = 60.0
ATTACH_SOCKET = "attach.sock"  # in the container's bundle; served by the shim pump (shim_pump.c)
EXEC_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


@dataclass
class _Pending:
    kind: str
    target: str
    cmd: list[str] = field(default_factory=list)
    tty: bool = False
    stdin: bool = False
    ports: list[int] = field(default_factory=list)
    expires: float = 0.0


def exit_status(code: int) -> dict[str, Any]:
    """The metav1.Status kubectl expects on the error channel when the command ends."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
            "message": f"command terminated with non-zero exit code: {code}",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def connect_in_netns(netns: str, port: int) -> socket.socket:
    """A TCP connection to 127.0.0.1:port made from inside a pod's network namespace (blocking; one thread)."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if netns:
            syscalls.setns_path(os.path.join(NETNS_DIR, netns), syscalls.CLONE_NEWNET)
        try:
            # A socket belongs to the namespace it was created in, wherever the thread goes next.
            return socket.create_connection(("127.0.0.1", port), timeout=10)
        finally:
            if netns:
                syscalls.setns(own, syscalls.CLONE_NEWNET)
    finally:
        os.close(own)


class StreamingServer:
    """Serves the one-time exec and port-forward URLs of one runtime."""

    def __init__(self, runtime: Runtime, address: str = "127.0.0.1:0") -> None:
        self.rt = runtime
        host, _, port = address.rpartition(":")
        self.host, self.port = host or "127.0.0.1", int(port or 0)
        self._pending: dict[str, _Pending] = {}
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> None:
        """Listen; ``base_url`` is known afterwards."""
        app = web.Application()
        app.router.add_get("/exec/{token}", self._exec)
        app.router.add_get("/attach/{token}", self._attach)
        app.router.add_get("/portforward/{token}", self._port_forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        bound = self._runner.addresses[0]
        self.base_url = f"http://{self.host}:{bound[1]}"
        log.info("streaming server listening", url=self.base_url)

    async def stop(self) -> None:
        """Stop listening; streams in progress are cut."""
        if self._runner is not None:
            await self._runner.cleanup()

    def _register(self, pending: _Pending) -> str:
        now = time.monotonic()
        for token in [t for t, p in self._pending.items() if p.expires < now]:
            del self._pending[token]
        token = secrets.token_urlsafe(16)
        pending.expires = now + TOKEN_TTL
        self._pending[token] = pending
        return token

    def exec_url(self, container_id: str, cmd: list[str], tty: bool, stdin: bool) -> str:
        """A one-time URL that runs ``cmd`` in the container when opened."""
        self.rt.containers.exec_argv(container_id, cmd, tty)  # refuse now, not at connect time
        token = self._register(_Pending("exec", container_id, cmd=cmd, tty=tty, stdin=stdin))
        return f"{self.base_url}/exec/{token}"

    def attach_url(self, container_id: str) -> str:
        """A one-time URL that attaches to the container's stdio (served by its shim pump)."""
        st = self.rt.containers.state(container_id)
        if st.state != "running":
            raise ContainerError(f"container {container_id[:12]} is not running", "FAILED_PRECONDITION")
        if not os.path.exists(os.path.join(st.record.bundle, ATTACH_SOCKET)):
            raise ContainerError(f"container {container_id[:12]} has no attach socket (its shim runs without the "
                                 "compiled pump)", "FAILED_PRECONDITION")
        token = self._register(_Pending("attach", st.record.id))
        return f"{self.base_url}/attach/{token}"

    def port_forward_url(self, sandbox_id: str, ports: list[int]) -> str:
        """A one-time URL that forwards ``ports`` of the sandbox when opened."""
        rec = self.rt.sandboxes.get(sandbox_id)
        token = self._register(_Pending("portforward", rec.id, ports=ports))
        return f"{self.base_url}/portforward/{token}"

    def _take(self, request: web.Request, kind: str) -> _Pending:
        pending = self._pending.pop(request.match_info["token"], None)
        if pending is None or pending.kind != kind or pending.expires < time.monotonic():
            raise web.HTTPNotFound(text="unknown or expired streaming token\n")
        return pending

    # ---- exec -------------------------------------------------------------------------------

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        pending = self._take(request, "exec")
        ws = web.WebSocketResponse(protocols=EXEC_PROTOCOLS, max_msg_size=0)
        await ws.prepare(request)
        argv = self.rt.containers.exec_argv(pending.target, pending.cmd, pending.tty)
        if pending.tty:
            code = await self._exec_tty(ws, argv)
        else:
            code = await self._exec_pipes(ws, argv, pending.stdin)
        with contextlib.suppress(ConnectionError):
            await ws.send_bytes(bytes([ERROR]) + json.dumps(exit_status(code)).encode())
        await ws.close()
        return ws

    async def _exec_pipes(self, ws: web.WebSocketResponse, argv: list[str], want_stdin: bool) -> int:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE if want_stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True, env=EXEC_ENV)

        async def pump(stream: asyncio.StreamReader | None, channel: int) -> None:
            while stream is not None and (chunk := await stream.read(32768)):
                await ws.send_bytes(bytes([channel]) + chunk)

        def on_input(channel: int, data: bytes) -> None:
            if proc.stdin is None:
                return
            if channel == STDIN:
                proc.stdin.write(data)
            elif channel == CLOSE and data[:1] == bytes([STDIN]):
                proc.stdin.close()

        reader = asyncio.create_task(self._read_client(ws, on_input))
        try:
            await asyncio.gather(pump(proc.stdout, STDOUT), pump(proc.stderr, STDERR))
            return await proc.wait()
        finally:
            reader.cancel()
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, 9)
                await proc.wait()

    async def _exec_tty(self, ws: web.WebSocketResponse, argv: list[str]) -> int:
        """The helper allocates the terminal inside the container and relays it over pipes, resizes on a third."""
        resize_r, resize_w = os.pipe()
        argv = [*argv[:argv.index("--")], f"--resize-fd={resize_r}", *argv[argv.index("--"):]]
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                start_new_session=True, env=EXEC_ENV, pass_fds=(resize_r,))
        finally:
            os.close(resize_r)

        def on_input(channel: int, data: bytes) -> None:
            if proc.stdin is None:
                return
            if channel == STDIN:
                proc.stdin.write(data)
            elif channel == RESIZE:
                size = json.loads(data)
                os.write(resize_w, f"{size['Height']} {size['Width']}\n".encode())
            elif channel == CLOSE and data[:1] == bytes([STDIN]):
                proc.stdin.close()

        async def pump(stream: asyncio.StreamReader | None, channel: int) -> None:
            while stream is not None and (chunk := await stream.read(32768)):
                await ws.send_bytes(bytes([channel]) + chunk)

        reader = asyncio.create_task(self._read_client(ws, on_input))
        try:
            # A tty merges the streams; the helper's own stderr (setup errors) still goes out as stdout.
            await asyncio.gather(pump(proc.stdout, STDOUT), pump(proc.stderr, STDOUT))
            return await proc.wait()
        finally:
            reader.cancel()
            os.close(resize_w)
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, 9)
                await proc.wait()

    @staticmethod
    async def _read_client(ws: web.WebSocketResponse, on_input: Any) -> None:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY and msg.data:
                on_input(msg.data[0], msg.data[1:])
            elif msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                return

    # ---- attach -----------------------------------------------------------------------------

    async def _attach(self, request: web.Request) -> web.StreamResponse:
        pending = self._take(request, "attach")
        bundle = self.rt.containers.get(pending.target).bundle
        ws = web.WebSocketResponse(protocols=EXEC_PROTOCOLS, max_msg_size=0)
        await ws.prepare(request)
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        sock.setblocking(False)
        # The bundle path may be longer than sun_path allows: reach the socket through a directory fd.
        dirfd = os.open(bundle, os.O_PATH | os.O_CLOEXEC)
        try:
            await loop.sock_connect(sock, f"/proc/self/fd/{dirfd}/{ATTACH_SOCKET}")
        except OSError as exc:
            await ws.send_bytes(bytes([ERROR]) + json.dumps({"metadata": {}, "status": "Failure",
                                                            "message": f"attach: {exc}"}).encode())
            await ws.close()
            sock.close()
            return ws
        finally:
            os.close(dirfd)

        async def to_shim(channel: int, data: bytes) -> None:
            if channel == RESIZE:
                size = json.loads(data)
                data = f"{size['Height']} {size['Width']}".encode()
            if channel in (STDIN, RESIZE, CLOSE):
                await loop.sock_sendall(sock, bytes([channel]) + data)

        async def from_client() -> None:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY and msg.data:
                    await to_shim(msg.data[0], msg.data[1:])
                elif msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                    return

        reader = asyncio.create_task(from_client())
        try:
            while message := await loop.sock_recv(sock, 65536):
                await ws.send_bytes(message)  # already [channel][data]
        finally:
            reader.cancel()
            sock.close()
        await ws.close()
        return ws

    # ---- port-forward -----------------------------------------------------------------------

    async def _port_forward(self, request: web.Request) -> web.StreamResponse:
        pending = self._take(request, "portforward")
        ports = [int(p) for p in request.query.getall("port", [])] or pending.ports
        if not ports or any(p not in pending.ports for p in ports if pending.ports):
            raise web.HTTPBadRequest(text="ports must be among those PortForward was asked for\n")
        rec = self.rt.sandboxes.get(pending.target)
        ws = web.WebSocketResponse(protocols=("v4.channel.k8s.io", "channel.k8s.io"), max_msg_size=0)
        await ws.prepare(request)
        writers: dict[int, asyncio.StreamWriter] = {}
        pumps = []
        for i, port in enumerate(ports):
            header = struct.pack("<H", port)
            await ws.send_bytes(bytes([2 * i]) + header)
            await ws.send_bytes(bytes([2 * i + 1]) + header)
            try:
                sock = await asyncio.to_thread(connect_in_netns, rec.netns, port)
            except OSError as exc:
                await ws.send_bytes(bytes([2 * i + 1]) + f"connecting to port {port}: {exc}".encode())
                continue
            sock.settimeout(None)
            reader, writer = await asyncio.open_connection(sock=sock)
            writers[2 * i] = writer
            pumps.append(asyncio.create_task(self._pump_socket(ws, reader, 2 * i)))

        def on_input(channel: int, data: bytes) -> None:
            if channel in writers:
                writers[channel].write(data)
            elif channel == CLOSE and data[:1] and data[0] in writers and writers[data[0]].can_write_eof():
                writers[data[0]].write_eof()  # as v5's close: the client sends no more; the pod sees EOF

        # The session ends when the client leaves or when every port's connection has closed (as the
        # kubelet's does), so the client learns that the pod closed its side.
        client: asyncio.Future[Any] = asyncio.ensure_future(self._read_client(ws, on_input))
        pods_done: asyncio.Future[Any] = asyncio.gather(*pumps, return_exceptions=True)
        try:  # pods_done is already done when no port connected
            await asyncio.wait([client, pods_done], return_when=asyncio.FIRST_COMPLETED)
        finally:
            client.cancel()
            for task in pumps:
                task.cancel()
            for writer in writers.values():
                writer.close()
            await ws.close()
        return ws

    @staticmethod
    async def _pump_socket(ws: web.WebSocketResponse, reader: asyncio.StreamReader, channel: int) -> None:
        while chunk := await reader.read(32768):
            await ws.send_bytes(bytes([channel]) + chunk)
