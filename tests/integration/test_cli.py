"""The console scripts, run as a user runs them: from .venv/bin."""

import subprocess
import sys
from pathlib import Path

from process.version import __version__
from tinykube.cli import COMMANDS

BIN = Path(sys.executable).parent


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_tinykube_help_and_version():
    help_ = run(str(BIN / "tinykube"), "--help")
    assert help_.returncode == 0
    assert "usage: tinykube" in help_.stdout
    version = run(str(BIN / "tinykube"), "--version")
    assert version.returncode == 0
    assert version.stdout.strip().startswith(f"tinykube {__version__}")


def test_tinykube_unknown_command_is_a_one_line_error():
    result = run(str(BIN / "tinykube"), "frobnicate")
    assert result.returncode == 2
    assert "unknown command 'frobnicate'" in result.stderr
    assert "Traceback" not in result.stderr


def test_tkctl_help_and_version():
    assert run(str(BIN / "tkctl"), "--help").returncode == 0
    version = run(str(BIN / "tkctl"), "--version")
    assert version.stdout.strip().startswith(f"tkctl {__version__}")


def test_tkctl_unknown_verb_exits_nonzero_without_traceback():
    result = run(str(BIN / "tkctl"), "frobnicate")
    assert result.returncode == 1
    assert result.stderr.strip() == 'error: unknown command "frobnicate" for "tkctl"'


def test_every_subcommand_has_working_help():
    """Each registered component starts far enough to print its flags (catches a missing module or import)."""
    for name in COMMANDS:
        result = run(str(BIN / "tinykube"), name, "--help")
        assert result.returncode == 0, f"tinykube {name} --help: {result.stderr}"
        assert "usage:" in result.stdout.lower(), name
