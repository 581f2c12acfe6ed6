"""CRI log records and the shim's size-based rotation."""

from __future__ import annotations

import re

from runtime.containerlog import MAX_LINE, LogWriter, format_record, parse_record, timestamp

RFC3339_NANO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")


def test_timestamp_is_rfc3339_nano_utc():
    assert timestamp(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456789Z"
    assert RFC3339_NANO.match(timestamp())


def test_record_round_trip():
    line = format_record("stderr", "F", b"boom  with  spaces", ns=0)
    assert line == b"1970-01-01T00:00:00.000000000Z stderr F boom  with  spaces\n"
    assert parse_record(line) == ("1970-01-01T00:00:00.000000000Z", "stderr", "F", b"boom  with  spaces")


def _records(path):
    return [parse_record(line) for line in path.read_bytes().splitlines(keepends=True)]


def test_lines_split_across_reads_become_one_full_record(tmp_path):
    w = LogWriter(str(tmp_path / "c.log"))
    w.write("stdout", b"hel")
    w.write("stdout", b"lo\nwor")
    w.write("stderr", b"err\n")
    w.write("stdout", b"ld\n")
    w.close()
    assert [(s, t, c) for _, s, t, c in _records(tmp_path / "c.log")] == [
        ("stdout", "F", b"hello"), ("stderr", "F", b"err"), ("stdout", "F", b"world")]


def test_unterminated_tail_is_flushed_as_full_line(tmp_path):
    w = LogWriter(str(tmp_path / "c.log"))
    w.write("stdout", b"no newline")
    w.close()
    assert [(t, c) for _, _, t, c in _records(tmp_path / "c.log")] == [("F", b"no newline")]


def test_overlong_line_is_split_into_partial_records(tmp_path):
    w = LogWriter(str(tmp_path / "c.log"))
    w.write("stdout", b"x" * (MAX_LINE * 2 + 10) + b"\n")
    w.close()
    recs = _records(tmp_path / "c.log")
    assert [t for _, _, t, _ in recs] == ["P", "P", "F"]
    assert b"".join(c for _, _, _, c in recs) == b"x" * (MAX_LINE * 2 + 10)


def test_rotation_keeps_max_files(tmp_path):
    path = tmp_path / "c.log"
    w = LogWriter(str(path), max_size=200, max_files=3)
    for i in range(40):
        w.write("stdout", f"line {i:03d}\n".encode())
    w.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["c.log", "c.log.1", "c.log.2"]
    for p in tmp_path.iterdir():
        assert p.stat().st_size <= 200
    # newest content in the live file, older in .1, oldest kept in .2
    assert b"line 039" in path.read_bytes()
    last_in_1 = _records(tmp_path / "c.log.1")[-1][3]
    first_live = _records(path)[0][3]
    assert int(last_in_1.split()[1]) + 1 == int(first_live.split()[1])


def test_reopen_after_rename_writes_a_new_file(tmp_path):
    path = tmp_path / "c.log"
    w = LogWriter(str(path))
    w.write("stdout", b"before\n")
    path.rename(tmp_path / "c.log.old")
    w.reopen()
    w.write("stdout", b"after\n")
    w.close()
    assert _records(tmp_path / "c.log.old")[0][3] == b"before"
    assert [c for _, _, _, c in _records(path)] == [b"after"]
