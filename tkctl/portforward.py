"""Port-forward's client side: local listeners, each accepted connection a pair of SPDY streams
(``error`` and ``data``) on one SPDY/3.1 session over an upgraded connection to ``pods/<name>/portforward``.

The session core and the protocol vocabulary are ``client.spdy``'s (shared with the apiserver and the
kubelet); this module owns only the sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import urllib.parse
from collections.abc import Callable, Mapping

from client.httpupgrade import ByteStream, dial
from client.kubeconfig import ClientConfig
from client.spdy import portforward
from client.spdy.session import Session, SessionEnded, StreamData, StreamEnded, StreamReset

RECEIVE_WINDOW = 256 * 1024


class Forwarder:
    """One SPDY session to a pod's port-forward endpoint, shared by every forwarded connection."""

    def __init__(self, stream: ByteStream, say: Callable[[str], None]) -> None:
        self.stream = stream
        # Flow control from the first byte, both ways, as SPDY/3.1 has it: the SETTINGS this window emits
        # tells the peer this side keeps windows (so it keeps ours), and this side keeps the peer's before
        # its first WINDOW_UPDATE could arrive. tinykube's kubelet keeps windows; one built on spdystream
        # (which neither keeps nor returns them) would stall transfers past the windows.
        self.session = Session(client=True, window=RECEIVE_WINDOW)
        self.session.peer_flow_control = True
        self.say = say
        self._ids = itertools.count()
        self._writers: dict[int, asyncio.StreamWriter] = {}
        self._errors: dict[int, bytearray] = {}
        self._lock = asyncio.Lock()

    async def flush(self) -> None:
        async with self._lock:
            data = self.session.take_output()
            if data:
                await self.stream.write(data)

    async def pump(self) -> None:
        """Read the session until the server ends it."""
        while data := await self.stream.read():
            for event in self.session.receive(data):
                if isinstance(event, StreamData):
                    if event.stream_id in self._writers:
                        self._writers[event.stream_id].write(event.data)
                    elif event.stream_id in self._errors:
                        self._errors[event.stream_id] += event.data
                    self.session.consumed(event.stream_id, len(event.data))
                elif isinstance(event, StreamEnded | StreamReset):
                    writer = self._writers.pop(event.stream_id, None)
                    if writer is not None:
                        writer.close()
                    message = self._errors.pop(event.stream_id, None)
                    if message:
                        self.say(f"E an error occurred forwarding: {message.decode(errors='replace')}")
                elif isinstance(event, SessionEnded):
                    return
            await self.flush()

    async def handle(self, remote: int, local: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                     ) -> None:
        """Forward one accepted local connection to ``remote`` in the pod."""
        self.say(f"Handling connection for {local}")
        request_id = next(self._ids)
        error_id = self.session.open_stream(portforward.request_headers(portforward.ERROR, remote, request_id),
                                            fin=True)
        self._errors[error_id] = bytearray()
        data_id = self.session.open_stream(portforward.request_headers(portforward.DATA, remote, request_id))
        self._writers[data_id] = writer
        await self.flush()
        try:
            while chunk := await reader.read(65536):
                self.session.send_data(data_id, chunk)
                await self.flush()
            self.session.send_data(data_id, b"", fin=True)
            await self.flush()
        except (ConnectionError, ValueError):
            with contextlib.suppress(KeyError):
                self.session.reset(data_id)
            await self.flush()


async def forward(config: ClientConfig, headers: Mapping[str, str], path: str, ports: list[tuple[int, int]], *,
                  address: str, say: Callable[[str], None]) -> None:
    """Listen on ``address`` for each (local, remote) pair until the session ends or the user interrupts."""
    url = urllib.parse.urlsplit(config.servers[0])
    https = url.scheme == "https"
    upgrade = {"Upgrade": portforward.UPGRADE, "X-Stream-Protocol-Version": portforward.PROTOCOL, **headers}
    auth = config.authorization()
    if auth:
        upgrade["Authorization"] = auth
    stream, _ = await dial(url.hostname or "localhost", url.port or (443 if https else 80), path, upgrade,
                           tls=config.ssl_context() if https else None)
    forwarder = Forwarder(stream, say)
    servers = []
    for local, remote in ports:
        server = await asyncio.start_server(functools.partial(forwarder.handle, remote, local), address, local)
        servers.append(server)
        bound = server.sockets[0].getsockname()[1]
        say(f"Forwarding from {address}:{bound} -> {remote}")
    try:
        await forwarder.pump()
    finally:
        for server in servers:
            server.close()
        await stream.close()
