"""Kubernetes' atomic writer: a volume's files change all at once, through a ``..data`` symlink swap.

Layout (as kubelet writes configMap/secret/downwardAPI/projected volumes)::

    <dir>/..2026_11_26_09_30_00.123456789/   the current generation, written in full first
    <dir>/..data -> ..2026_11_26_...          renamed over atomically
    <dir>/<key>  -> ..data/<key>              one stable symlink per top-level name

A reader following ``<key>`` sees either the old generation or the new one, never a mix.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

DATA_DIR: Final = "..data"
DATA_TMP: Final = "..data_tmp"


class PayloadError(ValueError):
    """A projected path that would escape the volume or collide with the writer's own names."""


@dataclass(frozen=True)
class FileProjection:
    """One file's content and permission bits."""

    data: bytes
    mode: int = 0o644


def validate_path(path: str) -> None:
    """Relative, no ``..`` element, not starting with ``..`` (the writer's own names)."""
    if not path:
        raise PayloadError("invalid path: must not be empty")
    if path.startswith("/"):
        raise PayloadError(f"invalid path: must be relative path: {path}")
    if len(path) > 4096:
        raise PayloadError(f"invalid path: must be less than or equal to 4096 characters: {path}")
    if ".." in path.split("/"):
        raise PayloadError(f"invalid path: must not contain '..': {path}")
    if path.startswith(".."):
        raise PayloadError(f"invalid path: must not start with '..': {path}")


def _timestamp_prefix() -> str:
    ns = time.time_ns()
    return time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime(ns / 1e9)) + f"{ns % 1_000_000_000:09d}"


class AtomicWriter:
    """Writes whole payloads into ``target``; a payload equal to what is there is a no-op."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def current(self) -> dict[str, FileProjection]:
        """The payload as on disk now (empty if never written)."""
        data = self.target / DATA_DIR
        if not data.is_symlink():
            return {}
        root = self.target / os.readlink(data)
        out: dict[str, FileProjection] = {}
        for dirpath, _, files in os.walk(root):
            for name in files:
                full = Path(dirpath) / name
                out[str(full.relative_to(root))] = FileProjection(full.read_bytes(), full.stat().st_mode & 0o7777)
        return out

    def write(self, payload: Mapping[str, FileProjection]) -> bool:
        """Make ``payload`` the volume's content; True when anything changed."""
        for path in payload:
            validate_path(path)
            validate_path(os.path.normpath(path))
        self.target.mkdir(parents=True, exist_ok=True)
        if dict(payload) == self.current():
            return False
        old_name = os.readlink(self.target / DATA_DIR) if (self.target / DATA_DIR).is_symlink() else ""
        generation = Path(tempfile.mkdtemp(prefix=_timestamp_prefix(), dir=self.target))
        generation.chmod(0o755)
        for path, projection in payload.items():
            file = generation / path
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_bytes(projection.data)
            file.chmod(projection.mode)
        tmp = self.target / DATA_TMP
        if tmp.is_symlink():
            tmp.unlink()
        tmp.symlink_to(generation.name)
        tmp.replace(self.target / DATA_DIR)
        wanted = {path.split("/", 1)[0] for path in payload}
        for name in sorted(wanted):
            link = self.target / name
            if not link.is_symlink():
                link.symlink_to(f"{DATA_DIR}/{name}")
        for entry in self.target.iterdir():
            if entry.name.startswith(".."):
                continue
            if entry.is_symlink() and entry.name not in wanted:
                entry.unlink()
        if old_name and old_name != generation.name:
            shutil.rmtree(self.target / old_name, ignore_errors=True)
        return True
