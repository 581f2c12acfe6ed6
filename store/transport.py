"""Peer-to-peer TCP between store members: raft messages and forwarded client requests as framed msgpack.

Each member dials one outbound connection to every peer and writes only on it; it reads only on the
connections peers dialled to it (etcd's stream model), so a frame and its reply travel on different
sockets and neither side ever waits on the other to send.

Wire format, after the dialler's hello frame::

    length:u32 big-endian | type:u8 | payload (length bytes)

Frame types:

- ``HELLO``: msgpack ``[cluster_id, from_id]``, checked by the listener so members of another
  cluster are turned away; a member joining an existing cluster starts with cluster id 0 and
  adopts the id of the first member that dials it.
- ``RAFT``: one ``store.raft.messages.encode``d message.
- ``PROPOSE`` / ``PROPOSE_RESULT``: a follower hands a client entry to the leader; the leader
  answers only when it did not take it.
- ``REMOVED``: the one frame a listener writes back, to a member removed from the cluster, which
  would otherwise never learn it (it is no longer sent the log).

A snapshot travels as one ``RAFT`` frame. Frames are limited to ``MAX_FRAME`` (1 GiB): far above
the snapshot of a Kubernetes cluster's store (the 2 GiB default quota is mostly history that
compaction drops), while one frame keeps the receive path atomic: a half-received snapshot is
never applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import urlsplit

import msgpack  # type: ignore[import-untyped]

from process.log import get_logger
from store.raft.messages import Message, MessageType, decode, encode

log = get_logger("store.transport")

MAX_FRAME = 1 << 30
QUEUE_LIMIT = 8192
"""Messages buffered per peer while its connection is slow or down; beyond it, new ones are dropped (raft resends)."""

FRAME_HELLO = 0
FRAME_RAFT = 1
FRAME_PROPOSE = 2
FRAME_PROPOSE_RESULT = 3
FRAME_REMOVED = 4

_HEAD = struct.Struct(">IB")
_FLUSH_BUFFERED = 1 << 20  # bytes the socket has not taken yet above which ``send(now=True)`` leaves a peer to its task
_HELLO_MAX = 4096
_HELLO_TIMEOUT = 10.0
_BACKOFF_MIN = 0.05
_BACKOFF_MAX = 1.0


class FrameError(Exception):
    """A peer sent something that is not a frame of this protocol; the connection is dropped."""


def frame_head(kind: int, payload: bytes) -> bytes:
    """The head of a wire frame (written before ``payload``, not joined to it: no copy of the payload)."""
    if len(payload) > MAX_FRAME:
        raise FrameError(f"frame of {len(payload)} bytes exceeds the {MAX_FRAME}-byte limit")
    return _HEAD.pack(len(payload), kind)


def frame(kind: int, payload: bytes) -> bytes:
    """One wire frame; raises FrameError if ``payload`` is larger than ``MAX_FRAME``."""
    return frame_head(kind, payload) + payload


async def read_frame(reader: asyncio.StreamReader, max_frame: int = MAX_FRAME) -> tuple[int, bytes]:
    """The next (type, payload); raises FrameError on an oversized frame, IncompleteReadError at EOF."""
    head = await reader.readexactly(_HEAD.size)
    length, kind = _HEAD.unpack(head)
    if length > max_frame:
        raise FrameError(f"peer announced a {length}-byte frame, above the {max_frame}-byte limit")
    return kind, await reader.readexactly(length)


def parse_url(url: str) -> tuple[str, int]:
    """``http://host:port`` (or https, or bare ``host:port``) to (host, port)."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"peer URL {url!r} needs a host and a port")
    return parts.hostname, parts.port


@dataclass(slots=True)
class _Outbound:
    """One peer's outbound link: what waits to be written, and the task that keeps the connection up.

    A plain list and one future rather than an ``asyncio.Queue``: a write fans out to every peer, and the
    queue's bookkeeping per message cost more than encoding it.
    """

    peer_id: int
    urls: list[str]
    pending: list[bytes | Message] = field(default_factory=list)
    waiter: asyncio.Future[None] | None = None  # set while the pump waits for something to send
    task: asyncio.Task[None] | None = None
    writer: asyncio.StreamWriter | None = None  # while connected
    connected: bool = False
    dropped: int = 0


class Transport:
    """Sends raft messages and forwarded requests to peers, and hands what peers send to the node.

    Callbacks run on the event loop: ``on_message(msg)`` for raft messages, ``on_frame(from_id, type,
    payload)`` for forwarded requests, ``on_unreachable(peer_id)`` when a send fails,
    ``on_peer_down(peer_id)`` when the peer's port refuses connections (its process is gone), and
    ``on_snapshot_sent(peer_id, ok)`` once a snapshot message was written out (or failed).
    """

    def __init__(self, member_id: int, cluster_id: int, *,
                 on_message: Callable[[Message], None],
                 on_frame: Callable[[int, int, bytes], None],
                 on_unreachable: Callable[[int], None],
                 on_snapshot_sent: Callable[[int, bool], None],
                 on_cluster_id: Callable[[int], None] = lambda cid: None,
                 on_removed: Callable[[], None] = lambda: None,
                 on_peer_down: Callable[[int], None] = lambda peer_id: None,
                 server_ssl: ssl.SSLContext | None = None,
                 client_ssl: ssl.SSLContext | None = None,
                 max_frame: int = MAX_FRAME) -> None:
        self.member_id = member_id
        self.cluster_id = cluster_id
        self._on_message = on_message
        self._on_frame = on_frame
        self._on_unreachable = on_unreachable
        self._on_snapshot_sent = on_snapshot_sent
        self._on_cluster_id = on_cluster_id
        self._on_removed = on_removed
        self._on_peer_down = on_peer_down
        self.removed: set[int] = set()
        self._refused: set[tuple[int, int]] = set()  # (peer, cluster) already warned about
        self._server_ssl = server_ssl
        self._client_ssl = client_ssl
        self._max_frame = max_frame
        self._peers: dict[int, _Outbound] = {}
        self._servers: list[asyncio.Server] = []
        self._inbound: set[_InboundConnection] = set()
        self._stopping = False

    # -- lifecycle ------------------------------------------------------------------------------------

    async def listen(self, urls: Iterable[str]) -> None:
        """Accept peer connections on every URL (host:port) given."""
        for url in urls:
            host, port = parse_url(url)
            server = await asyncio.get_running_loop().create_server(
                lambda: _InboundConnection(self), host, port, ssl=self._server_ssl)
            self._servers.append(server)
            log.info("listening for peers", url=url)

    async def stop(self) -> None:
        """Close listeners, inbound connections and outbound writers."""
        self._stopping = True
        for server in self._servers:
            server.close()
        for peer_id in list(self._peers):
            self.remove_peer(peer_id)
        for conn in list(self._inbound):
            conn.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        self._servers.clear()

    # -- peers ----------------------------------------------------------------------------------------

    def add_peer(self, peer_id: int, urls: Iterable[str]) -> None:
        """Start sending to ``peer_id`` at ``urls`` (tried in order); updates the URLs of a known peer."""
        if peer_id == self.member_id:
            return
        urls = list(urls)
        if not urls:
            raise ValueError(f"peer {peer_id:x} has no URL to dial")
        peer = self._peers.get(peer_id)
        if peer is not None:
            peer.urls[:] = urls
            return
        peer = _Outbound(peer_id, urls)
        peer.task = asyncio.get_running_loop().create_task(self._writer(peer), name=f"peer-{peer_id:x}")
        self._peers[peer_id] = peer

    def remove_peer(self, peer_id: int) -> None:
        """Stop sending to ``peer_id`` (removed from the cluster)."""
        peer = self._peers.pop(peer_id, None)
        if peer is not None and peer.task is not None:
            peer.task.cancel()

    def mark_removed(self, peer_id: int) -> None:
        """``peer_id`` left the cluster: stop sending to it, drop its connections, and tell it when it dials."""
        self.removed.add(peer_id)
        self.remove_peer(peer_id)
        for conn in list(self._inbound):
            if conn.from_id == peer_id:
                conn.close()

    def set_cluster_id(self, cluster_id: int) -> None:
        """Adopt ``cluster_id`` and redial every peer, whose hellos so far carried the old one."""
        self.cluster_id = cluster_id
        for peer in self._peers.values():
            if peer.task is not None:
                peer.task.cancel()
            peer.task = asyncio.get_running_loop().create_task(self._writer(peer), name=f"peer-{peer.peer_id:x}")

    def peer_ids(self) -> set[int]:
        return set(self._peers)

    def connected(self, peer_id: int) -> bool:
        """Whether the outbound connection to ``peer_id`` is up right now."""
        peer = self._peers.get(peer_id)
        return peer is not None and peer.connected

    # -- sending --------------------------------------------------------------------------------------

    def send(self, messages: Iterable[Message], *, now: bool = False) -> None:
        """Queue raft messages; a full queue or an unknown peer drops them and reports the peer unreachable.

        With ``now``, write them to the sockets of connected peers at once rather than on their sender tasks'
        next turn: for a caller about to block the loop (a member syncing its log on the loop's thread), so
        its appends reach the followers before that sync, not after it. A peer whose connection is down or
        backed up, or whose queue holds a snapshot (reported once written out), is left to its sender task.
        """
        for msg in messages:
            self._enqueue(msg.to, msg, wake=not now)
        if now:
            for peer in self._peers.values():
                if peer.pending:
                    self._write_now(peer)

    def send_frame(self, peer_id: int, kind: int, payload: bytes) -> bool:
        """Queue a forwarded-request frame; False if the peer is unknown, not connected, or its queue is full.

        Unlike raft messages, a forwarded request is not queued for a peer that is down: the caller
        then knows it was never delivered and may hand it to another leader.
        """
        peer = self._peers.get(peer_id)
        if peer is None or not peer.connected:
            return False
        return self._enqueue(peer_id, frame(kind, payload))

    def _enqueue(self, peer_id: int, item: bytes | Message, wake: bool = True) -> bool:
        peer = self._peers.get(peer_id)
        if peer is None:
            return False
        if len(peer.pending) >= QUEUE_LIMIT:
            peer.dropped += 1
            if isinstance(item, Message):
                self._report_failed(peer_id, [item])
            return False
        peer.pending.append(item)
        if wake:
            self._wake(peer)
        return True

    @staticmethod
    def _wake(peer: _Outbound) -> None:
        waiter = peer.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _write_now(self, peer: _Outbound) -> None:
        writer = peer.writer
        if (writer is None or writer.transport.get_write_buffer_size() > _FLUSH_BUFFERED
                or any(isinstance(item, Message) and item.type == MessageType.SNAP for item in peer.pending)):
            self._wake(peer)
            return
        batch, peer.pending = peer.pending, []
        frames, _ = self._encode(peer, batch)
        writer.writelines(frames)  # a failed connection is noticed, and reported, by the sender task's drain

    def _report_failed(self, peer_id: int, items: Iterable[bytes | Message]) -> None:
        self._on_unreachable(peer_id)
        for item in items:
            if isinstance(item, Message) and item.type == MessageType.SNAP:
                self._on_snapshot_sent(peer_id, False)

    async def _writer(self, peer: _Outbound) -> None:
        """Keep one connection to ``peer`` up and drain its queue into it in batches."""
        backoff = _BACKOFF_MIN
        attempt = 0
        while True:
            writer: asyncio.StreamWriter | None = None
            try:
                url = peer.urls[attempt % len(peer.urls)]
                host, port = parse_url(url)
                reader, conn = await asyncio.wait_for(
                    asyncio.open_connection(host, port, ssl=self._client_ssl), timeout=max(1.0, backoff * 4))
                writer = conn
                sock = conn.get_extra_info("socket")
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conn.write(frame(FRAME_HELLO, msgpack.packb([self.cluster_id, self.member_id])))
                await conn.drain()
                peer.connected = True
                if backoff > _BACKOFF_MIN:
                    log.info("connected to peer", peer=f"{peer.peer_id:x}", url=url)
                up_since = asyncio.get_running_loop().time()
                try:
                    await self._serve_connection(peer, reader, conn)
                finally:
                    # A connection the listener drops at once (wrong cluster, removed) must not make us redial
                    # in a tight loop: only one that stayed up a while resets the backoff.
                    if asyncio.get_running_loop().time() - up_since > _BACKOFF_MAX:
                        backoff = _BACKOFF_MIN
            except asyncio.CancelledError:
                raise
            except (TimeoutError, OSError, FrameError, ValueError) as exc:
                if peer.connected or backoff == _BACKOFF_MIN:
                    log.v(1, "peer connection failed", peer=f"{peer.peer_id:x}", err=str(exc) or type(exc).__name__)
                peer.connected = False
                self._on_unreachable(peer.peer_id)
                if isinstance(exc, ConnectionRefusedError):
                    self._on_peer_down(peer.peer_id)  # nothing listens there: the process is gone
                attempt += 1
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)
            finally:
                peer.connected = False
                if writer is not None:
                    writer.close()
                    with contextlib.suppress(Exception):
                        await writer.wait_closed()

    async def _serve_connection(self, peer: _Outbound, reader: asyncio.StreamReader,
                                writer: asyncio.StreamWriter) -> None:
        """Drain the queue into the connection until it fails or the listener closes it."""
        peer.writer = writer
        pump = asyncio.ensure_future(self._pump(peer, writer))
        watch = asyncio.ensure_future(self._watch(peer, reader))
        try:
            done, _ = await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            peer.writer = None
            for task in (pump, watch):
                task.cancel()
            await asyncio.gather(pump, watch, return_exceptions=True)
        for task in done:
            task.result()

    async def _watch(self, peer: _Outbound, reader: asyncio.StreamReader) -> None:
        """Read the outbound connection: the listener writes only to say this member was removed."""
        try:
            kind, _ = await read_frame(reader, 4096)
        except asyncio.IncompleteReadError:
            raise ConnectionResetError(f"peer {peer.peer_id:x} closed the connection") from None
        if kind == FRAME_REMOVED:
            log.warning("a peer says this member was removed from the cluster", peer=f"{peer.peer_id:x}")
            self._on_removed()
        raise ConnectionResetError(f"peer {peer.peer_id:x} ended the connection with frame type {kind}")

    async def _pump(self, peer: _Outbound, writer: asyncio.StreamWriter) -> None:
        """Write everything queued for ``peer`` since the last turn with one ``writelines``."""
        loop = asyncio.get_running_loop()
        while True:
            while not peer.pending:
                peer.waiter = loop.create_future()
                try:
                    await peer.waiter
                finally:
                    peer.waiter = None
            batch, peer.pending = peer.pending, []
            frames, sent = self._encode(peer, batch)
            try:
                writer.writelines(frames)
                await writer.drain()
            except (OSError, ConnectionError):
                self._report_failed(peer.peer_id, sent)
                raise
            for item in sent:
                if isinstance(item, Message) and item.type == MessageType.SNAP:
                    self._on_snapshot_sent(peer.peer_id, True)

    def _encode(self, peer: _Outbound, batch: list[bytes | Message]) -> tuple[list[bytes], list[bytes | Message]]:
        """The wire frames of ``batch``, and the items they hold (a message too large to send is dropped)."""
        frames: list[bytes] = []
        sent: list[bytes | Message] = []
        for item in batch:
            try:
                if isinstance(item, bytes):
                    frames.append(item)
                else:
                    payload = encode(item)
                    frames.append(frame_head(FRAME_RAFT, payload))
                    frames.append(payload)
                sent.append(item)
            except FrameError as exc:  # e.g. a snapshot above MAX_FRAME: drop that message, keep the link
                log.warning("dropping a message too large to send", peer=f"{peer.peer_id:x}", err=str(exc))
                self._report_failed(peer.peer_id, [item])
        return frames, sent

    # -- receiving ------------------------------------------------------------------------------------

    def _accepted(self, conn: _InboundConnection) -> None:
        self._inbound.add(conn)

    def _closed(self, conn: _InboundConnection) -> None:
        self._inbound.discard(conn)

    def _hello(self, conn: _InboundConnection, payload: bytes) -> bool:
        """Check a dialler's hello; False when the connection is to be closed (after any reply written)."""
        cluster_id, from_id = msgpack.unpackb(payload)
        conn.peer = f"{from_id:x}"
        if self.cluster_id == 0 and cluster_id:
            # A joining member learns its cluster's id from the first member that contacts it.
            self.set_cluster_id(cluster_id)
            self._on_cluster_id(cluster_id)
        if from_id in self.removed:
            conn.reply(frame(FRAME_REMOVED, b""))
            return False
        if cluster_id != self.cluster_id:
            if (from_id, cluster_id) not in self._refused:
                self._refused.add((from_id, cluster_id))
                log.warning("refusing peer from another cluster", peer=conn.peer, cluster=f"{cluster_id:x}",
                            ours=f"{self.cluster_id:x}")
            return False
        conn.from_id = from_id
        return True

    def _dispatch(self, from_id: int, kind: int, payload: bytes) -> None:
        if kind == FRAME_RAFT:
            msg = decode(payload)
            if msg.to != self.member_id:
                raise FrameError(f"message for member {msg.to:x} reached member {self.member_id:x}")
            self._on_message(msg)
        elif kind in (FRAME_PROPOSE, FRAME_PROPOSE_RESULT):
            self._on_frame(from_id, kind, payload)
        else:
            raise FrameError(f"unknown frame type {kind}")


class _InboundConnection(asyncio.Protocol):
    """A connection a peer dialled: its hello, then every frame it sends, handed to the transport as it arrives.

    A protocol, not a task reading a ``StreamReader``: frames are parsed straight from ``data_received``,
    without a buffer copy and a task wake-up per read. A follower gets one read per leader turn, and the
    leader one from every follower for every append it sends.
    """

    def __init__(self, owner: Transport) -> None:
        self._owner = owner
        self._conn: asyncio.Transport | None = None
        self._buf = bytearray()
        self._hello_timer: asyncio.TimerHandle | None = None
        self.from_id = 0  # set once the hello was accepted
        self.peer = "?"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._conn = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        self._hello_timer = asyncio.get_running_loop().call_later(_HELLO_TIMEOUT, transport.close)
        self._owner._accepted(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._hello_timer is not None:
            self._hello_timer.cancel()
        if isinstance(exc, ssl.SSLError):
            log.warning("dropping peer connection", peer=self.peer, err=str(exc))
        self._owner._closed(self)

    def reply(self, data: bytes) -> None:
        """Write ``data`` back to the dialler (only ``REMOVED`` is ever written on an inbound connection)."""
        if self._conn is not None:
            self._conn.write(data)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def data_received(self, data: bytes) -> None:
        buf: bytes | bytearray = data
        if self._buf:
            self._buf += data
            buf = self._buf
        try:
            pos = self._frames(buf)
        except (FrameError, ValueError, TypeError, msgpack.UnpackException) as exc:
            log.warning("dropping peer connection", peer=self.peer, err=str(exc))
            self._buf.clear()
            self.close()
            return
        if buf is self._buf:
            del self._buf[:pos]
        elif pos < len(buf):
            self._buf += buf[pos:]

    def _frames(self, buf: bytes | bytearray) -> int:
        """Handle every whole frame in ``buf``; returns where the first incomplete one starts."""
        owner = self._owner
        head = _HEAD.size
        pos = 0
        end_of_data = len(buf)
        with memoryview(buf) as view:
            while end_of_data - pos >= head and (self.from_id or self._hello_timer is not None):
                length, kind = _HEAD.unpack_from(view, pos)
                limit = owner._max_frame if self.from_id else _HELLO_MAX
                if length > limit:
                    raise FrameError(f"peer announced a {length}-byte frame, above the {limit}-byte limit")
                start, end = pos + head, pos + head + length
                if end > end_of_data:
                    break
                payload = bytes(view[start:end])
                pos = end
                if self.from_id:
                    owner._dispatch(self.from_id, kind, payload)
                    continue
                assert self._hello_timer is not None
                self._hello_timer.cancel()
                self._hello_timer = None
                if kind != FRAME_HELLO:
                    raise FrameError(f"expected a hello frame, got type {kind}")
                if not owner._hello(self, payload):
                    self.close()
                    return end_of_data
        return pos
