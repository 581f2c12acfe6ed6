"""Parsed kubeconfig files kept as JSON in tkctl's cache directory, so most commands never load a YAML parser
(importing and running PyYAML was the largest part of ``tkctl get``'s start-up).

An entry is used only while its file's path, mtime, size and inode are unchanged. Kubeconfigs hold
credentials, so the directory is created 0700 and each entry written 0600, as the kubeconfig itself is.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from client.kubeconfig import read_doc

Reader = Callable[[Path], dict[str, Any]]


def cached_reader(cache_root: Path) -> Reader:
    """A ``read_doc`` that answers from ``<cache_root>/kubeconfig/`` when the file has not changed."""
    folder = cache_root / "kubeconfig"

    def read(path: Path) -> dict[str, Any]:
        try:
            st = path.stat()
        except OSError:
            return read_doc(path)  # it raises kubectl's error for an unreadable file
        full = str(path.absolute())
        stamp = [full, st.st_mtime_ns, st.st_size, st.st_ino]
        entry = folder / f"{zlib.crc32(full.encode()):08x}-{path.name}.json"
        try:
            cached = json.loads(entry.read_text())
            if isinstance(cached, dict) and cached.get("stamp") == stamp and isinstance(cached.get("doc"), dict):
                doc: dict[str, Any] = cached["doc"]
                return doc
        except (OSError, ValueError):
            pass
        doc = read_doc(path)
        _store(entry, {"stamp": stamp, "doc": doc})
        return doc

    return read


def _store(entry: Path, value: dict[str, Any]) -> None:
    """Best effort: a cache that cannot be written (read-only home, odd YAML types) is simply not used."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        return
    tmp = entry.with_name(f".{entry.name}.{os.getpid()}")
    try:
        entry.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(tmp, entry)
    except OSError:
        tmp.unlink(missing_ok=True)
