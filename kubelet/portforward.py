"""Port-forward over SPDY (what kubectl speaks, relayed by the apiserver) onto the runtime's port-forward.

One SPDY session per ``kubectl port-forward`` connection to the apiserver; inside it, one request (a data
and an error stream sharing a ``requestid``) per local TCP connection. Each request gets its own one-time
URL from CRI ``PortForward`` and a WebSocket to the runtime's streaming server (``v4.channel.k8s.io``:
channel 0 data, 1 errors), which connects inside the pod's network namespace. Data from kubectl is queued
per request and acknowledged (SPDY window updates) only once written to the pod, so a slow pod slows its
own stream and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import aiohttp

from client.httpupgrade import ByteStream
from client.spdy.headers import SpdyProtocolError
from client.spdy.portforward import ForwardRequest, PortForwardRequestError, StreamPairing
from client.spdy.session import (
    Session,
    SessionEnded,
    StreamData,
    StreamEnded,
    StreamOpened,
    StreamReset,
)
from process.log import get_logger

log = get_logger("kubelet.portforward")

RUNTIME_PROTOCOL = "v4.channel.k8s.io"
CLOSE_DATA_CHANNEL = bytes([255, 0])  # the runtime's half-close of the data channel (v5's close message)
SEND_BACKLOG = 256 * 1024  # bytes from the pod allowed to wait for SPDY window before reading pauses
UrlForPort = Callable[[int], Awaitable[str]]


class _Forward:
    """One forwarded connection: a request's two streams and the runtime WebSocket behind them."""

    def __init__(self, request: ForwardRequest) -> None:
        self.request = request
        self.inbound: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None


class SpdyPortForward:
    """Serves one SPDY port-forward session over ``conn``."""

    def __init__(self, conn: ByteStream, url_for_port: UrlForPort, what: str) -> None:
        self.conn = conn
        self.url_for_port = url_for_port
        self.what = what
        self.session = Session(client=False)
        self.pairing = StreamPairing()
        self.forwards: dict[int, _Forward] = {}  # by data stream id
        self._output = asyncio.Event()
        self._progress = asyncio.Condition()
        self._http = aiohttp.ClientSession()

    async def run(self) -> None:
        """Until kubectl goes away (or breaks the protocol)."""
        writer = asyncio.create_task(self._write_loop())
        try:
            while data := await self.conn.read():
                try:
                    events = self.session.receive(data)
                except SpdyProtocolError as err:
                    log.info("port-forward session broke the protocol", target=self.what, error=str(err))
                    break
                for event in events:
                    self._on_event(event)
                self._kick()
                async with self._progress:
                    self._progress.notify_all()
                if self.session.closed:
                    break
        finally:
            for forward in list(self.forwards.values()):
                if forward.task is not None:
                    forward.task.cancel()
            tasks = [f.task for f in self.forwards.values() if f.task is not None]
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            self._kick()
            await asyncio.sleep(0)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            await self._http.close()
            await self.conn.close()

    def _kick(self) -> None:
        self._output.set()

    async def _write_loop(self) -> None:
        """The only writer of the connection, so frames leave in the order the session produced them."""
        while True:
            await self._output.wait()
            self._output.clear()
            out = self.session.take_output()
            if out:
                try:
                    await self.conn.write(out)
                except (ConnectionError, RuntimeError):
                    return

    def _on_event(self, event: object) -> None:
        match event:
            case StreamOpened(stream_id, headers):
                self.session.reply(stream_id)
                try:
                    request = self.pairing.add(stream_id, headers)
                except PortForwardRequestError as err:
                    log.info("bad port-forward stream", target=self.what, error=str(err))
                    self.session.reset(stream_id)
                    return
                if request is not None:
                    started = _Forward(request)
                    self.forwards[request.data_stream] = started
                    started.task = asyncio.create_task(self._forward(started))
            case StreamData(stream_id, data):
                if (forward := self.forwards.get(stream_id)) is not None:
                    forward.inbound.put_nowait(data)
                else:
                    self.session.consumed(stream_id, len(data))  # the error stream carries nothing inbound
            case StreamEnded(stream_id):
                if (forward := self.forwards.get(stream_id)) is not None:
                    forward.inbound.put_nowait(None)
            case StreamReset(stream_id, _):
                self.pairing.discard(stream_id)
                if (forward := self.forwards.get(stream_id)) is not None and forward.task is not None:
                    forward.task.cancel()
            case SessionEnded():
                pass

    async def _forward(self, forward: _Forward) -> None:
        request = forward.request
        try:
            url = await self.url_for_port(request.port)
            ws = await self._http.ws_connect(url.replace("http://", "ws://", 1), protocols=[RUNTIME_PROTOCOL],
                                             max_msg_size=0)
        except (aiohttp.ClientError, OSError, RuntimeError) as err:
            self._fail(request, f"error forwarding port {request.port} to {self.what}: {err}")
            return
        to_pod = asyncio.create_task(self._to_pod(forward, ws))
        try:
            await self._from_pod(forward, ws)
        finally:
            to_pod.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await to_pod
            await ws.close()
            self.forwards.pop(request.data_stream, None)
            self._kick()

    async def _from_pod(self, forward: _Forward, ws: aiohttp.ClientWebSocketResponse) -> None:
        request = forward.request
        opened: set[int] = set()
        errors = b""
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.BINARY or not msg.data:
                break
            channel, payload = msg.data[0], bytes(msg.data[1:])
            if channel not in opened:  # each channel first carries the port number
                opened.add(channel)
                continue
            if channel == 1:
                errors += payload
            elif channel == 0 and request.data_stream in self.session.open_streams():
                self.session.send_data(request.data_stream, payload)
                self._kick()
                async with self._progress:
                    await self._progress.wait_for(
                        lambda: self.session.queued(request.data_stream) < SEND_BACKLOG)
        if errors:
            errors = f"error forwarding port {request.port} to {self.what}: {errors.decode(errors='replace')}".encode()
        streams = self.session.open_streams()
        if request.error_stream in streams:
            self.session.send_data(request.error_stream, errors, fin=True)
        if request.data_stream in streams:
            self.session.send_data(request.data_stream, b"", fin=True)

    async def _to_pod(self, forward: _Forward, ws: aiohttp.ClientWebSocketResponse) -> None:
        while (data := await forward.inbound.get()) is not None:
            await ws.send_bytes(b"\x00" + data)
            self.session.consumed(forward.request.data_stream, len(data))
            self._kick()
        # kubectl's local connection stopped sending (FIN): half-close the pod's, which then finishes and
        # closes, ending the request (kubectl waits for that before it lets the connection go).
        await ws.send_bytes(CLOSE_DATA_CHANNEL)

    def _fail(self, request: ForwardRequest, message: str) -> None:
        log.info("port-forward failed", target=self.what, port=request.port, error=message)
        streams = self.session.open_streams()
        if request.error_stream in streams:
            self.session.send_data(request.error_stream, message.encode(), fin=True)
        if request.data_stream in streams:
            self.session.send_data(request.data_stream, b"", fin=True)
        self.forwards.pop(request.data_stream, None)
        self._kick()
