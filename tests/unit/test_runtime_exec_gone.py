"""The exec helper meets a container whose process exited after the daemon saw it running."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from runtime import launch
from runtime.linux.rootfs import RootfsSpec
from runtime.spec import ContainerSpec, ProcessSpec


def test_exec_into_an_exited_process_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = ContainerSpec(id="gone", process=ProcessSpec(args=["/bin/sh"]),
                         rootfs=RootfsSpec(lowerdirs=["/l"], upperdir="/u", workdir="/w", target="/m"))
    (tmp_path / "config.json").write_text(spec.to_json())
    child = subprocess.Popen(["true"])
    child.wait()  # reaped: its /proc entry is gone
    code = launch.main(["exec", str(tmp_path / "config.json"), str(child.pid), "--", "true"])
    assert code == 126
    assert capsys.readouterr().err == (f"cannot exec in a stopped container: its process {child.pid} has exited\n")
