"""Building the C half of the shim (``shim_pump.c``) once per source version, where a compiler exists.

Without a compiler the shim keeps pumping in Python: the same behaviour, ten times the memory.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from process.log import get_logger

log = get_logger("runtime.shimbin")

SOURCE = Path(__file__).with_name("shim_pump.c")


def ensure_pump(root: str) -> str:
    """Path of the compiled pump under ``<root>/bin`` (built now if missing), or ``""`` if it cannot be built."""
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
    target = Path(root) / "bin" / f"shim-pump-{digest}"
    if os.access(target, os.X_OK):
        return str(target)
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        log.warning("no C compiler: shims pump output in Python (about 10 MiB each)")
        return ""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.tmp.{os.getpid()}")
    errors = ""
    # Static first: no shared libc mapped in means the smallest resident set per shim.
    for extra in (["-static"], []):
        proc = subprocess.run([cc, "-O2", "-Wall", "-Wextra", *extra, "-o", str(tmp), str(SOURCE)],
                              capture_output=True, text=True)
        if proc.returncode == 0:
            os.replace(tmp, target)
            return str(target)
        errors = proc.stderr
    log.warning("could not build the shim pump; shims pump output in Python", err=errors.strip()[-500:])
    return ""
