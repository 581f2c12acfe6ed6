"""The compiled shim pump on its own: a parent of an ordinary child, logging it and recording its exit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runtime.containerlog import parse_record
from runtime.shimbin import ensure_pump

# Forks the workload, then becomes the pump with the workload's pipes: the shape shim.py hands over.
LAUNCHER = """
import os, sys
pump, bundle, log, max_size, max_files, script = sys.argv[1:7]
out_r, out_w = os.pipe()
err_r, err_w = os.pipe()
pid = os.fork()
if pid == 0:
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    os.execv("/bin/sh", ["sh", "-c", script])
os.close(out_w)
os.close(err_w)
os.set_inheritable(out_r, True)
os.set_inheritable(err_r, True)
os.execv(pump, ["runtime.shim", bundle, str(pid), "123", log, max_size, max_files, "", "0", "-1", "0",
                f"{out_r}:stdout", f"{err_r}:stderr"])
"""


@pytest.fixture(scope="module")
def pump(tmp_path_factory):
    path = ensure_pump(str(tmp_path_factory.mktemp("pump")))
    if not path:
        pytest.skip("no C compiler on this machine")
    return path


def _run(pump, tmp_path, script, max_size=10 << 20, max_files=5, wait=True):
    proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, pump, str(tmp_path), str(tmp_path / "logs" / "c.log"),
                             str(max_size), str(max_files), script])
    if wait:
        assert proc.wait(timeout=20) == 0
    return proc


def _records(path):
    return [parse_record(line) for line in path.read_bytes().splitlines(keepends=True)]


def test_logs_both_streams_and_records_the_exit(pump, tmp_path):
    _run(pump, tmp_path, "echo out; echo err >&2; printf 'no newline'; exit 5")
    recs = _records(tmp_path / "logs" / "c.log")
    assert sorted((s, t, c) for _, s, t, c in recs) == [("stderr", "F", b"err"), ("stdout", "F", b"no newline"),
                                                         ("stdout", "F", b"out")]
    status = json.loads((tmp_path / "status.json").read_text())
    assert (status["exit_code"], status["reason"], status["oom_killed"], status["started_at"]) == (5, "Error", False,
                                                                                                   123)
    assert status["finished_at"] > 0 and status["shim_start"] > 0


def test_death_by_signal_is_128_plus_n(pump, tmp_path):
    _run(pump, tmp_path, "kill -9 $$")
    assert json.loads((tmp_path / "status.json").read_text())["exit_code"] == 137


def test_long_lines_become_partial_records(pump, tmp_path):
    _run(pump, tmp_path, "head -c 40000 /dev/zero | tr '\\0' x; echo")
    recs = _records(tmp_path / "logs" / "c.log")
    assert [t for _, _, t, _ in recs] == ["P", "P", "F"]
    assert b"".join(c for _, _, _, c in recs) == b"x" * 40000


def test_rotation_by_size(pump, tmp_path):
    _run(pump, tmp_path, "i=0; while [ $i -lt 60 ]; do echo line $i; i=$((i+1)); done", max_size=300, max_files=3)
    names = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert names == ["c.log", "c.log.1", "c.log.2"]
    assert all(p.stat().st_size <= 300 for p in (tmp_path / "logs").iterdir())
    assert _records(tmp_path / "logs" / "c.log")[-1][3] == b"line 59"


def test_sigusr1_reopens_the_log(pump, tmp_path):
    proc = _run(pump, tmp_path, "while :; do echo tick; sleep 0.05; done", wait=False)
    log = tmp_path / "logs" / "c.log"
    try:
        deadline = time.monotonic() + 10
        while not (log.exists() and log.stat().st_size) and time.monotonic() < deadline:
            time.sleep(0.05)
        log.rename(tmp_path / "logs" / "old.log")
        os.kill(proc.pid, signal.SIGUSR1)
        while not (log.exists() and log.stat().st_size) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _records(log)[0][3] == b"tick"
    finally:
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        for child in children:
            os.kill(int(child), signal.SIGKILL)
        proc.wait(timeout=10)
