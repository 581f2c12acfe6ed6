"""Decoding Kubernetes protobuf bodies (`application/vnd.kubernetes.protobuf`) into JSON objects.

kubectl 1.32 sends typed creates (configmaps, deployments, reviews, token requests…) as protobuf. The
wire layout is the `k8s\\0` magic, then a runtime.Unknown envelope holding apiVersion/kind and the
object's own message, whose field numbers come from the schema declarations (Field.proto).
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final

import orjson

from api.schema import JSON, Field, ListOf, MapOf, ObjectType, Ref, Registry, Scalar, TypeSpec
from api.structure import is_zero

MAGIC: Final = b"k8s\x00"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


class ProtobufError(ValueError):
    """The body is not a well-formed Kubernetes protobuf message (the apiserver answers 400)."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ProtobufError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise ProtobufError("varint too long")


def fields_of(buf: bytes) -> list[tuple[int, int, int | bytes]]:
    """Split a message into (field number, wire type, value): ints for varint/fixed, bytes for length-delimited."""
    out: list[tuple[int, int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == VARINT:
            value, pos = _varint(buf, pos)
        elif wire == FIXED64:
            value, pos = int.from_bytes(buf[pos : pos + 8], "little"), pos + 8
        elif wire == LENGTH:
            length, pos = _varint(buf, pos)
            if pos + length > len(buf):
                raise ProtobufError("truncated length-delimited field")
            value, pos = buf[pos : pos + length], pos + length
        elif wire == FIXED32:
            value, pos = int.from_bytes(buf[pos : pos + 4], "little"), pos + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        if pos > len(buf):
            raise ProtobufError("truncated field")
        out.append((number, wire, value))
    return out


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _message(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise ProtobufError("expected an embedded message")
    return value


def _int_fields(buf: bytes) -> dict[int, int | bytes]:
    return {n: v for n, _, v in fields_of(buf)}


def _time(value: int | bytes, micro: bool) -> str | None:
    parts = _int_fields(_message(value))
    seconds, nanos = parts.get(1, 0), parts.get(2, 0)
    if not isinstance(seconds, int) or not isinstance(nanos, int) or (seconds == 0 and nanos == 0):
        return None
    when = _EPOCH + timedelta(seconds=_signed(seconds))
    if micro:
        return when.strftime("%Y-%m-%dT%H:%M:%S") + f".{_signed(nanos) // 1000:06d}Z"
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def go_duration(ns: int) -> str:
    """A nanosecond count in Go's time.Duration.String() form (`1h2m3s`, `1.5s`, `300ms`)."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                whole, frac = divmod(ns, size)
                text = f"{whole}" + (f".{frac:0{len(str(size)) - 1}d}".rstrip("0") if frac else "")
                return f"{sign}{text}{unit}"
    hours, rest = divmod(ns, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    seconds, frac = divmod(rest, 10**9)
    sec_text = f"{seconds}" + (f".{frac:09d}".rstrip("0") if frac else "") + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{sec_text}"
    if minutes:
        return f"{sign}{minutes}m{sec_text}"
    return f"{sign}{sec_text}"


def _raw_json(value: int | bytes) -> JSON:
    raw = _int_fields(_message(value)).get(1, b"")
    if not isinstance(raw, bytes) or not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise ProtobufError(f"embedded raw JSON is invalid: {err}") from None


def _scalar(spec: Scalar, wire: int, value: int | bytes) -> JSON:
    fmt = spec.format
    if fmt == "string":
        return _message(value).decode("utf-8", errors="replace")
    if fmt in ("int32", "int64"):
        if not isinstance(value, int):
            raise ProtobufError("expected an integer")
        return _signed(value)
    if fmt == "boolean":
        return bool(value)
    if fmt == "double":
        if wire == FIXED64 and isinstance(value, int):
            return float(struct.unpack("<d", value.to_bytes(8, "little"))[0])
        if wire == FIXED32 and isinstance(value, int):
            return float(struct.unpack("<f", value.to_bytes(4, "little"))[0])
        raise ProtobufError("expected a floating point number")
    if fmt == "byte":
        return base64.b64encode(_message(value)).decode()
    if fmt in ("date-time", "micro-time"):
        return _time(value, micro=fmt == "micro-time")
    if fmt == "duration":
        ns = _int_fields(_message(value)).get(1, 0)
        return go_duration(_signed(ns) if isinstance(ns, int) else 0)
    if fmt == "quantity":
        text = _int_fields(_message(value)).get(1, b"")
        return text.decode() if isinstance(text, bytes) else None
    if fmt == "int-or-string":
        parts = _int_fields(_message(value))
        if parts.get(1, 0) == 1:
            text = parts.get(3, b"")
            return text.decode() if isinstance(text, bytes) else ""
        number = parts.get(2, 0)
        return _signed(number) if isinstance(number, int) else 0
    return _raw_json(value)


_PACKABLE: Final = {"int32", "int64", "boolean", "double"}


class Decoder:
    """Decodes messages of declared types; per-type field tables are built once and reused."""

    def __init__(self, reg: Registry) -> None:
        self.reg = reg
        self._tables: dict[str, tuple[dict[int, Field], dict[int, dict[int, Field]]]] = {}

    def _table(self, otype: ObjectType) -> tuple[dict[int, Field], dict[int, dict[int, Field]]]:
        table = self._tables.get(otype.name)
        if table is None:
            direct = {f.proto: f for f in otype.fields if f.proto and not f.embedded_in}
            embedded: dict[int, dict[int, Field]] = {}
            for f in otype.fields:
                if f.proto and f.embedded_in:
                    embedded.setdefault(f.embedded_in, {})[f.proto] = f
            table = (direct, embedded)
            self._tables[otype.name] = table
        return table

    def message(self, type_name: str, buf: bytes) -> dict[str, JSON]:
        """Decode one message of the named type into its JSON form."""
        otype = self.reg.type(type_name)
        direct, embedded = self._table(otype)
        out: dict[str, JSON] = {}
        for number, wire, value in fields_of(buf):
            if number in embedded:
                for sub_number, sub_wire, sub_value in fields_of(_message(value)):
                    sub_field = embedded[number].get(sub_number)
                    if sub_field is not None:
                        self._set(out, sub_field, sub_wire, sub_value)
                continue
            f = direct.get(number)
            if f is not None:
                self._set(out, f, wire, value)
        for f in otype.fields:
            if f.omit_zero and f.name in out and is_zero(out[f.name]):
                del out[f.name]
        return out

    def _set(self, out: dict[str, JSON], f: Field, wire: int, value: int | bytes) -> None:
        spec = f.type
        if isinstance(spec, ListOf):
            items = out.setdefault(f.name, [])
            item = spec.item
            if isinstance(item, Scalar) and item.format in _PACKABLE and wire == LENGTH and isinstance(value, bytes):
                items.extend(self._packed(item, value))
            else:
                items.append(self._value(item, wire, value))
            return
        if isinstance(spec, MapOf):
            entry = _int_fields(_message(value))
            key = entry.get(1, b"")
            key_text = key.decode() if isinstance(key, bytes) else str(key)
            raw = entry.get(2)
            target = out.setdefault(f.name, {})
            if raw is None:
                target[key_text] = self._empty(spec.value)
            else:
                target[key_text] = self._value(spec.value, LENGTH if isinstance(raw, bytes) else VARINT, raw)
            return
        decoded = self._value(spec, wire, value)
        if decoded is not None:
            out[f.name] = decoded

    def _empty(self, spec: TypeSpec) -> JSON:
        if isinstance(spec, Scalar) and spec.format == "string":
            return ""
        if isinstance(spec, ListOf):
            return []
        if isinstance(spec, Ref):
            return {}
        return None

    def _packed(self, item: Scalar, buf: bytes) -> list[JSON]:
        values: list[JSON] = []
        pos = 0
        while pos < len(buf):
            if item.format == "double":
                values.append(struct.unpack("<d", buf[pos : pos + 8])[0])
                pos += 8
            else:
                raw, pos = _varint(buf, pos)
                values.append(bool(raw) if item.format == "boolean" else _signed(raw))
        return values

    def _value(self, spec: TypeSpec, wire: int, value: int | bytes) -> JSON:
        if isinstance(spec, Scalar):
            return _scalar(spec, wire, value)
        if isinstance(spec, Ref):
            return self.message(spec.name, _message(value))
        if isinstance(spec, ListOf) and spec.proto_wrapped:  # ExtraValue: one message holding repeated items
            return [self._value(spec.item, w, v) for n, w, v in fields_of(_message(value)) if n == 1]
        raise ProtobufError("nested lists and maps are not representable in protobuf")


_DECODERS: dict[int, Decoder] = {}

TypeResolver = Callable[[str, str], str | None]
"""(apiVersion, kind) → the declared type name, or None for kinds we do not serve."""


def decode(reg: Registry, body: bytes, resolve: TypeResolver) -> dict[str, JSON]:
    """Decode a whole request body: envelope, type lookup, object; apiVersion and kind are set from the envelope."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic prefix")
    envelope = _int_fields(body[len(MAGIC) :])
    type_meta = _int_fields(_message(envelope.get(1, b"")))
    api_version = type_meta.get(1, b"")
    kind = type_meta.get(2, b"")
    if not isinstance(api_version, bytes) or not isinstance(kind, bytes):
        raise ProtobufError("malformed type metadata")
    encoding = envelope.get(3, b"")
    if encoding not in (b"", None):
        raise ProtobufError(f"unsupported content encoding {encoding!r}")
    type_name = resolve(api_version.decode(), kind.decode())
    if type_name is None:
        raise ProtobufError(f"no kind {kind.decode()!r} is registered for version {api_version.decode()!r}")
    decoder = _DECODERS.get(id(reg))
    if decoder is None or decoder.reg is not reg:
        decoder = _DECODERS[id(reg)] = Decoder(reg)
    obj = decoder.message(type_name, _message(envelope.get(2, b"")))
    return {"apiVersion": api_version.decode(), "kind": kind.decode(), **obj}
