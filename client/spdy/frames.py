"""SPDY/3.1 frames: what each carries, and their encoding to and from bytes (SPDY draft 3.1, section 2).

Every frame has an 8-byte header. A control frame starts with the control bit, the version (3) and a
16-bit type; a data frame with a 31-bit stream id. Both follow with 8 flag bits and a 24-bit length.
Header blocks (SYN_STREAM, SYN_REPLY, HEADERS) go through one compression context per direction, so an
encoder and a decoder each belong to one session. Malformed input raises ``SpdyProtocolError`` with what
was wrong; nothing here blocks or allocates more than a frame's declared length.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field

from client.spdy.headers import HeaderBlockDecoder, HeaderBlockEncoder, Headers, SpdyProtocolError

VERSION = 3
HEADER_LEN = 8
MAX_LENGTH = (1 << 24) - 1
STREAM_ID_MASK = 0x7FFFFFFF
FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02
FLAG_SETTINGS_CLEAR = 0x01


class FrameType(enum.IntEnum):
    """Control frame types (CREDENTIAL, type 10, was dropped by SPDY/3.1)."""

    SYN_STREAM = 1
    SYN_REPLY = 2
    RST_STREAM = 3
    SETTINGS = 4
    PING = 6
    GOAWAY = 7
    HEADERS = 8
    WINDOW_UPDATE = 9


class RstStatus(enum.IntEnum):
    """Why a stream was reset."""

    PROTOCOL_ERROR = 1
    INVALID_STREAM = 2
    REFUSED_STREAM = 3
    UNSUPPORTED_VERSION = 4
    CANCEL = 5
    INTERNAL_ERROR = 6
    FLOW_CONTROL_ERROR = 7
    STREAM_IN_USE = 8
    STREAM_ALREADY_CLOSED = 9
    FRAME_TOO_LARGE = 11


class GoAwayStatus(enum.IntEnum):
    """Why a session ends."""

    OK = 0
    PROTOCOL_ERROR = 1
    INTERNAL_ERROR = 2


class Setting(enum.IntEnum):
    """SETTINGS ids that matter here."""

    MAX_CONCURRENT_STREAMS = 4
    INITIAL_WINDOW_SIZE = 7


@dataclass(frozen=True)
class DataFrame:
    """Bytes on a stream; ``fin`` half-closes the sender's side."""

    stream_id: int
    data: bytes
    fin: bool = False


@dataclass(frozen=True)
class SynStream:
    """Opens a stream with its headers."""

    stream_id: int
    headers: Headers
    associated_id: int = 0
    priority: int = 0
    fin: bool = False
    unidirectional: bool = False


@dataclass(frozen=True)
class SynReply:
    """Accepts a stream the peer opened."""

    stream_id: int
    headers: Headers = ()
    fin: bool = False


@dataclass(frozen=True)
class RstStream:
    """Ends a stream abnormally."""

    stream_id: int
    status: int


@dataclass(frozen=True)
class Settings:
    """Session parameters: id -> value (per-entry flags are not kept)."""

    values: dict[int, int] = field(default_factory=dict)
    clear: bool = False


@dataclass(frozen=True)
class Ping:
    """Liveness check; the receiver echoes a ping whose id has the peer's parity."""

    ping_id: int


@dataclass(frozen=True)
class GoAway:
    """No new streams after ``last_good_stream_id``."""

    last_good_stream_id: int
    status: int = GoAwayStatus.OK


@dataclass(frozen=True)
class HeadersFrame:
    """More headers on an open stream."""

    stream_id: int
    headers: Headers
    fin: bool = False


@dataclass(frozen=True)
class WindowUpdate:
    """Grants ``delta`` more bytes of DATA on a stream (stream 0: on the whole session, SPDY/3.1)."""

    stream_id: int
    delta: int


Frame = DataFrame | SynStream | SynReply | RstStream | Settings | Ping | GoAway | HeadersFrame | WindowUpdate


def _control(kind: FrameType, flags: int, payload: bytes) -> bytes:
    if len(payload) > MAX_LENGTH:
        raise ValueError(f"a SPDY frame carries at most {MAX_LENGTH} bytes, not {len(payload)}")
    return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(payload)) + payload


def _check_stream_id(stream_id: int, allow_zero: bool = False) -> None:
    if not (0 if allow_zero else 1) <= stream_id <= STREAM_ID_MASK:
        raise ValueError(f"stream id {stream_id} is outside 1..2^31-1")


class FrameEncoder:
    """Frames to bytes, with the sending direction's header compression context."""

    def __init__(self) -> None:
        self._headers = HeaderBlockEncoder()

    def encode(self, frame: Frame) -> bytes:
        """The wire bytes of ``frame``."""
        match frame:
            case DataFrame(stream_id, data, fin):
                _check_stream_id(stream_id)
                if len(data) > MAX_LENGTH:
                    raise ValueError(f"a DATA frame carries at most {MAX_LENGTH} bytes")
                return struct.pack(">II", stream_id, ((FLAG_FIN if fin else 0) << 24) | len(data)) + data
            case SynStream(stream_id, headers, associated_id, priority, fin, uni):
                _check_stream_id(stream_id)
                _check_stream_id(associated_id, allow_zero=True)
                flags = (FLAG_FIN if fin else 0) | (FLAG_UNIDIRECTIONAL if uni else 0)
                body = struct.pack(">IIBB", stream_id, associated_id, (priority & 7) << 5, 0)
                return _control(FrameType.SYN_STREAM, flags, body + self._headers.encode(headers))
            case SynReply(stream_id, headers, fin):
                _check_stream_id(stream_id)
                body = struct.pack(">I", stream_id) + self._headers.encode(headers)
                return _control(FrameType.SYN_REPLY, FLAG_FIN if fin else 0, body)
            case HeadersFrame(stream_id, headers, fin):
                _check_stream_id(stream_id)
                body = struct.pack(">I", stream_id) + self._headers.encode(headers)
                return _control(FrameType.HEADERS, FLAG_FIN if fin else 0, body)
            case RstStream(stream_id, status):
                _check_stream_id(stream_id)
                return _control(FrameType.RST_STREAM, 0, struct.pack(">II", stream_id, status))
            case Settings(values, clear):
                body = struct.pack(">I", len(values)) + b"".join(
                    struct.pack(">II", key & 0xFFFFFF, value) for key, value in values.items())
                return _control(FrameType.SETTINGS, FLAG_SETTINGS_CLEAR if clear else 0, body)
            case Ping(ping_id):
                return _control(FrameType.PING, 0, struct.pack(">I", ping_id & 0xFFFFFFFF))
            case GoAway(last, status):
                _check_stream_id(last, allow_zero=True)
                return _control(FrameType.GOAWAY, 0, struct.pack(">II", last, status))
            case WindowUpdate(stream_id, delta):
                _check_stream_id(stream_id, allow_zero=True)
                if not 1 <= delta <= STREAM_ID_MASK:
                    raise ValueError(f"a window delta is 1..2^31-1, not {delta}")
                return _control(FrameType.WINDOW_UPDATE, 0, struct.pack(">II", stream_id, delta))
        raise TypeError(f"not a SPDY frame: {frame!r}")


class FrameDecoder:
    """Bytes to frames, incrementally (input may split or join frames anywhere), with the receiving
    direction's header decompression context."""

    def __init__(self, max_frame: int = MAX_LENGTH) -> None:
        self._buffer = bytearray()
        self._headers = HeaderBlockDecoder()
        self.max_frame = max_frame

    def feed(self, data: bytes) -> list[Frame]:
        """Every frame completed by ``data``; unknown control frame types are skipped, as the spec asks."""
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= HEADER_LEN:
            first, second = struct.unpack_from(">II", self._buffer)
            flags, length = second >> 24, second & 0xFFFFFF
            if length > self.max_frame:
                raise SpdyProtocolError(f"frame of {length} bytes exceeds the limit of {self.max_frame}")
            if len(self._buffer) < HEADER_LEN + length:
                break
            payload = bytes(self._buffer[HEADER_LEN:HEADER_LEN + length])
            del self._buffer[:HEADER_LEN + length]
            if first & 0x80000000:
                frame = self._control(first, flags, payload)
                if frame is not None:
                    frames.append(frame)
            else:
                frames.append(DataFrame(first & STREAM_ID_MASK, payload, bool(flags & FLAG_FIN)))
        return frames

    def _control(self, first: int, flags: int, payload: bytes) -> Frame | None:
        version, kind = (first >> 16) & 0x7FFF, first & 0xFFFF
        if version != VERSION:
            raise SpdyProtocolError(f"unsupported SPDY version {version} (this speaks {VERSION})")
        if kind not in FrameType.__members__.values():
            return None
        kind = FrameType(kind)
        fin = bool(flags & FLAG_FIN)
        if kind is FrameType.SYN_STREAM:
            _need(kind, payload, 10, exact=False)
            stream_id, associated, priority = struct.unpack_from(">IIB", payload)
            return SynStream(_stream(kind, stream_id), self._headers.decode(payload[10:]),
                             associated & STREAM_ID_MASK, priority >> 5, fin, bool(flags & FLAG_UNIDIRECTIONAL))
        if kind in (FrameType.SYN_REPLY, FrameType.HEADERS):
            _need(kind, payload, 4, exact=False)
            stream_id = _stream(kind, struct.unpack_from(">I", payload)[0])
            headers = self._headers.decode(payload[4:])
            return SynReply(stream_id, headers, fin) if kind is FrameType.SYN_REPLY else HeadersFrame(
                stream_id, headers, fin)
        if kind is FrameType.RST_STREAM:
            _need(kind, payload, 8)
            stream_id, status = struct.unpack(">II", payload)
            return RstStream(_stream(kind, stream_id), status)
        if kind is FrameType.SETTINGS:
            _need(kind, payload, 4, exact=False)
            (count,) = struct.unpack_from(">I", payload)
            if len(payload) != 4 + 8 * count:
                raise SpdyProtocolError(f"SETTINGS declares {count} entries in {len(payload) - 4} bytes")
            values = {}
            for i in range(count):
                key, value = struct.unpack_from(">II", payload, 4 + 8 * i)
                values[key & 0xFFFFFF] = value
            return Settings(values, bool(flags & FLAG_SETTINGS_CLEAR))
        if kind is FrameType.PING:
            _need(kind, payload, 4)
            return Ping(struct.unpack(">I", payload)[0])
        if kind is FrameType.GOAWAY:
            _need(kind, payload, 8)
            last, status = struct.unpack(">II", payload)
            return GoAway(last & STREAM_ID_MASK, status)
        _need(kind, payload, 8)
        stream_id, delta = struct.unpack(">II", payload)
        delta &= STREAM_ID_MASK
        if delta == 0:
            raise SpdyProtocolError("WINDOW_UPDATE with a zero delta")
        return WindowUpdate(stream_id & STREAM_ID_MASK, delta)


def _need(kind: FrameType, payload: bytes, size: int, exact: bool = True) -> None:
    if len(payload) < size or (exact and len(payload) != size):
        raise SpdyProtocolError(f"{kind.name} frame of {len(payload)} bytes (needs {'' if exact else 'at least '}"
                                f"{size})")


def _stream(kind: FrameType, raw: int) -> int:
    stream_id = raw & STREAM_ID_MASK
    if stream_id == 0:
        raise SpdyProtocolError(f"{kind.name} on stream 0")
    return stream_id
