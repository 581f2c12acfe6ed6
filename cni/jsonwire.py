"""JSON in and out of the CNI plugin through CPython's C codec (``_json``) alone.

The ``json`` package imports ``re`` (and with it ``enum``) for its pure-Python fallbacks: measured with the
interpreter's start-up, that import was the largest single cost of a plugin call, paid on every pod's ADD and
DEL. The C scanner and encoder below are the ones ``json.loads`` and ``json.dumps`` use themselves; only the
surrounding checks (whitespace, trailing data) are repeated here. Errors are ``ValueError`` as json's are
(the scanner's own import ``json.decoder`` for their message, on that path only).
"""

from __future__ import annotations

import _json

TYPE_CHECKING = False  # typing's import costs every plugin call
if TYPE_CHECKING:
    from typing import Any

_WHITESPACE = " \t\n\r"


class _Context:
    """What the C scanner reads from a JSONDecoder: json.loads' defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float  # NaN, Infinity, -Infinity, as json.loads reads them


# typeshed types the context as a scanner; the C code reads only the attributes above (as from a JSONDecoder).
_scan = _json.make_scanner(_Context())  # type: ignore[arg-type]


def _refuse(obj: object) -> object:
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


# markers (None: no cycle check; plugin output is built fresh), default, string encoder, indent (unsupported
# by the C encoder), key and item separators, sort_keys, skipkeys, allow_nan.
_encode = _json.make_encoder(None, _refuse, _json.encode_basestring_ascii, None, ": ", ", ", False, False, True)


def loads(data: bytes | str) -> Any:
    """A JSON document (UTF-8 bytes or text), as ``json.loads`` returns it."""
    text = data.decode() if isinstance(data, bytes) else data
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration as stop:
        raise ValueError(f"Expecting value at char {stop.value}") from None
    if text[end:].strip(_WHITESPACE):
        raise ValueError(f"Extra data at char {end}")
    return value


def dumps(obj: Any) -> str:
    """``obj`` as ``json.dumps`` writes it (non-ASCII escaped, default separators)."""
    return "".join(_encode(obj, 0))
