"""The apiserver process never loads grpcio: its store client speaks gRPC itself (grpcio's core costs ~15 MiB)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit


def test_the_apiserver_does_not_import_grpcio() -> None:
    code = "import sys, apiserver.main; print(sorted(m for m in sys.modules if m.split('.')[0] == 'grpc'))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
