"""Reading containers' CRI-format logs the way ``kubectl logs`` expects (pure parsing and filtering).

A CRI log line is ``<RFC3339Nano time> <stdout|stderr> <P|F> <content>``; ``P`` marks a partial line that
continues in the next record. Options are the pods/log ones: tailLines, sinceSeconds/sinceTime, timestamps,
limitBytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class LogOptions:
    """pods/log query parameters."""

    tail_lines: int | None = None
    since: float | None = None  # epoch seconds: only lines at or after this time
    timestamps: bool = False
    limit_bytes: int | None = None

    @classmethod
    def from_query(cls, query: dict[str, str], now: float) -> LogOptions:
        """Options from a pods/log query string; ``now`` anchors sinceSeconds."""
        since: float | None = None
        if query.get("sinceSeconds"):
            since = now - int(query["sinceSeconds"])
        elif query.get("sinceTime"):
            since = parse_time(query["sinceTime"])
        return cls(tail_lines=int(query["tailLines"]) if query.get("tailLines") else None, since=since,
                   timestamps=query.get("timestamps") in ("true", "1"),
                   limit_bytes=int(query["limitBytes"]) if query.get("limitBytes") else None)


@dataclass(frozen=True)
class LogLine:
    """One complete line (partials joined), with the time of its first record."""

    time_text: str
    content: bytes


def parse_time(text: str) -> float:
    """RFC3339 with up to nanoseconds (Python keeps microseconds, enough to compare)."""
    main, _, frac = text.rstrip("Z").partition(".")
    base = datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    return base + (float("0." + frac) if frac else 0.0)


def parse_lines(records: Iterable[bytes]) -> list[LogLine]:
    """Join partial records into lines; malformed records are skipped."""
    out: list[LogLine] = []
    pending: list[bytes] = []
    first_time = ""
    for record in records:
        parts = record.rstrip(b"\n").split(b" ", 3)
        if len(parts) < 3:
            continue
        time_text, tag = parts[0].decode(), parts[2]
        content = parts[3] if len(parts) == 4 else b""
        if not pending:
            first_time = time_text
        pending.append(content)
        if tag != b"P":
            out.append(LogLine(first_time, b"".join(pending) + b"\n"))
            pending = []
    return out


def render(lines: list[LogLine], options: LogOptions) -> bytes:
    """The bytes kubectl shows for ``lines`` under ``options``."""
    chosen = lines
    if options.since is not None:
        since = options.since
        chosen = [line for line in chosen if parse_time(line.time_text) >= since]
    if options.tail_lines is not None:
        chosen = chosen[-options.tail_lines:] if options.tail_lines > 0 else []
    data = b"".join((line.time_text.encode() + b" " if options.timestamps else b"") + line.content
                    for line in chosen)
    if options.limit_bytes is not None:
        data = data[:options.limit_bytes]
    return data
