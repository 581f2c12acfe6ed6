"""CRI log parsing and the pods/log options (tail, since, timestamps, limitBytes)."""

from __future__ import annotations

from kubelet.logs import LogOptions, parse_lines, parse_time, render

RECORDS = [
    b"2026-01-01T00:00:01.000000001Z stdout F first\n",
    b"2026-01-01T00:00:02.5Z stderr P sec",
    b"2026-01-01T00:00:02.6Z stderr F ond\n",
    b"garbage\n",
    b"2026-01-01T00:00:03Z stdout F \n",
    b"2026-01-01T00:00:04Z stdout F last\n",
]


def test_partials_join_and_garbage_is_skipped() -> None:
    lines = parse_lines(RECORDS)
    assert [line.content for line in lines] == [b"first\n", b"second\n", b"\n", b"last\n"]
    assert lines[1].time_text == "2026-01-01T00:00:02.5Z"


def test_options() -> None:
    lines = parse_lines(RECORDS)
    assert render(lines, LogOptions()) == b"first\nsecond\n\nlast\n"
    assert render(lines, LogOptions(tail_lines=2)) == b"\nlast\n"
    assert render(lines, LogOptions(tail_lines=0)) == b""
    assert render(lines, LogOptions(since=parse_time("2026-01-01T00:00:02Z"))) == b"second\n\nlast\n"
    assert render(lines, LogOptions(tail_lines=1, timestamps=True)) == b"2026-01-01T00:00:04Z last\n"
    assert render(lines, LogOptions(limit_bytes=8)) == b"first\nse"


def test_options_from_query() -> None:
    now = parse_time("2026-01-01T00:00:10Z")
    opts = LogOptions.from_query({"sinceSeconds": "7", "tailLines": "3", "timestamps": "true",
                                  "limitBytes": "100"}, now)
    assert opts == LogOptions(tail_lines=3, since=now - 7, timestamps=True, limit_bytes=100)
    assert LogOptions.from_query({"sinceTime": "2026-01-01T00:00:02Z"}, now).since == parse_time(
        "2026-01-01T00:00:02Z")
    assert parse_time("2026-01-01T00:00:01.5Z") - parse_time("2026-01-01T00:00:01Z") == 0.5
