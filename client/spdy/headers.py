"""SPDY/3 name/value header blocks and their zlib compression (SPDY draft 3.1, section 2.6.10).

A block is a 32-bit pair count, then per pair a 32-bit length and the lowercase name, a 32-bit length
and the value (several values of one name are joined by NUL). Each direction of a session compresses all
its blocks with one zlib stream primed with the SPDY/3 dictionary, each block ending at a sync flush, so
an encoder or decoder must see every block of its direction in order.
"""

from __future__ import annotations

import struct
import zlib

from client.spdy.dictionary import SPDY3_DICTIONARY

Headers = tuple[tuple[str, str], ...]
MAX_HEADER_BLOCK = 256 * 1024  # decompressed; far above what port-forward or exec send, far below a zip bomb


class SpdyProtocolError(Exception):
    """The peer broke the SPDY protocol; the session cannot go on."""


def header(headers: Headers, name: str) -> str | None:
    """The value of ``name`` (lowercase), or None."""
    return next((v for k, v in headers if k == name), None)


def pack_headers(headers: Headers) -> bytes:
    """The uncompressed block for ``headers``; names are lowercased as SPDY requires."""
    out = [struct.pack(">I", len(headers))]
    for name, value in headers:
        raw_name, raw_value = name.lower().encode(), value.encode()
        if not raw_name:
            raise ValueError("a SPDY header name cannot be empty")
        out.append(struct.pack(">I", len(raw_name)) + raw_name + struct.pack(">I", len(raw_value)) + raw_value)
    return b"".join(out)


def unpack_headers(block: bytes) -> Headers:
    """The pairs of an uncompressed block; malformed blocks raise ``SpdyProtocolError``."""
    try:
        (count,) = struct.unpack_from(">I", block)
        pos, pairs = 4, []
        seen: set[str] = set()
        for _ in range(count):
            fields = []
            for _ in range(2):
                (length,) = struct.unpack_from(">I", block, pos)
                pos += 4
                if pos + length > len(block):
                    raise SpdyProtocolError("a header block entry runs past the end of the block")
                fields.append(block[pos:pos + length].decode())
                pos += length
            name, value = fields
            if not name or name != name.lower() or name in seen:
                raise SpdyProtocolError(f"invalid header name {name!r} (empty, uppercase or repeated)")
            seen.add(name)
            pairs.append((name, value))
    except (struct.error, UnicodeDecodeError) as err:
        raise SpdyProtocolError(f"malformed header block: {err}") from None
    if pos != len(block):
        raise SpdyProtocolError(f"{len(block) - pos} stray bytes after the header block's {count} pairs")
    return tuple(pairs)


class HeaderBlockEncoder:
    """The sending direction's compression context."""

    def __init__(self) -> None:
        self._zlib = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY,
                                      zdict=SPDY3_DICTIONARY)

    def encode(self, headers: Headers) -> bytes:
        """``headers`` packed and compressed up to a sync point."""
        return self._zlib.compress(pack_headers(headers)) + self._zlib.flush(zlib.Z_SYNC_FLUSH)


class HeaderBlockDecoder:
    """The receiving direction's decompression context."""

    def __init__(self, limit: int = MAX_HEADER_BLOCK) -> None:
        self._zlib = zlib.decompressobj(zdict=SPDY3_DICTIONARY)
        self.limit = limit

    def decode(self, compressed: bytes) -> Headers:
        """The pairs of one compressed block."""
        try:
            block = self._zlib.decompress(compressed, self.limit)
        except zlib.error as err:
            raise SpdyProtocolError(f"header block does not decompress: {err}") from None
        if self._zlib.unconsumed_tail:
            raise SpdyProtocolError(f"header block larger than {self.limit} bytes")
        if self._zlib.eof:
            raise SpdyProtocolError("the peer ended its header compression stream")
        return unpack_headers(block)
