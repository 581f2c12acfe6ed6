"""Network namespaces created for one test and deleted after it (needs root)."""

from __future__ import annotations

import subprocess
from pathlib import Path

NETNS_DIR = Path("/run/netns")


def add_netns(name: str) -> str:
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    return name


def delete_netns(name: str) -> None:
    """Deletes ``name`` if it exists; a missing namespace is not an error (idempotent teardown)."""
    if (NETNS_DIR / name).exists():
        subprocess.run(["ip", "netns", "delete", name], check=True, capture_output=True)


def netns_exec(name: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["nsenter", f"--net={NETNS_DIR / name}", *argv], capture_output=True, text=True)
