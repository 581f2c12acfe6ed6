"""A SPDY/3.1 session as a state machine: bytes in, events out; commands in, bytes out.

The caller owns the transport: it feeds what it read to ``receive`` and writes what ``take_output``
returns. Streams follow the spec: a SYN_STREAM opens one (client ids odd, server ids even, each side's
increasing), FIN half-closes a direction, RST_STREAM ends it. Pings from the peer are answered here. A
protocol violation queues a GOAWAY and raises ``SpdyProtocolError``.

Flow control is SPDY/3.1's (64 KiB per stream and per session each way, WINDOW_UPDATE to grow them; the
caller reports what it has consumed with ``consumed`` so the peer gets window back), with one concession:
spdystream, the library under kubectl and the kubelet, neither sends WINDOW_UPDATE nor honours it. So the
peer's windows bind only once the peer shows it keeps them (it sends a WINDOW_UPDATE or an initial window
SETTING); until then DATA goes out unthrottled and an overrun of this side's windows is tolerated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from client.spdy.frames import (
    DataFrame,
    Frame,
    FrameDecoder,
    FrameEncoder,
    GoAway,
    GoAwayStatus,
    HeadersFrame,
    Ping,
    RstStatus,
    RstStream,
    Setting,
    Settings,
    SynReply,
    SynStream,
    WindowUpdate,
)
from client.spdy.headers import Headers, SpdyProtocolError

DEFAULT_WINDOW = 64 * 1024
MAX_DATA_FRAME = 16 * 1024  # what to put in one DATA frame; keeps one stream from hogging the connection


@dataclass(frozen=True)
class StreamOpened:
    """The peer opened a stream."""

    stream_id: int
    headers: Headers


@dataclass(frozen=True)
class StreamReplied:
    """The peer accepted a stream this side opened."""

    stream_id: int
    headers: Headers


@dataclass(frozen=True)
class StreamData:
    """Bytes the peer sent on a stream (report them to ``consumed`` once handled)."""

    stream_id: int
    data: bytes


@dataclass(frozen=True)
class StreamEnded:
    """The peer will send nothing more on the stream (FIN)."""

    stream_id: int


@dataclass(frozen=True)
class StreamReset:
    """The stream is gone (reset by the peer, or by this side for a stream error)."""

    stream_id: int
    status: int


@dataclass(frozen=True)
class SessionEnded:
    """The peer sent GOAWAY."""

    last_good_stream_id: int
    status: int


Event = StreamOpened | StreamReplied | StreamData | StreamEnded | StreamReset | SessionEnded


@dataclass
class _Stream:
    send_window: int
    recv_window: int
    unacked: int = 0  # consumed bytes not yet returned to the peer in a WINDOW_UPDATE
    queued: bytearray = field(default_factory=bytearray)
    fin_queued: bool = False
    local_closed: bool = False
    remote_closed: bool = False


class Session:
    """One SPDY/3.1 session, from the client's or the server's side."""

    def __init__(self, *, client: bool, window: int = DEFAULT_WINDOW) -> None:
        self.client = client
        self._encoder = FrameEncoder()
        self._decoder = FrameDecoder()
        self._out = bytearray()
        self._streams: dict[int, _Stream] = {}
        self._next_id = 1 if client else 2
        self._last_peer_id = 0
        self._peer_initial_window = DEFAULT_WINDOW
        self._recv_initial_window = window
        self._session_send = DEFAULT_WINDOW
        self._session_recv = DEFAULT_WINDOW
        self._session_unacked = 0
        self._next_ping = 1 if client else 2
        self.peer_flow_control = False
        self.closed = False
        if window != DEFAULT_WINDOW:
            self._emit(Settings({Setting.INITIAL_WINDOW_SIZE: window}))

    # ---- output ---------------------------------------------------------------------------------

    def take_output(self) -> bytes:
        """Bytes to write to the transport, in order."""
        out = bytes(self._out)
        self._out.clear()
        return out

    def _emit(self, frame: Frame) -> None:
        self._out += self._encoder.encode(frame)

    # ---- commands -------------------------------------------------------------------------------

    def open_stream(self, headers: Headers, fin: bool = False) -> int:
        """Open a stream; its id."""
        stream_id = self._next_id
        self._next_id += 2
        self._streams[stream_id] = _Stream(self._peer_initial_window, self._recv_initial_window, local_closed=fin)
        self._emit(SynStream(stream_id, headers, fin=fin))
        return stream_id

    def reply(self, stream_id: int, headers: Headers = (), fin: bool = False) -> None:
        """Accept a stream the peer opened."""
        stream = self._stream(stream_id)
        self._emit(SynReply(stream_id, headers, fin))
        if fin:
            stream.local_closed = True
            self._forget_if_done(stream_id)

    def send_data(self, stream_id: int, data: bytes, fin: bool = False) -> None:
        """Queue ``data`` (then FIN if asked); it goes out as far as the windows allow."""
        stream = self._stream(stream_id)
        if stream.local_closed or stream.fin_queued:
            raise ValueError(f"stream {stream_id} is already closed for sending")
        stream.queued += data
        stream.fin_queued = fin
        self._flush(stream_id, stream)

    def queued(self, stream_id: int) -> int:
        """Bytes of the stream still waiting for window (0 for a finished stream): for back-pressure."""
        stream = self._streams.get(stream_id)
        return len(stream.queued) if stream else 0

    def consumed(self, stream_id: int, size: int) -> None:
        """The caller has handled ``size`` received bytes of the stream: give the peer that window back."""
        self._session_unacked += size
        if self._session_unacked >= DEFAULT_WINDOW // 2:
            self._session_recv += self._session_unacked
            self._emit(WindowUpdate(0, self._session_unacked))
            self._session_unacked = 0
        stream = self._streams.get(stream_id)
        if stream is None or stream.remote_closed:
            return
        stream.unacked += size
        if stream.unacked >= self._recv_initial_window // 2:
            stream.recv_window += stream.unacked
            self._emit(WindowUpdate(stream_id, stream.unacked))
            stream.unacked = 0

    def reset(self, stream_id: int, status: int = RstStatus.CANCEL) -> None:
        """End a stream abnormally."""
        if self._streams.pop(stream_id, None) is not None:
            self._emit(RstStream(stream_id, status))

    def ping(self) -> int:
        """Send a PING; its id."""
        ping_id = self._next_ping
        self._next_ping += 2
        self._emit(Ping(ping_id))
        return ping_id

    def goaway(self, status: int = GoAwayStatus.OK) -> None:
        """Announce the end of the session."""
        if not self.closed:
            self.closed = True
            self._emit(GoAway(self._last_peer_id, status))

    def open_streams(self) -> list[int]:
        """Ids of the streams not yet fully closed."""
        return list(self._streams)

    # ---- input ----------------------------------------------------------------------------------

    def receive(self, data: bytes) -> list[Event]:
        """Events for the bytes the peer sent."""
        try:
            frames = self._decoder.feed(data)
        except SpdyProtocolError:
            self.goaway(GoAwayStatus.PROTOCOL_ERROR)
            raise
        events: list[Event] = []
        for frame in frames:
            try:
                self._handle(frame, events)
            except SpdyProtocolError:
                self.goaway(GoAwayStatus.PROTOCOL_ERROR)
                raise
        return events

    def _handle(self, frame: Frame, events: list[Event]) -> None:
        match frame:
            case DataFrame(stream_id, data, fin):
                self._on_data(stream_id, data, fin, events)
            case SynStream(stream_id, headers, _, _, fin, _):
                if (stream_id % 2 == 1) == self.client or stream_id <= self._last_peer_id:
                    raise SpdyProtocolError(f"SYN_STREAM with stream id {stream_id} out of order or of the "
                                            "wrong parity")
                self._last_peer_id = stream_id
                if self.closed:
                    self._emit(RstStream(stream_id, RstStatus.REFUSED_STREAM))
                    return
                self._streams[stream_id] = _Stream(self._peer_initial_window, self._recv_initial_window,
                                                   remote_closed=fin)
                events.append(StreamOpened(stream_id, headers))
                if fin:
                    events.append(StreamEnded(stream_id))
            case SynReply(stream_id, headers, fin):
                if stream_id not in self._streams:
                    self._stream_error(stream_id, RstStatus.INVALID_STREAM, events)
                    return
                events.append(StreamReplied(stream_id, headers))
                if fin:
                    self._remote_fin(stream_id, events)
            case HeadersFrame(stream_id, _, fin):
                if fin and stream_id in self._streams:
                    self._remote_fin(stream_id, events)
            case RstStream(stream_id, status):
                if self._streams.pop(stream_id, None) is not None:
                    events.append(StreamReset(stream_id, status))
            case Settings(values, _):
                if Setting.INITIAL_WINDOW_SIZE in values:
                    self.peer_flow_control = True
                    delta = values[Setting.INITIAL_WINDOW_SIZE] - self._peer_initial_window
                    self._peer_initial_window = values[Setting.INITIAL_WINDOW_SIZE]
                    for sid, stream in list(self._streams.items()):
                        stream.send_window += delta
                        self._flush(sid, stream)
            case Ping(ping_id):
                if (ping_id % 2 == 1) != self.client:
                    self._emit(Ping(ping_id))
            case GoAway(last, status):
                self.closed = True
                events.append(SessionEnded(last, status))
            case WindowUpdate(stream_id, delta):
                self._on_window_update(stream_id, delta, events)

    def _on_data(self, stream_id: int, data: bytes, fin: bool, events: list[Event]) -> None:
        stream = self._streams.get(stream_id)
        if stream is None:
            self._stream_error(stream_id, RstStatus.INVALID_STREAM, events)
            return
        if stream.remote_closed:
            self._stream_error(stream_id, RstStatus.STREAM_ALREADY_CLOSED, events)
            return
        self._session_recv -= len(data)
        stream.recv_window -= len(data)
        if self.peer_flow_control and self._session_recv < 0:
            raise SpdyProtocolError("the peer sent more DATA than the session window allows")
        if self.peer_flow_control and stream.recv_window < 0:
            self._stream_error(stream_id, RstStatus.FLOW_CONTROL_ERROR, events)
            return
        if data:
            events.append(StreamData(stream_id, data))
        if fin:
            self._remote_fin(stream_id, events)

    def _on_window_update(self, stream_id: int, delta: int, events: list[Event]) -> None:
        self.peer_flow_control = True
        if stream_id == 0:
            self._session_send += delta
            for sid, each in list(self._streams.items()):
                self._flush(sid, each)
            return
        stream = self._streams.get(stream_id)
        if stream is None:
            return  # a late update for a stream that just finished
        stream.send_window += delta
        if stream.send_window > 0x7FFFFFFF:
            self._stream_error(stream_id, RstStatus.FLOW_CONTROL_ERROR, events)
            return
        self._flush(stream_id, stream)

    def _flush(self, stream_id: int, stream: _Stream) -> None:
        while stream.queued:
            size = min(len(stream.queued), MAX_DATA_FRAME)
            if self.peer_flow_control:
                size = min(size, stream.send_window, self._session_send)
            if size <= 0:
                return
            chunk = bytes(stream.queued[:size])
            del stream.queued[:size]
            stream.send_window -= size
            self._session_send -= size
            last = stream.fin_queued and not stream.queued
            self._emit(DataFrame(stream_id, chunk, fin=last))
            if last:
                stream.local_closed = True
        if stream.fin_queued and not stream.local_closed:
            self._emit(DataFrame(stream_id, b"", fin=True))
            stream.local_closed = True
        if stream.local_closed:
            self._forget_if_done(stream_id)

    def _remote_fin(self, stream_id: int, events: list[Event]) -> None:
        stream = self._streams[stream_id]
        stream.remote_closed = True
        events.append(StreamEnded(stream_id))
        self._forget_if_done(stream_id)

    def _forget_if_done(self, stream_id: int) -> None:
        stream = self._streams.get(stream_id)
        if stream is not None and stream.local_closed and stream.remote_closed:
            del self._streams[stream_id]

    def _stream_error(self, stream_id: int, status: int, events: list[Event]) -> None:
        self._emit(RstStream(stream_id, status))
        if self._streams.pop(stream_id, None) is not None:
            events.append(StreamReset(stream_id, status))

    def _stream(self, stream_id: int) -> _Stream:
        stream = self._streams.get(stream_id)
        if stream is None:
            raise KeyError(f"no open SPDY stream {stream_id}")
        return stream
